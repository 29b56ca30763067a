#pragma once
#include <map>
#include <string>

namespace flotilla::fl {

/// Which strategy aggregates and its knobs: the config `strategy` subtree as data. `knobs`
/// holds every numeric key of the subtree but `name` (server_lr, beta1, byzantine, ...), those
/// of the other strategies included; each strategy declares the knobs it reads (strategy.hpp:
/// knobs_of) and make_strategy checks them against the declaration. The whole subtree travels
/// to promoted servers as it is, so a knob cannot be lost on the way.
struct strategy_options {
  std::string name; ///< fedavg | fedavgm | fedprox | fedadagrad | fedadam | fedyogi | median | trimmed_mean | krum
  std::map<std::string, double> knobs;

  /// The knob `key`; throws strategy_error naming the strategy and the key when absent.
  double knob(const std::string& key) const;
  /// Whether `key` is set.
  bool has(const std::string& key) const { return knobs.count(key) > 0; }
};

} // namespace flotilla::fl
