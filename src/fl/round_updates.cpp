#include "fl/round_updates.hpp"

#include <cmath>
#include <cstring>
#include <iterator>
#include <set>
#include <stdexcept>

#include "common/sha256.hpp"

namespace flotilla::fl {

namespace {

// SHA-256 of a chunk's values, so withdraw() can tell values fetched again from different
// ones: a linear checksum could be matched by a sender that changes its values on purpose.
std::string digest(const float* w, std::size_t n) {
  return sha256_hex(w, n * sizeof(float));
}

std::string second_update(std::uint32_t client) {
  return "a second update from client " + std::to_string(client) + " in the same round";
}

std::string range(std::size_t offset, std::size_t n) {
  return "[" + std::to_string(offset) + ", " + std::to_string(offset + n) + ")";
}

} // namespace

round_updates::round_updates(std::size_t model_size, bool keep)
    : acc_(model_size), model_size_(model_size), keep_(keep) {}

std::string round_updates::accept(const client_update& u) {
  if (!u.weights)
    return "update carries no weights";
  if (losses_.count(u.client) || partial_.count(u.client))
    return second_update(u.client);
  if (auto reason = check_update(*u.weights, model_size_); !reason.empty())
    return reason;
  if (!std::isfinite(u.train_loss))
    return "update reports a non-finite training loss";
  if (u.samples > max_samples)
    return "update claims " + std::to_string(u.samples) + " training samples (at most 2^53)";
  if (taken_)
    return "the round's mean was already taken";
  acc_.add(u.samples, *u.weights);
  losses_.emplace(u.client, std::make_pair(u.samples, u.train_loss));
  samples_ += u.samples;
  if (keep_)
    kept_.emplace(u.client, u);
  return {};
}

std::string round_updates::accept_sum(const std::vector<std::int64_t>& masked_sum,
                                      const std::vector<client_update>& members, const std::vector<float>& base) {
  if (keep_)
    return "this round keeps whole updates (its strategy needs them all): a secure sum holds none";
  if (masked_sum.size() != model_size_ || base.size() != model_size_)
    return "the secure sum has " + std::to_string(masked_sum.size()) + " values and the model " +
           std::to_string(base.size()) + ", the round sums " + std::to_string(model_size_);
  if (taken_)
    return "the round's mean was already taken";
  std::set<std::uint32_t> seen;
  for (const auto& m : members) {
    if (losses_.count(m.client) || partial_.count(m.client) || !seen.insert(m.client).second)
      return second_update(m.client);
    if (!std::isfinite(m.train_loss))
      return "client " + std::to_string(m.client) + "'s update reports a non-finite training loss";
    if (m.samples > max_samples)
      return "client " + std::to_string(m.client) + "'s update claims " + std::to_string(m.samples) +
             " training samples (at most 2^53)";
  }
  acc_.add_sums(masked_sum);
  for (const auto& m : members) {
    acc_.add_range(m.samples, 0, base.data(), base.size());
    acc_.count_update(m.samples);
    losses_.emplace(m.client, std::make_pair(m.samples, m.train_loss));
    samples_ += m.samples;
  }
  return {};
}

std::string round_updates::begin(std::uint32_t client, std::uint64_t samples, double train_loss) {
  if (keep_)
    return "this round keeps whole updates (its strategy needs them all): it takes an update only whole, not in "
           "chunks";
  if (losses_.count(client) || partial_.count(client))
    return second_update(client);
  if (!std::isfinite(train_loss))
    return "update reports a non-finite training loss";
  if (samples > max_samples)
    return "update claims " + std::to_string(samples) + " training samples (at most 2^53)";
  if (taken_)
    return "the round's mean was already taken";
  partial_.emplace(client, partial{samples, train_loss, {}, 0});
  return {};
}

std::string round_updates::fold(std::uint32_t client, std::size_t offset, const float* w, std::size_t n) {
  auto it = partial_.find(client);
  if (it == partial_.end())
    return "no update in progress from client " + std::to_string(client);
  auto& p = it->second;
  if (offset > model_size_ || n > model_size_ - offset)
    return "chunk of " + std::to_string(n) + " weights at offset " + std::to_string(offset) +
           " lies beyond the model's " + std::to_string(model_size_);
  if (n == 0)
    return {};
  // The folded chunk starting last at or before the end of this one is the only one that can
  // overlap it (folded chunks are disjoint).
  if (auto next = p.chunks.lower_bound(offset + n); next != p.chunks.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.n > offset)
      return "chunk " + range(offset, n) + " overlaps " + range(prev->first, prev->second.n) +
             ", already folded from client " + std::to_string(client);
  }
  auto d = digest(w, n);
  try {
    acc_.add_range(p.samples, offset, w, n); // validates first: a refused chunk changes nothing
  } catch (const std::invalid_argument&) {
    // check_update's words, worked out only now: one pass less over every good chunk.
    auto why = check_weights(w, n, offset);
    if (why.empty())
      throw;
    return why;
  }
  p.chunks.emplace(offset, chunk{n, d});
  p.folded += n;
  return {};
}

void round_updates::withdraw(std::uint32_t client, std::size_t offset, const float* w, std::size_t n) {
  auto it = partial_.find(client);
  if (it == partial_.end())
    throw std::logic_error("withdraw: no update in progress from client " + std::to_string(client));
  auto& p = it->second;
  auto c = p.chunks.find(offset);
  if (c == p.chunks.end() || c->second.n != n)
    throw std::logic_error("withdraw: no chunk " + range(offset, n) + " is folded from client " +
                           std::to_string(client));
  if (digest(w, n) != c->second.digest)
    throw std::invalid_argument("withdraw: the values of chunk " + range(offset, n) + " from client " +
                                std::to_string(client) + " differ from those folded");
  acc_.subtract_range(p.samples, offset, w, n);
  p.folded -= n;
  p.chunks.erase(c);
}

void round_updates::abandon(std::uint32_t client) {
  auto it = partial_.find(client);
  if (it == partial_.end())
    throw std::logic_error("abandon: no update in progress from client " + std::to_string(client));
  if (!it->second.chunks.empty())
    throw std::logic_error("abandon: " + std::to_string(it->second.chunks.size()) + " chunks from client " +
                           std::to_string(client) + " are still folded (withdraw them first)");
  partial_.erase(it);
}

std::string round_updates::commit(std::uint32_t client) {
  auto it = partial_.find(client);
  if (it == partial_.end())
    return "no update in progress from client " + std::to_string(client);
  auto& p = it->second;
  // The chunks are disjoint and within the model: they cover it when their sizes add up.
  if (p.folded != model_size_)
    return "update from client " + std::to_string(client) + " covers " + std::to_string(p.folded) + " of the model's " +
           std::to_string(model_size_) + " weights";
  acc_.count_update(p.samples);
  losses_.emplace(client, std::make_pair(p.samples, p.train_loss));
  samples_ += p.samples;
  partial_.erase(it);
  return {};
}

std::vector<std::uint32_t> round_updates::in_progress() const {
  std::vector<std::uint32_t> out;
  for (const auto& [id, p] : partial_)
    out.push_back(id);
  return out;
}

void round_updates::poison(std::string reason) {
  if (reason.empty())
    reason = "an update could not be withdrawn";
  if (poisoned_.empty())
    poisoned_ = std::move(reason);
}

void round_updates::check_averageable() const {
  if (!poisoned_.empty())
    throw std::runtime_error(poisoned_);
  if (taken_)
    throw std::logic_error("round_updates: the mean was already taken");
  for (const auto& [id, p] : partial_)
    if (!p.chunks.empty())
      throw std::logic_error("round_updates: client " + std::to_string(id) + "'s update is in progress with " +
                             std::to_string(p.chunks.size()) + " chunks folded");
}

std::vector<float> round_updates::mean() const {
  if (final_ && poisoned_.empty())
    return *final_;
  check_averageable();
  return acc_.mean();
}

void round_updates::finalize() {
  check_averageable();
  final_ = std::move(acc_).take_mean(); // throws (changing nothing) when there is nothing to average
  taken_ = true;
}

std::vector<float> round_updates::take_mean() {
  check_averageable();
  auto out = std::move(acc_).take_mean(); // throws (changing nothing) when there is nothing to average
  taken_ = true;
  return out;
}

double round_updates::train_loss() const {
  double sum = 0;
  std::uint64_t n = 0;
  for (const auto& [id, sl] : losses_) {
    sum += sl.second * static_cast<double>(sl.first);
    n += sl.first;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

std::vector<std::uint32_t> round_updates::clients() const {
  std::vector<std::uint32_t> out;
  for (const auto& [id, sl] : losses_)
    out.push_back(id);
  return out;
}

} // namespace flotilla::fl
