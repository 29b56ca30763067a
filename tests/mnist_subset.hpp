#pragma once
// Real MNIST, cut down for behaviour checks on whole runs: the first `train` training images (as
// data.train_limit) and the first `test` test images. Every initial round and the final
// evaluation score the whole test set, so in these small runs the 10,000 test images cost more
// than the training; the checks that use this assert clusters, elections and accuracies with
// margins of tens of points, which 2,000 test images resolve (standard error under 1.2 points).
#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "data/dataset.hpp"

namespace flotilla::test {

inline std::shared_ptr<const data::dataset> mnist_subset(std::size_t train, std::size_t test) {
  static std::map<std::pair<std::size_t, std::size_t>, std::shared_ptr<const data::dataset>> loaded;
  auto& slot = loaded[{train, test}];
  if (!slot) {
    auto cut = std::make_shared<data::dataset>(*data::load_dataset({"mnist", "data/mnist", train}));
    auto& t = cut->test;
    t.count = std::min(t.count, test);
    t.pixels.resize(t.count * t.sample_size());
    t.labels.resize(t.count);
    slot = cut;
  }
  return slot;
}

} // namespace flotilla::test
