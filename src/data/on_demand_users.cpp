#include "data/on_demand_users.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "data/data_error.hpp"

namespace flotilla::data {

namespace {

// The most recently gathered users' rows, at most `capacity` rows (and always the user in use).
// Generation runs outside the lock, so trainers make different users at once; two making the
// same user make the same rows, and the first one in is kept.
class user_cache {
public:
  user_cache(const user_generator& g, std::size_t capacity) : generator_(g), capacity_(capacity) {}

  /// Unique per cache in the process (an address could be reused by a later cache).
  const std::uint64_t id = next_id++;

  std::shared_ptr<const federated_set> get(std::uint32_t user) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (auto it = index_.find(user); it != index_.end()) {
        order_.splice(order_.begin(), order_, it->second);
        return it->second->second;
      }
    }
    auto made = std::make_shared<const federated_set>(generator_.make_user(user));
    auto [train, test] = generator_.counts(user);
    if (made->train.count != train || made->test.count != test)
      throw data_error("generated user " + std::to_string(user) + " has " + std::to_string(made->train.count) + "+" +
                       std::to_string(made->test.count) + " rows but was counted with " + std::to_string(train) + "+" +
                       std::to_string(test) + "; the generator is inconsistent (a bug: please report it)");
    std::lock_guard<std::mutex> guard(mutex_);
    if (auto it = index_.find(user); it != index_.end())
      return it->second->second;
    order_.emplace_front(user, made);
    index_[user] = order_.begin();
    rows_ += train + test;
    while (rows_ > capacity_ && order_.size() > 1) {
      auto& last = order_.back();
      rows_ -= last.second->train.count + last.second->test.count;
      index_.erase(last.first);
      order_.pop_back();
    }
    return made;
  }

private:
  user_generator generator_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::list<std::pair<std::uint32_t, std::shared_ptr<const federated_set>>> order_; // most recent first
  std::unordered_map<std::uint32_t, decltype(order_)::iterator> index_;
  std::size_t rows_ = 0;
  static inline std::atomic<std::uint64_t> next_id{1};
};

// The user a thread is reading: held here as well as in the cache, so a fit's batches never
// make their user again when the other trainer's users push it out of the cache (a user can
// hold more rows than the cache).
struct pinned_user {
  std::uint64_t cache = 0;
  std::uint32_t user = 0;
  std::shared_ptr<const federated_set> rows;
};
thread_local pinned_user pinned;

class user_rows : public sample_source {
public:
  user_rows(std::shared_ptr<user_cache> cache, bool test, std::vector<std::uint64_t> offsets, std::size_t sample_size)
      : cache_(std::move(cache)), test_(test), offsets_(std::move(offsets)), size_(sample_size) {}

  void gather(const std::uint32_t* indices, std::size_t n, float* x, std::int64_t* labels) const override {
    std::shared_ptr<const federated_set> user;
    std::uint32_t current = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t row = indices[i];
      if (row >= offsets_.back())
        throw data_error("sample " + std::to_string(row) + " is past the " + std::to_string(offsets_.back()) +
                         " rows of the generated split");
      // The user whose rows hold it: the last offset at or below the row.
      auto u = static_cast<std::uint32_t>(std::upper_bound(offsets_.begin(), offsets_.end(), row) - offsets_.begin() - 1);
      if (!user || u != current) {
        if (pinned.cache != cache_->id || pinned.user != u || !pinned.rows)
          pinned = {cache_->id, u, cache_->get(u)};
        user = pinned.rows;
        current = u;
      }
      const auto& a = test_ ? user->test : user->train;
      auto r = static_cast<std::size_t>(row - offsets_[u]);
      std::memcpy(x + i * size_, a.x.data() + r * size_, size_ * sizeof(float));
      labels[i] = a.y[r];
    }
  }

private:
  std::shared_ptr<user_cache> cache_;
  bool test_;
  std::vector<std::uint64_t> offsets_; // users + 1 entries: user u's rows are [offsets[u], offsets[u + 1])
  std::size_t size_;
};

} // namespace

on_demand_set make_on_demand(const user_generator& g, std::size_t cache_rows) {
  std::size_t sample_size = 1;
  for (auto d : g.sample_shape)
    sample_size *= d;
  std::vector<std::uint64_t> train_at{0}, test_at{0};
  train_at.reserve(std::size_t{g.users} + 1);
  test_at.reserve(std::size_t{g.users} + 1);
  for (std::uint32_t u = 0; u < g.users; ++u) {
    auto [train, test] = g.counts(u);
    train_at.push_back(train_at.back() + train);
    test_at.push_back(test_at.back() + test);
  }
  if (train_at.back() > max_samples || test_at.back() > max_samples)
    throw data_error("data.users = " + std::to_string(g.users) + " gives " + std::to_string(train_at.back()) +
                     " training and " + std::to_string(test_at.back()) + " test samples, more than the " +
                     std::to_string(max_samples) + " a split may index; lower data.users");
  on_demand_set out;
  auto cache = std::make_shared<user_cache>(g, cache_rows);
  for (auto [s, at, test] : {std::tuple{&out.train, &train_at, false}, std::tuple{&out.test, &test_at, true}}) {
    s->count = static_cast<std::size_t>(at->back());
    s->owner_offsets = *at;
    s->source = std::make_shared<user_rows>(cache, test, *at, sample_size);
  }
  out.natural_ids.reserve(g.users);
  for (std::uint32_t u = 0; u < g.users; ++u)
    out.natural_ids.push_back(std::to_string(u));
  if (g.true_group) {
    out.true_group.reserve(g.users);
    for (std::uint32_t u = 0; u < g.users; ++u)
      out.true_group.push_back(g.true_group(u));
  }
  return out;
}

} // namespace flotilla::data
