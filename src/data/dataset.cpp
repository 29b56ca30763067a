#include "data/dataset.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/sha256.hpp"
#include "data/cifar.hpp"
#include "data/data_error.hpp"
#include "data/idx.hpp"

namespace flotilla::data {

namespace fs = std::filesystem;

namespace {

// Finds `name` or `name.gz` under root; on failure says how to get the dataset.
std::string find_file(const std::string& root, const std::string& name, const std::string& hint) {
  for (auto candidate : {name, name + ".gz"}) {
    auto path = (fs::path(root) / candidate).string();
    if (fs::exists(path))
      return path;
  }
  throw data_error((fs::path(root) / name).string() + ": file not found (nor " + name +
                   ".gz); " + hint);
}

std::string fetch_hint(const std::string& dataset) {
  if (dataset == "mnist")
    return "run `make data` (scripts/fetch-mnist.sh) to fetch MNIST, or set data.root";
  if (dataset == "fashion_mnist")
    return "install it with `apt-get install dataset-fashion-mnist`, or set data.root";
  return "download the CIFAR-10 binary version and set data.root to its "
         "cifar-10-batches-bin folder";
}

void limit(image_set& s, std::size_t n) {
  if (n == 0 || n >= s.count)
    return;
  auto per = s.channels * s.height * s.width;
  s.count = n;
  s.pixels.resize(n * per);
  s.labels.resize(n);
}

} // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"mnist", "fashion_mnist", "cifar10"};
  return names;
}

image_shape shape_of(const std::string& dataset) {
  return dataset == "cifar10" ? image_shape{3, 32, 32} : image_shape{1, 28, 28};
}

std::string default_root(const std::string& dataset) {
  if (dataset == "mnist")
    return "data/mnist";
  if (dataset == "fashion_mnist")
    return "/usr/share/datasets/fashion-mnist";
  return "data/cifar-10-batches-bin";
}

split normalize(const image_set& raw, const std::vector<float>& mean, const std::vector<float>& std) {
  split out;
  out.count = raw.count;
  out.channels = raw.channels;
  out.height = raw.height;
  out.width = raw.width;
  out.pixels.resize(raw.pixels.size());
  auto plane = raw.height * raw.width;
  for (std::size_t i = 0; i < raw.pixels.size(); ++i) {
    auto c = (i / plane) % raw.channels;
    out.pixels[i] = (static_cast<float>(raw.pixels[i]) / 255.0f - mean[c]) / std[c];
  }
  out.labels.assign(raw.labels.begin(), raw.labels.end());
  for (std::size_t c = 0; c < raw.channels; ++c)
    out.background.push_back((0.0f - mean[c]) / std[c]);
  return out;
}

std::shared_ptr<const dataset> load_dataset(const data_options& options) {
  const auto& name = options.dataset;
  if (std::find(dataset_names().begin(), dataset_names().end(), name) == dataset_names().end())
    throw data_error("unknown dataset '" + name + "' (known: mnist, fashion_mnist, cifar10)");
  auto root = options.root.empty() ? default_root(name) : options.root;
  auto hint = fetch_hint(name);
  image_set train, test;
  std::vector<float> mean, std;
  if (name == "cifar10") {
    std::vector<std::string> batches;
    for (int i = 1; i <= 5; ++i)
      batches.push_back(find_file(root, "data_batch_" + std::to_string(i) + ".bin", hint));
    train = read_cifar10(batches);
    test = read_cifar10({find_file(root, "test_batch.bin", hint)});
    mean = {0.4914f, 0.4822f, 0.4465f};
    std = {0.2470f, 0.2435f, 0.2616f};
  } else {
    // One find at a time, so the first missing file is the one reported.
    auto train_images = find_file(root, "train-images-idx3-ubyte", hint);
    auto train_labels = find_file(root, "train-labels-idx1-ubyte", hint);
    auto test_images = find_file(root, "t10k-images-idx3-ubyte", hint);
    auto test_labels = find_file(root, "t10k-labels-idx1-ubyte", hint);
    // Both sets hold 28x28 grey images of 10 classes; anything else is the wrong file.
    const idx_expectation expected{/*rows=*/28, /*cols=*/28, /*num_classes=*/10};
    train = read_idx(train_images, train_labels, expected);
    test = read_idx(test_images, test_labels, expected);
    mean = name == "mnist" ? std::vector<float>{0.1307f} : std::vector<float>{0.2860f};
    std = name == "mnist" ? std::vector<float>{0.3081f} : std::vector<float>{0.3530f};
  }
  limit(train, options.train_limit);
  auto out = std::make_shared<dataset>();
  out->name = name;
  out->num_classes = 10; // all three datasets; the readers refuse any other label
  sha256 hash;
  for (const auto* s : {&train, &test}) {
    hash.update(s->pixels.data(), s->pixels.size());
    hash.update(s->labels.data(), s->labels.size());
  }
  out->fingerprint = hash.hex_digest();
  out->train = normalize(train, mean, std);
  out->test = normalize(test, mean, std);
  return out;
}

void gather(const split& s, const std::uint32_t* indices, std::size_t n,
            const std::vector<std::int32_t>& pixel_map, float* out, std::int64_t* labels) {
  auto size = s.sample_size();
  auto plane = s.height * s.width;
  for (std::size_t i = 0; i < n; ++i) {
    const float* src = s.sample(indices[i]);
    float* dst = out + i * size;
    labels[i] = s.labels[indices[i]];
    if (pixel_map.empty()) {
      std::memcpy(dst, src, size * sizeof(float));
      continue;
    }
    for (std::size_t c = 0; c < s.channels; ++c)
      for (std::size_t p = 0; p < plane; ++p) {
        auto from = pixel_map[p];
        dst[c * plane + p] = from < 0 ? s.background[c] : src[c * plane + static_cast<std::size_t>(from)];
      }
  }
}

} // namespace flotilla::data
