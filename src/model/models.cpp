#include "model/models.hpp"

#include <mutex>

#include "model/model_error.hpp"
#include "model/model_spec.hpp"
#include "model/weights.hpp"

namespace flotilla::model {

namespace nn = torch::nn;

namespace {

// ~80k parameters: small enough that a round over all of MNIST takes seconds on one core.
nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 16, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(16, 32, /*kernel_size=*/5)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(32 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, 10));
}

// McMahan et al. 2017, "CNN" for MNIST: 1,663,370 parameters.
nn::Sequential mcmahan_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/5).padding(2)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 7 * 7, 512), nn::ReLU(), nn::Linear(512, 10));
}

// Three 3x3 conv blocks for 32x32 RGB: ~190k parameters.
nn::Sequential cifar_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 32, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                        nn::Conv2d(nn::Conv2dOptions(64, 64, /*kernel_size=*/3).padding(1)), nn::ReLU(),
                        nn::MaxPool2d(nn::MaxPool2dOptions(2)), nn::Flatten(),
                        nn::Linear(64 * 4 * 4, 128), nn::ReLU(), nn::Linear(128, 10));
}

} // namespace

torch::nn::Sequential make_model(const std::string& name) {
  if (name == "cnn")
    return small_cnn();
  if (name == "mcmahan_cnn")
    return mcmahan_cnn();
  if (name == "cifar_cnn")
    return cifar_cnn();
  throw model_error("unknown model '" + name + "' (known: cnn, mcmahan_cnn, cifar_cnn)");
}

model_spec spec_of(const std::string& name) {
  auto net = make_model(name);
  model_spec spec;
  spec.name = name;
  if (name == "cifar_cnn") {
    spec.channels = 3;
    spec.height = spec.width = 32;
  }
  spec.parameters = parameter_count(*net);
  spec.layout = layout_id(*net);
  return spec;
}

} // namespace flotilla::model
