#pragma once
// Synthetic(alpha, beta) of Li et al. 2020 (FedProx, MLSys), as litian96/FedProx's
// data/synthetic_*/generate_synthetic.py and data/synthetic_iid/generate_iid.py build it:
// 60 features, 10 classes, user i with int(lognormal(4, 2)) + 50 samples,
//   u_i ~ N(0, alpha), B_i ~ N(0, beta), v_i ~ N(B_i, 1)^60, Sigma = diag(j^-1.2),
//   W_i ~ N(u_i, 1)^(60x10), b_i ~ N(u_i, 1)^10, x ~ N(v_i, Sigma), y = argmax(W_i^T x + b_i),
// the first int(0.9 n) of a user's samples for training, the rest for testing (FedProx shuffles
// them first; they are i.i.d., so that changes nothing). iid: one W, b ~ N(0, 1) for all users
// and v_i = 0, as generate_iid.py (generate_synthetic.py's iid branch would set v_i = B_i, the
// same at beta = 0, the only value it is run with); alpha and beta are then unused.
// Labels are computed from the features as stored (float), in double.
//
// Unlike FedProx's script, which draws everything from one numpy stream, user i draws from a
// stream of its own seeded by (seed, i), so one user can be generated without the others and a
// user's data do not depend on how many users there are.
#include <cstddef>
#include <cstdint>

#include "data/federated_set.hpp"
#include "data/synthetic_users.hpp"

namespace flotilla::data {

struct synthetic_fedprox_options {
  double alpha = 0;        ///< data.alpha: std dev of u_i (FedProx's code passes it as numpy's scale)
  double beta = 0;         ///< data.beta: std dev of B_i, likewise
  bool iid = false;        ///< FedProx's synthetic_iid
  std::uint32_t users = 30;
  std::uint64_t seed = 0;
};

inline constexpr std::size_t synthetic_fedprox_features = 60;
inline constexpr std::size_t synthetic_fedprox_classes = 10;
/// Cap on one user's samples (about 250 MB of rows): exp(4 + 2z) passes it for z > 4.9, about
/// 1 user in 2 million, and uncapped a single draw could ask for more memory than there is.
/// The whole set is further bounded by max_samples per split.
inline constexpr std::size_t synthetic_fedprox_max_user_samples = 1'000'000;

/// Throws data_error naming data.alpha, data.beta or data.users when the options are out of range.
void check_synthetic_fedprox_options(const synthetic_fedprox_options& options);

/// User `user`'s sample count (train + test), from its stream's first draw only: cheap.
std::size_t synthetic_fedprox_user_samples(const synthetic_fedprox_options& options, std::uint32_t user);

/// One user's samples alone, from (options, user) only: the same rows, in the same order, as
/// that user's in make_synthetic_fedprox. natural_ids = {decimal user}, owner 0 on every row.
/// Throws std::out_of_range when user >= options.users.
federated_set make_synthetic_fedprox_user(const synthetic_fedprox_options& options, std::uint32_t user);

/// All users: train rows of user 0, 1, ..., then test rows likewise; owner = user index,
/// natural_ids = "0", "1", ... in numeric order. Throws data_error when either split would
/// hold more than max_samples rows.
federated_set make_synthetic_fedprox(const synthetic_fedprox_options& options);


} // namespace flotilla::data
