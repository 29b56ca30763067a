#include <doctest/doctest.h>

#include "data/data_error.hpp"
#include "data/idx.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using flotilla::data::data_error;

TEST_CASE("idx reader loads raw and gzip files alike") {
  test::temp_dir dir;
  test::write_bytes(dir.file("img"), test::idx_images(5, 3, 4));
  test::write_bytes(dir.file("lbl"), test::idx_labels(5));
  test::write_gzip(dir.file("img.gz"), test::idx_images(5, 3, 4));
  test::write_gzip(dir.file("lbl.gz"), test::idx_labels(5));

  auto raw = data::read_idx(dir.file("img"), dir.file("lbl"));
  auto gz = data::read_idx(dir.file("img.gz"), dir.file("lbl.gz"));

  CHECK(raw.count == 5);
  CHECK(raw.height == 3);
  CHECK(raw.width == 4);
  CHECK(raw.pixels.size() == 5 * 12);
  CHECK(raw.pixels[12 * 2 + 1] == 3);
  CHECK(raw.labels[4] == 4);
  CHECK(gz.pixels == raw.pixels);
  CHECK(gz.labels == raw.labels);
}

TEST_CASE("idx reader names the file and the fault") {
  test::temp_dir dir;
  test::write_bytes(dir.file("lbl"), test::idx_labels(5));

  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("nope"), dir.file("lbl")),
                         (dir.file("nope") + ": file not found").c_str(), data_error);
  }
  SUBCASE("wrong magic number") {
    test::write_bytes(dir.file("img"), test::idx_labels(5));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl")),
                         (dir.file("img") + ": wrong magic number 0x00000801 (expected 0x00000803); "
                                            "is this an IDX image file?").c_str(),
                         data_error);
  }
  SUBCASE("truncated pixels") {
    auto bytes = test::idx_images(5, 3, 4);
    bytes.resize(bytes.size() - 7);
    test::write_bytes(dir.file("img"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl")),
                         (dir.file("img") + ": truncated: header promises 5 images of 3x4 but only "
                                            "53 pixel bytes follow; delete the file and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("truncated header") {
    test::write_bytes(dir.file("img"), {0, 0, 8});
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl")),
                         (dir.file("img") + ": truncated IDX header (3 bytes); delete the file and "
                                            "fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("image and label counts differ") {
    test::write_bytes(dir.file("img"), test::idx_images(6, 3, 4));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl")),
                         (dir.file("img") + " has 6 images but " + dir.file("lbl") +
                          " has 5 labels; the two files do not belong together").c_str(),
                         data_error);
  }
  SUBCASE("corrupt gzip") {
    std::vector<unsigned char> bytes;
    test::write_gzip(dir.file("img.gz"), test::idx_images(50, 28, 28));
    {
      std::ifstream in(dir.file("img.gz"), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    bytes.resize(bytes.size() / 2);
    test::write_bytes(dir.file("img.gz"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img.gz"), dir.file("lbl")),
                         (dir.file("img.gz") + ": unreadable gzip data (truncated or corrupt stream)").c_str(),
                         data_error);
  }
}
