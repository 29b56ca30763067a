// The shared pieces of the protocol: parameter checks, thresholds, share groups and the
// model-hash check. The wire messages are in wire.cpp, the member in member.cpp, the aggregator in
// aggregator.cpp.
#include "fl/secagg/protocol.hpp"

#include <algorithm>
#include <utility>

#include "fl/secagg/protocol_detail.hpp"

namespace flotilla::fl::secagg {

using detail::hex;
using detail::ids;
using detail::str;

// ---- parameters and share groups ----

std::size_t default_threshold(std::size_t group) { return group / 2 + 1; }

params checked(params p) {
  std::sort(p.members.begin(), p.members.end());
  const auto dup = std::adjacent_find(p.members.begin(), p.members.end());
  if (dup != p.members.end())
    throw protocol_error("secagg: member " + str(*dup) + " is listed twice among the round's members");
  if (p.min_members < min_cluster_floor)
    throw protocol_error("secagg: min_members is " + str(p.min_members) + ", below " + str(min_cluster_floor) +
                         ": a sum over fewer members besides the aggregator hides nobody");
  if (p.members.size() < p.min_members)
    throw protocol_error("secagg: secure aggregation needs at least " + str(p.min_members) +
                         " members besides the aggregator, the cluster has " +
                         str(p.members.size()) +
                         "; a smaller sum would expose single inputs: merge the cluster or run it "
                         "without secure aggregation");
  if (p.members.size() > max_members)
    throw protocol_error("secagg: " + str(p.members.size()) + " members, at most " +
                         str(max_members) + " are supported");
  if (p.bits < 1 || p.bits > 64)
    throw protocol_error("secagg: ring bits must be 1..64, got " + str(p.bits) +
                         "; use bits_for_sum for the largest possible |sum|");
  if (p.length == 0 || p.length > max_length)
    throw protocol_error("secagg: the input length must be 1 .. " + str(max_length) + ", got " + str(p.length));
  if (p.neighbours != 0 && (p.neighbours < 3 || p.neighbours % 2 == 0))
    throw protocol_error("secagg: neighbours (the SecAgg+ share group size, counting the member) "
                         "must be 0 (everyone) or odd and at least 3, got " + str(p.neighbours));
  const std::size_t g =
      p.neighbours == 0 ? p.members.size() : std::min(p.neighbours, p.members.size());
  if (p.threshold == 0)
    p.threshold = default_threshold(g);
  if (p.threshold < default_threshold(g) || p.threshold > g)
    throw protocol_error("secagg: threshold t = " + str(p.threshold) + " must be a majority of the "
                         "share group of " + str(g) + " (" + str(default_threshold(g)) + " .. " +
                         str(g) + "), so the aggregator with a minority of members cannot unmask anyone");
  return p;
}

void check_model_hash(const digest32& registered, const digest32& received) {
  if (registered != received)
    throw protocol_error("secagg: the model this member was sent has SHA-256 " + hex(received) +
                         " but the coordinator registered " + hex(registered) +
                         "; refusing the round: fetch the round's model again");
}

namespace {

// The roster shuffled by the round context (Fisher-Yates on a ChaCha20 stream): public and
// fixed before the round, so neither a member nor the aggregator picks its neighbours.
ids ring_order(const ids& roster, const key32& round_context) {
  ids order = roster;
  random_source r = seeded_random(round_context);
  for (std::size_t i = order.size(); i > 1; --i) {
    std::uint8_t b[8];
    r(b, 8);
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k)
      v = (v << 8) | b[k];
    std::swap(order[i - 1], order[v % i]); // bias < 2^-47 for 65535 members
  }
  return order;
}

} // namespace

namespace detail {

std::map<std::uint32_t, ids> all_groups(const ids& roster, std::size_t neighbours,
                                        const key32& round_context) {
  std::map<std::uint32_t, ids> groups;
  if (neighbours == 0 || neighbours >= roster.size()) {
    for (std::uint32_t u : roster)
      groups[u] = roster;
    return groups;
  }
  const ids order = ring_order(roster, round_context);
  const std::size_t n = order.size(), half = neighbours / 2;
  for (std::size_t i = 0; i < n; ++i) {
    ids g;
    for (std::size_t k = n - half; k <= n + half; ++k)
      g.push_back(order[(i + k) % n]);
    std::sort(g.begin(), g.end());
    groups[order[i]] = std::move(g);
  }
  return groups;
}

} // namespace detail

std::vector<std::uint32_t> share_group(const std::vector<std::uint32_t>& roster,
                                       std::uint32_t member, std::size_t neighbours,
                                       const key32& round_context) {
  const auto groups = detail::all_groups(roster, neighbours, round_context);
  const auto it = groups.find(member);
  if (it == groups.end())
    throw protocol_error("secagg: member " + str(member) + " is not in the roster");
  return it->second;
}

} // namespace flotilla::fl::secagg
