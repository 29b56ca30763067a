#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace flotilla {

/// Incremental SHA-256 (OpenSSL's EVP), for model and dataset fingerprints.
class sha256 {
public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  void update(const void* data, std::size_t bytes);
  /// Lower-case hex of the digest; the object is finished afterwards.
  std::string hex_digest();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// SHA-256 of a buffer, as lower-case hex.
std::string sha256_hex(const void* data, std::size_t bytes);

} // namespace flotilla
