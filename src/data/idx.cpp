#include "data/idx.hpp"

#include <zlib.h>

#include <cstdio>
#include <filesystem>

#include "data/data_error.hpp"

namespace flotilla::data {

namespace {

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

} // namespace

std::vector<std::uint8_t> read_maybe_gzip(const std::string& path) {
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
    out.insert(out.end(), buf, buf + n);
  }
  // A truncated gzip stream ends without error from gzread; gzclose reports it.
  int close_code = gzclose(file);
  if (close_code != Z_OK)
    throw data_error(path + ": unreadable gzip data (truncated or corrupt stream)");
  return out;
}

image_set read_idx(const std::string& images_path, const std::string& labels_path) {
  auto images = read_maybe_gzip(images_path);
  auto labels = read_maybe_gzip(labels_path);
  image_set out;
  out.count = expect_magic(images, 0x00000803, 16, images_path);
  out.height = big_endian_u32(images, 8);
  out.width = big_endian_u32(images, 12);
  auto label_count = expect_magic(labels, 0x00000801, 8, labels_path);
  if (out.count != label_count)
    throw data_error(images_path + " has " + std::to_string(out.count) + " images but " +
                     labels_path + " has " + std::to_string(label_count) +
                     " labels; the two files do not belong together");
  auto image_bytes = out.count * out.height * out.width;
  if (images.size() - 16 < image_bytes)
    throw data_error(images_path + ": truncated: header promises " + std::to_string(out.count) +
                     " images of " + std::to_string(out.height) + "x" + std::to_string(out.width) +
                     " but only " + std::to_string(images.size() - 16) +
                     " pixel bytes follow; delete the file and fetch it again");
  if (labels.size() - 8 < label_count)
    throw data_error(labels_path + ": truncated: header promises " + std::to_string(label_count) +
                     " labels but only " + std::to_string(labels.size() - 8) +
                     " follow; delete the file and fetch it again");
  out.pixels.assign(images.begin() + 16, images.begin() + 16 + static_cast<long>(image_bytes));
  out.labels.assign(labels.begin() + 8, labels.begin() + 8 + static_cast<long>(label_count));
  return out;
}

} // namespace flotilla::data
