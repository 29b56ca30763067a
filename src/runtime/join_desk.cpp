#include "runtime/join_desk.hpp"

#include <memory>

#include "actors/errors.hpp"
#include "actors/exception_policy.hpp"
#include "actors/protocol.hpp"

namespace flotilla::runtime {

using namespace flotilla::actors;

caf::behavior join_desk(caf::event_based_actor* self, caf::actor coordinator, std::string config_json,
                        std::vector<std::uint32_t> late_ids, std::string fingerprint, std::string registrar_key) {
  self->set_default_handler(drop_unexpected);
  actors::end_on_exception(self, "flotilla.join_desk");
  auto left = std::make_shared<std::vector<std::uint32_t>>(std::move(late_ids));
  return {
    [=](join_atom, const caf::actor& manager) -> caf::result<std::uint32_t> {
      if (left->empty())
        return make_error(errc::node_busy, "no late clients are left to host in this run");
      if (!manager)
        return make_error(errc::config_error, "a join needs the node's manager");
      auto ids = std::move(*left);
      left->clear();
      auto rp = self->make_response_promise<std::uint32_t>();
      self->request(manager, std::chrono::minutes(5), setup_atom::value, config_json, ids, fingerprint, registrar_key)
        .then(
          [=](std::vector<caf::actor>& handles) mutable {
            std::vector<peer> peers;
            for (std::size_t i = 0; i < handles.size() && i < ids.size(); ++i)
              peers.push_back({ids[i], handles[i]});
            self->send(coordinator, arrived_atom::value, peers);
            rp.deliver(static_cast<std::uint32_t>(peers.size()));
          },
          [=](caf::error& err) mutable {
            *left = ids; // the next joiner may host them
            rp.deliver(std::move(err));
          });
      return rp;
    },
  };
}

} // namespace flotilla::runtime
