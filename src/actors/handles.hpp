#pragma once
// The typed interfaces of Flotilla's local actors (CAF 0.17 typed_actor): a request of the wrong
// shape to one of these handles does not compile, where to a plain caf::actor it would fail only
// at run time (an unexpected_message answer, or a requester waiting for its deadline). Each atom
// here carries one argument list.
#include <caf/all.hpp>

#include <cstdint>
#include <vector>

#include "actors/protocol.hpp"

namespace flotilla::actors {

// Trainer pool requests (the pool of the process the client lives in; actors/trainer_pool.hpp).
using train_atom = caf::atom_constant<caf::atom("train")>;   // client, fit_ins -> fit_result
using score_atom = caf::atom_constant<caf::atom("score")>;   // client, models -> loss of each on its train split
using assess_atom = caf::atom_constant<caf::atom("assess")>; // client | test_set, model -> eval_result
using slice_atom = caf::atom_constant<caf::atom("slice")>;   // begin, end, model -> eval_result (a worker's
                                                             // part of the test set)

/// A node's training pool: queues jobs for its workers.
using trainer_pool_handle =
  caf::typed_actor<caf::replies_to<train_atom, std::uint32_t, fit_ins>::with<fit_result>,
                   caf::replies_to<score_atom, std::uint32_t, std::vector<weight_blob>>::with<std::vector<double>>,
                   caf::replies_to<assess_atom, std::uint32_t, weight_blob>::with<eval_result>>;

/// One worker of the pool (a thread and a model): the pool's requests plus a slice of the test set.
using trainer_worker_handle =
  trainer_pool_handle::extend<caf::replies_to<slice_atom, std::uint32_t, std::uint32_t, weight_blob>::with<eval_result>>;

} // namespace flotilla::actors
