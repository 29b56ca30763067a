#pragma once
// FedBN's layers (model.buffers=local) as one client keeps them across a run: a version per
// round it trained, so that a round always starts from the layers of the rounds before it and a
// resume finds the layers its checkpoint stands for.
//
// Why versions: clusters run free, so a checkpoint holds every cluster at its own last recorded
// round while a member may already have trained the next one; and a round run again (its server
// lost) must start from the same layers as its first attempt. The history is written to a file
// of the client's own machine after every fit (runtime.client_state): the layers never leave it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace flotilla::fl {

/// A point of the run, ordered: initial round r is r, cluster round r (0: right after
/// selection) comes after every initial round.
std::uint64_t layer_step(const std::string& phase, std::uint32_t round);

class layer_history {
public:
  /// Versions of `floats` values each (the model's BatchNorm ranges, summed).
  explicit layer_history(std::size_t floats = 0) : floats_(floats) {}

  std::size_t floats() const { return floats_; }
  bool empty() const { return versions_.empty(); }
  std::size_t size() const { return versions_.size(); }

  /// The layers a fit at `step` starts from: the last version before it (none: the model's own).
  const std::vector<float>* before(std::uint64_t step) const;
  /// The layers of the last fit (evaluation, IFCA's losses).
  const std::vector<float>* latest() const;

  /// The layers a fit at `step` produced. A version at `step` is replaced (a round run again). Versions that no resume can need any more are dropped: every resume starts at
  /// or after `durable` (the last checkpoint written), so of the versions up to it only the last
  /// is kept. Throws std::invalid_argument when `layers` has the wrong size.
  void put(std::uint64_t step, std::vector<float> layers, std::uint64_t durable);

  /// A resume from a checkpoint at `step`: versions after it were made by rounds the checkpoint
  /// does not hold, and are dropped.
  void rewind(std::uint64_t step);

  /// The file form: a header, the versions, a SHA-256 of everything before it.
  std::string encode(std::uint32_t client) const;
  /// Reads encode()'s form for `client`, whose versions must have `floats` values. Every size is
  /// checked against `bytes` before anything is allocated. Throws std::invalid_argument saying
  /// what is wrong (a foreign or damaged file).
  static layer_history decode(const std::string& bytes, std::uint32_t client, std::size_t floats);

private:
  std::size_t floats_ = 0;
  std::map<std::uint64_t, std::vector<float>> versions_;
};

} // namespace flotilla::fl
