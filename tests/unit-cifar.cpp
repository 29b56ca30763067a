#include <doctest/doctest.h>

#include "data/cifar.hpp"
#include "data/data_error.hpp"
#include "fixtures.hpp"

using namespace flotilla;

TEST_CASE("cifar reader concatenates binary batches") {
  test::temp_dir dir;
  test::write_bytes(dir.file("a.bin"), test::cifar_records(3, 0));
  test::write_bytes(dir.file("b.bin"), test::cifar_records(2, 7));

  auto s = data::read_cifar10({dir.file("a.bin"), dir.file("b.bin")});

  CHECK(s.count == 5);
  CHECK(s.channels == 3);
  CHECK(s.height == 32);
  CHECK(s.labels == std::vector<std::uint8_t>{0, 1, 2, 7, 8});
  CHECK(s.pixels.size() == 5 * 3072);
  CHECK(s.pixels[0] == 10);          // red plane of image 0
  CHECK(s.pixels[1024] == 20);       // green plane
  CHECK(s.pixels[4 * 3072 + 2048] == 31); // blue plane of image 4 (second of batch b)
}

TEST_CASE("cifar reader rejects ragged files and bad labels") {
  test::temp_dir dir;
  SUBCASE("ragged") {
    auto bytes = test::cifar_records(2, 0);
    bytes.pop_back();
    test::write_bytes(dir.file("x.bin"), bytes);
    CHECK_THROWS_WITH_AS(data::read_cifar10({dir.file("x.bin")}),
                         (dir.file("x.bin") + ": 6145 bytes is not a whole number of 3,073-byte CIFAR-10 "
                                              "records; is this the binary version of CIFAR-10, complete?").c_str(),
                         data::data_error);
  }
  SUBCASE("label out of range") {
    auto bytes = test::cifar_records(2, 0);
    bytes[3073] = 12;
    test::write_bytes(dir.file("x.bin"), bytes);
    CHECK_THROWS_WITH_AS(data::read_cifar10({dir.file("x.bin")}),
                         (dir.file("x.bin") + ": label 12 at index 1 is outside 0-9; the file is corrupt: "
                                              "delete it and fetch it again").c_str(),
                         data::data_error);
  }
  SUBCASE("label out of range in a gzip batch after a good one") {
    auto bytes = test::cifar_records(3, 0);
    bytes[2 * 3073] = 255;
    test::write_bytes(dir.file("a.bin"), test::cifar_records(2, 0));
    test::write_gzip(dir.file("x.bin.gz"), bytes);
    CHECK_THROWS_WITH_AS(data::read_cifar10({dir.file("a.bin"), dir.file("x.bin.gz")}),
                         (dir.file("x.bin.gz") + ": label 255 at index 2 is outside 0-9; the file is "
                                                 "corrupt: delete it and fetch it again").c_str(),
                         data::data_error);
  }
  SUBCASE("empty file") {
    test::write_bytes(dir.file("x.bin"), {});
    CHECK_THROWS_WITH_AS(data::read_cifar10({dir.file("x.bin")}),
                         (dir.file("x.bin") + ": 0 bytes is not a whole number of 3,073-byte CIFAR-10 "
                                              "records; is this the binary version of CIFAR-10, complete?").c_str(),
                         data::data_error);
  }
}
