#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

/// The keys of a round's fit values (fl::fit_config::values) a client trains with: "epochs"
/// (a whole number, 1 to 1000), "lr" (above 0, at most 10), "proximal_mu" (0 to 100).
const std::vector<std::string>& fit_value_names();

/// `base` (the client's configured settings) with the round's `values` over it: each key
/// present replaces its setting, an absent one keeps it; proximal_mu absent is 0 (plain SGD),
/// as it is for a strategy that sends none. Throws model_error for a key the client does not
/// know or a value out of its range, so a strategy's knob cannot be silently dropped.
train_options with_fit_values(train_options base, const std::map<std::string, double>& values);

} // namespace flotilla::model
