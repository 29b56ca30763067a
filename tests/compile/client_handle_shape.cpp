// Built twice by ctest (tests/CMakeLists.txt, compile-client-handle-*): with the right request
// it must compile, with WRONG_SHAPE (a fit request carrying a bare model instead of fit_ins, the
// kind of mistake that used to hang until a deadline) it must not. So the typed handle's check
// is itself tested, and a build break elsewhere cannot pass for it (the right shape must build).
#include <caf/all.hpp>

#include "actors/protocol.hpp"

using namespace flotilla::actors;

void ask(caf::event_based_actor* self, const client_handle& client) {
#ifdef WRONG_SHAPE
  self->request(client, caf::infinite, fit_atom::value, weight_blob{});
#else
  self->request(client, caf::infinite, fit_atom::value, fit_ins{});
#endif
}
