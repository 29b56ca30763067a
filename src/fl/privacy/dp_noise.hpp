#pragma once
// Gaussian noise for client-level DP as a pure function of integers: the value added to element
// i of member m's share at aggregation point p in round r depends on (run seed, p, r, m, i) only.
// A run is therefore bit-reproducible and resumes bit-identically from a checkpoint (no
// generator state to save), and a member can draw exactly its own share on its own node.
//
// Generator: an AES-128 key per (seed, point, round, member) (the first 16 bytes of a SHA-256 of
// a domain tag and those four numbers), then AES-128-CTR (OpenSSL EVP; AES-NI where present)
// over block counters: block b gives two 64-bit words, two uniform 53-bit doubles in (0, 1),
// and by Box-Muller the standard normals of elements 2b and 2b + 1. Whole vectors are made in
// one cipher pass, not one hash per element. Bits are the same for the same binary and libm
// (log, sin, cos); noise drawn on a node with another libm may differ in the last bits, which
// changes nothing about its distribution but does break bit equality with a central draw.
//
// Central vs distributed noise, and why the noise enters after the sample weighting
// -----------------------------------------------------------------------------------
// The noise on a round's aggregate at a point with members m_1 < ... < m_n is the sum of n
// shares, share_i ~ N(0, (z C)^2 / n) per element keyed by member m_i (share_stddev), so it is
// N(0, (z C)^2) whoever adds it: the aggregation point (central: for_each_share, in member
// order) or each member before secure aggregation (distributed: its own noise_share).
//
// Bit equality holds through Flotilla's exact fixed-point sums (fedavg_accumulator in
// fl/aggregate.hpp, and secure aggregation's integer ring): each addend is rounded to the
// 2^-30 grid on its own and integer addition is associative. So a share must be its OWN addend:
// acc.add_range(W, offset, share, n) with a fixed weight W, next to the member's
// acc.add_range(w_i, offset, update, n) (in secure aggregation the member adds the two integer
// vectors before masking). Central and distributed then feed the same integer terms, in
// whatever order, and the mean is bit-identical. Folding the share into the member's float
// update first (update + share, then weighted) is NOT bit-equal, and is wrong for DP too:
//  * float rounding of update + share differs from rounding each on its own;
//  * FedAvg multiplies an update by its sample count w_i, so noise folded in before weighting
//    would be scaled by each member's private sample count rather than calibrated to the
//    sensitivity of the weighted sum.
// Weighting (DP-FedAvg, McMahan et al. ICLR 2018): a clipped update moves the weighted sum by
// at most w_max C, so members' weights must be bounded (w_i = min(samples_i, w_max)) and the
// shares go in with W = w_max; uniform weights (w_i = W = 1: every member counts once) are the
// simplest case. The mean's denominator is the sum of the weights: with uniform weights and a
// fixed number of sampled members it is that public number (McMahan et al.'s fixed-denominator
// estimator); with bounded sample weights it reveals the weight sum, which the accountant does
// not cover. The accountant's sigma is z, its q is (sampled members) / (point's population).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace flotilla::fl::privacy {

/// Where a noise stream is used: run seed, aggregation point (0 the coordinator, cluster c is
/// c + 1, as in fl/seeds.hpp), round and member (its client id).
struct noise_key {
  std::uint64_t seed = 0;
  std::uint32_t point = 0;
  std::uint32_t round = 0;
  std::uint32_t member = 0;
};

/// Standard normals number first .. first + n - 1 of key's stream, into out[0..n). Any slice of
/// the stream equals the same slice of a longer draw, bit for bit. Throws std::invalid_argument
/// when first + n overflows.
void standard_normals(const noise_key& key, std::uint64_t first, double* out, std::size_t n);

/// The stddev of each member's share when n members share noise multiplier z at clip norm C:
/// z C / sqrt(n), so the n shares sum to N(0, (z C)^2). Throws std::invalid_argument unless
/// z >= 0 and C > 0 are finite and n > 0.
double share_stddev(double noise_multiplier, double clip, std::size_t members);

/// Member key.member's share, elements first .. first + n - 1: float(stddev * normal). The float
/// values are what every consumer adds (central and distributed alike). Throws
/// std::invalid_argument unless stddev >= 0 is finite, or when first + n overflows.
void noise_share(const noise_key& key, double stddev, std::uint64_t first, float* out,
                 std::size_t n);
/// A member's whole share of a vector of n elements.
std::vector<float> noise_share(const noise_key& key, double stddev, std::size_t n);

/// Adds key.member's share to `v` in float (v[i] += share[i]). For a member that sends a noised
/// float update without exact aggregation: NOT bit-equal to central noise (see above).
void add_noise_share(std::vector<float>& v, const noise_key& key, double stddev);
/// Adds key.member's share (elements first .. first + n - 1) to v[0..n) in double.
void add_noise_share(double* v, std::size_t n, const noise_key& key, double stddev,
                     std::uint64_t first = 0);

/// Receives a slice of one member's share: elements offset .. offset + n - 1 of it.
using share_sink =
    std::function<void(std::uint32_t member, std::uint64_t offset, const float* share, std::size_t n)>;

/// Central noise as its parts: every member's share of an n-element vector, members in
/// increasing id order, each in slices of at most 65536 elements (bounded memory), passed to
/// `sink` (e.g. acc.add_range(W, offset, share, n) on a fedavg_accumulator). Throws
/// std::invalid_argument when `members` is empty or not strictly increasing (a member twice
/// would double its share), or on share_stddev's checks of stddev.
void for_each_share(std::uint64_t seed, std::uint32_t point, std::uint32_t round,
                    const std::vector<std::uint32_t>& members, double stddev, std::size_t n,
                    const share_sink& sink);

/// Central noise into a double vector: adds every member's share to v[0..n), members in
/// increasing id order (each added element by element, as add_noise_share does). Same checks.
void add_central_noise(double* v, std::size_t n, std::uint64_t seed, std::uint32_t point,
                       std::uint32_t round, const std::vector<std::uint32_t>& members,
                       double stddev);

/// The one N(0, 1) draw for adaptive clipping's clipped count at (point, round) (dp_clip's
/// noised_fraction_below), from its own stream, apart from every share.
double count_noise(std::uint64_t seed, std::uint32_t point, std::uint32_t round);

} // namespace flotilla::fl::privacy
