#pragma once
// The ring secure aggregation sums in, Z_{2^b} (1 <= b <= 64), and the mask stream that hides a
// member's vector in it: ChaCha20 (RFC 8439, OpenSSL EVP) keyed by a 32-byte seed, 8 keystream
// bytes per value (little-endian) reduced mod 2^b. Reducing a uniform 64-bit word mod a power of
// two is exactly uniform, so a mask is a one-time pad over the ring (up to the PRG's security).
//
// Masked vectors travel packed: n values of b bits take ceil(n * b / 8) bytes, least significant
// bit first, so the wire cost is b/32 of a float32 update. bits_for_sum says which b a sum needs.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace flotilla::fl::secagg {

using key32 = std::array<std::uint8_t, 32>;

/// Fills a buffer with random bytes: os_random() in real runs, seeded_random() in tests.
using random_source = std::function<void(std::uint8_t* out, std::size_t bytes)>;

/// Random bytes from OpenSSL's CSPRNG (RAND_bytes); throws std::runtime_error if it fails.
random_source os_random();
/// A deterministic byte stream (ChaCha20 keyed by `seed`): reproducible tests, and the public
/// shuffle of SecAgg+'s ring. Never for secrets in real runs.
random_source seeded_random(const key32& seed);

/// 2^b - 1: the mask that reduces a 64-bit word into Z_{2^b}. Throws std::invalid_argument
/// unless 1 <= bits <= 64.
std::uint64_t ring_mask(unsigned bits);

/// The smallest b such that every sum s with |s| <= max_abs_sum is recovered from s mod 2^b
/// (read as two's complement: 2^(b-1) > max_abs_sum). Throws std::invalid_argument when that
/// needs more than 64 bits.
unsigned bits_for_sum(std::uint64_t max_abs_sum);

/// A signed integer as an element of Z_{2^b}. Throws std::invalid_argument when `v` is outside
/// [-2^(b-1), 2^(b-1)): the caller's b is too small for its inputs.
std::uint64_t to_ring(std::int64_t v, unsigned bits);
/// An element of Z_{2^b} read as two's complement: the signed sum when bits_for_sum held.
std::int64_t from_ring(std::uint64_t v, unsigned bits);

/// Adds (or subtracts) the mask stream of `seed` to `x` in place, mod 2^b, in chunks, so no
/// second vector of x's size is allocated. The stream is the same for add and subtract.
void apply_mask(std::vector<std::uint64_t>& x, const key32& seed, unsigned bits, bool subtract);
/// The first n values of `seed`'s mask stream in Z_{2^b} (apply_mask on zeros).
std::vector<std::uint64_t> expand_mask(const key32& seed, std::size_t n, unsigned bits);

/// Bytes that n packed b-bit values take: ceil(n * b / 8).
std::size_t packed_bytes(std::size_t n, unsigned bits);
/// Packs values of Z_{2^b} into packed_bytes(n, b) bytes, LSB first. Throws std::invalid_argument
/// when a value does not fit in b bits (it was not reduced).
std::vector<std::uint8_t> pack(const std::vector<std::uint64_t>& values, unsigned bits);
/// The inverse of pack. Throws std::invalid_argument when `bytes` is not packed_bytes(n, b) long
/// or its padding bits (past n * b) are not zero, so every valid vector has one encoding.
std::vector<std::uint64_t> unpack(const std::uint8_t* bytes, std::size_t size, std::size_t n,
                                  unsigned bits);

} // namespace flotilla::fl::secagg
