// TorchScript models (model.name=torchscript): modules built and saved here with libtorch's own
// scripting, so the test needs no Python; examples/models/ and tests/integration/script_models.sh
// cover files written by python3-torch.
#include <doctest/doctest.h>
#include <torch/script.h>

#include <fstream>
#include <numeric>
#include <thread>

#include "common/sha256.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "model/model_error.hpp"
#include "model/models.hpp"
#include "model/state_dict.hpp"
#include "model/trainer.hpp"

using namespace flotilla;

namespace {

using test::tiny_mnist;

// Logistic regression on the flattened image, with a BatchNorm1d in front when `norm`: its
// type's name says BatchNorm, as Python's nn.BatchNorm1d does once scripted.
void save_module(const std::string& path, std::int64_t classes, bool norm) {
  torch::manual_seed(3);
  torch::jit::Module m("__torch__.Net");
  m.register_parameter("weight", torch::randn({classes, 784}) * 0.01, false);
  m.register_parameter("bias", torch::zeros({classes}), false);
  if (norm) {
    torch::jit::Module bn("__torch__.torch.nn.modules.batchnorm.BatchNorm1d");
    bn.register_parameter("weight", torch::ones({784}), false);
    bn.register_parameter("bias", torch::zeros({784}), false);
    bn.register_buffer("running_mean", torch::zeros({784}));
    bn.register_buffer("running_var", torch::ones({784}));
    bn.register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
    if (!bn.hasattr("training"))
      bn.register_attribute("training", c10::BoolType::get(), true);
    bn.define(R"(
def forward(self, x):
    if self.training:
        self.num_batches_tracked.add_(1)
    return torch.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var, self.training, 0.1, 1e-5, False)
)");
    m.register_module("bn", bn);
    m.define(R"(
def forward(self, x):
    return torch.linear(self.bn.forward(x.flatten(1)), self.weight, self.bias)
)");
  } else {
    m.define(R"(
def forward(self, x):
    return torch.linear(x.flatten(1), self.weight, self.bias)
)");
  }
  m.save(path);
}

model::model_choice script_choice(const std::string& path, std::size_t classes = 10) {
  model::model_choice c("torchscript");
  c.file = path;
  c.classes = classes;
  return c;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint32_t> all(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

} // namespace

TEST_CASE("a TorchScript module trains like a built-in model, from its file's weights") {
  test::temp_dir dir;
  auto data = tiny_mnist(dir);
  auto path = dir.file("linear.pt");
  save_module(path, 10, false);
  auto choice = script_choice(path);
  auto spec = model::spec_of(choice);
  CHECK(spec.parameters == 7850);
  auto bytes = file_bytes(path);
  CHECK(spec.file_sha256 == sha256_hex(bytes.data(), bytes.size()));
  CHECK(spec.norm_ranges.empty());
  // The file's weights are the initial ones, whatever the seed.
  auto w0 = model::initial_weights(choice, 1);
  CHECK(w0 == model::initial_weights(choice, 2));
  CHECK(w0.size() == 7850);

  model::trainer t(choice), other(choice);
  auto before = other.evaluate(w0, data->test, {}, {}, {});
  model::train_options opt;
  opt.epochs = 3;
  opt.lr = 0.1;
  auto fit = t.fit(w0, data->train, all(64), {}, {}, opt, 7);
  CHECK(fit.weights != w0);
  CHECK(fit.metrics.samples == 3 * 64);
  // Each trainer owns its copy: training one leaves the other's module as it was.
  auto after = other.evaluate(w0, data->test, {}, {}, {});
  CHECK(after.loss == before.loss);
  // The same fit in another trainer gives the same weights, bit for bit.
  CHECK(other.fit(w0, data->train, all(64), {}, {}, opt, 7).weights == fit.weights);

  // models/*.pt: a state_dict under the module's own names, read back to the same buffer.
  auto sd = model::state_dict_bytes(choice, fit.weights);
  CHECK(model::weights_from_state_dict(choice, sd, "global.pt") == fit.weights);
  auto dict = torch::pickle_load(std::vector<char>(sd.begin(), sd.end())).toGenericDict();
  CHECK(dict.size() == 2);
  CHECK(dict.contains("weight"));
  CHECK(dict.contains("bias"));
}

TEST_CASE("BatchNorm: float buffers are federated, integer ones keep the file's value, FedBN's ranges are found") {
  test::temp_dir dir;
  auto data = tiny_mnist(dir);
  auto path = dir.file("norm.pt");
  save_module(path, 10, true);
  auto choice = script_choice(path);
  auto spec = model::spec_of(choice);
  // weight, bias, bn.weight, bn.bias, then the float buffers bn.running_mean, bn.running_var.
  CHECK(spec.parameters == 7850 + 4 * 784);
  REQUIRE(spec.norm_ranges.size() == 1);
  CHECK(spec.norm_ranges[0] == std::make_pair<std::size_t, std::size_t>(7850, 4 * 784));

  auto w0 = model::initial_weights(choice, 0);
  model::trainer t(choice);
  model::train_options opt;
  opt.epochs = 2;
  auto fit = t.fit(w0, data->train, all(64), {}, {}, opt, 1);
  // running_mean (after the parameters) moved with training: it travels in the flat buffer.
  auto mean_at = 7850 + 2 * 784;
  bool moved = false;
  for (std::size_t i = mean_at; i < mean_at + 784u; ++i)
    moved = moved || fit.weights[i] != 0.0f;
  CHECK(moved);
  auto sd = model::state_dict_bytes(choice, fit.weights);
  auto dict = torch::pickle_load(std::vector<char>(sd.begin(), sd.end())).toGenericDict();
  CHECK(dict.size() == 7); // strict=True in Python needs num_batches_tracked too
  REQUIRE(dict.contains("bn.num_batches_tracked"));
  CHECK(dict.at("bn.num_batches_tracked").toTensor().item<std::int64_t>() == 0);
  CHECK(model::weights_from_state_dict(choice, sd, "global.pt") == fit.weights);
  // eval() reaches the module: evaluation uses the running statistics and changes nothing.
  auto e1 = t.evaluate(fit.weights, data->test, {}, {}, {});
  auto e2 = t.evaluate(fit.weights, data->test, {}, {}, {});
  CHECK(e1.loss == e2.loss);
}

TEST_CASE("a module with Dropout trains the same in any trainer and thread: its draws are seeded per batch") {
  test::temp_dir dir;
  auto data = tiny_mnist(dir);
  auto path = dir.file("dropout.pt");
  {
    torch::manual_seed(3);
    torch::jit::Module m("__torch__.Net");
    m.register_parameter("weight", torch::randn({10, 784}) * 0.01, false);
    m.register_parameter("bias", torch::zeros({10}), false);
    if (!m.hasattr("training"))
      m.register_attribute("training", c10::BoolType::get(), true);
    m.define(R"(
def forward(self, x):
    return torch.linear(torch.dropout(x.flatten(1), 0.5, self.training), self.weight, self.bias)
)");
    m.save(path);
  }
  auto choice = script_choice(path);
  auto w0 = model::initial_weights(choice, 0);
  model::train_options opt;
  opt.epochs = 2;
  opt.batch_size = 8;
  model::trainer a(choice), b(choice);
  // Two fits at once on two threads, each against the other's draws from the one generator.
  model::fit_outcome fa, fb;
  std::thread t1([&] { fa = a.fit(w0, data->train, all(64), {}, {}, opt, 11); });
  std::thread t2([&] { fb = b.fit(w0, data->train, all(64), {}, {}, opt, 12); });
  t1.join();
  t2.join();
  CHECK(a.fit(w0, data->train, all(64), {}, {}, opt, 11).weights == fa.weights);
  CHECK(b.fit(w0, data->train, all(64), {}, {}, opt, 11).weights == fa.weights);
  CHECK(fb.weights != fa.weights); // another seed draws other masks: dropout is on, and seeded
  // Evaluation runs in eval mode: no dropout, the same result twice.
  CHECK(a.evaluate(fa.weights, data->test, {}, {}, {}).loss == b.evaluate(fa.weights, data->test, {}, {}, {}).loss);
}

TEST_CASE("a lone last sample joins the batch before it, so BatchNorm can train on every client") {
  test::temp_dir dir;
  auto data = tiny_mnist(dir);
  auto path = dir.file("norm33.pt");
  save_module(path, 10, true);
  model::trainer t(script_choice(path));
  model::train_options opt;
  opt.batch_size = 32;
  auto w0 = model::initial_weights(script_choice(path), 0);
  // 33 samples: batches of 32 and 1 would fail in BatchNorm's training mode.
  std::vector<std::uint32_t> rows(33);
  std::iota(rows.begin(), rows.end(), 0u);
  auto fit = t.fit(w0, data->train, rows, {}, {}, opt, 1);
  CHECK(fit.metrics.samples == 33);
  CHECK_THROWS_WITH_AS(t.fit(w0, data->train, {0}, {}, {}, opt, 1), doctest::Contains("a single training sample"),
                       model::model_error);
}

TEST_CASE("tied weights are one weight: federated once, written under both names") {
  test::temp_dir dir;
  auto data = tiny_mnist(dir);
  auto path = dir.file("tied.pt");
  {
    torch::manual_seed(3);
    auto w = torch::randn({10, 784}) * 0.01;
    torch::jit::Module m("__torch__.Net");
    m.register_parameter("encoder", w, false);
    m.register_parameter("decoder", w, false); // the same tensor, as `self.decoder = self.encoder`
    m.register_parameter("bias", torch::zeros({10}), false);
    m.define(R"(
def forward(self, x):
    return torch.linear(x.flatten(1), self.encoder, self.bias) + torch.linear(x.flatten(1), self.decoder, self.bias)
)");
    m.save(path);
  }
  auto choice = script_choice(path);
  CHECK(model::spec_of(choice).parameters == 7850);
  auto w0 = model::initial_weights(choice, 0);
  model::trainer t(choice);
  auto fit = t.fit(w0, data->train, all(64), {}, {}, model::train_options{}, 1);
  auto sd = model::state_dict_bytes(choice, fit.weights);
  auto dict = torch::pickle_load(std::vector<char>(sd.begin(), sd.end())).toGenericDict();
  CHECK(dict.size() == 3);
  CHECK(torch::equal(dict.at("encoder").toTensor(), dict.at("decoder").toTensor()));
  CHECK(model::weights_from_state_dict(choice, sd, "global.pt") == fit.weights);
}

TEST_CASE("a module whose output is not [batch, classes] is refused naming both shapes") {
  test::temp_dir dir;
  auto path = dir.file("ten.pt");
  save_module(path, 10, false);
  CHECK_THROWS_WITH_AS(model::spec_of(script_choice(path, 7)),
                       doctest::Contains("returns [2, 10] for a [2, 1, 28, 28] batch of the data's samples; Flotilla "
                                         "needs [2, 7]"),
                       model::model_error);
  auto shape = script_choice(path);
  shape.channels = 3; // 3 x 28 x 28 flattens to 2352, not the module's 784
  CHECK_THROWS_WITH_AS(model::spec_of(shape), doctest::Contains("fails on a batch of the data's shape [2, 3, 28, 28]"),
                       model::model_error);
}

TEST_CASE("files that are not TorchScript modules are refused as model errors, without loading them") {
  test::temp_dir dir;
  auto good = dir.file("good.pt");
  save_module(good, 10, false);
  auto bytes = file_bytes(good);

  auto state_dict = dir.file("state_dict.pt");
  auto sd = model::state_dict_bytes("cnn", model::initial_weights("cnn", 1));
  test::write_bytes(state_dict, std::vector<unsigned char>(sd.begin(), sd.end()));
  CHECK_THROWS_WITH_AS(model::spec_of(script_choice(state_dict)), doctest::Contains("not a TorchScript module"),
                       model::model_error);

  auto truncated = dir.file("truncated.pt");
  test::write_bytes(truncated, std::vector<unsigned char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  CHECK_THROWS_AS(model::spec_of(script_choice(truncated)), model::model_error);

  auto junk = dir.file("junk.pt");
  test::write_bytes(junk, std::vector<unsigned char>(4096, 0x5a));
  CHECK_THROWS_AS(model::spec_of(script_choice(junk)), model::model_error);

  CHECK_THROWS_AS(model::spec_of(script_choice(dir.path().string())), model::model_error); // a directory
  CHECK_THROWS_AS(model::spec_of(script_choice("/dev/zero")), model::model_error);
  CHECK_THROWS_WITH_AS(model::spec_of(script_choice(dir.file("missing.pt"))), doctest::Contains("does not exist"),
                       model::model_error);
  CHECK_THROWS_WITH_AS(model::spec_of(script_choice("")), doctest::Contains("model.file"), model::model_error);
}
