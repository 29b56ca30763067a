#include "data/synthetic_leaf.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "data/data_error.hpp"
#include "data/synthetic_users.hpp"

namespace flotilla::data {

namespace {

using synthetic_detail::normal_stream;

constexpr std::size_t dims = synthetic_leaf_features;
constexpr std::size_t classes = synthetic_leaf_classes;
constexpr std::size_t rows = dims + 1; // w's row 0 multiplies the constant 1 LEAF prepends to x
constexpr std::uint32_t user_domain = 0x1eaf0001u;
constexpr std::uint32_t global_domain = 0x1eaf0002u;

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

// The stream's first draw: LEAF's get_num_samples, min(int(lognormal(3, 2)) + 5, 1000).
std::size_t draw_count(normal_stream& s) {
  double e = std::exp(3.0 + 2.0 * s.normal());
  constexpr auto low = synthetic_leaf_min_user_samples, high = synthetic_leaf_max_user_samples;
  if (!(e < static_cast<double>(high - low)))
    return high;
  return static_cast<std::size_t>(e) + low;
}

void check_user(const synthetic_leaf_options& o, std::uint32_t user) {
  if (user >= o.users)
    throw std::out_of_range("synthetic user " + std::to_string(user) + " is outside 0-" +
                            std::to_string(o.users - 1) + " (data.users = " + std::to_string(o.users) + ")");
}

// Appends user `user`'s rows to `out` and returns its cluster.
std::int32_t append_user(const synthetic_leaf_options& o, const synthetic_leaf_model& model,
                         std::uint32_t user, std::uint32_t owner, federated_set& out) {
  const std::size_t k_count = model.clusters;
  normal_stream s(o.seed, user, user_domain);
  auto n = draw_count(s);
  auto cluster = static_cast<std::size_t>(s.below(k_count));
  double big_b = s.normal();
  std::array<double, dims> v{};
  for (auto& x : v)
    x = big_b + s.normal();
  // The task's model: m ~ N(mu_k, 0.1), w = Q m. LEAF draws m after x; the order of
  // independent draws does not change the law, and this way rows need no buffer.
  std::vector<double> m(k_count);
  for (std::size_t k = 0; k < k_count; ++k)
    m[k] = model.cluster_means[cluster * k_count + k] + 0.1 * s.normal();
  std::array<double, rows * classes> w{};
  for (std::size_t r = 0; r < rows * classes; ++r)
    for (std::size_t k = 0; k < k_count; ++k)
      w[r] += model.q[r * k_count + k] * m[k];

  auto n_train = std::max<std::size_t>(1, synthetic_detail::train_count(n)); // split_data.py
  const auto& sd = feature_sd();
  std::array<float, dims> row{};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < dims; ++j)
      row[j] = static_cast<float>(v[j] + sd[j] * s.normal());
    std::array<double, classes> logits{};
    for (std::size_t c = 0; c < classes; ++c)
      logits[c] = w[c];
    for (std::size_t j = 0; j < dims; ++j)
      for (std::size_t c = 0; c < classes; ++c)
        logits[c] += static_cast<double>(row[j]) * w[(j + 1) * classes + c];
    for (auto& l : logits)
      l += 0.1 * s.normal();
    // LEAF's softmax is monotone along the row (since 54669fd; before, it normalized over
    // samples), so the argmax of the logits is its label; the first of equal maxima as np.argmax.
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c)
      if (logits[c] > logits[best])
        best = c;
    auto& split = i < n_train ? out.train : out.test;
    split.x.insert(split.x.end(), row.begin(), row.end());
    split.y.push_back(static_cast<std::int64_t>(best));
    split.owner.push_back(owner);
    ++split.count;
  }
  return static_cast<std::int32_t>(cluster);
}

federated_set empty_set() {
  return synthetic_detail::empty_users_set(dims, classes);
}

} // namespace

void check_synthetic_leaf_options(const synthetic_leaf_options& o) {
  if (o.users < 1 || o.users > synthetic_max_users)
    throw data_error("data.users = " + std::to_string(o.users) + " is outside 1-" +
                     std::to_string(synthetic_max_users) + " (LEAF's README uses 1000)");
  if (o.clusters < 1 || o.clusters > synthetic_leaf_max_clusters)
    throw data_error("data.clusters = " + std::to_string(o.clusters) + " is outside 1-" +
                     std::to_string(synthetic_leaf_max_clusters) + " (the number of task clusters, e.g. 4)");
}

synthetic_leaf_model make_synthetic_leaf_model(const synthetic_leaf_options& o) {
  check_synthetic_leaf_options(o);
  const std::size_t k_count = o.clusters;
  normal_stream s(o.seed, 0, global_domain);
  synthetic_leaf_model model;
  model.clusters = o.clusters;
  model.q.resize(rows * classes * k_count);
  for (auto& x : model.q)
    x = s.normal();
  model.cluster_means.resize(k_count * k_count);
  for (std::size_t k = 0; k < k_count; ++k) {
    double loc = s.normal();
    for (std::size_t i = 0; i < k_count; ++i)
      model.cluster_means[k * k_count + i] = loc + s.normal();
  }
  return model;
}

std::size_t synthetic_leaf_user_samples(const synthetic_leaf_options& o, std::uint32_t user) {
  normal_stream s(o.seed, user, user_domain);
  return draw_count(s);
}

std::int32_t synthetic_leaf_user_cluster(const synthetic_leaf_options& o, std::uint32_t user) {
  check_user(o, user);
  normal_stream s(o.seed, user, user_domain);
  draw_count(s); // the cluster is the stream's second draw (append_user)
  return static_cast<std::int32_t>(s.below(o.clusters));
}

federated_set make_synthetic_leaf_user(const synthetic_leaf_options& o, std::uint32_t user) {
  check_synthetic_leaf_options(o);
  check_user(o, user);
  return make_synthetic_leaf_user(o, make_synthetic_leaf_model(o), user);
}

federated_set make_synthetic_leaf_user(const synthetic_leaf_options& o, const synthetic_leaf_model& model,
                                       std::uint32_t user) {
  check_synthetic_leaf_options(o);
  check_user(o, user);
  if (model.clusters != o.clusters || model.q.size() != rows * classes * o.clusters ||
      model.cluster_means.size() != std::size_t{o.clusters} * o.clusters)
    throw std::invalid_argument("make_synthetic_leaf_user: the model is not one of data.clusters = " +
                                std::to_string(o.clusters));
  auto out = empty_set();
  out.true_group = {append_user(o, model, user, 0, out)};
  out.natural_ids = {std::to_string(user)};
  return out;
}

federated_set make_synthetic_leaf(const synthetic_leaf_options& o) {
  check_synthetic_leaf_options(o);
  auto out = empty_set();
  synthetic_detail::reserve_users(out, o.users, dims, [&](std::uint32_t u) {
    auto n = synthetic_leaf_user_samples(o, u);
    auto t = std::max<std::size_t>(1, synthetic_detail::train_count(n)); // split_data.py
    return std::pair{t, n - t};
  });
  auto model = make_synthetic_leaf_model(o);
  out.true_group.reserve(o.users);
  out.natural_ids.reserve(o.users);
  for (std::uint32_t u = 0; u < o.users; ++u) {
    out.true_group.push_back(append_user(o, model, u, u, out));
    out.natural_ids.push_back(std::to_string(u));
  }
  return out;
}

} // namespace flotilla::data
