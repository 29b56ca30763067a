#include <doctest/doctest.h>

#include <numeric>

#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "model/model_error.hpp"
#include "model/trainer.hpp"

using namespace flotilla;

namespace {
std::shared_ptr<const data::dataset> tiny_dataset(const test::temp_dir& dir) {
  test::write_bytes(dir.file("train-images-idx3-ubyte"), test::idx_images(64, 28, 28));
  test::write_bytes(dir.file("train-labels-idx1-ubyte"), test::idx_labels(64));
  test::write_bytes(dir.file("t10k-images-idx3-ubyte"), test::idx_images(16, 28, 28));
  test::write_bytes(dir.file("t10k-labels-idx1-ubyte"), test::idx_labels(16));
  return data::load_dataset({"mnist", dir.path().string(), 0});
}

std::vector<std::uint32_t> range(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}
} // namespace

TEST_CASE("training is deterministic in weights, data and seed") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer a("cnn"), b("cnn");
  auto w = model::initial_weights("cnn", 1);
  model::train_options opt;

  auto x = a.fit(w, ds->train, range(64), {}, opt, 5);
  auto y = b.fit(w, ds->train, range(64), {}, opt, 5);
  auto z = b.fit(w, ds->train, range(64), {}, opt, 6);

  CHECK(x.weights == y.weights);
  CHECK(x.weights != z.weights);
  CHECK(x.weights != w);
  CHECK(x.metrics.samples == 64);
  CHECK(x.metrics.cpu_seconds > 0);
}

TEST_CASE("a diverging training stops with a clear error") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer t("cnn");
  auto w = model::initial_weights("cnn", 1);
  w[0] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(t.fit(w, ds->train, range(64), {}, {}, 1),
                       "training diverged: loss is nan at epoch 1, batch 1; lower train.lr",
                       model::model_error);
}

TEST_CASE("cnn reaches 95% on real MNIST after one epoch on 10,000 images") {
  REQUIRE_MNIST();
  auto ds = data::load_dataset({"mnist", "data/mnist", 10000});
  model::trainer t("cnn");
  model::train_options opt;
  auto fit = t.fit(model::initial_weights("cnn", 42), ds->train, range(10000), {}, opt, 42);
  auto eval = t.evaluate(fit.weights, ds->test, {}, {});
  MESSAGE("test accuracy " << eval.accuracy << ", " << fit.metrics.samples / fit.metrics.seconds
                           << " samples/s");
  CHECK(eval.samples == 10000);
  CHECK(eval.accuracy >= 0.95);
}
