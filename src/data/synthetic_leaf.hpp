#pragma once
// LEAF's synthetic benchmark (Caldas et al. 2018; TalwalkarLab/leaf data/synthetic/main.py and
// data_generator.py, as of its softmax fix 54669fd), with clusters of equally likely task models:
//   Q ~ N(0, 1)^(61 x 5 x K); cluster k's mean mu_k ~ N(l_k, 1)^K with l_k ~ N(0, 1);
//   task (user) i: n_i = min(int(lognormal(3, 2)) + 5, 1000), cluster k_i uniform on 0..K-1,
//   B_i ~ N(0, 1), v_i ~ N(B_i, 1)^60, x ~ N(v_i, diag(j^-1.2)),
//   w_i = Q m_i with m_i ~ N(mu_k, 0.1)^K, y = argmax(w_i^T [1, x] + N(0, 0.1)^5).
// 60 features and 5 classes as LEAF's README runs it. LEAF's split_data.py (-t sample,
// --tf 0.9) trains on a random max(1, int(0.9 n)) of a user's samples and tests on the rest;
// a user's samples are i.i.d., so the first ones are taken instead of a random subset.
//
// As synthetic_fedprox: user i draws from its own stream (seed, i) and the shared Q and cluster
// means from a stream of their own, so one user can be generated alone.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/federated_set.hpp"

namespace flotilla::data {

struct synthetic_leaf_options {
  std::uint32_t users = 1000;  ///< data.users; LEAF's README: -num-tasks 1000
  std::uint32_t clusters = 4;  ///< data.clusters; LEAF's code defaults to 1 (PROB_CLUSTERS = [1.0])
  std::uint64_t seed = 0;
};

inline constexpr std::size_t synthetic_leaf_features = 60;
inline constexpr std::size_t synthetic_leaf_classes = 5;
inline constexpr std::size_t synthetic_leaf_min_user_samples = 5;     ///< LEAF's min_num_samples
inline constexpr std::size_t synthetic_leaf_max_user_samples = 1000;  ///< LEAF's max_num_samples
/// Q and the means grow with K (61 * 5 * K + K * K numbers), and so does each user's w.
inline constexpr std::uint32_t synthetic_leaf_max_clusters = 1000;

/// What every user shares: Q and the cluster means, drawn from (seed) alone.
struct synthetic_leaf_model {
  std::uint32_t clusters = 0;
  std::vector<double> q;             ///< (61, 5, K) row-major, row 0 the bias
  std::vector<double> cluster_means; ///< (K, K) row-major: cluster k's mean in row k
};

/// Throws data_error naming data.users or data.clusters when the options are out of range.
void check_synthetic_leaf_options(const synthetic_leaf_options& options);

synthetic_leaf_model make_synthetic_leaf_model(const synthetic_leaf_options& options);

/// User `user`'s sample count (train + test), from its stream's first draw only: cheap.
std::size_t synthetic_leaf_user_samples(const synthetic_leaf_options& options, std::uint32_t user);

/// User `user`'s true cluster, from its stream's first two draws only: cheap. Throws
/// std::out_of_range when user >= options.users.
std::int32_t synthetic_leaf_user_cluster(const synthetic_leaf_options& options, std::uint32_t user);

/// One user's samples alone: the same rows as that user's in make_synthetic_leaf, with
/// natural_ids = {decimal user}, true_group = {its cluster}, owner 0. The overload taking the
/// model saves redrawing it when many users are generated one by one. Throws std::out_of_range
/// when user >= options.users, std::invalid_argument when the model is not the options'.
federated_set make_synthetic_leaf_user(const synthetic_leaf_options& options, std::uint32_t user);
federated_set make_synthetic_leaf_user(const synthetic_leaf_options& options,
                                       const synthetic_leaf_model& model, std::uint32_t user);

/// All users: train rows of user 0, 1, ..., then test rows likewise; owner = user index,
/// natural_ids = "0", "1", ... in numeric order, true_group = each user's cluster. Throws
/// data_error when either split would hold more than max_samples rows.
federated_set make_synthetic_leaf(const synthetic_leaf_options& options);

} // namespace flotilla::data
