#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/metrics.hpp"
#include "model/model_spec.hpp"
#include "model/train_options.hpp"

namespace flotilla::model {

/// Flat weights plus what the training that produced them measured.
struct fit_outcome {
  std::vector<float> weights;
  train_metrics metrics;
};

/// One model instance that trains and evaluates flat weight buffers. Torch stays behind this
/// facade so actors never include it. Not thread-safe: one trainer per thread.
class trainer {
public:
  explicit trainer(const model_choice& choice);
  ~trainer();
  trainer(trainer&&) noexcept;
  trainer& operator=(trainer&&) noexcept;

  const model_spec& spec() const;

  /// Loads `weights` (checked against the model), trains, returns the new weights. Pixels go
  /// through `pixel_map` and label y is trained as label_map[y]; empty maps change nothing.
  fit_outcome fit(const std::vector<float>& weights, const data::split& data,
                  const std::vector<std::uint32_t>& indices,
                  const std::vector<std::int32_t>& pixel_map,
                  const std::vector<std::int64_t>& label_map, const train_options& options,
                  std::uint64_t seed);

  /// Loads `weights` and evaluates them on `indices` (all samples when empty), through the
  /// same maps as fit.
  eval_metrics evaluate(const std::vector<float>& weights, const data::split& data,
                        const std::vector<std::uint32_t>& indices,
                        const std::vector<std::int32_t>& pixel_map,
                        const std::vector<std::int64_t>& label_map,
                        std::size_t batch_size = evaluation_batch);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Deterministic initial weights for a model: the same (choice, seed) gives the same buffer in
/// every process.
std::vector<float> initial_weights(const model_choice& choice, std::uint64_t seed);

/// Limits torch to one intra-op thread per trainer; call once before any torch work.
void configure_torch_threads(int threads);

} // namespace flotilla::model
