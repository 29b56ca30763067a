#include "data/synthetic_users.hpp"

#include <cmath>
#include <string>

#include "data/data_error.hpp"

namespace flotilla::data {

namespace synthetic_detail {

normal_stream::normal_stream(std::uint64_t seed, std::uint64_t stream, std::uint32_t domain) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32), domain};
  rng_.seed(seq);
}

double normal_stream::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // Marsaglia's polar method: a point uniform in the unit disc gives two normals with one log
  // and no sin or cos (Box-Muller's cost); 21% of points are redrawn.
  auto signed_unit = [this] { // uniform on [-1, 1) in steps of 2^-52
    return static_cast<double>(static_cast<std::int64_t>(rng_() >> 11) - (std::int64_t{1} << 52)) * 0x1p-52;
  };
  for (;;) {
    double a = signed_unit();
    double b = signed_unit();
    double r2 = a * a + b * b;
    if (r2 >= 1 || r2 == 0)
      continue;
    double f = std::sqrt(-2.0 * std::log(r2) / r2);
    spare_ = b * f;
    has_spare_ = true;
    return a * f;
  }
}

std::uint64_t normal_stream::below(std::uint64_t bound) {
  // Rejects the 2^64 mod bound lowest outputs so every residue is equally likely.
  std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    auto x = rng_();
    if (x >= threshold)
      return x % bound;
  }
}

std::size_t train_count(std::size_t n) {
  return static_cast<std::size_t>(0.9 * static_cast<double>(n));
}

federated_set empty_users_set(std::size_t dims, std::size_t classes) {
  federated_set out;
  out.sample_shape = {dims};
  out.classes = classes;
  return out;
}

void reserve_users(federated_set& out, std::uint32_t users, std::size_t dims,
                   const std::function<std::pair<std::size_t, std::size_t>(std::uint32_t)>& split_of) {
  std::size_t n_train = 0, n_test = 0;
  for (std::uint32_t u = 0; u < users; ++u) {
    auto [train, test] = split_of(u);
    n_train += train;
    n_test += test;
  }
  if (n_train > max_samples || n_test > max_samples)
    throw data_error("data.users = " + std::to_string(users) + " gives " + std::to_string(n_train) +
                     " training and " + std::to_string(n_test) + " test samples, more than the " +
                     std::to_string(max_samples) + " a split may hold; lower data.users");
  for (auto [split, n] : {std::pair{&out.train, n_train}, std::pair{&out.test, n_test}}) {
    split->x.reserve(n * dims);
    split->y.reserve(n);
    split->owner.reserve(n);
  }
}

} // namespace synthetic_detail

} // namespace flotilla::data
