#pragma once
#include <caf/all.hpp>

#include <memory>

#include "actors/handles.hpp"
#include "actors/node_context.hpp"

namespace flotilla::actors {

/// Spawns a node's training pool: `trainers` detached workers (one OS thread and one model
/// each, one torch thread each) behind a dispatcher that queues jobs and hands each to the
/// next idle worker. N clients never mean N threads, and a worker busy training for seconds
/// never blocks the scheduler threads that carry control messages.
///
/// Protocol (trainer_pool_handle, actors/handles.hpp): (train, client, fit_ins) -> fit_result
/// (an attacking client's update poisoned); (score, client, models) -> the loss of each model on
/// the client's train split; (assess, client | test_set, weight_blob) -> eval_result; a test-set
/// evaluation is split into one slice per worker, so it takes 1/trainers of the time.
trainer_pool_handle spawn_trainer_pool(caf::actor_system& sys, std::shared_ptr<const node_context> ctx,
                              std::uint32_t trainers);

} // namespace flotilla::actors
