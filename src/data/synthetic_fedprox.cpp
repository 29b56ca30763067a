#include "data/synthetic_fedprox.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

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

} // namespace synthetic_detail

namespace {

using synthetic_detail::normal_stream;

constexpr std::size_t dims = synthetic_fedprox_features;
constexpr std::size_t classes = synthetic_fedprox_classes;
// Domain tags keep these streams apart from every other seeded stream of the project.
constexpr std::uint32_t user_domain = 0xfed90001u;
constexpr std::uint32_t global_domain = 0xfed90002u;

struct linear_model {
  std::array<double, dims * classes> w{}; ///< row-major (feature, class), numpy's (60, 10)
  std::array<double, classes> b{};
};

// sqrt of Sigma's diagonal: sd_j = j^-0.6, j = 1..60.
const std::array<double, dims>& feature_sd() {
  static const auto sd = [] {
    std::array<double, dims> out{};
    for (std::size_t j = 0; j < dims; ++j)
      out[j] = std::pow(static_cast<double>(j + 1), -0.6);
    return out;
  }();
  return sd;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// The iid variant's one model for all users, from a stream no user draws from.
linear_model iid_model(std::uint64_t seed) {
  normal_stream s(seed, 0, global_domain);
  linear_model m;
  for (auto& x : m.w)
    x = s.normal();
  for (auto& x : m.b)
    x = s.normal();
  return m;
}

// The stream's first draw: int(lognormal(4, 2)) + 50 as numpy's astype(int) + 50, capped.
std::size_t draw_count(normal_stream& s) {
  double e = std::exp(4.0 + 2.0 * s.normal());
  constexpr auto cap = synthetic_fedprox_max_user_samples;
  if (!(e < static_cast<double>(cap - 50)))
    return cap;
  return static_cast<std::size_t>(e) + 50;
}

void append_user(const synthetic_fedprox_options& o, const linear_model* iid, std::uint32_t user,
                 std::uint32_t owner, federated_set& out) {
  normal_stream s(o.seed, user, user_domain);
  auto n = draw_count(s);
  std::array<double, dims> v{};
  linear_model m;
  if (iid) {
    m = *iid; // v stays 0, as generate_iid.py
  } else {
    // FedProx's order: u_i, B_i, v_i, then W_i and b_i. u_i shifts every logit of a sample
    // by the same amount, so alpha never changes a label; it is drawn to follow the definition.
    double u = o.alpha * s.normal();
    double big_b = o.beta * s.normal();
    for (auto& x : v)
      x = big_b + s.normal();
    for (auto& x : m.w)
      x = u + s.normal();
    for (auto& x : m.b)
      x = u + s.normal();
  }
  const auto& sd = feature_sd();
  auto n_train = synthetic_detail::train_count(n);
  std::array<float, dims> row{};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < dims; ++j)
      row[j] = static_cast<float>(v[j] + sd[j] * s.normal());
    // Labels from the stored (float) features, so the rows are exactly what the model labels.
    auto logits = m.b;
    for (std::size_t j = 0; j < dims; ++j)
      for (std::size_t c = 0; c < classes; ++c)
        logits[c] += static_cast<double>(row[j]) * m.w[j * classes + c];
    std::size_t best = 0; // first of equal maxima, as np.argmax
    for (std::size_t c = 1; c < classes; ++c)
      if (logits[c] > logits[best])
        best = c;
    auto& split = i < n_train ? out.train : out.test;
    split.x.insert(split.x.end(), row.begin(), row.end());
    split.y.push_back(static_cast<std::int64_t>(best));
    split.owner.push_back(owner);
    ++split.count;
  }
}

federated_set empty_set() {
  federated_set out;
  out.sample_shape = {dims};
  out.classes = classes;
  return out;
}

} // namespace

void check_synthetic_fedprox_options(const synthetic_fedprox_options& o) {
  if (!(std::isfinite(o.alpha) && o.alpha >= 0))
    throw data_error("data.alpha = " + number_text(o.alpha) +
                     " must be a finite number >= 0 (Synthetic(alpha, beta): 0, 0.5 and 1 in the paper)");
  if (!(std::isfinite(o.beta) && o.beta >= 0))
    throw data_error("data.beta = " + number_text(o.beta) +
                     " must be a finite number >= 0 (Synthetic(alpha, beta): 0, 0.5 and 1 in the paper)");
  if (o.users < 1 || o.users > synthetic_max_users)
    throw data_error("data.users = " + std::to_string(o.users) + " is outside 1-" +
                     std::to_string(synthetic_max_users) + " (the paper uses 30)");
}

std::size_t synthetic_fedprox_user_samples(const synthetic_fedprox_options& o, std::uint32_t user) {
  normal_stream s(o.seed, user, user_domain);
  return draw_count(s);
}

federated_set make_synthetic_fedprox_user(const synthetic_fedprox_options& o, std::uint32_t user) {
  check_synthetic_fedprox_options(o);
  if (user >= o.users)
    throw std::out_of_range("synthetic user " + std::to_string(user) + " is outside 0-" +
                            std::to_string(o.users - 1) + " (data.users = " + std::to_string(o.users) + ")");
  auto out = empty_set();
  auto n = synthetic_fedprox_user_samples(o, user);
  auto n_train = synthetic_detail::train_count(n);
  out.train.x.reserve(n_train * dims);
  out.test.x.reserve((n - n_train) * dims);
  linear_model global;
  if (o.iid)
    global = iid_model(o.seed);
  append_user(o, o.iid ? &global : nullptr, user, 0, out);
  out.natural_ids = {std::to_string(user)};
  return out;
}

federated_set make_synthetic_fedprox(const synthetic_fedprox_options& o) {
  check_synthetic_fedprox_options(o);
  // Sizes first (one draw per user), so nothing is allocated for a set over the bound and the
  // vectors are allocated once at their final size.
  std::size_t n_train = 0, n_test = 0;
  for (std::uint32_t u = 0; u < o.users; ++u) {
    auto n = synthetic_fedprox_user_samples(o, u);
    auto t = synthetic_detail::train_count(n);
    n_train += t;
    n_test += n - t;
  }
  if (n_train > max_samples || n_test > max_samples)
    throw data_error("data.users = " + std::to_string(o.users) + " gives " + std::to_string(n_train) +
                     " training and " + std::to_string(n_test) + " test samples, more than the " +
                     std::to_string(max_samples) + " a split may hold; lower data.users");
  auto out = empty_set();
  for (auto [split, n] : {std::pair{&out.train, n_train}, std::pair{&out.test, n_test}}) {
    split->x.reserve(n * dims);
    split->y.reserve(n);
    split->owner.reserve(n);
  }
  linear_model global;
  if (o.iid)
    global = iid_model(o.seed);
  for (std::uint32_t u = 0; u < o.users; ++u)
    append_user(o, o.iid ? &global : nullptr, u, u, out);
  out.natural_ids.reserve(o.users);
  for (std::uint32_t u = 0; u < o.users; ++u)
    out.natural_ids.push_back(std::to_string(u));
  return out;
}

} // namespace flotilla::data
