// The payload check live: through a guard with the default allowlist, real Flotilla requests,
// responses, errors and down messages pass both ways while hostile messages close the
// connection and the node lives on.
#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/all.hpp>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/errors.hpp"
#include "actors/protocol.hpp"
#include "net/basp_frame.hpp"
#include "net/basp_payload.hpp"
#include "net/guard.hpp"
#include "net/message_types.hpp"
#include "message_fixtures.hpp"
#include "net_fixtures.hpp"

using namespace flotilla;
using namespace flotilla::actors;
using namespace flotilla::test;
using net::basp_operation;
using net::payload_verdict;


namespace {

template <class T>
struct answer_tag {
  using type = T;
};

// The node side of the live test: answers Flotilla requests, and asks the peer's actor the
// other way round (so answers, errors and down messages come from the peer, through the guard).
struct node_state {
  std::string down_reason;
};

caf::behavior live_node(caf::stateful_actor<node_state>* self) {
  self->set_down_handler([=](caf::down_msg& dm) { self->state.down_reason = text_of(self->system(), dm.reason); });
  return {
    [=](fit_atom, const fit_ins& in) {
      fit_result r;
      r.round = in.config.round;
      r.weights = in.weights;
      return r;
    },
    [=](link_atom, const std::vector<std::string>& peers) { return static_cast<std::uint32_t>(peers.size()); },
    [=](setup_atom, const std::string&, const std::vector<std::uint32_t>& ids, const std::string&) {
      return std::vector<caf::actor>(ids.size(), caf::actor_cast<caf::actor>(self));
    },
    [=](teardown_atom) -> caf::result<std::uint32_t> { return make_error(errc::not_owner, "not yours"); },
    [=](cluster_round_atom, const cluster_round_ins& ins) {
      round_result r;
      r.record.round = ins.round;
      r.aggregator = self->address();
      return r;
    },
    // Asks the peer's actor for a fit (6.6 MB back through the guard) and for an evaluation
    // that fails; answers with the size and the error's text.
    [=](join_atom, caf::actor other) -> caf::result<std::uint32_t> {
      self->monitor(other);
      auto rp = self->make_response_promise<std::uint32_t>();
      fit_ins in{fl::fit_config{1, 1, 0.1, 0}, blob(1'650'000)};
      self->request(other, std::chrono::seconds(20), fit_atom::value, in)
        .then(
          [=](const fit_result& r) mutable {
            self->request(other, std::chrono::seconds(20), evaluate_atom::value, blob(1))
              .then([=](const eval_result&) mutable { rp.deliver(std::uint32_t{0}); },
                    [=](caf::error& e) mutable {
                      rp.deliver(text_of(self->system(), e) == "diverged" ? static_cast<std::uint32_t>(r.weights.size())
                                                                          : std::uint32_t{1});
                    });
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](caf::get_atom) { return self->state.down_reason; },
  };
}

// The peer side: trains (echoes the model), fails evaluations, and dies on demote with an
// errc reason (a down message with an error context crosses the guard).
caf::behavior live_peer(caf::event_based_actor* self) {
  return {
    [=](fit_atom, const fit_ins& in) {
      fit_result r;
      r.weights = in.weights;
      return r;
    },
    [=](evaluate_atom, const weight_blob&) -> caf::result<eval_result> {
      return make_error(errc::model_error, "diverged");
    },
    [=](demote_atom) { self->quit(make_error(errc::injected_fault, "client 3 crashed (injected)")); },
  };
}

} // namespace

TEST_CASE("live: Flotilla's messages pass a guard with the default allowlist both ways; hostile ones close") {
  proto_config node_cfg, peer_cfg;
  caf::actor_system node_sys{node_cfg}, peer_sys{peer_cfg};
  auto published = node_sys.spawn(live_node);
  net::guard_options options;
  std::mutex event_mutex;
  std::vector<std::string> events;
  options.on_event = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock{event_mutex};
    events.push_back(line);
  };
  auto guard = net::guard::start(node_sys, published, options);
  auto show_events = [&] {
    std::lock_guard<std::mutex> lock{event_mutex};
    std::string all;
    for (const auto& e : events)
      all += e + "\n";
    return all;
  };
  {
    auto remote = peer_sys.middleman().remote_actor("127.0.0.1", guard->port());
    REQUIRE_MESSAGE(remote, "remote_actor through the guard failed");
    caf::scoped_actor self{peer_sys};
    self->monitor(*remote); // a monitor_message through the guard
    // ask<T>(request...): the answer of type T, or the error's text.
    auto ask = [&](auto tag, auto... xs) {
      using answer_type = typename decltype(tag)::type;
      std::pair<std::optional<answer_type>, std::string> out;
      self->request(*remote, std::chrono::seconds(30), xs...)
        .receive([&](answer_type& x) { out.first = std::move(x); },
                 [&](caf::error& e) { out.second = text_of(peer_sys, e); });
      return out;
    };
    auto as = [](auto x) { return answer_tag<decltype(x)>{}; };
    // Requests node-bound, answers peer-bound.
    auto fit = ask(as(fit_result{}), fit_atom::value, fit_ins{fl::fit_config{5, 1, 0.1, 0}, blob(1'650'000)});
    CHECK_MESSAGE(fit.second.empty(), fit.second << "\n" << show_events());
    CHECK((fit.first && fit.first->round == 5 && fit.first->weights.size() == 1'650'000));
    auto linked = ask(as(std::uint32_t{}), link_atom::value, std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"});
    CHECK((linked.first && *linked.first == 2));
    auto set = ask(as(std::vector<caf::actor>{}), setup_atom::value, std::string("{}"),
                   std::vector<std::uint32_t>{0, 1, 2}, std::string("f"));
    CHECK((set.first && set.first->size() == 3));
    auto td = ask(as(std::uint32_t{}), teardown_atom::value);
    CHECK(td.second == "not yours");
    auto cr = ask(as(round_result{}), cluster_round_atom::value, cluster_round_ins{7, {peer{1, *remote}}});
    CHECK((cr.first && cr.first->record.round == 7));
    // The other way: the node asks the peer's actor; its answers and its error cross the guard.
    auto worker = peer_sys.spawn(live_peer);
    auto joined = ask(as(std::uint32_t{}), join_atom::value, worker);
    CHECK_MESSAGE(joined.second.empty(), joined.second << "\n" << show_events());
    CHECK((joined.first && *joined.first == 1'650'000));
    // The peer's actor dies with an errc reason: the down message crosses the guard.
    self->send(worker, demote_atom::value);
    bool seen = eventually(
      [&] {
        auto reason = ask(as(std::string{}), caf::get_atom::value);
        return reason.first && *reason.first == "client 3 crashed (injected)";
      },
      5.0);
    CHECK(seen);
    CHECK_MESSAGE(guard->stats().bad_frames == 0, show_events());
  }
  // Hostile messages after a valid handshake, to the published actor: each closes its
  // connection; the node (this process) survives and still answers.
  auto aid = published.id();
  std::vector<std::pair<std::string, bytes>> attacks = {
    {"charbuf 1 GiB", join(varint(0), raw_message("@charbuf", join(varint(1u << 30), bytes(16, 0))))},
    {"strvec 4 Mi", join(varint(0), raw_message("@strvec", join(varint(1u << 22), bytes(1u << 22, 0))))},
    {"nested 200,000", join(varint(0), nested(200000))},
  };
  std::uint32_t pid = 9000;
  for (const auto& [what, payload] : attacks) {
    CAPTURE(what);
    raw_peer attacker{guard->port()};
    REQUIRE(attacker.connected());
    auto hs = client_handshake_bytes(pid++);
    auto hdr = basp_header_bytes(basp_operation::direct_message, static_cast<std::uint32_t>(payload.size()), aid);
    bytes all(hs.begin(), hs.end());
    all.insert(all.end(), hdr.begin(), hdr.end());
    all.insert(all.end(), payload.begin(), payload.end());
    attacker.send(all); // may fail part-way: the guard closes as soon as it has seen enough
    CHECK(attacker.closed_within(5.0));
  }
  CHECK(eventually([&] { return guard->stats().bad_frames == attacks.size(); }, 2.0));
  {
    auto remote = peer_sys.middleman().remote_actor("127.0.0.1", guard->port());
    REQUIRE(remote);
    caf::scoped_actor self{peer_sys};
    bool ok = false;
    self->request(*remote, std::chrono::seconds(10), link_atom::value, std::vector<std::string>{})
      .receive([&](std::uint32_t n) { ok = n == 0; }, [](caf::error&) {});
    CHECK(ok);
  }
  guard->stop();
  caf::anon_send_exit(published, caf::exit_reason::user_shutdown);
}
