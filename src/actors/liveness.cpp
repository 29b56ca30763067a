#include "actors/liveness.hpp"

#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "actors/errors.hpp"
#include "actors/protocol.hpp"

namespace flotilla::actors {

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

std::chrono::microseconds micros(double s) {
  return std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6));
}

} // namespace

caf::behavior liveness_probe(caf::event_based_actor* self, client_handle target, double interval_s, caf::actor owner) {
  self->monitor(owner);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == owner.address())
      self->quit();
  });
  // A server busy in a long step of its own (Krum or CFL over a large model) answers late, not
  // never: only this many unanswered pings in a row make it hung.
  auto misses = std::make_shared<int>(0);
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      self->request(target, caf::duration{micros(interval_s)}, ping_atom::value)
        .then(
          [=](ping_atom) {
            *misses = 0;
            self->delayed_send(self, micros(interval_s), tick_atom::value);
          },
          [=](caf::error& e) {
            if (e == caf::sec::request_timeout && ++*misses < liveness_misses) {
              self->send(self, tick_atom::value); // the next ping at once: this one took the interval
              return;
            }
            std::ostringstream wait;
            wait << interval_s;
            self->quit(e == caf::sec::request_timeout
                         ? make_error(errc::round_failed, "no answer to " + std::to_string(liveness_misses) +
                                                            " liveness checks in a row, each within " + wait.str() +
                                                            " s (runtime.liveness_s): hung")
                         : make_error(errc::round_failed, "liveness check: " + text_of(self->system(), e)));
          });
    },
  };
}

double cluster_round_deadline_s(double timeout_s, std::size_t participants, std::size_t model_floats,
                                std::size_t chunk_floats, std::size_t window, double chunk_timeout_s,
                                std::size_t secure_steps) {
  // fit, then evaluation of the new model; secure aggregation's steps between them
  double fan_outs = static_cast<double>(2 + secure_steps) * timeout_s;
  double transfers = 0;
  if (chunk_floats > 0 && model_floats > chunk_floats) {
    auto chunks = (model_floats + chunk_floats - 1) / chunk_floats;
    auto windows = (chunks + std::max<std::size_t>(1, window) - 1) / std::max<std::size_t>(1, window);
    transfers = static_cast<double>(participants * windows) * chunk_timeout_s;
  }
  return fan_outs + transfers + 5;
}

} // namespace flotilla::actors
