#!/usr/bin/env python3
"""Reference statistics of the two synthetic federated benchmarks, for tests/unit-synthetic.cpp.

An independent numpy implementation of the definitions (FedProx's generate_synthetic.py /
generate_iid.py, LEAF's data/synthetic/data_generator.py) that estimates by Monte Carlo, or
computes exactly, the laws the C++ generators must follow. The C++ test compares its own
estimates with these numbers within sampling error; the streams differ, the laws must not.

    /usr/bin/python3 scripts/synthetic_reference.py [--users 50000] [--leaf-seeds 40]
"""
import argparse
import math

import numpy as np

DIM = 60
SIGMA_SD = np.arange(1, DIM + 1) ** -0.6  # sqrt of diag(j^-1.2)


def phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def fedprox_user(rng, alpha, beta):
    """One Synthetic(alpha, beta) user: (n, labels). alpha, beta are std devs, as FedProx's code."""
    n = int(rng.lognormal(4, 2)) + 50
    n = min(n, 1_000_000)
    u = rng.normal(0, alpha)
    b_big = rng.normal(0, beta)
    v = rng.normal(b_big, 1, DIM)
    w = rng.normal(u, 1, (DIM, 10))
    b = rng.normal(u, 1, 10)
    x = v + SIGMA_SD * rng.standard_normal((n, DIM))
    return n, np.argmax(x @ w + b, axis=1)


def mean_max_share(users, alpha, beta, seed):
    rng = np.random.default_rng(seed)
    shares = np.empty(users)
    for i in range(users):
        n, y = fedprox_user(rng, alpha, beta)
        shares[i] = np.bincount(y, minlength=10).max() / n
    return shares.mean(), shares.std() / math.sqrt(users), shares.std()


def leaf_set(rng, users, clusters, classes=5):
    """LEAF's generator (after its softmax fix) with equally likely clusters: per-user max class share."""
    q = rng.normal(0, 1, (DIM + 1, classes, clusters))
    means = [rng.normal(rng.normal(0, 1), 1, clusters) for _ in range(clusters)]
    shares = np.empty(users)
    for i in range(users):
        n = min(int(rng.lognormal(3, 2)) + 5, 1000)
        k = rng.integers(clusters)
        x = np.ones((n, DIM + 1))
        x[:, 1:] = rng.normal(rng.normal(0, 1), 1, DIM) + SIGMA_SD * rng.standard_normal((n, DIM))
        w = q @ rng.normal(means[k], 0.1)
        y = np.argmax(x @ w + rng.normal(0, 0.1, (n, classes)), axis=1)
        shares[i] = np.bincount(y, minlength=classes).max() / n
    return shares


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50000)
    ap.add_argument("--leaf-seeds", type=int, default=40)
    ap.add_argument("--leaf-users", type=int, default=1000)
    args = ap.parse_args()

    # Sample-count laws, exactly: quantile q of int(exp(4 + 2z)) + 50 is int(exp(4 + 2 z_q)) + 50.
    z = {"q1": -0.6744897501960817, "median": 0.0, "q3": 0.6744897501960817}
    for name, zq in z.items():
        print(f"fedprox samples per user {name}: {int(math.exp(4 + 2 * zq)) + 50}"
              f" (continuous {math.exp(4 + 2 * zq) + 50:.2f})")
    # E[min(int(X) + 5, 1000)] = 5 + sum_{k=1}^{995} P(X >= k), X ~ lognormal(3, 2).
    leaf_mean = 5 + sum(1 - phi((math.log(k) - 3) / 2) for k in range(1, 996))
    print(f"leaf samples per user mean: {leaf_mean:.4f}")
    # Variance over users of a user's mean feature for Synthetic(0, beta): beta^2 + 1/60 + tiny.
    print(f"fedprox(0, 2) variance over users of the mean feature: about {4 + 1 / 60:.4f}")

    for alpha, beta in [(0, 0), (1, 1)]:
        m, se, sd = mean_max_share(args.users, alpha, beta, seed=1 + int(alpha))
        print(f"fedprox({alpha}, {beta}) mean over users of the max class share: {m:.4f}"
              f" (se {se:.4f}, per-user sd {sd:.4f}, {args.users} users)")

    per_seed = [leaf_set(np.random.default_rng(100 + s), args.leaf_users, 4).mean()
                for s in range(args.leaf_seeds)]
    print(f"leaf(clusters 4) mean over users of the max class share: {np.mean(per_seed):.4f}"
          f" (se {np.std(per_seed) / math.sqrt(len(per_seed)):.4f}, sd over seeds of a"
          f" {args.leaf_users}-user set {np.std(per_seed):.4f}, {args.leaf_seeds} seeds)")


if __name__ == "__main__":
    main()
