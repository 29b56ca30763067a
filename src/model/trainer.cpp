#include "model/trainer.hpp"

#include <dlfcn.h>

#include "model/models.hpp"
#include "model/train.hpp"
#include "model/weights.hpp"

namespace flotilla::model {

struct trainer::impl {
  torch::nn::Sequential net;
  model_spec spec;
};

trainer::trainer(const model_choice& choice) : impl_(std::make_unique<impl>()) {
  impl_->net = make_model(choice);
  impl_->spec = spec_of(choice);
}

trainer::~trainer() = default;
trainer::trainer(trainer&&) noexcept = default;
trainer& trainer::operator=(trainer&&) noexcept = default;

const model_spec& trainer::spec() const {
  return impl_->spec;
}

fit_outcome trainer::fit(const std::vector<float>& weights, const data::split& data,
                         const std::vector<std::uint32_t>& indices,
                         const std::vector<std::int32_t>& pixel_map,
                         const std::vector<std::int64_t>& label_map, const train_options& options,
                         std::uint64_t seed) {
  load_flat(*impl_->net, weights.data(), weights.size());
  fit_outcome out;
  out.metrics = train(impl_->net, data, indices, pixel_map, label_map, options, seed);
  out.weights = flatten(*impl_->net);
  return out;
}

eval_metrics trainer::evaluate(const std::vector<float>& weights, const data::split& data,
                               const std::vector<std::uint32_t>& indices,
                               const std::vector<std::int32_t>& pixel_map,
                               const std::vector<std::int64_t>& label_map, std::size_t batch_size) {
  load_flat(*impl_->net, weights.data(), weights.size());
  return model::evaluate(impl_->net, data, indices, pixel_map, label_map, batch_size);
}

std::vector<float> initial_weights(const model_choice& choice, std::uint64_t seed) {
  return flatten(*make_model(choice, seed));
}

void configure_torch_threads(int threads) {
  torch::set_num_threads(threads);
  // libtorch's set_num_threads does not reach OpenBLAS's own pool; when OpenBLAS is the BLAS
  // (install-deps.sh selects it), size its pool too, or every trainer spawns a thread per core.
  using setter = void (*)(int);
  if (auto f = reinterpret_cast<setter>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    f(threads);
}

} // namespace flotilla::model
