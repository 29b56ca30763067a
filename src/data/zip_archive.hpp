#pragma once
// The zip archives torch.save writes, read without libtorch: stored (uncompressed) entries
// only, every offset and size checked against the file's real size before anything is read or
// allocated, since the file may be anything a user points at.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace flotilla::data {

/// One entry of the central directory, located in the file.
struct zip_entry {
  std::string name;
  std::uint64_t offset = 0; ///< of the entry's first data byte in the file
  std::uint64_t size = 0;   ///< bytes of data, as stored
  std::uint64_t real_size = 0; ///< bytes once inflated, as the central directory declares (= size when stored)
  std::uint32_t crc32 = 0;  ///< as the central directory records it
  std::uint32_t method = 0; ///< 0: stored; anything else (8: deflate) is refused when read
};

/// An open zip archive. The constructor reads the end-of-central-directory record (searched
/// in the last 64 KiB + 22 bytes only), the central directory (at most 16 MiB, names of at most
/// 4096 bytes) and each entry's local header; it throws data_error naming the path when the
/// file is missing, not a regular file, not a zip, truncated, or uses what torch.save never
/// writes: encryption, several disks, zip64 (files above 4 GiB). A compressed entry is listed
/// (so that a caller can tell what the archive is, e.g. TorchScript's) but refused when read.
class zip_archive {
public:
  explicit zip_archive(const std::string& path);
  ~zip_archive();
  zip_archive(const zip_archive&) = delete;
  zip_archive& operator=(const zip_archive&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return file_size_; }
  /// In central-directory order; names are unique.
  const std::vector<zip_entry>& entries() const { return entries_; }
  /// The entry of that name, or nullptr.
  const zip_entry* find(const std::string& name) const;

  /// The whole entry. Throws data_error when it is compressed, larger than `max_bytes` (checked
  /// before allocating) or its CRC-32 differs from the directory's.
  std::vector<unsigned char> read(const zip_entry& entry, std::size_t max_bytes) const;

  /// Throws data_error unless the entry is stored uncompressed, as every read requires.
  void require_stored(const zip_entry& entry) const;

  using sink = std::function<void(const unsigned char* bytes, std::size_t n)>;
  /// Streams bytes [from, from + n) of the entry to `to` in chunks of at most 1 MiB, so a
  /// large tensor goes straight to its destination. The first read of an entry also reads the
  /// rest of it to check its CRC-32 (throwing data_error on a mismatch, after `to` has seen the
  /// bytes: discard them); later reads of the entry skip the check.
  void read(const zip_entry& entry, std::uint64_t from, std::uint64_t n, const sink& to) const;

private:
  void read_at(std::uint64_t offset, void* dst, std::size_t n, const std::string& what) const;

  std::string path_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  std::vector<zip_entry> entries_;
  std::unordered_map<std::string, std::size_t> index_; // name -> entries_ index
  mutable std::vector<bool> verified_; // per entry: its CRC-32 has been checked
};

} // namespace flotilla::data
