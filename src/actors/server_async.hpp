#pragma once
// A promoted cluster server under strategy.mode=buffered|async: each cluster round the coordinator
// asks for is one server step of the asynchronous engine (actors/async_steps), which keeps its
// fits in flight from one step to the next. Internal to the client actor (client.cpp).
#include "actors/client.hpp"
#include "actors/secure_round.hpp"

namespace flotilla::actors {

/// One cluster round as a server step: the next step among `ins.members`, evaluated on their
/// local splits as rounds.eval_every says; the result carries the fits still in flight.
caf::result<round_result> async_cluster_round(client_actor* self, const cluster_round_ins& ins);

/// privacy.secure_aggregation at this promoted server (its role's): `registration` is the
/// coordinator's for the round's model; the injected crash_in_secagg fault stops it before unmasking.
secure_setup server_secure_setup(client_actor* self, std::vector<std::uint8_t> registration);

/// Fault injection (kind inconsistent_model): the fit's model with one weight moved, as a server
/// mounting the model-inconsistency attack (Pasquini et al., CCS 2022) would send one member.
void inconsistent_model(fit_ins& f);

/// Why a promotion's fits in flight cannot be served (empty: they can).
std::string check_promoted_flights(const server_role& role, std::size_t parameters);

} // namespace flotilla::actors
