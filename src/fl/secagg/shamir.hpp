#pragma once
// t-of-n Shamir secret sharing (Shamir 1979) of 32-byte secrets: the self-mask seeds b_u and the
// mask secret keys s_sk_u that secure aggregation recovers for survivors and dropouts.
//
// Field: GF(p), p = 2^61 - 1 (a Mersenne prime, so a product reduces with shifts and adds and
// a 128-bit multiply). A secret is cut into 5 chunks of at most 56 bits (7+7+7+7+4 bytes), each
// shared with its own random polynomial of degree t - 1 at the same points, so a share is 5 field
// elements, 40 bytes, and a chunk is a field element with room to spare: a reconstructed chunk
// past its width betrays inconsistent shares. Points are x = member id + 1 (never 0, which holds
// the secret), so up to 65535 holders, and any member id below p - 1, fit.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fl/secagg/prg.hpp"

namespace flotilla::fl::secagg {

constexpr std::uint64_t shamir_prime = (std::uint64_t{1} << 61) - 1;
constexpr std::size_t shamir_chunks = 5;
constexpr std::size_t shamir_share_bytes = shamir_chunks * 8; ///< a share's y values on the wire
constexpr std::size_t max_shamir_holders = 65535;

/// One holder's share: its point x and the 5 chunk polynomials' values there.
struct shamir_share {
  std::uint64_t x = 0;
  std::array<std::uint64_t, shamir_chunks> y{};
};

/// Splits `secret` into one share per point in `xs` (distinct, 1 <= x < p, at most 65535 of
/// them); any `threshold` of the shares rebuild it, fewer reveal nothing. Coefficients come from
/// `random`. Throws std::invalid_argument on a threshold outside 1..xs.size() or a bad point.
std::vector<shamir_share> shamir_split(const key32& secret, std::size_t threshold,
                                       const std::vector<std::uint64_t>& xs,
                                       const random_source& random);

/// Rebuilds a secret from at least `threshold` shares by Lagrange interpolation at 0. With more
/// than `threshold` shares, the first `threshold` are interpolated and every other share must lie
/// on the same polynomials. Throws std::invalid_argument on fewer than `threshold` shares, a
/// repeated or invalid point, a value >= p, or shares that do not agree (tampered or mixed up).
/// Cost: O(threshold^2) field operations, plus O(threshold) per extra share.
key32 shamir_combine(const std::vector<shamir_share>& shares, std::size_t threshold);

/// A share's y values as 40 little-endian bytes (x travels separately: it is the holder).
std::array<std::uint8_t, shamir_share_bytes> encode_share(const shamir_share& s);
/// The inverse of encode_share at point x. Throws std::invalid_argument when a value is >= p.
shamir_share decode_share(std::uint64_t x, const std::uint8_t* bytes);

} // namespace flotilla::fl::secagg
