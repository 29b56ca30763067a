#include <doctest/doctest.h>

#include <cmath>

#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/rotation.hpp"
#include "fixtures.hpp"

using namespace flotilla;


TEST_CASE("mnist loads normalized from a root with raw or gzip files") {
  test::temp_dir dir;
  test::write_mnist_like(dir.path(), 30, 10);

  auto ds = data::load_dataset({"mnist", dir.path().string(), 0});

  CHECK(ds->train.count == 30);
  CHECK(ds->test.count == 10);
  CHECK(ds->train.sample_size() == 784);
  CHECK(ds->train.labels[13] == 3);
  // Pixel 5 of image 0 is 5/255, normalized with MNIST's mean and std.
  CHECK(ds->train.sample(0)[5] == doctest::Approx((5 / 255.0 - 0.1307) / 0.3081).epsilon(1e-5));
  CHECK(ds->train.background[0] == doctest::Approx(-0.1307 / 0.3081).epsilon(1e-5));
  CHECK(ds->fingerprint.size() == 64);
}

TEST_CASE("train_limit keeps the first samples and changes the fingerprint") {
  test::temp_dir dir;
  test::write_mnist_like(dir.path(), 30, 10);

  auto all = data::load_dataset({"mnist", dir.path().string(), 0});
  auto some = data::load_dataset({"mnist", dir.path().string(), 12});

  CHECK(some->train.count == 12);
  CHECK(some->train.labels[11] == all->train.labels[11]);
  CHECK(some->fingerprint != all->fingerprint);
}

TEST_CASE("a missing dataset file says how to fetch it") {
  test::temp_dir dir;
  CHECK_THROWS_WITH_AS(data::load_dataset({"mnist", dir.path().string(), 0}),
                       (dir.file("train-images-idx3-ubyte") +
                        ": file not found (nor train-images-idx3-ubyte.gz); run `make data` "
                        "(scripts/fetch-mnist.sh) to fetch MNIST, or set data.root").c_str(),
                       data::data_error);
  CHECK_THROWS_WITH_AS(data::load_dataset({"imagenet", "", 0}),
                       "unknown dataset 'imagenet' (known: mnist, fashion_mnist, cifar10)",
                       data::data_error);
}

TEST_CASE("gather copies samples and applies a pixel map") {
  test::temp_dir dir;
  test::write_mnist_like(dir.path(), 4, 2);
  auto ds = data::load_dataset({"mnist", dir.path().string(), 0});
  std::uint32_t idx[2] = {3, 1};
  std::vector<float> out(2 * 784);
  std::int64_t labels[2];

  SUBCASE("no map") {
    data::gather(ds->train, idx, 2, {}, out.data(), labels);
    CHECK(labels[0] == 3);
    CHECK(labels[1] == 1);
    CHECK(out[784 + 17] == ds->train.sample(1)[17]);
  }
  SUBCASE("180 degrees reverses the image") {
    auto map = data::rotation_map(28, 28, 180);
    data::gather(ds->train, idx, 2, map, out.data(), labels);
    CHECK(out[0] == ds->train.sample(3)[783]);
    CHECK(out[784 + 100] == ds->train.sample(1)[683]);
  }
}
