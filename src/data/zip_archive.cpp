#include "data/zip_archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "data/data_error.hpp"

namespace flotilla::data {

namespace {

constexpr std::uint32_t local_signature = 0x04034b50;
constexpr std::uint32_t central_signature = 0x02014b50;
constexpr std::uint32_t end_signature = 0x06054b50;
constexpr std::size_t local_size = 30, central_size = 46, end_size = 22;
constexpr std::size_t max_comment = 0xffff;
// torch.save's directory holds a few entries per tensor; 16 MiB is tens of thousands of them.
constexpr std::size_t max_directory_bytes = std::size_t{16} << 20;
constexpr std::size_t max_name_bytes = 4096;
constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

const char* const rewrite = "; the file is damaged or truncated: write it again with torch.save";

std::uint32_t le16(const unsigned char* p) { return p[0] | std::uint32_t{p[1]} << 8; }
std::uint32_t le32(const unsigned char* p) { return le16(p) | le16(p + 2) << 16; }

std::string num(std::uint64_t v) { return std::to_string(v); }

} // namespace

zip_archive::zip_archive(const std::string& path) : path_(path) {
  auto fail = [&](const std::string& what) { return data_error(path_ + ": " + what); };
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT)
      throw fail("file not found");
    throw fail(std::string("cannot open file (") + std::strerror(errno) + ")");
  }
  // From here the destructor does not run on a throw: close the descriptor ourselves.
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
      throw fail(std::string("cannot read file (") + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode))
      throw fail("is a directory; give the path of the file torch.save wrote");
    // A device or pipe has no size to check offsets against (/dev/zero would never end).
    if (!S_ISREG(st.st_mode))
      throw fail("is not a regular file (a device, pipe or socket); give the path of the file torch.save wrote");
    file_size_ = static_cast<std::uint64_t>(st.st_size);
    if (file_size_ == 0)
      throw fail("is empty, not a file torch.save wrote");

    // The end record sits in the last 22 + 65535 bytes (its comment is at most 65535 long).
    auto tail_size = static_cast<std::size_t>(std::min<std::uint64_t>(file_size_, end_size + max_comment));
    std::vector<unsigned char> tail(tail_size);
    read_at(file_size_ - tail_size, tail.data(), tail_size, "its end");
    std::size_t end_at = tail_size; // within tail; tail_size: not found
    for (auto i = tail_size >= end_size ? tail_size - end_size + 1 : 0; i-- > 0;)
      if (le32(&tail[i]) == end_signature && i + end_size + le16(&tail[i + 20]) == tail_size) {
        end_at = i;
        break;
      }
    if (end_at == tail_size) {
      unsigned char head[4] = {};
      read_at(0, head, std::min<std::uint64_t>(4, file_size_), "its start");
      if (le32(head) == local_signature)
        throw fail(std::string("a zip archive without its end (no end-of-central-directory record)") + rewrite);
      // torch.save's format before torch 1.6: a pickled magic number (LONG1 of 10 bytes) first.
      if (head[0] == 0x80 && head[1] == 0x02 && head[2] == 0x8a && head[3] == 0x0a)
        throw fail("written in torch.save's legacy format (torch before 1.6 or "
                   "_use_new_zipfile_serialization=False), which is not read here; torch.load it "
                   "and torch.save it again with the default format");
      throw fail("not a zip archive, so not a file torch.save wrote");
    }
    const unsigned char* end = &tail[end_at];
    std::uint32_t disk = le16(end + 4), directory_disk = le16(end + 6);
    std::uint32_t disk_entries = le16(end + 8), count = le16(end + 10);
    std::uint64_t directory_size = le32(end + 12), directory_at = le32(end + 16);
    if (count == 0xffff || directory_size == 0xffffffff || directory_at == 0xffffffff)
      throw fail("a zip64 archive: files above 4 GiB are not supported; split the data set into "
                 "smaller files or reduce it");
    if (disk != 0 || directory_disk != 0 || disk_entries != count)
      throw fail("a zip archive spanning several disks, which torch.save never writes" + std::string(rewrite));
    auto end_offset = file_size_ - tail_size + end_at;
    if (directory_at > end_offset || directory_size > end_offset - directory_at)
      throw fail("its central directory (" + num(directory_size) + " bytes at " + num(directory_at) +
                 ") lies past its end record (at " + num(end_offset) + ")" + rewrite);
    if (directory_size > max_directory_bytes)
      throw fail("a central directory of " + num(directory_size) + " bytes, more than the " +
                 num(max_directory_bytes) + " a torch.save file has; is it a data set?");

    std::vector<unsigned char> directory(static_cast<std::size_t>(directory_size));
    read_at(directory_at, directory.data(), directory.size(), "its central directory");
    std::size_t at = 0;
    entries_.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      auto bad = [&](const std::string& what) {
        return fail("central directory entry " + num(i) + " " + what + rewrite);
      };
      if (directory.size() - at < central_size || le32(&directory[at]) != central_signature)
        throw bad("is cut short or has no signature");
      const unsigned char* e = &directory[at];
      std::uint32_t flags = le16(e + 8), method = le16(e + 10);
      std::uint32_t name_size = le16(e + 28), extra_size = le16(e + 30), comment_size = le16(e + 32);
      std::uint64_t stored = le32(e + 20), size = le32(e + 24), local_at = le32(e + 42);
      if (name_size > max_name_bytes)
        throw bad("has a name of " + num(name_size) + " bytes");
      std::size_t whole = central_size + name_size + extra_size + comment_size;
      if (directory.size() - at < whole)
        throw bad("reaches past the directory");
      zip_entry entry;
      entry.name.assign(reinterpret_cast<const char*>(e + central_size), name_size);
      entry.crc32 = le32(e + 16);
      auto named = [&](const std::string& what) { return fail("entry '" + entry.name + "' " + what); };
      if (flags & 0x41) // traditional or strong encryption
        throw named("is encrypted; torch.save never encrypts: write the file again with torch.save");
      if (stored == 0xffffffff || size == 0xffffffff || local_at == 0xffffffff)
        throw named("is a zip64 entry: files above 4 GiB are not supported; split the data set into "
                    "smaller files or reduce it");
      if (le16(e + 34) != 0)
        throw named("lies on another disk, which torch.save never writes" + std::string(rewrite));
      if (method == 0 && stored != size)
        throw named("is stored uncompressed but records " + num(stored) + " stored and " + num(size) +
                    " real bytes" + rewrite);
      entry.size = stored; // of a compressed entry: what lies in the file, refused when read
      entry.real_size = size;
      entry.method = method;

      // The local header (its extra field pads the data to 64 bytes in torch.save's files).
      if (local_at > directory_at || directory_at - local_at < local_size)
        throw named("starts at byte " + num(local_at) + ", not before the central directory (byte " +
                    num(directory_at) + ")" + rewrite);
      unsigned char local[local_size];
      read_at(local_at, local, local_size, "the local header of '" + entry.name + "'");
      if (le32(local) != local_signature)
        throw named("has no local header at byte " + num(local_at) + std::string(rewrite));
      std::uint64_t data_at = local_at + local_size + le16(local + 26) + le16(local + 28);
      std::string local_name;
      if (le16(local + 26) == name_size && data_at <= directory_at) {
        local_name.resize(name_size);
        read_at(local_at + local_size, local_name.data(), name_size, "the local header of '" + entry.name + "'");
      }
      if (local_name != entry.name || le16(local + 8) != method || (le16(local + 6) & 0x41))
        throw named("has a local header that does not match the central directory" + std::string(rewrite));
      if (entry.size > directory_at - data_at)
        throw named("claims " + num(entry.size) + " bytes at byte " + num(data_at) + ", past the end of the data (the " +
                    "central directory starts at byte " + num(directory_at) + " of " + num(file_size_) + ")" +
                    rewrite);
      entry.offset = data_at;
      if (!index_.emplace(entry.name, entries_.size()).second)
        throw named("appears twice" + std::string(rewrite));
      entries_.push_back(std::move(entry));
      at += whole;
    }
    verified_.assign(entries_.size(), false);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

zip_archive::~zip_archive() {
  ::close(fd_);
}

const zip_entry* zip_archive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void zip_archive::read_at(std::uint64_t offset, void* dst, std::size_t n, const std::string& what) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    auto got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      throw data_error(path_ + ": cannot read " + what + " (" + std::strerror(errno) + ")");
    if (got == 0)
      throw data_error(path_ + ": the file ended while reading " + what +
                       "; it was truncated or changed while being read");
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

void zip_archive::require_stored(const zip_entry& entry) const {
  if (entry.method != 0)
    throw data_error(path_ + ": entry '" + entry.name + "' is compressed (method " + num(entry.method) +
                     (entry.method == 8 ? ", deflate" : "") + "); torch.save stores entries uncompressed: save "
                     "with torch.save again rather than re-zipping the file");
}

std::vector<unsigned char> zip_archive::read(const zip_entry& entry, std::size_t max_bytes) const {
  require_stored(entry);
  if (entry.size > max_bytes)
    throw data_error(path_ + ": entry '" + entry.name + "' holds " + num(entry.size) + " bytes, more than the " +
                     num(max_bytes) + " it may have");
  std::vector<unsigned char> out(static_cast<std::size_t>(entry.size));
  auto* dst = out.data();
  read(entry, 0, entry.size, [&](const unsigned char* bytes, std::size_t n) {
    std::memcpy(dst, bytes, n);
    dst += n;
  });
  return out;
}

void zip_archive::read(const zip_entry& entry, std::uint64_t from, std::uint64_t n, const sink& to) const {
  auto index = static_cast<std::size_t>(&entry - entries_.data());
  if (index >= entries_.size() || &entries_[index] != &entry)
    throw std::logic_error("zip_archive::read: the entry is not one of this archive's");
  require_stored(entry);
  if (from > entry.size || n > entry.size - from)
    throw data_error(path_ + ": bytes " + num(from) + " to " + num(from + n) + " of entry '" + entry.name +
                     "' lie past its " + num(entry.size) + " bytes");
  bool check = !verified_[index];
  // Unchecked: only the range. Checked: the whole entry, passing on the range.
  auto begin = check ? 0 : from, stop = check ? entry.size : from + n;
  std::vector<unsigned char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, stop - begin)));
  auto crc = crc32(0L, Z_NULL, 0);
  for (auto at = begin; at < stop;) {
    auto size = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), stop - at));
    read_at(entry.offset + at, chunk.data(), size, "entry '" + entry.name + "'");
    if (check)
      crc = crc32(crc, chunk.data(), static_cast<uInt>(size));
    auto lo = std::max(at, from), hi = std::min(at + size, from + n);
    if (lo < hi)
      to(chunk.data() + (lo - at), static_cast<std::size_t>(hi - lo));
    at += size;
  }
  if (check) {
    if (crc != entry.crc32)
      throw data_error(path_ + ": entry '" + entry.name + "' fails its CRC-32 check" + rewrite);
    verified_[index] = true;
  }
}

} // namespace flotilla::data
