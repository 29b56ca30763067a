#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "data/dataset.hpp"

namespace flotilla::test {

/// A fresh directory under the system temp folder, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("flotilla-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  // A new file rather than a truncated one: ext4 flushes a truncated-and-rewritten file on
  // close, which made thousands of small rewrites (the fuzz suite) take seconds of disk waits.
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<unsigned char>(v >> shift));
}

/// An IDX image file of n images (rows x cols) whose pixels are (image + pixel) % 256.
inline std::vector<unsigned char> idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  std::vector<unsigned char> out;
  put_u32(out, 0x803);
  put_u32(out, n);
  put_u32(out, rows);
  put_u32(out, cols);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t p = 0; p < rows * cols; ++p)
      out.push_back(static_cast<unsigned char>((i + p) % 256));
  return out;
}

/// An IDX label file of n labels, label i = i % 10.
inline std::vector<unsigned char> idx_labels(std::uint32_t n) {
  std::vector<unsigned char> out;
  put_u32(out, 0x801);
  put_u32(out, n);
  for (std::uint32_t i = 0; i < n; ++i)
    out.push_back(static_cast<unsigned char>(i % 10));
  return out;
}

inline void write_gzip(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

/// The whole content of a file, as written (no inflating).
inline std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// `bytes` as a gzip stream in memory, what write_gzip would put in a file.
inline std::vector<unsigned char> gzip(const std::vector<unsigned char>& bytes) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, /*windowBits=*/15 + 16, /*memLevel=*/8,
               Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 32);
  z.next_in = const_cast<unsigned char*>(bytes.data());
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// n CIFAR-10 binary records: labels (first_label + i) % 10, planes filled with 10, 20, 30 + i.
inline std::vector<unsigned char> cifar_records(int n, int first_label) {
  std::vector<unsigned char> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(static_cast<unsigned char>((first_label + i) % 10));
    for (int p = 0; p < 3072; ++p)
      out.push_back(static_cast<unsigned char>(p < 1024 ? 10 : p < 2048 ? 20 : 30 + i));
  }
  return out;
}

/// CIFAR-10-named batches under `dir` (five train batches of `per_batch` records, one test
/// batch of `test_n`), as load_dataset expects them.
inline void write_cifar_like(const std::filesystem::path& dir, int per_batch, int test_n) {
  for (int b = 1; b <= 5; ++b)
    write_bytes((dir / ("data_batch_" + std::to_string(b) + ".bin")).string(), cifar_records(per_batch, b));
  write_bytes((dir / "test_batch.bin").string(), cifar_records(test_n, 0));
}

/// MNIST-named IDX files (train raw, test gzip) under `dir`, as load_dataset expects them.
inline void write_mnist_like(const std::filesystem::path& dir, std::uint32_t train, std::uint32_t test_n) {
  write_bytes((dir / "train-images-idx3-ubyte").string(), idx_images(train, 28, 28));
  write_bytes((dir / "train-labels-idx1-ubyte").string(), idx_labels(train));
  write_gzip((dir / "t10k-images-idx3-ubyte.gz").string(), idx_images(test_n, 28, 28));
  write_gzip((dir / "t10k-labels-idx1-ubyte.gz").string(), idx_labels(test_n));
}

/// Where the real MNIST lives when `make data` has run (tests run from the source dir).
inline bool have_mnist() {
  return std::filesystem::exists("data/mnist/train-images-idx3-ubyte");
}

/// 64 training and 16 test images of MNIST's shape written under `dir` and loaded: the data of
/// the training tests.
inline std::shared_ptr<const data::dataset> tiny_mnist(const temp_dir& dir) {
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_images(64, 28, 28));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_labels(64));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_images(16, 28, 28));
  write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_labels(16));
  return data::load_dataset({"mnist", dir.path().string(), 0});
}

} // namespace flotilla::test

/// Fails (and ends) a test that needs the real MNIST when it is missing, saying how to get it.
#define REQUIRE_MNIST()                                                    \
  do {                                                                     \
    if (!flotilla::test::have_mnist())                                     \
      FAIL("data/mnist missing: run `make data` (make test does)");        \
  } while (0)
