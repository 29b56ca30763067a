#include "data/partition.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace flotilla::data {

namespace {

using index_list = std::vector<std::uint32_t>;

std::mt19937_64 rng_for(std::uint64_t seed, std::uint64_t stream) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), 0x9a27u};
  return std::mt19937_64(seq);
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
  throw std::invalid_argument("partition.scheme=dirichlet: after 100 draws some client still "
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
    throw std::invalid_argument("partition.scheme=shards: " + std::to_string(shards) +
                                " shards need at least " + std::to_string(shards * 2) +
                                " samples but there are " + std::to_string(sorted.size()) +
                                "; lower clients or partition.shards_per_client");
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

} // namespace

const std::vector<std::string>& partition_schemes() {
  static const std::vector<std::string> names{"iid", "dirichlet", "shards", "rotated"};
  return names;
}

std::vector<client_partition> make_partitions(const std::vector<std::int64_t>& labels,
                                              std::size_t num_classes, std::uint32_t clients,
                                              const partition_options& options, std::uint64_t seed) {
  if (clients == 0)
    throw std::invalid_argument("clients must be at least 1");
  if (labels.size() < std::size_t{clients} * 2)
    throw std::invalid_argument(std::to_string(labels.size()) + " training samples are too few for " +
                                std::to_string(clients) + " clients (each needs at least 2); "
                                "raise data.train_limit or lower clients");
  auto rng = rng_for(seed, 0);
  std::vector<index_list> shares;
  const auto& scheme = options.scheme;
  if (scheme == "iid" || scheme == "rotated")
    shares = split_iid(labels.size(), clients, rng);
  else if (scheme == "dirichlet")
    shares = split_dirichlet(labels, num_classes, clients, options.alpha, rng);
  else if (scheme == "shards")
    shares = split_shards(labels, clients, options.shards_per_client, rng);
  else
    throw std::invalid_argument("unknown partition.scheme '" + scheme +
                                "' (allowed: iid, dirichlet, shards, rotated)");

  std::vector<client_partition> out(clients);
  for (std::uint32_t c = 0; c < clients; ++c) {
    auto& p = out[c];
    p.id = c;
    auto share = std::move(shares[c]);
    // The local test split is a seeded random hold-out of the client's own share, so it
    // follows the client's label skew and rotation.
    auto client_rng = rng_for(seed, 1 + c);
    std::shuffle(share.begin(), share.end(), client_rng);
    auto test_n = static_cast<std::size_t>(std::floor(options.local_test_fraction *
                                                      static_cast<double>(share.size())));
    test_n = std::clamp<std::size_t>(test_n, share.size() > 1 ? 1 : 0, share.size() - 1);
    p.test.assign(share.end() - static_cast<long>(test_n), share.end());
    share.resize(share.size() - test_n);
    p.train = std::move(share);
    std::sort(p.train.begin(), p.train.end());
    std::sort(p.test.begin(), p.test.end());
    p.label_histogram.assign(num_classes, 0);
    for (auto* list : {&p.train, &p.test})
      for (auto i : *list)
        ++p.label_histogram[static_cast<std::size_t>(labels[i])];
    if (scheme == "rotated") {
      p.group = static_cast<std::int32_t>(c % options.groups);
      p.rotation_degrees = 360.0 * p.group / options.groups;
    }
  }
  return out;
}

} // namespace flotilla::data
