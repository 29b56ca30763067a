#pragma once
#include <cstddef>
#include <cstdint>

namespace flotilla::model {

/// The batch evaluation runs in. Measured on one core (bench/micro_training's `evaluate` sweep,
/// the cnn, 2026-12-05): 32 and 64 evaluate ~14.9k images/s, 128 only 2.9k, 500 3.7k (their
/// activations no longer fit the caches); docs/performance.md has the table.
inline constexpr std::size_t evaluation_batch = 64;

/// Local SGD settings for one training (a round may change them, e.g. lr or proximal_mu).
struct train_options {
  std::uint32_t epochs = 1;
  std::uint32_t batch_size = 32;
  double lr = 0.05;
  double momentum = 0.5;
  double weight_decay = 0.0;
  /// FedProx (Li et al. 2020): minimizes loss + mu/2 * |w - w_start|^2, w_start being the
  /// weights the training started from. 0 trains plain SGD; the reported loss never includes
  /// the proximal term.
  double proximal_mu = 0.0;
};

} // namespace flotilla::model
