#include "data/datasets.hpp"

#include <filesystem>

#include "common/named_rows.hpp"
#include "data/cifar.hpp"
#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"
#include "data/leaf.hpp"
#include "data/synthetic_fedprox.hpp"
#include "data/synthetic_leaf.hpp"
#include "data/tensor_file.hpp"

namespace flotilla::data {

namespace fs = std::filesystem;

namespace {

// Finds `name` or `name.gz` under root; on failure says how to get the dataset.
std::string find_file(const std::string& root, const std::string& name, const dataset_entry& d) {
  for (auto candidate : {name, name + ".gz"}) {
    auto path = (fs::path(root) / candidate).string();
    if (fs::exists(path))
      return path;
  }
  throw data_error((fs::path(root) / name).string() + ": file not found (nor " + name + ".gz); " + d.how_to_get);
}

// MNIST's IDX layout (MNIST, Fashion-MNIST): 28x28 grey images of 10 classes; anything else is
// the wrong file.
std::pair<image_set, image_set> read_idx_sets(const std::string& root, const dataset_entry& d) {
  // One find at a time, so the first missing file is the one reported.
  auto train_images = find_file(root, "train-images-idx3-ubyte", d);
  auto train_labels = find_file(root, "train-labels-idx1-ubyte", d);
  auto test_images = find_file(root, "t10k-images-idx3-ubyte", d);
  auto test_labels = find_file(root, "t10k-labels-idx1-ubyte", d);
  const idx_expectation expected{static_cast<std::uint32_t>(d.shape.height), static_cast<std::uint32_t>(d.shape.width),
                                 d.classes};
  auto train = read_idx(train_images, train_labels, expected);
  auto test = read_idx(test_images, test_labels, expected);
  return {std::move(train), std::move(test)};
}

// CIFAR-10's binary version: five training batches and a test batch.
std::pair<image_set, image_set> read_cifar_sets(const std::string& root, const dataset_entry& d) {
  std::vector<std::string> batches;
  for (int i = 1; i <= 5; ++i)
    batches.push_back(find_file(root, "data_batch_" + std::to_string(i) + ".bin", d));
  auto train = read_cifar10(batches);
  auto test = read_cifar10({find_file(root, "test_batch.bin", d)});
  return {std::move(train), std::move(test)};
}

federated_set read_tensors(const data_options& o) {
  return read_tensor_file(o.file);
}

federated_set read_leaf_root(const data_options& o) {
  if (o.root.empty())
    throw data_error("data.dataset=leaf reads data.root: set it to the folder holding LEAF's train/ and test/ "
                     "JSON files (as LEAF's preprocess.sh writes them)");
  return read_leaf(o.root);
}

federated_set generate_fedprox(const data_options& o) {
  return make_synthetic_fedprox({o.alpha, o.beta, o.iid, o.users, o.seed});
}

federated_set generate_leaf(const data_options& o) {
  return make_synthetic_leaf({o.users, o.clusters, o.seed});
}

// The same sets user by user (partition.scheme=natural): each user's rows are what the whole
// set holds for it (unit-synthetic checks it), so a run trains on the same samples either way.
std::string exact(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%a", v);
  return buf;
}

user_generator fedprox_users(const data_options& d) {
  synthetic_fedprox_options o{d.alpha, d.beta, d.iid, d.users, d.seed};
  check_synthetic_fedprox_options(o);
  user_generator g;
  g.identity = "synthetic_fedprox alpha=" + exact(o.alpha) + " beta=" + exact(o.beta) + " iid=" +
               std::to_string(o.iid) + " users=" + std::to_string(o.users) + " seed=" + std::to_string(o.seed);
  g.sample_shape = {synthetic_fedprox_features};
  g.classes = synthetic_fedprox_classes;
  g.users = o.users;
  g.counts = [o](std::uint32_t u) {
    auto n = synthetic_fedprox_user_samples(o, u);
    auto t = synthetic_detail::train_count(n);
    return std::pair{t, n - t};
  };
  g.make_user = [o](std::uint32_t u) { return make_synthetic_fedprox_user(o, u); };
  return g;
}

user_generator leaf_users(const data_options& d) {
  synthetic_leaf_options o{d.users, d.clusters, d.seed};
  check_synthetic_leaf_options(o);
  auto model = std::make_shared<const synthetic_leaf_model>(make_synthetic_leaf_model(o));
  user_generator g;
  g.identity = "synthetic_leaf users=" + std::to_string(o.users) + " clusters=" + std::to_string(o.clusters) +
               " seed=" + std::to_string(o.seed);
  g.sample_shape = {synthetic_leaf_features};
  g.classes = synthetic_leaf_classes;
  g.users = o.users;
  g.counts = [o](std::uint32_t u) {
    auto n = synthetic_leaf_user_samples(o, u);
    auto t = std::max<std::size_t>(1, synthetic_detail::train_count(n)); // as make_synthetic_leaf splits
    return std::pair{t, n - t};
  };
  g.true_group = [o](std::uint32_t u) { return synthetic_leaf_user_cluster(o, u); };
  g.make_user = [o, model](std::uint32_t u) { return make_synthetic_leaf_user(o, *model, u); };
  return g;
}

constexpr image_shape from_the_file{0, 0, 0};

} // namespace

const std::vector<dataset_entry>& datasets() {
  static const std::vector<dataset_entry> table{
    {"mnist", {1, 28, 28}, 10, "data/mnist", "run `make data` (scripts/fetch-mnist.sh) to fetch MNIST, or set data.root",
     {0.1307f}, {0.3081f}, read_idx_sets, nullptr, nullptr},
    {"fashion_mnist", {1, 28, 28}, 10, "/usr/share/datasets/fashion-mnist",
     "install it with `apt-get install dataset-fashion-mnist`, or set data.root", {0.2860f}, {0.3530f}, read_idx_sets, nullptr, nullptr},
    {"cifar10", {3, 32, 32}, 10, "data/cifar-10-batches-bin",
     "download the CIFAR-10 binary version and set data.root to its cifar-10-batches-bin folder",
     {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}, read_cifar_sets, nullptr, nullptr},
    // Data of one's own: shape and classes come from the file; no normalization (uint8 images
    // are scaled to [0, 1], floats used as written).
    {"tensors", from_the_file, 0, "", "write it with torch.save({\"x_train\": X, \"y_train\": Y, \"x_test\": ..., "
     "\"y_test\": ...}, PATH) and set data.file=PATH (README, Your own data)", {}, {}, nullptr, read_tensors, nullptr},
    {"leaf", from_the_file, 0, "", "point data.root at LEAF's data/<set>/data folder (its train/ and test/ JSON)",
     {}, {}, nullptr, read_leaf_root, nullptr},
    // Federated benchmarks generated from the seed: one natural client per user.
    {"synthetic_fedprox", {1, 1, synthetic_fedprox_features}, synthetic_fedprox_classes, "", "generated from seed",
     {}, {}, nullptr, generate_fedprox, fedprox_users},
    {"synthetic_leaf", {1, 1, synthetic_leaf_features}, synthetic_leaf_classes, "", "generated from seed", {}, {},
     nullptr, generate_leaf, leaf_users},
  };
  return table;
}

const dataset_entry& dataset_named(const std::string& name) {
  if (const auto* d = row_named(datasets(), name))
    return *d;
  throw data_error("unknown dataset '" + name + "' (known: " + row_names(datasets()) + ")");
}

} // namespace flotilla::data
