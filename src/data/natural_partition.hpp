#pragma once
// partition.scheme=natural: one client per natural client of the data (a writer, a hospital, a
// phone), as federated data sets come (LEAF, a torch.save'd dict with client ids, the synthetic
// benchmarks).
#include <cstdint>
#include <vector>

#include "data/partition.hpp"

namespace flotilla::data {

struct dataset;

/// Client c is the c-th of the chosen natural ids in the data's order (numeric ids ascending,
/// names in byte order): all of them when `clients` equals their number, else a seeded sample of
/// `clients` ids. Its training samples are its rows of the training split; its local test is its
/// rows of the test split when it has some there (test_in_test_split), else a seeded hold-out of
/// local_test_fraction of its training rows (none for a client of one sample). Throws partition_error when the data has
/// no client ids or fewer than `clients`, data_error for a chosen client without training rows.
std::vector<client_partition> natural_partitions(const dataset& data, std::uint32_t clients,
                                                 const partition_options& options, std::uint64_t seed);

} // namespace flotilla::data
