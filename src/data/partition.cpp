#include "data/partition.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/natural_partition.hpp"
#include "data/partition_error.hpp"

namespace flotilla::data {

namespace {

using index_list = std::vector<std::uint32_t>;

// The domain keeps label permutations apart from the sample streams (0 and 1 + client),
// which keep the tag they always had so existing partitions do not move.
constexpr std::uint32_t sample_domain = 0x9a27u;
constexpr std::uint32_t label_swap_domain = 0x1abe15u;

std::mt19937_64 rng_for(std::uint64_t seed, std::uint64_t stream, std::uint32_t domain = sample_domain) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), domain};
  return std::mt19937_64(seq);
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::vector<index_list> split_iid(std::size_t n, std::uint32_t clients, std::mt19937_64& rng) {
  index_list all(n);
  std::iota(all.begin(), all.end(), 0u);
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<index_list> out(clients);
  for (std::uint32_t c = 0; c < clients; ++c) {
    auto begin = n * c / clients, end = n * (c + 1) / clients;
    out[c].assign(all.begin() + static_cast<long>(begin), all.begin() + static_cast<long>(end));
  }
  return out;
}

std::vector<index_list> by_class(const std::vector<std::int64_t>& labels, std::size_t num_classes) {
  std::vector<index_list> out(num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i)
    out[static_cast<std::size_t>(labels[i])].push_back(static_cast<std::uint32_t>(i));
  return out;
}

// Hsu et al. 2019: each class is spread over the clients by proportions ~ Dirichlet(alpha).
std::vector<index_list> split_dirichlet(const std::vector<std::int64_t>& labels,
                                        std::size_t num_classes, std::uint32_t clients,
                                        double alpha, std::mt19937_64& rng) {
  auto classes = by_class(labels, num_classes);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<index_list> out(clients);
    for (auto cls : classes) {
      std::shuffle(cls.begin(), cls.end(), rng);
      std::gamma_distribution<double> gamma(alpha, 1.0);
      std::vector<double> p(clients);
      for (auto& x : p)
        x = gamma(rng);
      double total = std::accumulate(p.begin(), p.end(), 0.0);
      double cumulative = 0;
      std::size_t begin = 0;
      for (std::uint32_t c = 0; c < clients; ++c) {
        cumulative += p[c];
        auto end = c + 1 == clients ? cls.size()
                                    : static_cast<std::size_t>(std::floor(cumulative / total *
                                                                          static_cast<double>(cls.size())));
        end = std::max(end, begin);
        out[c].insert(out[c].end(), cls.begin() + static_cast<long>(begin),
                      cls.begin() + static_cast<long>(end));
        begin = end;
      }
    }
    // Every client needs a train and a test sample; redraw otherwise, as reference code does.
    if (std::all_of(out.begin(), out.end(), [](const index_list& l) { return l.size() >= 2; }))
      return out;
  }
  throw partition_error("partition.scheme=dirichlet: after 100 draws some client still "
                              "had fewer than 2 samples; raise partition.alpha or lower clients");
}

// McMahan et al. 2017: sort by label, cut into clients * shards_per_client shards, deal them out.
std::vector<index_list> split_shards(const std::vector<std::int64_t>& labels, std::uint32_t clients,
                                     std::uint32_t per_client, std::mt19937_64& rng) {
  index_list sorted(labels.size());
  std::iota(sorted.begin(), sorted.end(), 0u);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return labels[a] < labels[b]; });
  std::size_t shards = std::size_t{clients} * per_client;
  if (shards * 2 > sorted.size())
    throw partition_error("partition.scheme=shards: " + std::to_string(shards) + " shards need at least " +
                          std::to_string(shards * 2) + " samples but there are " +
                          std::to_string(sorted.size()) + "; lower clients or partition.shards_per_client");
  std::vector<std::size_t> order(shards);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<index_list> out(clients);
  for (std::size_t s = 0; s < shards; ++s) {
    auto shard = order[s];
    auto begin = sorted.size() * shard / shards, end = sorted.size() * (shard + 1) / shards;
    auto& dst = out[s / per_client];
    dst.insert(dst.end(), sorted.begin() + static_cast<long>(begin),
               sorted.begin() + static_cast<long>(end));
  }
  return out;
}

// True when n! > bound, without computing n! past it.
bool factorial_exceeds(std::size_t n, std::uint64_t bound) {
  std::uint64_t f = 1;
  for (std::size_t i = 2; i <= n && f <= bound; ++i)
    f *= i; // cannot wrap: f <= bound < 2^32 before the step, and 13! already exceeds 2^32
  return f > bound;
}

// label_swap: one map per group that has clients; group 0 keeps the identity (empty map).
// Group g draws from its own stream (seed, g), so adding groups never changes earlier maps.
std::vector<std::vector<std::int64_t>> label_maps(std::size_t num_classes, std::uint32_t groups,
                                                  std::uint64_t seed) {
  std::vector<std::int64_t> identity(num_classes);
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<std::vector<std::int64_t>> out(groups);
  std::set<std::vector<std::int64_t>> taken{identity};
  for (std::uint32_t g = 1; g < groups; ++g) {
    // Group g needs g distinct non-identity permutations to differ from all earlier ones.
    bool can_differ = factorial_exceeds(num_classes, g);
    auto rng = rng_for(seed, g, label_swap_domain);
    auto map = identity;
    do
      std::shuffle(map.begin(), map.end(), rng);
    while (map == identity || (can_differ && taken.count(map) > 0));
    taken.insert(map);
    out[g] = std::move(map);
  }
  return out;
}

void validate(const std::vector<std::int64_t>& labels, std::size_t num_classes, std::uint32_t clients,
              const partition_options& options) {
  const auto& scheme = options.scheme;
  if (clients == 0)
    throw partition_error("clients must be at least 1");
  if (std::find(partition_schemes().begin(), partition_schemes().end(), scheme) == partition_schemes().end()) {
    std::string allowed;
    for (const auto& name : partition_schemes())
      allowed += (allowed.empty() ? "" : ", ") + name;
    throw partition_error("unknown partition.scheme '" + scheme + "' (allowed: " + allowed + ")");
  }
  if (labels.size() < std::size_t{clients} * 2)
    throw partition_error(std::to_string(labels.size()) + " training samples are too few for " +
                          std::to_string(clients) + " clients (each needs at least 2); "
                          "raise data.train_limit or lower clients");
  if (labels.size() > std::numeric_limits<std::uint32_t>::max())
    throw partition_error(std::to_string(labels.size()) + " training samples are more than 32-bit "
                          "indices address; set data.train_limit to 4294967295 or less");
  auto fraction = options.local_test_fraction;
  if (!(fraction >= 0 && fraction < 1))
    throw partition_error("partition.local_test_fraction = " + number_text(fraction) +
                          " is outside [0, 1); set the share of each client's samples held out for "
                          "testing, e.g. 0.2");
  if (scheme == "natural")
    throw partition_error("partition.scheme=natural needs data with client ids (data.dataset=tensors with "
                          "client_train, leaf, synthetic_fedprox or synthetic_leaf)");
  if (scheme == "dirichlet" && !(options.alpha > 0 && std::isfinite(options.alpha)))
    throw partition_error("partition.alpha = " + number_text(options.alpha) +
                          " must be a positive number for partition.scheme=dirichlet; e.g. 0.5 "
                          "(smaller = more label skew)");
  if (scheme == "shards" && options.shards_per_client == 0)
    throw partition_error("partition.shards_per_client must be at least 1 for partition.scheme=shards");
  if ((scheme == "rotated" || scheme == "label_swap") && options.groups == 0)
    throw partition_error("partition.groups must be at least 1 for partition.scheme=" + scheme);
  if (scheme == "label_swap" && num_classes < 2)
    throw partition_error("partition.scheme=label_swap needs at least 2 classes to swap but the dataset "
                          "has " + std::to_string(num_classes) + "; choose another partition.scheme");
  // Readers refuse such labels; this guards callers that build labels themselves, since one
  // bad label would index past the per-class lists below.
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || static_cast<std::uint64_t>(labels[i]) >= num_classes)
      throw data_error("training label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                       " is outside 0-" + std::to_string(static_cast<std::int64_t>(num_classes) - 1) +
                       "; the dataset is corrupt: delete its files and fetch them again");
}

} // namespace

const std::vector<std::string>& partition_schemes() {
  static const std::vector<std::string> names{"iid", "dirichlet", "shards", "rotated", "label_swap", "natural"};
  return names;
}

std::vector<client_partition> make_partitions(const std::vector<std::int64_t>& labels,
                                              std::size_t num_classes, std::uint32_t clients,
                                              const partition_options& options, std::uint64_t seed) {
  validate(labels, num_classes, clients, options);
  auto rng = rng_for(seed, 0);
  std::vector<index_list> shares;
  const auto& scheme = options.scheme;
  bool grouped = scheme == "rotated" || scheme == "label_swap";
  if (scheme == "iid" || grouped)
    shares = split_iid(labels.size(), clients, rng);
  else if (scheme == "dirichlet")
    shares = split_dirichlet(labels, num_classes, clients, options.alpha, rng);
  else
    shares = split_shards(labels, clients, options.shards_per_client, rng);
  std::vector<std::vector<std::int64_t>> maps;
  if (scheme == "label_swap")
    maps = label_maps(num_classes, std::min(options.groups, clients), seed);

  std::vector<client_partition> out(clients);
  for (std::uint32_t c = 0; c < clients; ++c) {
    auto& p = out[c];
    p.id = c;
    auto share = std::move(shares[c]);
    // The local test split is a seeded random hold-out of the client's own share, so it
    // follows the client's label skew and rotation.
    auto client_rng = rng_for(seed, 1 + c);
    hold_out(std::move(share), options.local_test_fraction, client_rng, p);
    if (grouped)
      p.group = static_cast<std::int32_t>(c % options.groups);
    if (scheme == "rotated")
      p.rotation_degrees = 360.0 * p.group / options.groups;
    if (scheme == "label_swap")
      p.label_map = maps[static_cast<std::size_t>(p.group)];
    p.label_histogram.assign(num_classes, 0);
    for (auto* list : {&p.train, &p.test})
      for (auto i : *list) {
        auto y = static_cast<std::size_t>(labels[i]);
        ++p.label_histogram[p.label_map.empty() ? y : static_cast<std::size_t>(p.label_map[y])];
      }
  }
  return out;
}

void hold_out(std::vector<std::uint32_t> rows, double fraction, std::mt19937_64& rng, client_partition& p) {
  std::shuffle(rows.begin(), rows.end(), rng);
  auto test_n = static_cast<std::size_t>(std::floor(fraction * static_cast<double>(rows.size())));
  test_n = std::clamp<std::size_t>(test_n, rows.size() > 1 ? 1 : 0, rows.size() - 1);
  p.test.assign(rows.end() - static_cast<long>(test_n), rows.end());
  rows.resize(rows.size() - test_n);
  p.train = std::move(rows);
  std::sort(p.train.begin(), p.train.end());
  std::sort(p.test.begin(), p.test.end());
}

std::vector<client_partition> partition_dataset(const dataset& data, std::uint32_t clients,
                                                const partition_options& options, std::uint64_t seed) {
  if (options.scheme == "natural")
    return natural_partitions(data, clients, options, seed);
  return make_partitions(data.train.labels, data.num_classes, clients, options, seed);
}

} // namespace flotilla::data
