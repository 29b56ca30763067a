#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "model/model_error.hpp"
#include "model/trainer.hpp"

using namespace flotilla;

namespace {
std::shared_ptr<const data::dataset> tiny_dataset(const test::temp_dir& dir) {
  return test::tiny_mnist(dir);
}

std::vector<std::uint32_t> range(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    out[i] = a[i] - b[i];
  return out;
}

double norm(const std::vector<float>& v) {
  double sum = 0;
  for (auto x : v)
    sum += static_cast<double>(x) * x;
  return std::sqrt(sum);
}

// y -> (y + 1) % 10: every label becomes another one.
const std::vector<std::int64_t> shift_labels{1, 2, 3, 4, 5, 6, 7, 8, 9, 0};
const std::vector<std::int64_t> identity_labels{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
} // namespace

TEST_CASE("training is deterministic in weights, data and seed") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer a("cnn"), b("cnn");
  auto w = model::initial_weights("cnn", 1);
  model::train_options opt;

  auto x = a.fit(w, ds->train, range(64), {}, {}, opt, 5);
  auto y = b.fit(w, ds->train, range(64), {}, {}, opt, 5);
  auto z = b.fit(w, ds->train, range(64), {}, {}, opt, 6);

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
  CHECK_THROWS_WITH_AS(t.fit(w, ds->train, range(64), {}, {}, {}, 1),
                       "training diverged: loss is nan at epoch 1, batch 1; lower train.lr",
                       model::model_error);
}

TEST_CASE("a training that FedProx's term makes diverge names strategy.proximal_mu, not train.lr") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer t("cnn");
  auto w = model::initial_weights("cnn", 1);
  model::train_options opt;
  opt.lr = 0.05;
  opt.proximal_mu = 100; // lr x mu = 5: each step overshoots the global model fourfold
  opt.epochs = 10;
  CHECK_THROWS_WITH_AS(t.fit(w, ds->train, range(64), {}, {}, opt, 1),
                       "training diverged: loss is -nan at epoch 6, batch 1; lower strategy.proximal_mu (100): with "
                       "train.lr 0.05 FedProx's pull toward the global model steps lr x mu = 5 times the distance, "
                       "which overshoots; keep lr x mu well below 1",
                       model::model_error);
}

TEST_CASE("cnn reaches 95% on real MNIST after one epoch on 10,000 images") {
  REQUIRE_MNIST();
  auto ds = data::load_dataset({"mnist", "data/mnist", 10000});
  model::trainer t("cnn");
  model::train_options opt;
  auto fit = t.fit(model::initial_weights("cnn", 42), ds->train, range(10000), {}, {}, opt, 42);
  auto eval = t.evaluate(fit.weights, ds->test, {}, {}, {});
  MESSAGE("test accuracy " << eval.accuracy << ", " << fit.metrics.samples / fit.metrics.seconds
                           << " samples/s");
  CHECK(eval.samples == 10000);
  CHECK(eval.accuracy >= 0.95);

  SUBCASE("the identity label map changes nothing; a shifted one breaks the evaluation") {
    auto same = t.evaluate(fit.weights, ds->test, {}, {}, identity_labels);
    auto shifted = t.evaluate(fit.weights, ds->test, {}, {}, shift_labels);
    CHECK(same.accuracy == eval.accuracy);
    CHECK(same.loss == eval.loss);
    CHECK(shifted.accuracy < 0.05);
  }
}

TEST_CASE("a model trained through a label map learns the mapped labels") {
  REQUIRE_MNIST();
  auto ds = data::load_dataset({"mnist", "data/mnist", 3000});
  model::trainer t("cnn");
  auto fit = t.fit(model::initial_weights("cnn", 1), ds->train, range(3000), {}, shift_labels, {}, 1);
  auto as_mapped = t.evaluate(fit.weights, ds->test, {}, {}, shift_labels);
  auto as_stored = t.evaluate(fit.weights, ds->test, {}, {}, {});
  MESSAGE("accuracy on shifted labels " << as_mapped.accuracy << ", on true labels " << as_stored.accuracy);
  CHECK(as_mapped.accuracy > 0.8);
  CHECK(as_stored.accuracy < 0.05);
}

TEST_CASE("a label map that does not cover the labels is refused") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer t("cnn");
  auto w = model::initial_weights("cnn", 1);
  CHECK_THROWS_WITH_AS(t.fit(w, ds->train, {0, 1, 5}, {}, {0, 1, 2}, {}, 1),
                       "label_map has 3 entries but a sample has label 5; give one entry per class",
                       model::model_error);
  CHECK_THROWS_WITH_AS(t.evaluate(w, ds->test, {}, {}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 10}),
                       "label_map[9] = 10 is not a class; entries must be 0 to 9 (one entry per class)",
                       model::model_error);
}

TEST_CASE("FedProx adds mu * (w - w_start) to the gradient") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer t("cnn");
  auto w0 = model::initial_weights("cnn", 1);
  // Full-batch SGD without momentum: the first step cannot see the proximal term (w = w_start),
  // the second sees exactly mu * (w1 - w0), so the two runs differ by lr * mu * (w1 - w0).
  model::train_options opt;
  opt.batch_size = 64;
  opt.momentum = 0;
  opt.lr = 0.1;
  auto w1 = t.fit(w0, ds->train, range(64), {}, {}, opt, 3).weights;
  opt.epochs = 2;
  auto plain = t.fit(w0, ds->train, range(64), {}, {}, opt, 3).weights;
  opt.proximal_mu = 4;
  auto prox = t.fit(w0, ds->train, range(64), {}, {}, opt, 3).weights;

  auto expected = minus(w1, w0);
  for (auto& x : expected)
    x *= static_cast<float>(opt.lr * opt.proximal_mu);
  auto difference = minus(plain, prox);
  REQUIRE(norm(expected) > 0);
  CHECK(norm(minus(difference, expected)) < 1e-3 * norm(expected));
}

TEST_CASE("FedProx keeps training closer to its start; mu = 0 is plain SGD") {
  test::temp_dir dir;
  auto ds = tiny_dataset(dir);
  model::trainer t("cnn");
  auto w0 = model::initial_weights("cnn", 1);
  model::train_options opt;
  opt.epochs = 5;
  auto plain = t.fit(w0, ds->train, range(64), {}, {}, opt, 9);
  auto zero = opt;
  zero.proximal_mu = 0;
  auto same = t.fit(w0, ds->train, range(64), {}, {}, zero, 9);
  auto prox_opt = opt;
  prox_opt.proximal_mu = 1;
  auto prox = t.fit(w0, ds->train, range(64), {}, {}, prox_opt, 9);

  CHECK(same.weights == plain.weights);
  CHECK(same.metrics.loss == plain.metrics.loss);
  MESSAGE("|w - w0|: plain " << norm(minus(plain.weights, w0)) << ", mu=1 " << norm(minus(prox.weights, w0)));
  CHECK(norm(minus(prox.weights, w0)) < 0.9 * norm(minus(plain.weights, w0)));

  prox_opt.proximal_mu = -0.5;
  CHECK_THROWS_WITH_AS(t.fit(w0, ds->train, range(64), {}, {}, prox_opt, 9),
                       "proximal_mu is -0.500000; it must be 0 (plain SGD) or more (FedProx)",
                       model::model_error);
}

TEST_CASE("a round's fit values go over the client's settings by name; unknown or out of range are refused") {
  model::train_options base;
  base.epochs = 3;
  base.lr = 0.05;
  base.proximal_mu = 0.7; // never the client's own: a strategy that sends none trains plain SGD
  auto same = model::with_fit_values(base, {});
  CHECK(same.epochs == 3);
  CHECK(same.lr == 0.05);
  CHECK(same.proximal_mu == 0);
  auto o = model::with_fit_values(base, {{"epochs", 2}, {"lr", 0.01}, {"proximal_mu", 0.25}});
  CHECK(o.epochs == 2);
  CHECK(o.lr == 0.01);
  CHECK(o.proximal_mu == 0.25);
  CHECK(o.batch_size == base.batch_size);
  CHECK(model::fit_value_names() == std::vector<std::string>{"epochs", "lr", "proximal_mu"});
  CHECK_THROWS_WITH_AS(model::with_fit_values(base, {{"momentum", 0.9}}),
                       "fit config value 'momentum' is not one this client trains with; known: epochs, lr, proximal_mu",
                       model::model_error);
  CHECK_THROWS_WITH_AS(model::with_fit_values(base, {{"epochs", 1.5}}),
                       "fit config value 'epochs' = 1.5 is out of range; allowed: a whole number, 1 to 1000",
                       model::model_error);
  CHECK_THROWS_WITH_AS(model::with_fit_values(base, {{"proximal_mu", -1}}),
                       "fit config value 'proximal_mu' = -1 is out of range; allowed: 0 to 100", model::model_error);
  CHECK_THROWS_AS(model::with_fit_values(base, {{"lr", 0}}), model::model_error);
}
