#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::data {

struct partition_options {
  std::string scheme = "iid";          ///< iid | dirichlet | shards | rotated
  double alpha = 0.5;                  ///< dirichlet concentration (smaller = more skew)
  std::uint32_t shards_per_client = 2; ///< shards: label-sorted shards per client
  std::uint32_t groups = 4;            ///< rotated: group g is rotated by g * 360 / groups
  double local_test_fraction = 0.2;    ///< share of each client's samples held out for testing
};

/// One client's share of the training set: sample indices, never copies.
struct client_partition {
  std::uint32_t id = 0;
  std::vector<std::uint32_t> train;          ///< indices into the training split
  std::vector<std::uint32_t> test;           ///< local test split, also from the training split
  std::int32_t group = -1;                   ///< true group (rotated scheme), -1 when none
  double rotation_degrees = 0;               ///< applied to this client's train and test images
  std::vector<std::uint32_t> label_histogram; ///< per class, over train + local test
};

const std::vector<std::string>& partition_schemes();

/// Splits the training labels among `clients`, deterministically from `seed`: every sample
/// goes to at most one client (each exactly once for iid, shards and rotated). Throws
/// std::invalid_argument when the options cannot be met (e.g. more shards than samples).
std::vector<client_partition> make_partitions(const std::vector<std::int64_t>& labels,
                                              std::size_t num_classes, std::uint32_t clients,
                                              const partition_options& options, std::uint64_t seed);

} // namespace flotilla::data
