#include "data/idx.hpp"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "data/data_error.hpp"
#include "data/label_range.hpp"

namespace flotilla::data {

namespace {

constexpr std::size_t image_header = 16;
constexpr std::size_t label_header = 8;

std::uint32_t big_endian_u32(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

std::uint32_t expect_magic(const std::vector<std::uint8_t>& bytes, std::uint32_t magic,
                           std::size_t header_size, const std::string& path) {
  auto truncated = [&] {
    return data_error(path + ": truncated IDX header (" + std::to_string(bytes.size()) +
                      " bytes); delete the file and fetch it again");
  };
  if (bytes.size() < 4)
    throw truncated();
  auto found = big_endian_u32(bytes, 0);
  if (found != magic) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "wrong magic number 0x%08x (expected 0x%08x)", found, magic);
    throw data_error(path + ": " + buf + "; is this an IDX " +
                     (magic == 0x803 ? "image" : "label") + " file?");
  }
  if (bytes.size() < header_size)
    throw truncated();
  return big_endian_u32(bytes, 4);
}

// Header fields are u32, so count * rows * cols can exceed 64 bits; nothing when it does.
std::optional<std::uint64_t> checked_product(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::uint64_t ab = 0, abc = 0;
  if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
    return std::nullopt;
  return abc;
}

std::string size_text(std::uint64_t rows, std::uint64_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// Drops the header in place, so the pixels or labels reuse the file's buffer.
std::vector<std::uint8_t> body(std::vector<std::uint8_t> bytes, std::size_t header) {
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<long>(header));
  return bytes;
}

} // namespace

std::vector<std::uint8_t> read_maybe_gzip(const std::string& path, std::size_t max_bytes) {
  if (!std::filesystem::exists(path))
    throw data_error(path + ": file not found");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr)
    throw data_error(path + ": cannot open file");
  std::vector<std::uint8_t> out;
  std::uint8_t buf[1 << 16];
  for (;;) {
    int n = gzread(file, buf, sizeof(buf));
    if (n < 0) {
      int code = 0;
      std::string what = gzerror(file, &code);
      gzclose(file);
      throw data_error(path + ": unreadable gzip data (" + what + ")");
    }
    if (n == 0)
      break;
    if (static_cast<std::size_t>(n) > max_bytes - out.size()) {
      gzclose(file);
      throw data_error(path + ": holds more than " + std::to_string(max_bytes) +
                       " bytes once inflated, more than any dataset file; delete it and fetch it again");
    }
    out.insert(out.end(), buf, buf + n);
  }
  // A truncated gzip stream ends without error from gzread; gzclose reports it.
  int close_code = gzclose(file);
  if (close_code != Z_OK)
    throw data_error(path + ": unreadable gzip data (truncated or corrupt stream)");
  return out;
}

image_set read_idx(const std::string& images_path, const std::string& labels_path,
                   const idx_expectation& expected) {
  auto images = read_maybe_gzip(images_path);
  auto labels = read_maybe_gzip(labels_path);
  std::uint64_t count = expect_magic(images, 0x00000803, image_header, images_path);
  std::uint64_t rows = big_endian_u32(images, 8), cols = big_endian_u32(images, 12);
  // The shape first: a whole file of another dataset is a clearer fault than its size.
  if (rows != expected.rows || cols != expected.cols)
    throw data_error(images_path + ": images are " + size_text(rows, cols) + ", expected " +
                     size_text(expected.rows, expected.cols) +
                     "; the file belongs to another dataset or is corrupt: delete it and fetch it again");
  std::uint64_t label_count = expect_magic(labels, 0x00000801, label_header, labels_path);
  if (count != label_count)
    throw data_error(images_path + " has " + std::to_string(count) + " images but " +
                     labels_path + " has " + std::to_string(label_count) +
                     " labels; the two files do not belong together");
  if (count == 0)
    throw data_error(images_path + ": header promises 0 images; the file is corrupt: delete it and "
                                   "fetch it again");
  auto promised = "header promises " + std::to_string(count) + " images of " + size_text(rows, cols);
  auto image_bytes = checked_product(count, rows, cols);
  if (!image_bytes)
    throw data_error(images_path + ": " + promised + ", more bytes than a file can hold; the file is "
                                                     "corrupt: delete it and fetch it again");
  // Both sizes must match exactly before anything is taken from the files.
  auto pixel_bytes = images.size() - image_header;
  if (pixel_bytes < *image_bytes)
    throw data_error(images_path + ": truncated: " + promised + " but only " + std::to_string(pixel_bytes) +
                     " pixel bytes follow; delete the file and fetch it again");
  if (pixel_bytes > *image_bytes)
    throw data_error(images_path + ": " + promised + " (" + std::to_string(*image_bytes) + " bytes) but " +
                     std::to_string(pixel_bytes) + " pixel bytes follow; the file is corrupt: delete it "
                                                   "and fetch it again");
  auto label_bytes = labels.size() - label_header;
  if (label_bytes < label_count)
    throw data_error(labels_path + ": truncated: header promises " + std::to_string(label_count) +
                     " labels but only " + std::to_string(label_bytes) +
                     " follow; delete the file and fetch it again");
  if (label_bytes > label_count)
    throw data_error(labels_path + ": header promises " + std::to_string(label_count) + " labels but " +
                     std::to_string(label_bytes) + " follow; the file is corrupt: delete it and fetch it again");
  for (std::size_t i = 0; i < label_count; ++i)
    check_label(labels_path, i, labels[label_header + i], expected.num_classes);
  image_set out;
  out.count = count;
  out.height = rows;
  out.width = cols;
  out.pixels = body(std::move(images), image_header);
  out.labels = body(std::move(labels), label_header);
  return out;
}

} // namespace flotilla::data
