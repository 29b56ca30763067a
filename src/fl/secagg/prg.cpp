#include "fl/secagg/prg.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace flotilla::fl::secagg {
namespace {

constexpr std::size_t chunk_values = 4096; // 32 KiB of keystream at a time: stays in L1/L2

struct cipher_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ptr = std::unique_ptr<EVP_CIPHER_CTX, cipher_free>;

// ChaCha20 keyed by the seed, counter and nonce zero: each seed is used for one stream only.
cipher_ptr chacha(const key32& seed) {
  cipher_ptr c(EVP_CIPHER_CTX_new());
  const std::uint8_t iv[16] = {};
  if (!c || EVP_EncryptInit_ex(c.get(), EVP_chacha20(), nullptr, seed.data(), iv) != 1)
    throw std::runtime_error("secagg: OpenSSL could not set up ChaCha20");
  return c;
}

// The next `bytes` of keystream (the encryption of zeros).
void keystream(EVP_CIPHER_CTX* c, std::uint8_t* out, std::size_t bytes) {
  static const std::uint8_t zeros[chunk_values * 8] = {};
  while (bytes > 0) {
    const std::size_t n = bytes < sizeof zeros ? bytes : sizeof zeros;
    int outl = 0;
    if (EVP_EncryptUpdate(c, out, &outl, zeros, static_cast<int>(n)) != 1 ||
        static_cast<std::size_t>(outl) != n)
      throw std::runtime_error("secagg: OpenSSL ChaCha20 failed");
    out += n;
    bytes -= n;
  }
}

std::uint64_t load_le64(const std::uint8_t* p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::uint64_t v; // one load: the stream must not depend on the host, and here it cannot
  std::memcpy(&v, p, 8);
  return v;
#else
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
#endif
}

void check_bits(unsigned bits) {
  if (bits < 1 || bits > 64)
    throw std::invalid_argument("secagg: ring bits must be 1..64, got " + std::to_string(bits));
}

} // namespace

random_source os_random() {
  return [](std::uint8_t* out, std::size_t bytes) {
    if (bytes > 0 && RAND_bytes(out, static_cast<int>(bytes)) != 1)
      throw std::runtime_error("secagg: OpenSSL RAND_bytes failed; the system has no entropy");
  };
}

random_source seeded_random(const key32& seed) {
  std::shared_ptr<EVP_CIPHER_CTX> c(chacha(seed).release(), cipher_free{});
  return [c](std::uint8_t* out, std::size_t bytes) { keystream(c.get(), out, bytes); };
}

std::uint64_t ring_mask(unsigned bits) {
  check_bits(bits);
  return bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
}

unsigned bits_for_sum(std::uint64_t max_abs_sum) {
  unsigned length = 0; // bit length of max_abs_sum
  for (std::uint64_t m = max_abs_sum; m != 0; m >>= 1)
    ++length;
  if (length + 1 > 64)
    throw std::invalid_argument("secagg: a sum of magnitude " + std::to_string(max_abs_sum) +
                                " needs " + std::to_string(length + 1) +
                                " bits, more than the 64 the ring supports; lower the "
                                "fixed-point resolution or the clipping bound");
  return length + 1;
}

std::uint64_t to_ring(std::int64_t v, unsigned bits) {
  const std::uint64_t mask = ring_mask(bits);
  if (bits < 64) {
    const std::int64_t half = std::int64_t{1} << (bits - 1);
    if (v < -half || v >= half)
      throw std::invalid_argument("secagg: the value " + std::to_string(v) + " does not fit in " +
                                  std::to_string(bits) + " signed bits; raise the ring bits");
  }
  return static_cast<std::uint64_t>(v) & mask;
}

std::int64_t from_ring(std::uint64_t v, unsigned bits) {
  const std::uint64_t mask = ring_mask(bits);
  v &= mask;
  if (bits < 64 && (v >> (bits - 1)) != 0)
    v |= ~mask; // sign-extend
  return static_cast<std::int64_t>(v);
}

void apply_mask(std::vector<std::uint64_t>& x, const key32& seed, unsigned bits, bool subtract) {
  const std::uint64_t mask = ring_mask(bits);
  cipher_ptr c = chacha(seed);
  std::uint8_t buf[chunk_values * 8];
  for (std::size_t at = 0; at < x.size(); at += chunk_values) {
    const std::size_t n = std::min(chunk_values, x.size() - at);
    keystream(c.get(), buf, n * 8);
    std::uint64_t* out = x.data() + at;
    if (subtract)
      for (std::size_t i = 0; i < n; ++i)
        out[i] = (out[i] - load_le64(buf + 8 * i)) & mask;
    else
      for (std::size_t i = 0; i < n; ++i)
        out[i] = (out[i] + load_le64(buf + 8 * i)) & mask;
  }
}

std::vector<std::uint64_t> expand_mask(const key32& seed, std::size_t n, unsigned bits) {
  std::vector<std::uint64_t> v(n, 0);
  apply_mask(v, seed, bits, false);
  return v;
}

std::size_t packed_bytes(std::size_t n, unsigned bits) {
  check_bits(bits);
  // n * bits / 8 without overflowing n * bits.
  return (n / 8) * bits + ((n % 8) * bits + 7) / 8;
}

std::vector<std::uint8_t> pack(const std::vector<std::uint64_t>& values, unsigned bits) {
  const std::uint64_t mask = ring_mask(bits);
  std::vector<std::uint8_t> out(packed_bytes(values.size(), bits));
  std::size_t o = 0;
  unsigned __int128 acc = 0; // pending bits, LSB first
  unsigned pending = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if ((values[i] & ~mask) != 0)
      throw std::invalid_argument("secagg: value " + std::to_string(i) + " (" +
                                  std::to_string(values[i]) + ") does not fit in " +
                                  std::to_string(bits) + " bits; reduce it mod 2^bits first");
    acc |= static_cast<unsigned __int128>(values[i]) << pending;
    pending += bits;
    while (pending >= 8) {
      out[o++] = static_cast<std::uint8_t>(acc);
      acc >>= 8;
      pending -= 8;
    }
  }
  if (pending > 0)
    out[o++] = static_cast<std::uint8_t>(acc);
  return out;
}

std::vector<std::uint64_t> unpack(const std::uint8_t* bytes, std::size_t size, std::size_t n,
                                  unsigned bits) {
  const std::uint64_t mask = ring_mask(bits);
  if (size != packed_bytes(n, bits))
    throw std::invalid_argument("secagg: " + std::to_string(n) + " values of " +
                                std::to_string(bits) + " bits pack into " +
                                std::to_string(packed_bytes(n, bits)) + " bytes, got " +
                                std::to_string(size));
  std::vector<std::uint64_t> out(n);
  std::size_t in = 0;
  unsigned __int128 acc = 0;
  unsigned have = 0;
  for (std::size_t i = 0; i < n; ++i) {
    while (have < bits) {
      acc |= static_cast<unsigned __int128>(bytes[in++]) << have;
      have += 8;
    }
    out[i] = static_cast<std::uint64_t>(acc) & mask;
    acc >>= bits;
    have -= bits;
  }
  if (acc != 0)
    throw std::invalid_argument("secagg: packed values have non-zero padding bits; the sender "
                                "packed them wrongly");
  return out;
}

} // namespace flotilla::fl::secagg
