#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace flotilla::data {

struct partition_options {
  std::string scheme = "iid";          ///< iid | dirichlet | shards | rotated | label_swap | natural
  double alpha = 0.5;                  ///< dirichlet concentration (smaller = more skew)
  std::uint32_t shards_per_client = 2; ///< shards: label-sorted shards per client
  std::uint32_t groups = 4;            ///< rotated, label_swap: client c is in group c % groups
  double local_test_fraction = 0.2;    ///< share of each client's samples held out for testing
};

/// Rows [first, first + count) of a split.
struct row_range {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

/// One client's share of the training set: sample indices, never copies. A natural client of
/// data made on demand owns contiguous rows: its share is two ranges (`ranged`), so a million
/// registered clients cost no index lists. Read the rows through train_rows() / test_rows()
/// and the sizes through train_size() / test_size(), which serve both forms.
struct client_partition {
  std::uint32_t id = 0;
  std::vector<std::uint32_t> train;          ///< indices into the training split (empty when ranged)
  std::vector<std::uint32_t> test;           ///< local test split, from the training split unless...
  bool ranged = false;                       ///< the rows are train_range and test_range
  row_range train_range, test_range;
  bool test_in_test_split = false;           ///< ...natural clients with test rows of their own: the test split
  std::int32_t group = -1;                   ///< true group (rotated, label_swap, synthetic_leaf), -1 when none
  std::string natural_id;                    ///< partition.scheme=natural: the data's client id
  double rotation_degrees = 0;               ///< applied to this client's train and test images
  /// label_map[y] is the label this client sees for true label y, on its train and local test
  /// samples alike (label_swap); empty means the identity.
  std::vector<std::int64_t> label_map;
  std::vector<std::uint32_t> label_histogram; ///< per class as the client sees it, over train + local test

  std::size_t train_size() const { return ranged ? train_range.count : train.size(); }
  std::size_t test_size() const { return ranged ? test_range.count : test.size(); }
  /// The training rows' indices, ascending.
  std::vector<std::uint32_t> train_rows() const { return ranged ? rows_of(train_range) : train; }
  /// The local test rows' indices (in the test split when test_in_test_split), ascending.
  std::vector<std::uint32_t> test_rows() const { return ranged ? rows_of(test_range) : test; }

private:
  static std::vector<std::uint32_t> rows_of(row_range r) {
    std::vector<std::uint32_t> out(r.count);
    for (std::uint32_t i = 0; i < r.count; ++i)
      out[i] = r.first + i;
    return out;
  }
};

/// The schemes make_partitions accepts.
const std::vector<std::string>& partition_schemes();

/// Splits the training labels among `clients`, deterministically from `seed`: every sample
/// goes to at most one client (each exactly once for iid, shards, rotated and label_swap).
/// rotated: group g is rotated by g * 360 / groups degrees. label_swap: group 0 sees the true
/// labels, group g > 0 a permutation of the classes drawn from (seed, g), other than the
/// identity and, while enough permutations exist, than every other group's.
/// Throws partition_error naming the config keys when the options cannot be met (e.g. more
/// shards than samples), data_error when a label is outside 0 to num_classes - 1.
std::vector<client_partition> make_partitions(const std::vector<std::int64_t>& labels,
                                              std::size_t num_classes, std::uint32_t clients,
                                              const partition_options& options, std::uint64_t seed);

/// The local test split as every scheme makes it: `rows` shuffled by `rng`, the last
/// floor(fraction x rows) of them (at least one when there are two, never all) into p.test, the
/// rest into p.train, both sorted.
void hold_out(std::vector<std::uint32_t> rows, double fraction, std::mt19937_64& rng, client_partition& p);

struct dataset;

/// The dataset split among `clients` as `options` says: partition.scheme=natural gives each client
/// one natural client of the data (natural_partition.hpp), every other scheme splits the training
/// labels (make_partitions).
std::vector<client_partition> partition_dataset(const dataset& data, std::uint32_t clients,
                                                const partition_options& options, std::uint64_t seed);

} // namespace flotilla::data
