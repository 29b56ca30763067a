#include "fl/secagg/shamir.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace flotilla::fl::secagg {
namespace {

using u64 = std::uint64_t;
using u128 = unsigned __int128;
constexpr u64 p = shamir_prime;
// Bytes of the secret in each chunk: 4 * 7 + 4 = 32.
constexpr std::size_t chunk_width[shamir_chunks] = {7, 7, 7, 7, 4};

u64 add(u64 a, u64 b) {
  u64 s = a + b; // < 2^62: no overflow
  return s >= p ? s - p : s;
}
u64 sub(u64 a, u64 b) { return a >= b ? a - b : a + p - b; }
u64 mul(u64 a, u64 b) {
  const u128 m = static_cast<u128>(a) * b;
  u64 r = (static_cast<u64>(m) & p) + static_cast<u64>(m >> 61); // 2^61 = 1 mod p
  return r >= p ? r - p : r;
}
u64 power(u64 a, u64 e) {
  u64 r = 1;
  for (; e != 0; e >>= 1, a = mul(a, a))
    if (e & 1)
      r = mul(r, a);
  return r;
}
u64 inverse(u64 a) { return power(a, p - 2); } // Fermat; a != 0

// Inverts every element with one field inversion (Montgomery's trick).
std::vector<u64> batch_inverse(const std::vector<u64>& v) {
  std::vector<u64> prefix(v.size());
  u64 acc = 1;
  for (std::size_t i = 0; i < v.size(); ++i) {
    prefix[i] = acc;
    acc = mul(acc, v[i]);
  }
  u64 inv = inverse(acc);
  std::vector<u64> out(v.size());
  for (std::size_t i = v.size(); i-- > 0;) {
    out[i] = mul(inv, prefix[i]);
    inv = mul(inv, v[i]);
  }
  return out;
}

u64 random_element(const random_source& random) {
  for (;;) { // rejection: uniform in [0, p); p itself is the only 61-bit value refused
    std::uint8_t b[8];
    random(b, 8);
    u64 v = 0;
    for (int i = 7; i >= 0; --i)
      v = (v << 8) | b[i];
    v &= p;
    if (v != p)
      return v;
  }
}

void check_points(const std::vector<u64>& xs) {
  if (xs.size() > max_shamir_holders)
    throw std::invalid_argument("shamir: " + std::to_string(xs.size()) +
                                " shares requested, at most 65535 are supported");
  for (u64 x : xs)
    if (x == 0 || x >= p)
      throw std::invalid_argument("shamir: share point " + std::to_string(x) +
                                  " is invalid: points must be 1 .. 2^61 - 2");
  std::vector<u64> sorted = xs;
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end())
    throw std::invalid_argument("shamir: share point " + std::to_string(*dup) +
                                " appears twice: each holder gives one share");
}

// Barycentric weights w_i = 1 / prod_{j != i} (x_i - x_j) of distinct points.
std::vector<u64> barycentric_weights(const std::vector<u64>& xs) {
  std::vector<u64> d(xs.size(), 1);
  for (std::size_t i = 0; i < xs.size(); ++i)
    for (std::size_t j = 0; j < xs.size(); ++j)
      if (i != j)
        d[i] = mul(d[i], sub(xs[i], xs[j]));
  return batch_inverse(d);
}

// Lagrange basis values L_i(x) for x not among the points.
std::vector<u64> lagrange_at(const std::vector<u64>& xs, const std::vector<u64>& w, u64 x) {
  std::vector<u64> diff(xs.size());
  u64 all = 1;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    diff[i] = sub(x, xs[i]);
    all = mul(all, diff[i]);
  }
  const std::vector<u64> inv = batch_inverse(diff);
  std::vector<u64> l(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    l[i] = mul(all, mul(w[i], inv[i]));
  return l;
}

} // namespace

std::vector<shamir_share> shamir_split(const key32& secret, std::size_t threshold,
                                       const std::vector<std::uint64_t>& xs,
                                       const random_source& random) {
  check_points(xs);
  if (threshold < 1 || threshold > xs.size())
    throw std::invalid_argument("shamir: threshold " + std::to_string(threshold) +
                                " must be 1 .. the number of shares (" +
                                std::to_string(xs.size()) + ")");
  std::vector<shamir_share> shares(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    shares[i].x = xs[i];
  std::vector<u64> coef(threshold);
  std::size_t at = 0;
  for (std::size_t c = 0; c < shamir_chunks; ++c) {
    u64 chunk = 0;
    for (std::size_t b = 0; b < chunk_width[c]; ++b)
      chunk |= static_cast<u64>(secret[at + b]) << (8 * b);
    at += chunk_width[c];
    coef[0] = chunk;
    for (std::size_t k = 1; k < threshold; ++k)
      coef[k] = random_element(random);
    for (shamir_share& s : shares) { // Horner
      u64 y = 0;
      for (std::size_t k = threshold; k-- > 0;)
        y = add(mul(y, s.x), coef[k]);
      s.y[c] = y;
    }
  }
  return shares;
}

key32 shamir_combine(const std::vector<shamir_share>& shares, std::size_t threshold) {
  if (threshold < 1)
    throw std::invalid_argument("shamir: the threshold must be at least 1");
  if (shares.size() < threshold)
    throw std::invalid_argument("shamir: " + std::to_string(shares.size()) +
                                " shares given, the threshold is " + std::to_string(threshold) +
                                ": collect at least " + std::to_string(threshold) + " shares");
  std::vector<u64> all_x;
  for (const shamir_share& s : shares) {
    all_x.push_back(s.x);
    for (u64 y : s.y)
      if (y >= p)
        throw std::invalid_argument("shamir: a share value is not a field element (>= 2^61 - 1)");
  }
  check_points(all_x);
  const std::vector<u64> xs(all_x.begin(), all_x.begin() + static_cast<std::ptrdiff_t>(threshold));
  const std::vector<u64> w = barycentric_weights(xs);
  const std::vector<u64> l0 = lagrange_at(xs, w, 0);
  std::array<u64, shamir_chunks> chunk{};
  for (std::size_t c = 0; c < shamir_chunks; ++c)
    for (std::size_t i = 0; i < threshold; ++i)
      chunk[c] = add(chunk[c], mul(shares[i].y[c], l0[i]));
  // Shares past the threshold must lie on the same polynomials.
  for (std::size_t e = threshold; e < shares.size(); ++e) {
    const std::vector<u64> l = lagrange_at(xs, w, shares[e].x);
    for (std::size_t c = 0; c < shamir_chunks; ++c) {
      u64 y = 0;
      for (std::size_t i = 0; i < threshold; ++i)
        y = add(y, mul(shares[i].y[c], l[i]));
      if (y != shares[e].y[c])
        throw std::invalid_argument("shamir: the share at point " + std::to_string(shares[e].x) +
                                    " disagrees with the others: shares were tampered with or "
                                    "belong to different secrets");
    }
  }
  key32 secret{};
  std::size_t at = 0;
  for (std::size_t c = 0; c < shamir_chunks; ++c) {
    if ((chunk[c] >> (8 * chunk_width[c])) != 0)
      throw std::invalid_argument("shamir: the shares rebuild no valid secret (a chunk is out of "
                                  "range): shares were tampered with or belong to different secrets");
    for (std::size_t b = 0; b < chunk_width[c]; ++b)
      secret[at + b] = static_cast<std::uint8_t>(chunk[c] >> (8 * b));
    at += chunk_width[c];
  }
  return secret;
}

std::array<std::uint8_t, shamir_share_bytes> encode_share(const shamir_share& s) {
  std::array<std::uint8_t, shamir_share_bytes> out{};
  for (std::size_t c = 0; c < shamir_chunks; ++c)
    for (std::size_t b = 0; b < 8; ++b)
      out[8 * c + b] = static_cast<std::uint8_t>(s.y[c] >> (8 * b));
  return out;
}

shamir_share decode_share(std::uint64_t x, const std::uint8_t* bytes) {
  shamir_share s;
  s.x = x;
  for (std::size_t c = 0; c < shamir_chunks; ++c) {
    u64 v = 0;
    for (int b = 7; b >= 0; --b)
      v = (v << 8) | bytes[8 * c + static_cast<std::size_t>(b)];
    if (v >= p)
      throw std::invalid_argument("shamir: a share value is not a field element (>= 2^61 - 1)");
    s.y[c] = v;
  }
  return s;
}

} // namespace flotilla::fl::secagg
