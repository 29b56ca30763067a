#include "data/synthetic_fedprox.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "data/data_error.hpp"

namespace flotilla::data {


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
  return synthetic_detail::empty_users_set(dims, classes);
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
  auto out = empty_set();
  synthetic_detail::reserve_users(out, o.users, dims, [&](std::uint32_t u) {
    auto n = synthetic_fedprox_user_samples(o, u);
    auto t = synthetic_detail::train_count(n);
    return std::pair{t, n - t};
  });
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
