#!/usr/bin/env python3
"""Independent reference values for Flotilla's Renyi DP accountant (src/fl/privacy/rdp_accountant).

Python 3 standard library only (decimal, fractions, math). It does not port the C++: it
evaluates the published definitions of Mironov, Talwar & Zhang 2019 ("Renyi Differential
Privacy of the Sampled Gaussian Mechanism") in a different way, at 40 significant digits:

  A_alpha = E_{z ~ mu0} [ (mu(z) / mu0(z))^alpha ],  mu0 = N(0, s^2),
            mu = (1 - q) mu0 + q N(1, s^2),  so  mu/mu0 = (1 - q) + q exp((2z - 1) / (2 s^2))
  RDP(alpha) = log(A_alpha) / (alpha - 1)                                 (their Theorem 4)

* integer alpha: the binomial expansion of their section 3.2,
      A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 s^2)),
  with exact integer binomials (math.comb) and Decimal exp;
* every alpha (fractional ones, the C++ uses the two-series expansion of section 3.3 there):
  the expectation itself, as a trapezoid sum over z in Decimal. The integrand is analytic in a
  strip |Im z| < pi s^2 and decays like a Gaussian, so the trapezoid rule converges
  geometrically in 1/h; the script checks it against the binomial form at every integer order
  and against a run at half the step, and prints both discrepancies.

Epsilon at delta, minimized over the orders (Opacus's default list), two conversions:
  balle:   eps = RDP + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)
           (Balle et al. 2020, Thm 21; Canonne, Kamath & Steinke 2020, Prop. 12)
  classic: eps = RDP + log(1/delta) / (alpha - 1)                       (Mironov 2017, Prop. 3)
Both clamped at 0.

Run:  python3 scripts/rdp_reference.py        (about 20 seconds)
"""
import math
import sys
from decimal import Decimal, getcontext

getcontext().prec = 40

ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))


def pi():
    """pi to the context's precision (the decimal module's documented recipe)."""
    getcontext().prec += 2
    three = Decimal(3)
    lasts, t, s, n, na, d, da = 0, three, 3, 1, 0, 0, 24
    while s != lasts:
        lasts = s
        n, na = n + na, na + 8
        d, da = d + da, da + 32
        t = (t * n) / d
        s += t
    getcontext().prec -= 2
    return +s


def dec(x):
    return Decimal(repr(float(x)))


def log_a_binomial(q, sigma, alpha):
    """log A_alpha for integer alpha, section 3.2's binomial sum, in Decimal."""
    q, s2 = dec(q), dec(sigma) ** 2
    total = Decimal(0)
    for k in range(alpha + 1):
        total += (Decimal(math.comb(alpha, k)) * (1 - q) ** (alpha - k) * q ** k *
                  (Decimal(k * k - k) / (2 * s2)).exp())
    return total.ln()


def log_a_integral(q, sigma, orders, step_scale=1):
    """log A_alpha for each order: trapezoid sum of the defining expectation, in Decimal."""
    qd, sd = dec(q), dec(sigma)
    s2 = sd * sd
    h = dec(min(sigma, sigma * sigma) / 8 / step_scale)
    top = max(orders)
    lo = dec(-25 * sigma - 1)
    hi = dec(top + 25 * sigma + 1)
    n = int((hi - lo) / h) + 1
    log_norm = -(sd * (2 * pi()).sqrt()).ln()  # log of the N(0, s^2) density's constant
    pts = []  # (log mu0(z), log(mu(z) / mu0(z)))
    for i in range(n + 1):
        z = lo + h * i
        log_phi = log_norm - z * z / (2 * s2)
        ratio = (1 - qd) + qd * ((2 * z - 1) / (2 * s2)).exp()
        pts.append((log_phi, ratio.ln()))
    out = {}
    for a in orders:
        ad = dec(a)
        acc = Decimal(0)
        for log_phi, log_ratio in pts:
            e = log_phi + ad * log_ratio
            if e > -400:
                acc += e.exp()
        out[a] = (acc * h).ln()
    return out


def rdp_per_step(q, sigma):
    """RDP of one step of the SGM at every order, as Decimals."""
    if q == 0:
        return {a: Decimal(0) for a in ORDERS}
    if q == 1:
        return {a: dec(a) / (2 * dec(sigma) ** 2) for a in ORDERS}
    log_a = log_a_integral(q, sigma, ORDERS)
    return {a: log_a[a] / (dec(a) - 1) for a in ORDERS}


def epsilons(rdp, delta):
    """(balle eps, its order, classic eps, its order) for total RDP per order."""
    ld = dec(delta).ln()
    best_b, best_c = None, None
    for a in ORDERS:
        ad = dec(a)
        r = rdp[a]
        eb = r + (1 - 1 / ad).ln() - (ld + ad.ln()) / (ad - 1)
        ec = r - ld / (ad - 1)
        if best_b is None or eb < best_b[0]:
            best_b = (eb, a)
        if best_c is None or ec < best_c[0]:
            best_c = (ec, a)
    return max(best_b[0], Decimal(0)), best_b[1], max(best_c[0], Decimal(0)), best_c[1]


# Each setting: a list of (q, sigma, rounds) phases composed in order, and delta.
SETTINGS = [
    ([(0.01, 1.1, 10000)], 1e-5),
    ([(0.01, 4.0, 1)], 1e-5),
    ([(0.01, 0.5, 1)], 1e-6),
    ([(0.05, 0.5, 10)], 1e-6),
    ([(0.02, 1.0, 500)], 1e-5),
    ([(0.1, 0.8, 100)], 1e-5),
    ([(0.1, 2.0, 1000)], 1e-6),
    ([(0.05, 3.0, 5000)], 1e-6),
    ([(0.1, 4.0, 10000)], 1e-5),
    ([(0.05, 1.0, 100), (0.1, 1.5, 200)], 1e-5),  # q and sigma change between rounds
]

# Per-step RDP at single orders (fractional and integer), to pin log A_alpha itself.
SPOT = [(0.05, 1.0), (0.1, 0.5), (0.01, 2.0)]
SPOT_ORDERS = [1.1, 1.5, 2.0, 2.5, 4.7, 10.9, 12, 32, 63]


def self_check():
    """Integral vs binomial at every integer order, and the integral at half the step."""
    worst_binom, worst_half = 0.0, 0.0
    for q, sigma in [(0.05, 0.5), (0.1, 4.0), (0.01, 1.1)]:
        ints = [2, 3, 5, 8, 12, 20, 40, 63]
        integ = log_a_integral(q, sigma, [float(a) for a in ints])
        for a in ints:
            b = log_a_binomial(q, sigma, a)
            worst_binom = max(worst_binom, float(abs(integ[float(a)] - b) / b))
        half = log_a_integral(q, sigma, [1.1, 2.5, 10.9], step_scale=2)
        full = log_a_integral(q, sigma, [1.1, 2.5, 10.9])
        for a in half:
            worst_half = max(worst_half, float(abs(half[a] - full[a]) / full[a]))
    return worst_binom, worst_half


def main():
    wb, wh = self_check()
    print(f"# self-check: max relative |log A| difference, integral vs binomial "
          f"(integer orders): {wb:.1e}; integral at h vs h/2: {wh:.1e}")
    cache = {}
    print("# per-step RDP at single orders: q, sigma, order, rdp")
    for q, sigma in SPOT:
        log_a = log_a_integral(q, sigma, [float(a) for a in SPOT_ORDERS])
        for a in SPOT_ORDERS:
            r = log_a[float(a)] / (dec(a) - 1)
            print(f"{q}, {sigma}, {a}, {float(r):.12e}")
    print("# composed: phases [(q, sigma, rounds)...], delta, eps_balle, order, "
          "eps_classic, order")
    for phases, delta in SETTINGS:
        total = {a: Decimal(0) for a in ORDERS}
        for q, sigma, rounds in phases:
            if (q, sigma) not in cache:
                cache[(q, sigma)] = rdp_per_step(q, sigma)
            for a in ORDERS:
                total[a] += cache[(q, sigma)][a] * rounds
        eb, ab, ec, ac = epsilons(total, delta)
        print(f"{phases}, {delta}, {float(eb):.10g}, {ab}, {float(ec):.10g}, {ac}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
