#include <doctest/doctest.h>

#include <algorithm>
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
                       "unknown dataset 'imagenet' (known: mnist, fashion_mnist, cifar10, tensors, leaf, synthetic_fedprox, synthetic_leaf)",
                       data::data_error);
}

TEST_CASE("the dataset table: every row answers what the rest of the program asks of a dataset") {
  std::vector<std::string> names;
  for (const auto& d : data::datasets()) {
    CAPTURE(d.name);
    names.push_back(d.name);
    if (d.make) {
      // Data of one's own and generated sets: read whole, no normalization.
      CHECK_FALSE(d.read);
      CHECK(d.mean.empty());
      CHECK_FALSE(d.how_to_get.empty());
      CHECK(d.shape_known() == (d.name.rfind("synthetic_", 0) == 0));
      continue;
    }
    CHECK(d.classes == 10);
    CHECK(d.mean.size() == d.shape.channels);
    CHECK(d.std.size() == d.shape.channels);
    CHECK(std::all_of(d.std.begin(), d.std.end(), [](float x) { return x > 0; }));
    CHECK_FALSE(d.default_root.empty());
    CHECK(data::default_root(d.name) == d.default_root);
    CHECK(data::shape_of(d.name).height == d.shape.height);
    REQUIRE(d.read);
    // Every reader says how to get its dataset when a file is missing.
    test::temp_dir empty;
    try {
      d.read(empty.path().string(), d);
      FAIL("an empty folder was read");
    } catch (const data::data_error& e) {
      CHECK(std::string(e.what()).find(d.how_to_get) != std::string::npos);
    }
  }
  CHECK(names == data::dataset_names());
  CHECK(data::shape_of("cifar10").channels == 3);
  CHECK_THROWS_AS(data::dataset_named("imagenet"), data::data_error);
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

TEST_CASE("mnist files of another image size are refused, naming both sizes") {
  test::temp_dir dir;
  test::write_mnist_like(dir.path(), 30, 10);
  test::write_bytes(dir.file("train-images-idx3-ubyte"), test::idx_images(30, 32, 32));

  CHECK_THROWS_WITH_AS(data::load_dataset({"mnist", dir.path().string(), 0}),
                       (dir.file("train-images-idx3-ubyte") +
                        ": images are 32x32, expected 28x28; the file belongs to another dataset or is "
                        "corrupt: delete it and fetch it again").c_str(),
                       data::data_error);
}

TEST_CASE("a label outside 0-9 in the training or test labels stops the load") {
  test::temp_dir dir;
  test::write_mnist_like(dir.path(), 30, 10);

  SUBCASE("training labels, raw") {
    auto labels = test::idx_labels(30);
    labels[8 + 17] = 200;
    test::write_bytes(dir.file("train-labels-idx1-ubyte"), labels);
    CHECK_THROWS_WITH_AS(data::load_dataset({"mnist", dir.path().string(), 0}),
                         (dir.file("train-labels-idx1-ubyte") +
                          ": label 200 at index 17 is outside 0-9; the file is corrupt: delete it and "
                          "fetch it again").c_str(),
                         data::data_error);
  }
  SUBCASE("test labels, gzip, even past train_limit") {
    auto labels = test::idx_labels(10);
    labels[8 + 9] = 10;
    test::write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), labels);
    CHECK_THROWS_WITH_AS(data::load_dataset({"mnist", dir.path().string(), 5}),
                         (dir.file("t10k-labels-idx1-ubyte.gz") +
                          ": label 10 at index 9 is outside 0-9; the file is corrupt: delete it and "
                          "fetch it again").c_str(),
                         data::data_error);
  }
  SUBCASE("cifar10 test batch") {
    test::write_cifar_like(dir.path(), 2, 3);
    auto batch = test::cifar_records(3, 0);
    batch[3073] = 10;
    test::write_bytes(dir.file("test_batch.bin"), batch);
    CHECK_THROWS_WITH_AS(data::load_dataset({"cifar10", dir.path().string(), 0}),
                         (dir.file("test_batch.bin") +
                          ": label 10 at index 1 is outside 0-9; the file is corrupt: delete it and "
                          "fetch it again").c_str(),
                         data::data_error);
  }
}

TEST_CASE("cifar10 loads its five batches and test batch with 10 classes") {
  test::temp_dir dir;
  test::write_cifar_like(dir.path(), 2, 3);

  auto ds = data::load_dataset({"cifar10", dir.path().string(), 0});

  CHECK(ds->num_classes == 10);
  CHECK(ds->train.count == 10);
  CHECK(ds->test.count == 3);
  CHECK(ds->train.sample_size() == 3 * 32 * 32);
  CHECK(ds->train.labels == std::vector<std::int64_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6});
}

TEST_CASE("the real MNIST passes every check") {
  REQUIRE_MNIST();
  auto ds = data::load_dataset({"mnist", "data/mnist", 0});

  CHECK(ds->train.count == 60000);
  CHECK(ds->test.count == 10000);
  CHECK(ds->train.sample_size() == 784);
  CHECK(*std::max_element(ds->train.labels.begin(), ds->train.labels.end()) == 9);
}
