#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/datasets.hpp"
#include "data/image_set.hpp"

namespace flotilla::data {

/// Where the samples of a split made on demand come from (a generated set's users, each made
/// when a client first needs it: on_demand_users.hpp). Thread-safe: trainers gather at once.
class sample_source {
public:
  virtual ~sample_source() = default;
  /// Writes samples `indices[0..n)` of its split: n * sample size floats and n labels.
  virtual void gather(const std::uint32_t* indices, std::size_t n, float* x, std::int64_t* labels) const = 0;
};

/// One split (train or test) in memory: normalized float pixels, read-only once loaded. A split
/// made on demand holds no pixels or labels (only `count`, the shape and `owner`): its `source`
/// makes them when gathered.
struct split {
  std::size_t count = 0;
  std::size_t channels = 1;
  std::size_t height = 0;
  std::size_t width = 0;
  std::vector<float> pixels;      ///< count * sample_size(), normalized per channel
  std::vector<std::int64_t> labels;
  std::vector<float> background;  ///< normalized value of a black pixel, per channel
  /// Per sample, its natural client: an index into dataset::natural_ids. Empty when the data
  /// has no client ids (every image dataset).
  std::vector<std::uint32_t> owner;
  /// Data made on demand, whose natural clients own contiguous rows: client u's rows are
  /// [owner_offsets[u], owner_offsets[u + 1]) and `owner` is empty (a million clients' rows are
  /// not listed one by one). Empty otherwise.
  std::vector<std::uint64_t> owner_offsets;
  /// Set when the samples are made on demand; `pixels` and `labels` are then empty.
  std::shared_ptr<const sample_source> source;

  std::size_t sample_size() const { return channels * height * width; }
  const float* sample(std::size_t i) const { return pixels.data() + i * sample_size(); }
};

/// A dataset loaded once per process and shared read-only by every client.
struct dataset {
  std::string name;
  std::size_t num_classes = 10;
  split train;
  split test;
  std::string fingerprint; ///< SHA-256 over both splits' raw bytes: nodes compare it
  /// The natural clients (federated_set.hpp): numeric ids ascending, names in byte order.
  std::vector<std::string> natural_ids;
  std::vector<std::int32_t> true_group; ///< per natural id, when the data knows it (synthetic_leaf)
};

struct data_options {
  // A constructor rather than an aggregate: {"mnist", root, limit} stays the short form without
  // naming (or warning about) every generator option.
  data_options(std::string dataset_ = "mnist", std::string root_ = {}, std::size_t train_limit_ = 0)
      : dataset(std::move(dataset_)), root(std::move(root_)), train_limit(train_limit_) {}

  std::string dataset = "mnist"; ///< a name in the dataset table (datasets.hpp)
  std::string root;              ///< empty: the dataset's default location
  std::size_t train_limit = 0;   ///< use the first N training samples; 0 = all
  /// The global model is evaluated on the first N rows of the test split; 0 = all. Clients'
  /// own test rows are not cut (a million generated users have tens of millions of rows).
  std::size_t test_limit = 0;
  std::string file;              ///< data.dataset=tensors: the torch.save'd dict of tensors
  // The generated benchmarks (synthetic_fedprox, synthetic_leaf):
  double alpha = 0, beta = 0;    ///< Synthetic(alpha, beta): model and data heterogeneity
  bool iid = false;              ///< Synthetic IID (FedProx's variant)
  std::uint32_t users = 30;      ///< natural clients generated
  std::uint32_t clusters = 4;    ///< synthetic_leaf: task clusters
  std::uint64_t seed = 0;        ///< the experiment's seed: generated data is a function of it
  /// Generated sets: make each user's samples when a client needs them (partition.scheme=natural
  /// sets it) instead of the whole set up front.
  bool on_demand = false;
};

/// The names load_dataset accepts.
const std::vector<std::string>& dataset_names();

/// The image shape of a dataset's samples (its row in the dataset table, datasets.hpp).
image_shape shape_of(const std::string& dataset);

/// Where a dataset is read from when data.root is empty.
std::string default_root(const std::string& dataset);

/// Loads a dataset by name. Throws data_error saying which file is missing or bad and how to
/// get it.
std::shared_ptr<const dataset> load_dataset(const data_options& options);

/// Normalizes raw images with per-channel mean and standard deviation.
split normalize(const image_set& raw, const std::vector<float>& mean, const std::vector<float>& std);

/// Copies the samples `indices[0..n)` into `out` (n * sample_size floats) and their labels,
/// remapping pixels through `pixel_map` when it is not empty (see rotation.hpp).
void gather(const split& s, const std::uint32_t* indices, std::size_t n,
            const std::vector<std::int32_t>& pixel_map, float* out, std::int64_t* labels);

} // namespace flotilla::data
