#pragma once
// Client-level privacy accounting: the Renyi DP of the Sampled Gaussian Mechanism (Mironov,
// Talwar & Zhang 2019, "Renyi Differential Privacy of the Sampled Gaussian Mechanism"), composed
// over rounds and converted to (epsilon, delta).
//
// One step = one round at one aggregation point: each member of the point's population is in the
// round with probability q (sampled members / cluster size), its clipped update has sensitivity
// C, and the sum gets N(0, (sigma C)^2) noise. RDP composes additively, so the accountant keeps
// one running sum per order; that vector is all a checkpoint needs to resume bit-identically.
//
// The analysis assumes Poisson sampling (each member in independently with probability q) and
// add/remove-one-member adjacency. Sampling a fixed m of N members is commonly accounted with
// q = m / N (Opacus, TFF do so); a strict fixed-size analysis (Wang, Balle & Kasiviswanathan
// 2019) is not implemented. A client that moves between aggregation points is covered by each
// point's accountant separately; its total is their sum (RDP composes across points too).
#include <cstdint>
#include <string>
#include <vector>

namespace flotilla::fl::privacy {

/// Opacus's default orders: 1.1, 1.2, ..., 10.9 (fractional and integer) then 12, 13, ..., 63.
const std::vector<double>& default_orders();

/// log A_alpha of the Sampled Gaussian Mechanism with sampling rate q and noise multiplier sigma
/// (Mironov et al. 2019): the binomial sum of their section 3.2 for integer alpha, the two-series
/// expansion of section 3.3 for fractional alpha, both in log space. q = 0 gives 0. Throws
/// std::invalid_argument unless q is in [0, 1], sigma > 0 finite and alpha in (1, 10000].
double sgm_log_a(double q, double sigma, double alpha);

/// The RDP of one step at order alpha: log A_alpha / (alpha - 1); q = 1 gives alpha / (2 sigma^2)
/// (the plain Gaussian mechanism), q = 0 gives 0. Same checks as sgm_log_a.
double sgm_rdp(double q, double sigma, double alpha);

/// The RDP of one step at each of `orders`.
std::vector<double> sgm_rdp(double q, double sigma, const std::vector<double>& orders);

/// epsilon at delta from RDP values `rdp` at `orders`, by the conversion of Balle et al. 2020
/// ("Hypothesis testing interpretations and Renyi DP", Thm 21) and Canonne, Kamath & Steinke 2020
/// (Prop. 12), as Opacus uses it: min over alpha of
///   rdp(alpha) + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha - 1),
/// clamped at 0. Tighter than rdp_to_epsilon_classic at every order. Throws
/// std::invalid_argument on a size mismatch or delta outside (0, 1).
double rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp,
                      double delta);

/// The classic conversion of Mironov 2017 (Prop. 3): min over alpha of
/// rdp(alpha) + log(1/delta) / (alpha - 1), clamped at 0. Same checks as rdp_to_epsilon.
double rdp_to_epsilon_classic(const std::vector<double>& orders, const std::vector<double>& rdp,
                              double delta);

/// Why `rdp` cannot be the accumulated RDP of an accountant over `orders` orders (empty: it
/// can): wrong size, or a value that is negative, NaN or infinite.
std::string check_rdp_state(const std::vector<double>& rdp, std::size_t orders);

/// The privacy spent so far at one aggregation point: RDP summed over its rounds, each round
/// with its own (q, sigma). Not thread-safe: const members refresh a cache of the last step.
class rdp_accountant {
public:
  /// An accountant over default_orders() with nothing spent.
  rdp_accountant();
  /// An accountant over `orders` (each in (1, 10000], 1 to 10000 of them) with nothing spent.
  /// Throws std::invalid_argument otherwise.
  explicit rdp_accountant(std::vector<double> orders);

  /// Resumes from a checkpoint: `rdp` as state() returned it, over default_orders(). Throws
  /// std::invalid_argument with check_rdp_state's reason when it is not valid.
  static rdp_accountant restore(std::vector<double> rdp);
  /// Resumes over custom `orders` (as the constructor checks them).
  static rdp_accountant restore(std::vector<double> orders, std::vector<double> rdp);

  /// Adds `steps` rounds of the Sampled Gaussian Mechanism with rate q and multiplier sigma, as
  /// steps * (one step's RDP) added once per order (so the same calls give the same bits; n
  /// calls of one step may differ from one call of n in the last bits). Throws
  /// std::invalid_argument (changing nothing) on q outside [0, 1] or sigma not > 0 finite.
  void add_steps(double q, double sigma, std::uint64_t steps = 1);

  /// epsilon spent at delta (rdp_to_epsilon, the Balle et al. 2020 conversion).
  double epsilon(double delta) const;
  /// epsilon spent at delta by the classic Mironov 2017 conversion.
  double epsilon_classic(double delta) const;
  /// epsilon at delta after `steps` more rounds at (q, sigma), without taking them.
  double epsilon_after(double delta, double q, double sigma, std::uint64_t steps = 1) const;

  /// Whether one more round at (next_q, next_sigma) would take epsilon at delta beyond
  /// `budget`: an aggregation point asks before the round and stops if so.
  bool would_exceed(double budget, double delta, double next_q, double next_sigma) const;
  /// How many more rounds at (q, sigma) keep epsilon at delta within `budget` (0 when even
  /// the next one would exceed it; at most `cap`, returned when all of them fit, q = 0 too).
  std::uint64_t rounds_within_budget(double budget, double delta, double q, double sigma,
                                     std::uint64_t cap = 1000000) const;

  const std::vector<double>& orders() const { return orders_; }
  /// The accumulated RDP per order: the whole state a checkpoint needs.
  const std::vector<double>& state() const { return rdp_; }

private:
  const std::vector<double>& step_rdp(double q, double sigma) const;

  std::vector<double> orders_;
  std::vector<double> rdp_;
  // The last (q, sigma)'s per-step RDP: rounds usually repeat it, and the series are not free.
  mutable double cached_q_ = -1;
  mutable double cached_sigma_ = -1;
  mutable std::vector<double> cached_rdp_;
};

} // namespace flotilla::fl::privacy
