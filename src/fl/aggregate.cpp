#include "fl/aggregate.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace flotilla::fl {

namespace {
constexpr float max_weight = 1e6f;
// A narrow block's |sums| stay below this, a margin of 2.2e17 under 2^63 that dwarfs every
// rounding in the bounds (a few ulps of numbers below 2^63, i.e. a few thousand).
constexpr double narrow_limit = 9.0e18;
constexpr std::size_t block_size = std::size_t{1} << 14;
// take_mean converts (and frees) 16 MiB of sums at a time.
constexpr std::size_t release_blocks = (std::size_t{16} << 20) / sizeof(std::int64_t) / block_size;

// One branch-free, vectorizable pass: is every |w| <= 1e6 (NaN and inf fail), and the largest
// |w|. On the bit patterns: with the sign cleared, floats (NaN and inf included, above every
// finite one) order like their patterns as integers.
inline bool all_valid(const float* w, std::size_t n, float& largest) {
  std::int32_t limit;
  std::memcpy(&limit, &max_weight, sizeof limit);
  std::int32_t m = 0; // signed (all patterns are >= 0 once masked): SSE2 compares those
  for (std::size_t i = 0; i < n; ++i) {
    std::int32_t a;
    std::memcpy(&a, w + i, sizeof a);
    a &= 0x7fffffff;
    m = a > m ? a : m;
  }
  std::memcpy(&largest, &m, sizeof largest);
  return m <= limit;
}

inline __int128 wide_value(std::int64_t hi, std::int64_t lo) {
  return static_cast<__int128>(hi) * (static_cast<__int128>(1) << 64) +
         static_cast<__int128>(static_cast<std::uint64_t>(lo));
}

// Adds (or subtracts) v to the 128-bit sum (hi, lo), modulo 2^128 like any two's complement.
template <bool Subtract>
inline void wide_add(std::int64_t& hi, std::int64_t& lo, __int128 v) {
  auto s = static_cast<unsigned __int128>(wide_value(hi, lo));
  auto u = static_cast<unsigned __int128>(v);
  s = Subtract ? s - u : s + u;
  lo = static_cast<std::int64_t>(static_cast<std::uint64_t>(s));
  hi = static_cast<std::int64_t>(static_cast<std::uint64_t>(s >> 64));
}
} // namespace

std::string check_weights(const float* weights, std::size_t n, std::size_t offset) {
  float largest = 0;
  if (all_valid(weights, n, largest))
    return {};
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(weights[i]))
      return "update has a non-finite weight (" + std::to_string(weights[i]) + ") at index " +
             std::to_string(offset + i);
    if (std::fabs(weights[i]) > max_weight)
      return "update has a weight of " + std::to_string(weights[i]) + " at index " + std::to_string(offset + i) +
             " (beyond +-1e6: a diverged model)";
  }
  return {};
}

std::string check_update(const std::vector<float>& weights, std::size_t expected_size) {
  if (weights.size() != expected_size)
    return "update has " + std::to_string(weights.size()) + " weights, the model has " +
           std::to_string(expected_size);
  return check_weights(weights.data(), weights.size(), 0);
}

fedavg_accumulator::fedavg_accumulator(std::size_t size)
    : lo_(size, 0), hi_((size + block_size - 1) / block_size), bound_(hi_.size(), 0.0) {}

void fedavg_accumulator::add(std::uint64_t samples, const std::vector<float>& weights) {
  if (weights.size() != lo_.size())
    throw std::invalid_argument("fedavg: update has " + std::to_string(weights.size()) + " weights, expected " +
                                std::to_string(lo_.size()));
  add_range(samples, 0, weights.data(), weights.size());
  count_update(samples);
}

void fedavg_accumulator::add_range(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n) {
  apply<false>(samples, offset, w, n);
}

void fedavg_accumulator::subtract_range(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n) {
  apply<true>(samples, offset, w, n);
}

void fedavg_accumulator::count_update(std::uint64_t samples) {
  samples_ += samples;
  ++count_;
}

template <bool Subtract>
void fedavg_accumulator::apply(std::uint64_t samples, std::size_t offset, const float* w, std::size_t n) {
  if (offset > lo_.size() || n > lo_.size() - offset)
    throw std::invalid_argument("fedavg: " + std::to_string(n) + " weights at offset " + std::to_string(offset) +
                                " lie beyond the model's " + std::to_string(lo_.size()));
  if (n == 0)
    return;
  // Validate everything first (branch-free, vectorizable), noting each block's largest |w|,
  // so nothing changes when a weight is refused and the summing loops have no exit.
  const std::size_t first = offset / block_size, last = (offset + n - 1) / block_size;
  std::vector<float> largest(last - first + 1);
  bool ok = true;
  for (std::size_t b = first; b <= last; ++b) {
    std::size_t from = std::max(offset, b * block_size), to = std::min(offset + n, (b + 1) * block_size);
    ok &= all_valid(w + (from - offset), to - from, largest[b - first]);
  }
  if (!ok)
    for (std::size_t i = 0; i < n; ++i)
      if (!(std::fabs(w[i]) <= max_weight))
        throw std::invalid_argument("fedavg: weight " + std::to_string(w[i]) + " at index " +
                                    std::to_string(offset + i) + " is not finite or beyond +-1e6");

  const auto nd = static_cast<double>(samples);
  for (std::size_t b = first; b <= last; ++b) {
    std::size_t from = std::max(offset, b * block_size), to = std::min(offset + n, (b + 1) * block_size);
    std::size_t len = to - from;
    const float* src = w + (from - offset);
    std::int64_t* lo = lo_.data() + from;
    // Every term is at most this in magnitude (rounding is monotonic), plus the 0.5 rounding.
    const double term_bound = nd * static_cast<double>(largest[b - first]) * fixed_scale;
    const bool big = !(term_bound < narrow_limit); // a term itself may be beyond int64
    if (hi_[b].empty() && !big) {
      if (!(bound_[b] + term_bound + 1 < narrow_limit))
        rescan(b); // the bound adds up worst cases: the actual sums are often far smaller
      if (bound_[b] + term_bound + 1 < narrow_limit) {
        // The fast path: no sum can leave int64, so a plain loop, branch-free.
        for (std::size_t i = 0; i < len; ++i) {
          double term = nd * static_cast<double>(src[i]) * fixed_scale;
          auto v = static_cast<std::int64_t>(term + std::copysign(0.5, term));
          if constexpr (Subtract)
            lo[i] -= v;
          else
            lo[i] += v;
        }
        bound_[b] += term_bound + 1;
        continue;
      }
    }
    if (hi_[b].empty())
      widen(b);
    // 128-bit sums: rare (huge weights times many samples). The terms are the same integers
    // (an int64 term converts to the same value either way).
    std::int64_t* hi = hi_[b].data() + (from - b * block_size);
    if (big) {
      for (std::size_t i = 0; i < len; ++i) {
        double term = nd * static_cast<double>(src[i]) * fixed_scale;
        wide_add<Subtract>(hi[i], lo[i], static_cast<__int128>(std::trunc(term + std::copysign(0.5, term))));
      }
    } else {
      for (std::size_t i = 0; i < len; ++i) {
        double term = nd * static_cast<double>(src[i]) * fixed_scale;
        wide_add<Subtract>(hi[i], lo[i], static_cast<std::int64_t>(term + std::copysign(0.5, term)));
      }
    }
  }
}

std::size_t fixed_terms(std::uint64_t samples, const float* w, std::size_t n, std::int64_t* out) {
  constexpr double limit = 4611686018427387904.0; // 2^62: a difference of two terms stays in int64
  const auto nd = static_cast<double>(samples);
  for (std::size_t i = 0; i < n; ++i) {
    double term = nd * static_cast<double>(w[i]) * fixed_scale; // as apply() computes it
    if (!(std::fabs(term) < limit))
      return i;
    out[i] = static_cast<std::int64_t>(term + std::copysign(0.5, term));
  }
  return n;
}

void fedavg_accumulator::add_sums(const std::vector<std::int64_t>& sums) {
  if (sums.size() != lo_.size())
    throw std::invalid_argument("fedavg: " + std::to_string(sums.size()) + " sums for a model of " +
                                std::to_string(lo_.size()) + " weights");
  for (std::size_t b = 0; b < hi_.size(); ++b) {
    const std::size_t from = b * block_size, to = std::min(lo_.size(), from + block_size);
    double largest = 0;
    for (std::size_t i = from; i < to; ++i)
      largest = std::max(largest, std::fabs(static_cast<double>(sums[i])));
    largest += 4096; // int64 -> double rounding, as in rescan
    if (hi_[b].empty() && !(bound_[b] + largest < narrow_limit))
      rescan(b);
    if (hi_[b].empty() && bound_[b] + largest < narrow_limit) {
      for (std::size_t i = from; i < to; ++i)
        lo_[i] += sums[i];
      bound_[b] += largest;
      continue;
    }
    if (hi_[b].empty())
      widen(b);
    for (std::size_t i = from; i < to; ++i)
      wide_add<false>(hi_[b][i - from], lo_[i], sums[i]);
  }
}

void fedavg_accumulator::rescan(std::size_t block) {
  const std::size_t from = block * block_size, to = std::min(lo_.size(), from + block_size);
  double m = 0;
  for (std::size_t i = from; i < to; ++i) {
    double a = std::fabs(static_cast<double>(lo_[i]));
    m = a > m ? a : m;
  }
  bound_[block] = m + 4096; // int64 -> double rounds by at most 512
}

void fedavg_accumulator::widen(std::size_t block) {
  const std::size_t from = block * block_size, to = std::min(lo_.size(), from + block_size);
  auto& hi = hi_[block];
  hi.resize(to - from);
  for (std::size_t i = from; i < to; ++i)
    hi[i - from] = lo_[i] < 0 ? -1 : 0; // the sign extension: the same sums, now 128-bit
}

std::size_t fedavg_accumulator::wide_weights() const {
  std::size_t n = 0;
  for (const auto& h : hi_)
    n += h.size();
  return n;
}

std::size_t fedavg_accumulator::sum_bytes() const {
  return (lo_.size() + wide_weights()) * sizeof(std::int64_t) +
         hi_.size() * (sizeof(std::vector<std::int64_t>) + sizeof(double));
}

void fedavg_accumulator::check_can_average() const {
  if (count_ == 0)
    throw std::invalid_argument("fedavg: no updates to aggregate");
  if (samples_ == 0)
    throw std::invalid_argument("fedavg: updates carry no samples");
}

void fedavg_accumulator::convert_block(std::size_t block, double denom, float* out) const {
  const std::size_t from = block * block_size, to = std::min(lo_.size(), from + block_size);
  const std::int64_t* lo = lo_.data() + from;
  const auto& hi = hi_[block];
  // Integer to double rounds correctly from int64 as from int128: the same double either way.
  if (hi.empty())
    for (std::size_t i = 0; i < to - from; ++i)
      out[i] = static_cast<float>(static_cast<double>(lo[i]) / denom);
  else
    for (std::size_t i = 0; i < to - from; ++i)
      out[i] = static_cast<float>(static_cast<double>(wide_value(hi[i], lo[i])) / denom);
}

std::vector<float> fedavg_accumulator::mean() const {
  check_can_average();
  std::vector<float> out(lo_.size());
  double denom = static_cast<double>(samples_) * fixed_scale;
  for (std::size_t b = 0; b < hi_.size(); ++b)
    convert_block(b, denom, out.data() + b * block_size);
  return out;
}

std::vector<float> fedavg_accumulator::take_mean() && {
  check_can_average();
  std::vector<float> out;
  out.reserve(lo_.size()); // untouched pages until written: the mean grows as the sums shrink
  const double denom = static_cast<double>(samples_) * fixed_scale;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto base = reinterpret_cast<std::uintptr_t>(lo_.data());
  std::uintptr_t released = (base + page - 1) / page * page;
  for (std::size_t b = 0; b < hi_.size();) {
    const std::size_t stop = std::min(hi_.size(), b + release_blocks);
    const std::size_t to = std::min(lo_.size(), stop * block_size);
    out.resize(to);
    for (; b < stop; ++b) {
      convert_block(b, denom, out.data() + b * block_size);
      std::vector<std::int64_t>().swap(hi_[b]);
    }
    // Hand the consumed sums' whole pages back to the kernel (the buffer stays mapped; it is
    // freed below, and nothing reads it before).
    const std::uintptr_t end = (base + to * sizeof(std::int64_t)) / page * page;
    if (end > released) {
      madvise(reinterpret_cast<void*>(released), end - released, MADV_DONTNEED);
      released = end;
    }
  }
  std::vector<std::int64_t>().swap(lo_);
  std::vector<std::vector<std::int64_t>>().swap(hi_);
  std::vector<double>().swap(bound_);
  count_ = 0;
  samples_ = 0;
  return out;
}

std::vector<float> weighted_mean(const std::vector<weighted_update>& updates) {
  if (updates.empty())
    throw std::invalid_argument("fedavg: no updates to aggregate");
  fedavg_accumulator acc(updates.front().weights->size());
  for (const auto& u : updates) {
    try {
      acc.add(u.samples, *u.weights);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()).replace(0, 7, "fedavg: client " + std::to_string(u.client_id) + ":"));
    }
  }
  return acc.mean();
}

} // namespace flotilla::fl
