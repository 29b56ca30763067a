#include <doctest/doctest.h>

#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "model/model_error.hpp"
#include "model/model_spec.hpp"
#include "model/models.hpp"
#include "model/torch_version.hpp"
#include "model/trainer.hpp"
#include "model/weights.hpp"

using namespace flotilla;

TEST_CASE("registered models have their documented sizes and output shapes") {
  SUBCASE("cnn") {
    auto net = model::make_model("cnn");
    CHECK(model::parameter_count(*net) == 80202);
    CHECK(net->forward(torch::zeros({3, 1, 28, 28})).sizes() == torch::IntArrayRef{3, 10});
  }
  SUBCASE("mcmahan_cnn is exactly McMahan et al.'s 1,663,370 parameters") {
    auto net = model::make_model("mcmahan_cnn");
    CHECK(model::parameter_count(*net) == 1663370);
    CHECK(net->forward(torch::zeros({2, 1, 28, 28})).sizes() == torch::IntArrayRef{2, 10});
  }
  SUBCASE("cifar_cnn takes 32x32 RGB") {
    auto spec = model::spec_of("cifar_cnn");
    CHECK(spec.channels == 3);
    CHECK(spec.height == 32);
    auto net = model::make_model("cifar_cnn");
    CHECK(net->forward(torch::zeros({2, 3, 32, 32})).sizes() == torch::IntArrayRef{2, 10});
  }
  CHECK_THROWS_WITH_AS(model::make_model("resnet"), "unknown model 'resnet' (known: cnn, mcmahan_cnn, cifar_cnn, wide_mlp, mclr, mlp, torchscript)",
                       model::model_error);
}

TEST_CASE("every registered model takes its spec's input shape and gives 10 logits") {
  CHECK(model::model_names() ==
        std::vector<std::string>{"cnn", "mcmahan_cnn", "cifar_cnn", "wide_mlp", "mclr", "mlp", "torchscript"});
  for (const auto& name : model::model_names()) {
    CAPTURE(name);
    if (name == "torchscript")
      continue; // a file's module: unit-script-model
    model::model_choice choice(name);
    if (name == "mlp")
      choice.hidden = {200, 200};
    auto spec = model::spec_of(choice);
    auto net = model::make_model(choice);
    CHECK(spec.name == name);
    CHECK(!spec.description.empty());
    CHECK(spec.parameters == model::parameter_count(*net));
    CHECK(spec.layout == model::layout_id(*net));
    auto x = torch::zeros({2, static_cast<long>(spec.channels), static_cast<long>(spec.height),
                           static_cast<long>(spec.width)});
    CHECK(net->forward(x).sizes() == torch::IntArrayRef{2, 10});
  }
  CHECK_THROWS_WITH_AS(model::spec_of("resnet"), "unknown model 'resnet' (known: cnn, mcmahan_cnn, cifar_cnn, wide_mlp, mclr, mlp, torchscript)",
                       model::model_error);
}

TEST_CASE("models take the data's classes; mclr and mlp any sample shape") {
  model::model_choice cnn("cnn");
  cnn.classes = 62; // FEMNIST
  CHECK(model::make_model(cnn)->forward(torch::zeros({2, 1, 28, 28})).sizes() == torch::IntArrayRef{2, 62});
  CHECK(model::spec_of(cnn).parameters == 80202 + 52 * 129);
  model::model_choice mclr("mclr");
  mclr.channels = mclr.height = 1;
  mclr.width = 60;
  CHECK(model::spec_of(mclr).parameters == 60 * 10 + 10);
  CHECK(model::make_model(mclr)->forward(torch::zeros({4, 1, 1, 60})).sizes() == torch::IntArrayRef{4, 10});
  model::model_choice mlp = mclr;
  mlp.name = "mlp";
  mlp.hidden = {32, 16};
  mlp.classes = 5;
  CHECK(model::spec_of(mlp).parameters == (60 * 32 + 32) + (32 * 16 + 16) + (16 * 5 + 5));
  CHECK(mlp.describe() == "mlp (1x1x60 -> 32 -> 16 -> 5)");
  // Distinct choices are distinct cache entries.
  CHECK(model::spec_of(mlp).layout != model::spec_of(mclr).layout);
  // Refusals say what to do.
  model::model_choice wrong("cnn");
  wrong.width = 60;
  wrong.height = 1;
  CHECK_THROWS_WITH_AS(model::spec_of(wrong), "model cnn takes 1x28x28 samples, not 1x1x60; use mclr or mlp for other shapes",
                       model::model_error);
  mlp.hidden.clear();
  CHECK_THROWS_WITH_AS(model::spec_of(mlp), "model mlp needs hidden layer sizes: set model.hidden, e.g. [200, 200]",
                       model::model_error);
  CHECK(model::takes_input("mlp", 3, 7, 9));
  CHECK_FALSE(model::takes_input("cifar_cnn", 1, 28, 28));
  CHECK(model::input_text("mclr") == "any");
}

TEST_CASE("flat weights round-trip through a model") {
  auto a = model::make_model("cnn");
  auto b = model::make_model("cnn");
  auto flat = model::flatten(*a);
  REQUIRE(flat.size() == 80202);
  model::load_flat(*b, flat.data(), flat.size(), model::layout_id(*a));
  CHECK(model::flatten(*b) == flat);
  auto x = torch::randn({4, 1, 28, 28});
  CHECK(torch::equal(a->forward(x), b->forward(x)));
}

TEST_CASE("a buffer for another model is refused") {
  auto cnn = model::make_model("cnn");
  auto big = model::flatten(*model::make_model("mcmahan_cnn"));
  CHECK_THROWS_WITH_AS(model::load_flat(*cnn, big.data(), big.size()),
                       "weight buffer has 1663370 floats but the model has 80202 parameters; it "
                       "belongs to another model",
                       model::model_error);
  auto own = model::flatten(*cnn);
  CHECK_THROWS_WITH_AS(model::load_flat(*cnn, own.data(), own.size(), /*layout=*/12345),
                       "weight buffer layout does not match the model's parameter shapes; it belongs "
                       "to another architecture of the same size",
                       model::model_error);
}

TEST_CASE("initial weights depend only on the seed") {
  CHECK(model::initial_weights("cnn", 3) == model::initial_weights("cnn", 3));
  CHECK(model::initial_weights("cnn", 3) != model::initial_weights("cnn", 4));
  CHECK(model::flatten(*model::make_model("cnn", 3)) == model::initial_weights("cnn", 3));
}

TEST_CASE("seeded builds stay deterministic while other threads build unseeded models") {
  auto expected = model::initial_weights("cnn", 7);
  std::atomic<bool> stop{false};
  std::thread noise([&] {
    while (!stop)
      model::make_model("cnn");
  });
  bool all_equal = true;
  for (int i = 0; i < 20; ++i)
    all_equal = all_equal && model::initial_weights("cnn", 7) == expected;
  stop = true;
  noise.join();
  CHECK(all_equal);
}

TEST_CASE("torch_version names the libtorch flotilla was built with") {
  auto v = model::torch_version();
  CHECK(v == std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                 std::to_string(TORCH_VERSION_PATCH));
}
