#include "actors/secure_round.hpp"
#include "actors/secure_member.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "fl/seeds.hpp"

namespace flotilla::actors {

namespace sa = fl::secagg;

std::optional<unsigned> ring_bits(const std::vector<secure_member>& members) {
  // The sum's magnitude is at most the sum of the members' largest ones (< 2^bits each).
  unsigned __int128 bound = 0;
  for (const auto& m : members)
    bound += m.bits == 0 ? 0 : (static_cast<unsigned __int128>(1) << m.bits) - 1;
  if (bound >> 63)
    return std::nullopt;
  return sa::bits_for_sum(static_cast<std::uint64_t>(bound));
}

std::size_t share_group_size(std::size_t members) {
  std::size_t log2 = 0;
  while ((std::size_t{1} << log2) < members)
    ++log2;
  std::size_t k = std::max<std::size_t>(7, 2 * log2 + 1); // odd
  return members <= k ? 0 : k;
}

std::uint64_t secure_session(std::uint64_t seed, int phase, std::int64_t cluster, std::uint32_t round,
                             std::uint32_t term) {
  auto s = fl::splitmix64(seed ^ 0x5ec0a66000000000ULL);
  for (std::uint64_t v : {static_cast<std::uint64_t>(phase), static_cast<std::uint64_t>(cluster), std::uint64_t{round},
                          std::uint64_t{term}})
    s = fl::splitmix64(s + v);
  return s == 0 ? 1 : s;
}

std::uint64_t secure_session(std::uint64_t seed, const fl::round_record& header) {
  return secure_session(seed, header.phase == "initial" ? 0 : 1,
                        header.cluster == fl::no_cluster ? -1 : std::int64_t{header.cluster}, header.round,
                        header.term);
}

std::uint64_t buffered_fit_session(std::uint64_t seed, int phase, std::int64_t cluster, std::uint64_t version) {
  // Phases 2 and 3: no round's or step's session is one.
  return secure_session(seed, phase + 2, cluster, static_cast<std::uint32_t>(version),
                        static_cast<std::uint32_t>(version >> 32));
}

std::uint64_t buffered_fit_session(std::uint64_t seed, const fl::round_record& header, std::uint64_t version) {
  return buffered_fit_session(seed, header.phase == "initial" ? 0 : 1,
                              header.cluster == fl::no_cluster ? -1 : std::int64_t{header.cluster}, version);
}

void commit_held_fits(down_watch& watch, std::uint64_t session, const step_commit& step,
                      const std::map<std::uint32_t, std::pair<peer, std::vector<held_fit>>>& fits, double timeout_s,
                      std::function<void(commit_outcome)> done) {
  auto out = std::make_shared<commit_outcome>();
  auto bytes = std::make_shared<std::map<std::uint32_t, std::vector<std::uint8_t>>>();
  std::vector<peer> peers;
  for (const auto& [id, f] : fits) {
    peers.push_back(f.first);
    auto mine = step;
    mine.fits = f.second;
    (*bytes)[id] = encode_commit(mine);
    out->bytes_down += (*bytes)[id].size();
  }
  fan_out_hooks<secagg_msg> hooks;
  hooks.accept = [out, session](std::uint32_t id, secagg_msg& m) -> std::string {
    out->bytes_up += m.bytes.size();
    if (m.session != session || m.stage != commit_stage || m.bytes.size() != 1 || m.bytes[0] > 62)
      return "answered the commit of its held fits with session " + std::to_string(m.session) + " step " +
             std::to_string(m.stage) + " and " + std::to_string(m.bytes.size()) + " bytes";
    out->bits[id] = m.bytes[0];
    return {};
  };
  hooks.keep = false;
  fan_out<secagg_msg>(
    watch, peers, timeout_s,
    [session, bytes](const peer& p) {
      return std::make_tuple(secagg_atom::value, secagg_msg{session, commit_stage, bytes->at(p.id)});
    },
    [out, done](fan_in<secagg_msg>& in) {
      for (auto& f : in.failures) {
        out->bits.erase(f.id);
        f.reason = "could not commit its held update to the server step: " + f.reason;
        out->failed.push_back(std::move(f));
      }
      done(std::move(*out));
    },
    hooks);
}

std::vector<std::uint8_t> register_model(const fl::secagg::model_registrar& registrar, std::uint64_t session,
                                         const std::vector<float>& model) {
  auto sig = registrar.sign(session, model_digest(model));
  return {sig.begin(), sig.end()};
}

namespace {

using stage_requests = std::map<std::uint32_t, std::vector<std::uint8_t>>;

struct secure_run {
  explicit secure_run(sa::params p) : server(std::move(p)) {}
  sa::secagg_server server;
  std::uint64_t session = 0;
  double timeout_s = 0;
  std::function<bool(std::uint8_t)> before_stage;
  down_watch* watch = nullptr;
  std::map<std::uint32_t, secure_member> members;
  std::map<std::uint32_t, std::string> dropped; ///< first reason each member fell out
  secure_outcome out;
  std::function<void(secure_outcome)> done;

  void drop(std::uint32_t id, std::string why) { dropped.emplace(id, std::move(why)); }
  void finish(std::string error) {
    out.error = std::move(error);
    for (const auto& [id, m] : members)
      if (!std::any_of(out.survivors.begin(), out.survivors.end(), [&](const secure_member& s) { return s.who.id == id; })) {
        auto it = dropped.find(id);
        if (it != dropped.end())
          out.dropped.push_back({id, it->second, std::nullopt});
        else
          out.dropped.push_back({id, "left out of the secure sum: " + out.error, std::nullopt, true});
      }
    auto d = std::move(done);
    d(std::move(out));
  }
};

const char* stage_name(std::uint8_t stage) {
  static const char* names[] = {"advertising keys", "sharing keys", "sending its masked input", "unmasking"};
  return stage < 4 ? names[stage] : "an unknown step";
}

// One protocol step: each member in `requests` gets its bytes; `take` feeds an answer to the
// aggregator's state machine (a throw drops that member); `next` runs once every request settled.
void stage(std::shared_ptr<secure_run> run, std::uint8_t step, stage_requests requests,
           std::function<void(std::uint32_t, const std::vector<std::uint8_t>&)> take, std::function<void()> next) {
  if (run->before_stage && !run->before_stage(step))
    return;
  std::vector<peer> peers;
  for (const auto& [id, bytes] : requests) {
    peers.push_back(run->members.at(id).who);
    run->out.bytes_down += bytes.size();
  }
  auto shared = std::make_shared<stage_requests>(std::move(requests));
  fan_out_hooks<secagg_msg> hooks;
  hooks.keep = false;
  hooks.accept = [run, step, take](std::uint32_t id, secagg_msg& m) -> std::string {
    run->out.bytes_up += m.bytes.size();
    if (m.session != run->session || m.stage != step)
      return "answered session " + std::to_string(m.session) + " step " + std::to_string(m.stage) + " while " +
             stage_name(step);
    try {
      take(id, m.bytes);
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  };
  fan_out<secagg_msg>(
    *run->watch, peers, run->timeout_s,
    [run, step, shared](const peer& p) {
      return std::make_tuple(secagg_atom::value, secagg_msg{run->session, step, shared->at(p.id)});
    },
    [run, step, next](fan_in<secagg_msg>& in) {
      for (const auto& f : in.failures)
        run->drop(f.id, std::string("dropped out of secure aggregation while ") + stage_name(step) + ": " + f.reason);
      try {
        next();
      } catch (const std::exception& e) { // too few left at some stage, or shares that disagree
        run->finish(e.what());
      }
    },
    hooks);
}

// An answer must come from the member it names: the aggregator would otherwise let one member
// speak for another.
void check_sender(std::uint32_t id, std::uint32_t named) {
  if (id != named)
    throw sa::protocol_error("secagg: client " + std::to_string(id) + " answered as member " + std::to_string(named));
}

// Takes a member's answer of type M: decoded as hostile bytes, from the member it names.
template <class M>
std::function<void(std::uint32_t, const std::vector<std::uint8_t>&)> answers(std::shared_ptr<secure_run> run) {
  return [run](std::uint32_t id, const std::vector<std::uint8_t>& b) {
    auto m = M::from_bytes(b);
    check_sender(id, m.member);
    run->server.receive(m);
  };
}

stage_requests to_each(const std::vector<std::uint32_t>& ids, const std::vector<std::uint8_t>& bytes) {
  stage_requests r;
  for (auto id : ids)
    r.emplace(id, bytes);
  return r;
}

} // namespace

void run_secure_sum(down_watch& watch, const secure_setup& setup, std::uint64_t session,
                    std::vector<secure_member> members, std::size_t length, const sa::digest32& model_hash,
                    double timeout_s, std::function<void(secure_outcome)> done) {
  sa::params p;
  for (const auto& m : members)
    p.members.push_back(m.who.id);
  p.length = length;
  p.neighbours = share_group_size(members.size());
  p.model_hash = model_hash;
  p.min_members = setup.min_members;
  // The round context binds keys, masks and SecAgg+'s ring to this session; it needs to be
  // unique, not secret (the masks' secrecy is in the members' fresh X25519 keys).
  p.round_context = round_context_of(session);
  auto fail = [&](std::string why) {
    secure_outcome out;
    out.error = std::move(why);
    for (const auto& m : members)
      out.dropped.push_back({m.who.id, "left out of the secure sum: " + out.error, std::nullopt, true});
    done(std::move(out));
  };
  auto bits = ring_bits(members);
  if (!bits)
    return fail("the members' contributions could exceed a 64-bit ring (a diverged round); not aggregated");
  if (sa::packed_bytes(length, *bits) > max_secagg_bytes)
    return fail("a masked input of " + std::to_string(length) + " weights at " + std::to_string(*bits) +
                " bits exceeds the " + std::to_string(max_secagg_bytes >> 20) +
                " MiB a secure aggregation message may carry; use a smaller model");
  p.bits = *bits;
  std::shared_ptr<secure_run> run;
  try {
    run = std::make_shared<secure_run>(p); // checks the roster: min_members, ids, bits, length
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  run->session = session;
  run->timeout_s = timeout_s;
  run->before_stage = setup.before_stage;
  run->watch = &watch;
  run->done = std::move(done);
  run->out.bits = p.bits;
  for (auto& m : members)
    run->members.emplace(m.who.id, std::move(m));
  auto setup_bytes = sa::round_setup{p}.to_bytes();
  stage(run, 0, to_each(p.members, setup_bytes), answers<sa::advertise_keys>(run),
    [run] {
      auto keys = run->server.close_advertise();
      std::vector<std::uint32_t> u1;
      for (const auto& k : keys.members)
        u1.push_back(k.member);
      stage(run, 1, to_each(u1, keys.to_bytes()), answers<sa::share_keys>(run),
        [run] {
          stage_requests routed;
          for (const auto& [id, r] : run->server.close_share_keys())
            routed.emplace(id, r.to_bytes());
          stage(run, 2, std::move(routed), answers<sa::masked_input>(run),
            [run] {
              auto request = run->server.close_masked_input();
              stage(run, 3, to_each(request.survivors, request.to_bytes()), answers<sa::unmask_response>(run),
                [run] {
                  auto ring = run->server.finish();
                  run->out.sum.resize(ring.size());
                  for (std::size_t i = 0; i < ring.size(); ++i)
                    run->out.sum[i] = sa::from_ring(ring[i], run->out.bits);
                  for (auto id : run->server.survivors())
                    run->out.survivors.push_back(run->members.at(id));
                  run->finish({});
                });
            });
        });
    });
}

} // namespace flotilla::actors
