#include "fl/privacy/rdp_accountant.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace flotilla::fl::privacy {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double pi = 3.14159265358979323846;
constexpr std::size_t max_orders = 10000;
// Orders beyond this only matter for vanishing delta, and bound the series' length.
constexpr double max_order = 10000;
// The fractional series stops once its terms fall below e^-36 (2e-16; A_alpha >= 1): past that
// point they alternate in sign and shrink, so the rest sums to less than the first left out.
// RDP per step is then off by under 2.3e-15 / (alpha - 1): 1e-9 in epsilon after 10^5 rounds.
constexpr double log_negligible = -36;
// A bound on series terms per order: reached only by extreme (q, sigma) (z0 in the millions).
constexpr std::size_t max_terms = 4000000;

std::string show(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void check_q_sigma(double q, double sigma) {
  if (!(q >= 0 && q <= 1))
    throw std::invalid_argument("rdp_accountant: sampling rate q must be in [0, 1], got " + show(q));
  if (!(sigma > 0 && sigma < inf))
    throw std::invalid_argument(
        "rdp_accountant: noise multiplier sigma must be positive and finite, got " + show(sigma));
}

void check_alpha(double alpha) {
  if (!(alpha > 1 && alpha <= max_order))
    throw std::invalid_argument("rdp_accountant: order alpha must be in (1, 10000], got " +
                                show(alpha));
}

void check_delta(double delta) {
  if (!(delta > 0 && delta < 1))
    throw std::invalid_argument("rdp_accountant: delta must be in (0, 1), got " + show(delta));
}

void check_orders(const std::vector<double>& orders) {
  if (orders.empty() || orders.size() > max_orders)
    throw std::invalid_argument("rdp_accountant: needs 1 to " + std::to_string(max_orders) +
                                " orders, got " + std::to_string(orders.size()));
  for (double a : orders) check_alpha(a);
}

// log(erfc(x)): erfc underflows past x ~ 26.5, so the tail uses its asymptotic series
// erfc(x) = e^(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + 105/(16x^8) ...),
// whose next term is below 1e-12 for x >= 25.
double log_erfc(double x) {
  if (x < 25) return std::log(std::erfc(x));
  double r = 1 / (x * x);
  double series = 1 + r * (-0.5 + r * (0.75 + r * (-1.875 + r * 6.5625)));
  return -x * x - std::log(x) - 0.5 * std::log(pi) + std::log(series);
}

// Section 3.2: A_alpha = sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2)).
double log_a_integer(double q, double sigma, long alpha) {
  const double lq = std::log(q), l1q = std::log1p(-q), two_s2 = 2 * sigma * sigma;
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(alpha) + 1);
  double log_coef = 0; // log C(alpha, k), built term by term (exact integers up to rounding)
  for (long k = 0; k <= alpha; ++k) {
    if (k > 0) log_coef += std::log(static_cast<double>(alpha - k + 1) / static_cast<double>(k));
    double kd = static_cast<double>(k);
    terms.push_back(log_coef + kd * lq + (static_cast<double>(alpha) - kd) * l1q +
                    (kd * kd - kd) / two_s2);
  }
  double m = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - m);
  return m + std::log(sum);
}

// Section 3.3: A_alpha = A0 + A1, the integrals over z below and above
// z0 = sigma^2 log(1/q - 1) + 1/2, each a series over k of generalized binomials C(alpha, k):
//   A0 = sum_k C(alpha,k) q^k (1-q)^(alpha-k) e^((k^2-k)/(2s^2)) erfc((k - z0)/(sqrt2 s)) / 2
//   A1 = sum_k C(alpha,k) q^(alpha-k) (1-q)^k e^((j^2-j)/(2s^2)) erfc((z0 - j)/(sqrt2 s)) / 2,
// with j = alpha - k. C(alpha, k) turns negative for k > alpha + 1 and alternates from there.
double log_a_fractional(double q, double sigma, double alpha) {
  const double lq = std::log(q), l1q = std::log1p(-q), s2 = sigma * sigma;
  const double z0 = s2 * std::log(1 / q - 1) + 0.5;
  const double root2s = std::sqrt(2.0) * sigma, log_half = std::log(0.5);
  // A running signed sum of e^(log term), kept relative to the largest term so far, so no
  // term list is stored (slowly converging series run to 10^5 terms and more).
  double m = -inf, sum = 0;
  auto add = [&](double log_term, int sign) {
    if (log_term > m) {
      sum = (m == -inf ? 0.0 : sum * std::exp(m - log_term)) + sign;
      m = log_term;
    } else {
      sum += sign * std::exp(log_term - m);
    }
  };
  double log_coef = 0;
  int sign = 1;
  for (std::size_t k = 0;; ++k) {
    if (k >= max_terms)
      throw std::domain_error("rdp_accountant: the RDP series at order " + show(alpha) +
                              " did not converge (q = " + show(q) + ", sigma = " + show(sigma) +
                              ")");
    double kd = static_cast<double>(k);
    if (k > 0) {
      double factor = (alpha - kd + 1) / kd;
      if (factor < 0) sign = -sign;
      log_coef += std::log(std::fabs(factor));
    }
    double j = alpha - kd;
    double s0 = log_coef + kd * lq + j * l1q + (kd * kd - kd) / (2 * s2) + log_half +
                log_erfc((kd - z0) / root2s);
    double s1 = log_coef + j * lq + kd * l1q + (j * j - j) / (2 * s2) + log_half +
                log_erfc((z0 - j) / root2s);
    add(s0, sign);
    add(s1, sign);
    // Stop only in the alternating, shrinking part: past alpha + 1 and past z0 (the bump).
    if (kd > alpha + 1 && kd > z0 && std::max(s0, s1) < log_negligible) break;
  }
  if (!(sum > 0))
    throw std::domain_error("rdp_accountant: the RDP series at order " + show(alpha) +
                            " lost all precision (q = " + show(q) + ", sigma = " + show(sigma) +
                            ")");
  return m + std::log(sum);
}

template <class Term>
double min_over_orders(const std::vector<double>& orders, const std::vector<double>& rdp,
                       double delta, Term term) {
  check_delta(delta);
  if (orders.size() != rdp.size())
    throw std::invalid_argument("rdp_accountant: " + std::to_string(rdp.size()) +
                                " RDP values for " + std::to_string(orders.size()) + " orders");
  double best = inf;
  for (std::size_t i = 0; i < orders.size(); ++i) {
    double e = term(orders[i], rdp[i]);
    if (e < best) best = e; // NaN (never from valid input) is skipped
  }
  return std::max(best, 0.0);
}

} // namespace

const std::vector<double>& default_orders() {
  static const std::vector<double> orders = [] {
    std::vector<double> o;
    for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
    for (int a = 12; a < 64; ++a) o.push_back(a);
    return o;
  }();
  return orders;
}

double sgm_log_a(double q, double sigma, double alpha) {
  check_q_sigma(q, sigma);
  check_alpha(alpha);
  if (q == 0) return 0;
  if (q == 1) return alpha * (alpha - 1) / (2 * sigma * sigma);
  if (alpha == std::floor(alpha))
    return log_a_integer(q, sigma, static_cast<long>(alpha));
  return log_a_fractional(q, sigma, alpha);
}

double sgm_rdp(double q, double sigma, double alpha) {
  check_q_sigma(q, sigma);
  check_alpha(alpha);
  if (q == 1) return alpha / (2 * sigma * sigma); // the Gaussian mechanism, no amplification
  return sgm_log_a(q, sigma, alpha) / (alpha - 1);
}

std::vector<double> sgm_rdp(double q, double sigma, const std::vector<double>& orders) {
  std::vector<double> out;
  out.reserve(orders.size());
  for (double a : orders) out.push_back(sgm_rdp(q, sigma, a));
  return out;
}

double rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp,
                      double delta) {
  const double log_delta = std::log(delta);
  return min_over_orders(orders, rdp, delta, [&](double a, double r) {
    return r + std::log1p(-1 / a) - (log_delta + std::log(a)) / (a - 1);
  });
}

double rdp_to_epsilon_classic(const std::vector<double>& orders, const std::vector<double>& rdp,
                              double delta) {
  const double log_delta = std::log(delta);
  return min_over_orders(orders, rdp, delta,
                         [&](double a, double r) { return r - log_delta / (a - 1); });
}

std::string check_rdp_state(const std::vector<double>& rdp, std::size_t orders) {
  if (rdp.size() != orders)
    return "the checkpoint holds " + std::to_string(rdp.size()) + " RDP values, expected " +
           std::to_string(orders) + " (one per order)";
  for (std::size_t i = 0; i < rdp.size(); ++i) {
    if (!std::isfinite(rdp[i]))
      return "the checkpoint's RDP value " + std::to_string(i) + " is not finite (" +
             show(rdp[i]) + ")";
    if (rdp[i] < 0)
      return "the checkpoint's RDP value " + std::to_string(i) + " is negative (" +
             show(rdp[i]) + "); RDP is never below 0";
  }
  return {};
}

rdp_accountant::rdp_accountant() : rdp_accountant(default_orders()) {}

rdp_accountant::rdp_accountant(std::vector<double> orders) : orders_(std::move(orders)) {
  check_orders(orders_);
  rdp_.assign(orders_.size(), 0.0);
}

rdp_accountant rdp_accountant::restore(std::vector<double> rdp) {
  return restore(default_orders(), std::move(rdp));
}

rdp_accountant rdp_accountant::restore(std::vector<double> orders, std::vector<double> rdp) {
  rdp_accountant a(std::move(orders));
  if (auto why = check_rdp_state(rdp, a.orders_.size()); !why.empty())
    throw std::invalid_argument("rdp_accountant: cannot resume: " + why);
  a.rdp_ = std::move(rdp);
  return a;
}

const std::vector<double>& rdp_accountant::step_rdp(double q, double sigma) const {
  check_q_sigma(q, sigma);
  if (q != cached_q_ || sigma != cached_sigma_ || cached_rdp_.size() != orders_.size()) {
    cached_rdp_ = sgm_rdp(q, sigma, orders_);
    cached_q_ = q;
    cached_sigma_ = sigma;
  }
  return cached_rdp_;
}

void rdp_accountant::add_steps(double q, double sigma, std::uint64_t steps) {
  const auto& step = step_rdp(q, sigma);
  const double n = static_cast<double>(steps);
  for (std::size_t i = 0; i < rdp_.size(); ++i) rdp_[i] += n * step[i];
}

double rdp_accountant::epsilon(double delta) const { return rdp_to_epsilon(orders_, rdp_, delta); }

double rdp_accountant::epsilon_classic(double delta) const {
  return rdp_to_epsilon_classic(orders_, rdp_, delta);
}

double rdp_accountant::epsilon_after(double delta, double q, double sigma,
                                     std::uint64_t steps) const {
  const auto& step = step_rdp(q, sigma);
  const double n = static_cast<double>(steps);
  std::vector<double> next(rdp_.size());
  for (std::size_t i = 0; i < rdp_.size(); ++i) next[i] = rdp_[i] + n * step[i];
  return rdp_to_epsilon(orders_, next, delta);
}

bool rdp_accountant::would_exceed(double budget, double delta, double next_q,
                                  double next_sigma) const {
  if (!(budget > 0))
    throw std::invalid_argument("rdp_accountant: privacy budget epsilon must be positive, got " +
                                show(budget));
  return epsilon_after(delta, next_q, next_sigma, 1) > budget;
}

std::uint64_t rdp_accountant::rounds_within_budget(double budget, double delta, double q,
                                                   double sigma, std::uint64_t cap) const {
  if (!would_exceed(budget, delta, q, sigma)) {
    // epsilon grows with the number of rounds: double an upper bound, then bisect.
    std::uint64_t lo = 1, hi = 2; // lo fits; hi is unknown until checked
    while (lo < cap) {
      hi = std::min(cap, lo * 2);
      if (epsilon_after(delta, q, sigma, hi) > budget) break;
      lo = hi;
    }
    if (lo >= cap) return cap;
    while (hi - lo > 1) {
      std::uint64_t mid = lo + (hi - lo) / 2;
      (epsilon_after(delta, q, sigma, mid) > budget ? hi : lo) = mid;
    }
    return lo;
  }
  return 0;
}

} // namespace flotilla::fl::privacy
