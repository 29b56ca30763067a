#include "fl/privacy/dp_noise.hpp"

#include "fl/seeds.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace flotilla::fl::privacy {

namespace {

constexpr double quarter_pi = 0.78539816339744830961566084581988;
constexpr std::size_t chunk = 4096;              // normals made per cipher pass
constexpr std::size_t sink_slice = 65536;        // elements per for_each_share callback

using key16 = std::array<unsigned char, 16>;

std::string show(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void put_le(std::string& buf, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) buf.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// The stream's AES key: SHA-256 over a domain tag (shares and the count never share a stream)
// and the key's numbers in fixed-width little-endian, so no two keys hash the same bytes.
key16 derive_key(const char* tag, const noise_key& k) {
  std::string buf(tag);
  buf.push_back('\0');
  put_le(buf, k.seed, 8);
  put_le(buf, k.point, 4);
  put_le(buf, k.round, 4);
  put_le(buf, k.member, 4);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(buf.data(), buf.size(), md, &len, EVP_sha256(), nullptr) != 1 || len < 16)
    throw std::runtime_error("dp_noise: OpenSSL SHA-256 failed");
  key16 key;
  std::memcpy(key.data(), md, key.size());
  return key;
}

std::uint64_t load_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A stream's normals from element `first` on, made a chunk at a time by one AES-128-CTR pass
// (one key schedule per stream: re-keying per chunk cost more than the cipher itself).
class normal_stream {
public:
  normal_stream(const key16& key, std::uint64_t first) {
    const std::uint64_t b0 = first / 2;
    // Counter block b0, big-endian over all 16 bytes: OpenSSL's CTR increments it that way.
    unsigned char iv[16] = {};
    for (int i = 0; i < 8; ++i) iv[15 - i] = static_cast<unsigned char>((b0 >> (8 * i)) & 0xff);
    if (ctx_ == nullptr ||
        EVP_EncryptInit_ex(ctx_.get(), EVP_aes_128_ctr(), nullptr, key.data(), iv) != 1)
      throw std::runtime_error("dp_noise: OpenSSL AES-128-CTR initialization failed");
    if (first % 2 == 1) { // start mid-block: its even element is skipped
      double pair[2];
      next_pairs(pair, 1);
      spare_ = pair[1];
      has_spare_ = true;
    }
  }
  /// The next n normals of the stream.
  void fill(double* out, std::size_t n) {
    std::size_t i = 0;
    if (has_spare_ && n > 0) {
      out[i++] = spare_;
      has_spare_ = false;
    }
    double* pairs = pairs_.data();
    while (i < n) {
      const std::size_t want = std::min(chunk / 2, (n - i + 1) / 2);
      next_pairs(pairs, want);
      const std::size_t take = std::min(2 * want, n - i);
      std::memcpy(out + i, pairs, take * sizeof(double));
      i += take;
      if (take < 2 * want) {
        spare_ = pairs[take];
        has_spare_ = true;
      }
    }
  }

private:
  // Box-Muller on the next `blocks` cipher blocks; block b gives the normals of elements 2b
  // and 2b + 1. The radius takes the first word's top 53 bits (open_unit: in (0, 1), so the
  // log is finite). The angle, uniform on the circle, is an angle in [0, pi/4) from the second
  // word's top 53 bits mirrored into one of the 8 octants by its 3 low bits (swap cos and sin,
  // then two signs): the same distribution as 2 pi u, at a third of libm's cost for sin and
  // cos, which then never reduce a large argument.
  void next_pairs(double* out, std::size_t blocks) {
    unsigned char* stream = stream_.data();
    std::memset(stream, 0, blocks * 16);
    int len = 0;
    if (EVP_EncryptUpdate(ctx_.get(), stream, &len, stream, static_cast<int>(blocks * 16)) != 1)
      throw std::runtime_error("dp_noise: OpenSSL AES-128-CTR failed");
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::uint64_t w0 = load_le64(stream + 16 * b), w1 = load_le64(stream + 16 * b + 8);
      const double r = std::sqrt(-2.0 * std::log(open_unit(w0)));
      const double phi = quarter_pi * open_unit(w1);
      double c = std::cos(phi), s = std::sin(phi);
      if (w1 & 1) std::swap(c, s);
      if (w1 & 2) c = -c;
      if (w1 & 4) s = -s;
      out[2 * b] = r * c;
      out[2 * b + 1] = r * s;
    }
  }

  struct ctx_free {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  };
  std::unique_ptr<EVP_CIPHER_CTX, ctx_free> ctx_{EVP_CIPHER_CTX_new()};
  // On the heap: streams run on actor threads, whose stacks may be small.
  std::vector<unsigned char> stream_ = std::vector<unsigned char>(chunk / 2 * 16);
  std::vector<double> pairs_ = std::vector<double>(chunk);
  double spare_ = 0;
  bool has_spare_ = false;
};

void check_range(std::uint64_t first, std::size_t n) {
  if (n > std::numeric_limits<std::uint64_t>::max() - first)
    throw std::invalid_argument("dp_noise: element range overflows (first " +
                                std::to_string(first) + ", " + std::to_string(n) + " elements)");
}

void check_stddev(double stddev) {
  if (!(stddev >= 0 && std::isfinite(stddev)))
    throw std::invalid_argument("dp_noise: noise stddev must be >= 0 and finite, got " +
                                show(stddev));
}

void check_members(const std::vector<std::uint32_t>& members) {
  if (members.empty()) throw std::invalid_argument("dp_noise: central noise needs members");
  for (std::size_t i = 1; i < members.size(); ++i)
    if (members[i] <= members[i - 1])
      throw std::invalid_argument(
          "dp_noise: members must be in strictly increasing id order (member " +
          std::to_string(members[i]) + " follows " + std::to_string(members[i - 1]) + ")");
}

// Calls f(offset, share, count) over the key's share in slices of `chunk` elements.
template <class F>
void share_chunks(const key16& key, double stddev, std::uint64_t first, std::size_t n, F f) {
  if (n == 0) return;
  normal_stream normals(key, first);
  std::vector<double> zs(chunk);
  std::vector<float> ss(chunk);
  double* z = zs.data();
  float* s = ss.data();
  for (std::size_t done = 0; done < n;) {
    const std::size_t m = std::min(chunk, n - done);
    normals.fill(z, m);
    for (std::size_t i = 0; i < m; ++i) s[i] = static_cast<float>(stddev * z[i]);
    f(done, s, m);
    done += m;
  }
}

} // namespace

void standard_normals(const noise_key& key, std::uint64_t first, double* out, std::size_t n) {
  check_range(first, n);
  if (n == 0) return;
  normal_stream(derive_key("flotilla/dp-noise/share/v1", key), first).fill(out, n);
}

double share_stddev(double noise_multiplier, double clip, std::size_t members) {
  if (!(noise_multiplier >= 0 && std::isfinite(noise_multiplier)))
    throw std::invalid_argument("dp_noise: noise multiplier must be >= 0 and finite, got " +
                                show(noise_multiplier));
  if (!(clip > 0 && std::isfinite(clip)))
    throw std::invalid_argument("dp_noise: clip norm must be positive and finite, got " +
                                show(clip));
  if (members == 0) throw std::invalid_argument("dp_noise: noise shares need members");
  return noise_multiplier * clip / std::sqrt(static_cast<double>(members));
}

void noise_share(const noise_key& key, double stddev, std::uint64_t first, float* out,
                 std::size_t n) {
  check_stddev(stddev);
  check_range(first, n);
  share_chunks(derive_key("flotilla/dp-noise/share/v1", key), stddev, first, n,
               [&](std::size_t at, const float* s, std::size_t m) {
                 std::memcpy(out + at, s, m * sizeof(float));
               });
}

std::vector<float> noise_share(const noise_key& key, double stddev, std::size_t n) {
  std::vector<float> out(n);
  noise_share(key, stddev, 0, out.data(), n);
  return out;
}

void add_noise_share(std::vector<float>& v, const noise_key& key, double stddev) {
  check_stddev(stddev);
  share_chunks(derive_key("flotilla/dp-noise/share/v1", key), stddev, 0, v.size(),
               [&](std::size_t at, const float* s, std::size_t m) {
                 for (std::size_t i = 0; i < m; ++i) v[at + i] += s[i];
               });
}

void add_noise_share(double* v, std::size_t n, const noise_key& key, double stddev,
                     std::uint64_t first) {
  check_stddev(stddev);
  check_range(first, n);
  share_chunks(derive_key("flotilla/dp-noise/share/v1", key), stddev, first, n,
               [&](std::size_t at, const float* s, std::size_t m) {
                 for (std::size_t i = 0; i < m; ++i) v[at + i] += static_cast<double>(s[i]);
               });
}

void for_each_share(std::uint64_t seed, std::uint32_t point, std::uint32_t round,
                    const std::vector<std::uint32_t>& members, double stddev, std::size_t n,
                    const share_sink& sink) {
  check_members(members);
  check_stddev(stddev);
  std::vector<float> slice;
  for (std::uint32_t m : members) {
    const noise_key key{seed, point, round, m};
    for (std::size_t at = 0; at < n; at += sink_slice) {
      const std::size_t len = std::min(sink_slice, n - at);
      slice.resize(len);
      noise_share(key, stddev, at, slice.data(), len);
      sink(m, at, slice.data(), len);
    }
  }
}

void add_central_noise(double* v, std::size_t n, std::uint64_t seed, std::uint32_t point,
                       std::uint32_t round, const std::vector<std::uint32_t>& members,
                       double stddev) {
  for_each_share(seed, point, round, members, stddev, n,
                 [&](std::uint32_t, std::uint64_t at, const float* s, std::size_t len) {
                   for (std::size_t i = 0; i < len; ++i) v[at + i] += static_cast<double>(s[i]);
                 });
}

double count_noise(std::uint64_t seed, std::uint32_t point, std::uint32_t round) {
  double z = 0;
  normal_stream(derive_key("flotilla/dp-noise/count/v1", noise_key{seed, point, round, 0}), 0)
      .fill(&z, 1);
  return z;
}

} // namespace flotilla::fl::privacy
