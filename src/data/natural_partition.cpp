#include "data/natural_partition.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/partition_error.hpp"

namespace flotilla::data {

namespace {

constexpr std::uint32_t natural_domain = 0x4a7u;

std::mt19937_64 rng_for(std::uint64_t seed, std::uint64_t stream) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), natural_domain};
  return std::mt19937_64(seq);
}

// Rows of each natural id, in row order: one pass over the owners.
std::vector<std::vector<std::uint32_t>> rows_by_owner(const split& s, std::size_t ids) {
  std::vector<std::vector<std::uint32_t>> out(ids);
  for (std::size_t i = 0; i < s.owner.size(); ++i)
    if (s.owner[i] < ids) // test rows of a client data.train_limit removed belong to nobody
      out[s.owner[i]].push_back(static_cast<std::uint32_t>(i));
  return out;
}

// Client c, the natural client `id` of the data: its number, name and true group.
client_partition client_of(const dataset& data, std::uint32_t c, std::uint32_t id) {
  client_partition p;
  p.id = c;
  p.natural_id = data.natural_ids[id];
  if (id < data.true_group.size())
    p.group = data.true_group[id];
  return p;
}

data_error no_training_rows(const client_partition& p) {
  return data_error("natural client " + p.natural_id + " has no training sample; remove it from the data, "
                    "or raise data.train_limit if it cut the client's rows off");
}

// natural_partitions for data made on demand: each chosen client's rows as ranges (its train
// rows, and its test rows when it has some; else a hold-out of its train rows, as listed rows).
// No labels are known before a client trains, so there is no histogram.
std::vector<client_partition> ranged_partitions(const dataset& data, const std::vector<std::uint32_t>& chosen,
                                                const partition_options& options, std::uint64_t seed) {
  const auto& train_at = data.train.owner_offsets;
  const auto& test_at = data.test.owner_offsets;
  auto range = [](const std::vector<std::uint64_t>& at, std::uint32_t id) {
    return row_range{static_cast<std::uint32_t>(at[id]), static_cast<std::uint32_t>(at[id + 1] - at[id])};
  };
  std::vector<client_partition> out(chosen.size());
  for (std::uint32_t c = 0; c < chosen.size(); ++c) {
    const auto id = chosen[c];
    auto& p = out[c] = client_of(data, c, id);
    auto train = range(train_at, id);
    if (train.count == 0)
      throw no_training_rows(p);
    if (!test_at.empty() && range(test_at, id).count > 0) {
      p.ranged = true;
      p.train_range = train;
      p.test_range = range(test_at, id);
      p.test_in_test_split = true;
      continue;
    }
    std::vector<std::uint32_t> rows(train.count);
    for (std::uint32_t i = 0; i < train.count; ++i)
      rows[i] = train.first + i;
    auto rng = rng_for(seed, 1 + std::uint64_t{id});
    hold_out(std::move(rows), options.local_test_fraction, rng, p);
  }
  return out;
}

} // namespace

std::vector<client_partition> natural_partitions(const dataset& data, std::uint32_t clients,
                                                 const partition_options& options, std::uint64_t seed) {
  const auto ids = data.natural_ids.size();
  // Data made on demand gives its owners as contiguous ranges: so do its partitions.
  const bool ranges = !data.train.owner_offsets.empty();
  if (ranges && (data.train.owner_offsets.size() != ids + 1 ||
                 (!data.test.owner_offsets.empty() && data.test.owner_offsets.size() != ids + 1)))
    throw data_error("data.dataset=" + data.name + ": the row ranges of its " + std::to_string(ids) +
                     " natural clients do not match their number (a bug: please report it)");
  if (ids == 0 || (!ranges && data.train.owner.size() != data.train.count))
    throw partition_error("partition.scheme=natural: data.dataset=" + data.name +
                          " has no client ids; give them (client_train in a tensors file, LEAF's users) or "
                          "choose another partition.scheme");
  if (clients == 0 || clients > ids)
    throw partition_error("partition.scheme=natural: clients = " + std::to_string(clients) + " but data.dataset=" +
                          data.name + " has " + std::to_string(ids) +
                          " natural clients; set clients to at most that, or 0 for all of them");
  // The chosen ids: all, or a seeded sample kept in the data's order (client numbers ascend with ids).
  std::vector<std::uint32_t> chosen(ids);
  std::iota(chosen.begin(), chosen.end(), 0u);
  if (clients < ids) {
    auto rng = rng_for(seed, 0);
    std::shuffle(chosen.begin(), chosen.end(), rng);
    chosen.resize(clients);
    std::sort(chosen.begin(), chosen.end());
  }
  if (ranges)
    return ranged_partitions(data, chosen, options, seed);
  auto train_rows = rows_by_owner(data.train, ids);
  const bool own_tests = !data.test.owner.empty();
  auto test_rows = own_tests ? rows_by_owner(data.test, ids) : std::vector<std::vector<std::uint32_t>>{};

  std::vector<client_partition> out(clients);
  for (std::uint32_t c = 0; c < clients; ++c) {
    const auto id = chosen[c];
    auto& p = out[c] = client_of(data, c, id);
    auto rows = std::move(train_rows[id]);
    if (rows.empty())
      throw no_training_rows(p);
    if (own_tests && !test_rows[id].empty()) {
      p.test = std::move(test_rows[id]);
      p.test_in_test_split = true;
      p.train = std::move(rows);
    } else {
      // No test rows of its own (none in the data, or none for this client): a hold-out.
      auto rng = rng_for(seed, 1 + std::uint64_t{id});
      hold_out(std::move(rows), options.local_test_fraction, rng, p);
    }
    if (data.train.source)
      continue; // labels of data made on demand are not known before the client trains: no histogram
    p.label_histogram.assign(data.num_classes, 0);
    for (auto i : p.train)
      ++p.label_histogram.at(static_cast<std::size_t>(data.train.labels[i]));
    for (auto i : p.test)
      ++p.label_histogram.at(static_cast<std::size_t>((p.test_in_test_split ? data.test : data.train).labels[i]));
  }
  return out;
}

} // namespace flotilla::data
