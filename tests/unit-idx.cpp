#include <doctest/doctest.h>

#include "data/data_error.hpp"
#include "data/idx.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using flotilla::data::data_error;

namespace {
const data::idx_expectation small{3, 4, 10}; // what test::idx_images(n, 3, 4) holds
} // namespace

TEST_CASE("idx reader loads raw and gzip files alike") {
  test::temp_dir dir;
  test::write_bytes(dir.file("img"), test::idx_images(5, 3, 4));
  test::write_bytes(dir.file("lbl"), test::idx_labels(5));
  test::write_gzip(dir.file("img.gz"), test::idx_images(5, 3, 4));
  test::write_gzip(dir.file("lbl.gz"), test::idx_labels(5));

  auto raw = data::read_idx(dir.file("img"), dir.file("lbl"), small);
  auto gz = data::read_idx(dir.file("img.gz"), dir.file("lbl.gz"), small);

  CHECK(raw.count == 5);
  CHECK(raw.height == 3);
  CHECK(raw.width == 4);
  CHECK(raw.pixels.size() == 5 * 12);
  CHECK(raw.pixels[12 * 2 + 1] == 3);
  CHECK(raw.labels.size() == 5);
  CHECK(raw.labels[4] == 4);
  CHECK(gz.pixels == raw.pixels);
  CHECK(gz.labels == raw.labels);
}

TEST_CASE("idx reader names the file and the fault") {
  test::temp_dir dir;
  test::write_bytes(dir.file("lbl"), test::idx_labels(5));

  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("nope"), dir.file("lbl"), small),
                         (dir.file("nope") + ": file not found").c_str(), data_error);
  }
  SUBCASE("wrong magic number") {
    test::write_bytes(dir.file("img"), test::idx_labels(5));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + ": wrong magic number 0x00000801 (expected 0x00000803); "
                                            "is this an IDX image file?").c_str(),
                         data_error);
  }
  SUBCASE("truncated pixels") {
    auto bytes = test::idx_images(5, 3, 4);
    bytes.resize(bytes.size() - 7);
    test::write_bytes(dir.file("img"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + ": truncated: header promises 5 images of 3x4 but only "
                                            "53 pixel bytes follow; delete the file and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("truncated labels") {
    test::write_bytes(dir.file("img"), test::idx_images(5, 3, 4));
    auto bytes = test::idx_labels(5);
    bytes.pop_back();
    test::write_bytes(dir.file("lbl"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("lbl") + ": truncated: header promises 5 labels but only 4 follow; "
                                            "delete the file and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("truncated header") {
    test::write_bytes(dir.file("img"), {0, 0, 8});
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + ": truncated IDX header (3 bytes); delete the file and "
                                            "fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("image and label counts differ") {
    test::write_bytes(dir.file("img"), test::idx_images(6, 3, 4));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + " has 6 images but " + dir.file("lbl") +
                          " has 5 labels; the two files do not belong together").c_str(),
                         data_error);
  }
  SUBCASE("corrupt gzip") {
    test::write_gzip(dir.file("img.gz"), test::idx_images(50, 28, 28));
    auto bytes = test::read_bytes(dir.file("img.gz"));
    bytes.resize(bytes.size() / 2);
    test::write_bytes(dir.file("img.gz"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img.gz"), dir.file("lbl"), small),
                         (dir.file("img.gz") + ": unreadable gzip data (truncated or corrupt stream)").c_str(),
                         data_error);
  }
}

TEST_CASE("idx reader refuses a label outside the classes, raw or gzip") {
  test::temp_dir dir;
  test::write_bytes(dir.file("img"), test::idx_images(20, 3, 4));
  auto labels = test::idx_labels(20);
  labels[8 + 17] = 200;

  SUBCASE("raw") {
    test::write_bytes(dir.file("lbl"), labels);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("lbl") + ": label 200 at index 17 is outside 0-9; the file is "
                                            "corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("gzip") {
    test::write_gzip(dir.file("lbl.gz"), labels);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl.gz"), small),
                         (dir.file("lbl.gz") + ": label 200 at index 17 is outside 0-9; the file is "
                                               "corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("the first label past the classes counts, as the expectation says") {
    labels[8 + 17] = 7;
    labels[8 + 3] = 5;
    test::write_bytes(dir.file("lbl"), labels);
    CHECK(data::read_idx(dir.file("img"), dir.file("lbl"), small).labels[17] == 7);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), {3, 4, 5}),
                         (dir.file("lbl") + ": label 5 at index 3 is outside 0-4; the file is "
                                            "corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
}

TEST_CASE("idx reader refuses headers that do not fit the file or the dataset") {
  test::temp_dir dir;
  test::write_bytes(dir.file("lbl"), test::idx_labels(5));

  SUBCASE("images of another size") {
    test::write_bytes(dir.file("img"), test::idx_images(5, 32, 32));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), {28, 28, 10}),
                         (dir.file("img") + ": images are 32x32, expected 28x28; the file belongs to "
                                            "another dataset or is corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("bytes after the promised pixels") {
    auto bytes = test::idx_images(5, 3, 4);
    bytes.insert(bytes.end(), 7, 0);
    test::write_bytes(dir.file("img"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + ": header promises 5 images of 3x4 (60 bytes) but 67 pixel "
                                            "bytes follow; the file is corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("bytes after the promised labels") {
    test::write_bytes(dir.file("img"), test::idx_images(5, 3, 4));
    auto bytes = test::idx_labels(5);
    bytes.insert(bytes.end(), 2, 1);
    test::write_bytes(dir.file("lbl"), bytes);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("lbl") + ": header promises 5 labels but 7 follow; the file is "
                                            "corrupt: delete it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("no images") {
    test::write_bytes(dir.file("img"), test::idx_images(0, 3, 4));
    test::write_bytes(dir.file("lbl"), test::idx_labels(0));
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), small),
                         (dir.file("img") + ": header promises 0 images; the file is corrupt: delete "
                                            "it and fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("2^32 - 1 images are refused by their size, not allocated") {
    auto img = test::idx_images(2, 28, 28), lbl = test::idx_labels(2);
    img[4] = img[5] = img[6] = img[7] = 0xff;
    lbl[4] = lbl[5] = lbl[6] = lbl[7] = 0xff;
    test::write_bytes(dir.file("img"), img);
    test::write_bytes(dir.file("lbl"), lbl);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), {28, 28, 10}),
                         (dir.file("img") + ": truncated: header promises 4294967295 images of 28x28 "
                                            "but only 1568 pixel bytes follow; delete the file and "
                                            "fetch it again").c_str(),
                         data_error);
  }
  SUBCASE("a byte count past 64 bits") {
    // Only reachable when the caller expects huge images, but it must not wrap around.
    std::vector<unsigned char> img, lbl;
    for (auto v : {0x803u, 0xffffffffu, 0xffffffffu, 0xffffffffu})
      test::put_u32(img, v);
    for (auto v : {0x801u, 0xffffffffu})
      test::put_u32(lbl, v);
    test::write_bytes(dir.file("img"), img);
    test::write_bytes(dir.file("lbl"), lbl);
    CHECK_THROWS_WITH_AS(data::read_idx(dir.file("img"), dir.file("lbl"), {0xffffffffu, 0xffffffffu, 10}),
                         (dir.file("img") + ": header promises 4294967295 images of 4294967295x4294967295, "
                                            "more bytes than a file can hold; the file is corrupt: delete "
                                            "it and fetch it again").c_str(),
                         data_error);
  }
}

TEST_CASE("a gzip file that inflates past the limit is refused while inflating") {
  test::temp_dir dir;
  test::write_gzip(dir.file("big.gz"), std::vector<unsigned char>(200000, 0));

  CHECK(data::read_maybe_gzip(dir.file("big.gz"), 200000).size() == 200000);
  CHECK_THROWS_WITH_AS(data::read_maybe_gzip(dir.file("big.gz"), 199999),
                       (dir.file("big.gz") + ": holds more than 199999 bytes once inflated, more than "
                                             "any dataset file; delete it and fetch it again").c_str(),
                       data_error);
}
