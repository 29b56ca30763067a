#pragma once
// What a reader of a data set of one's own (a torch.save'd dict of tensors, LEAF's JSON files) or
// a generator of a federated benchmark (Synthetic(alpha, beta), LEAF's synthetic) returns: samples
// as float features of one shape, class ids and, when the data has them, each sample's natural
// client (a writer, a hospital, a phone). load_dataset (dataset.hpp) turns it into a dataset.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::data {

/// One split as read: `count` samples of `sample_size` floats each.
struct sample_arrays {
  std::size_t count = 0;
  std::vector<float> x;              ///< count * sample size, sample-major, row-major within
  std::vector<std::int64_t> y;       ///< count class ids, 0 to classes - 1
  std::vector<std::uint32_t> owner;  ///< count indices into federated_set::natural_ids; empty: none
};

struct federated_set {
  /// Per-sample shape, 1 to 3 dims: {features}, {height, width} or {channels, height, width}.
  std::vector<std::size_t> sample_shape;
  std::size_t classes = 0; ///< declared by the data, else 1 + the largest label of either split
  sample_arrays train, test;
  /// The natural clients, in client order: numeric ids ascending, names (LEAF users) in byte
  /// order. Held as text so both kinds share one list. Empty when the data has no client ids.
  std::vector<std::string> natural_ids;
  /// Per natural id, the true cluster it was generated from (synthetic_leaf); empty when unknown.
  std::vector<std::int32_t> true_group;
};

/// Bounds every reader and generator keeps to, whatever a file declares: what a sample set may
/// make this process allocate before a byte of it is checked against the file's real size.
inline constexpr std::size_t max_samples = std::size_t{1} << 31;      ///< per split
inline constexpr std::size_t max_sample_size = std::size_t{1} << 24;  ///< floats per sample
inline constexpr std::size_t max_classes = std::size_t{1} << 20;
inline constexpr std::size_t max_natural_ids = std::size_t{1} << 26;

} // namespace flotilla::data
