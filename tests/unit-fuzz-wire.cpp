// Hostile bytes through CAF's binary_deserializer into every protocol type and into whole
// caf::messages, as a node's BASP worker would meet them: random bytes, valid serializations
// truncated, flipped and with length fields replaced. Each must give an error or a value:
// never a crash, never an exception, and never an allocation out of proportion to the bytes
// given (a length field is a claim, not a fact). Seeds are fixed.
#include <doctest/doctest.h>

#include <caf/io/all.hpp>
#include <caf/proxy_registry.hpp>
#include <caf/scoped_execution_unit.hpp>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <random>
#include <sstream>

#include "actors/protocol.hpp"
#include "child_process.hpp"
#include "runtime/actor_system_setup.hpp"

// Every allocation of this executable passes here; only the thread that decodes counts (CAF's
// own threads keep allocating meanwhile). Requests above `refuse_above` throw bad_alloc
// instead of being served, so a 4 GiB claim is seen without touching 4 GiB.
#include "allocation_probe.hpp"
#include "net/basp_frame.hpp"
#include "net/basp_payload.hpp"
#include "net/message_types.hpp"

using namespace flotilla::test;

using namespace flotilla;
using namespace flotilla::actors;
using bytes = std::vector<char>;

namespace {

// Whether a node's guard refuses `message` as the payload of a direct message (an empty
// forwarding stack, then the message), from its leading bytes as the guard reads them.
bool guard_refuses(const bytes& message) {
  std::vector<std::uint8_t> payload{0};
  payload.insert(payload.end(), message.begin(), message.end());
  auto window = std::min<std::size_t>(payload.size(), 4096);
  auto v = net::check_payload(static_cast<std::uint8_t>(net::basp_operation::direct_message), payload.data(), window,
                              payload.size(), net::message_allowlist::flotilla());
  return v.result == net::payload_verdict::refuse;
}

// The most one decode may allocate in all, for an input of n bytes: a small multiple of the
// input and a little fixed overhead (type names, a message's bookkeeping).
std::size_t allowance(std::size_t n) {
  return 16 * n + (64u << 10);
}

struct decoded {
  bool ok = false;          ///< a value came out
  std::string error;        ///< CAF's error, rendered, when not
  std::string exception;    ///< what escaped the deserializer (a failure)
  std::size_t largest = 0;  ///< largest single allocation
  std::size_t total = 0;    ///< all allocations together
};

// Handles of remote actors decode to nothing here (BASP would make a proxy of the peer's node).
struct no_proxies final : caf::proxy_registry::backend {
  caf::strong_actor_ptr make_proxy(caf::node_id, caf::actor_id) override { return nullptr; }
  void set_last_hop(caf::node_id*) override {}
};

struct wire_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  no_proxies backend;
  std::unique_ptr<caf::proxy_registry> proxies;
  std::unique_ptr<caf::scoped_execution_unit> context; // what a BASP worker decodes with
  caf::actor someone; // a local actor for handles inside messages

  wire_system() {
    config::runtime_options rt;
    rt.heartbeat_s = 0;
    runtime::configure_actor_system(cfg, rt);
    sys = std::make_unique<caf::actor_system>(cfg);
    proxies = std::make_unique<caf::proxy_registry>(*sys, backend);
    context = std::make_unique<caf::scoped_execution_unit>(sys.get());
    context->proxy_registry_ptr(proxies.get());
    someone = sys->spawn([](caf::event_based_actor*) -> caf::behavior { return {[](int) {}}; });
  }
  ~wire_system() {
    caf::anon_send_exit(someone, caf::exit_reason::user_shutdown);
    someone = nullptr;
    context.reset();
    proxies.reset();
  }
};

// The system of the running test case (an actor_system must not outlive main: CAF 0.17's
// destructor then touches freed state).
wire_system* current = nullptr;

wire_system& wire() {
  REQUIRE(current != nullptr);
  return *current;
}

struct wire_fixture {
  wire_system system;
  wire_fixture() { current = &system; }
  ~wire_fixture() { current = nullptr; }
};

template <class T>
bytes encode(T x) {
  bytes buf;
  caf::binary_serializer sink{wire().context.get(), buf};
  auto err = sink(x);
  REQUIRE_MESSAGE(!err, wire().sys->render(err));
  return buf;
}

template <class T>
decoded decode(const bytes& buf) {
  decoded out;
  auto value = std::make_unique<T>();
  caf::binary_deserializer source{wire().context.get(), buf};
  largest_request = 0;
  total_requested = 0;
  tracking = true;
  try {
    auto err = source(*value);
    out.ok = !err;
    if (err)
      out.error = wire().sys->render(err);
  } catch (const std::bad_alloc&) {
    out.exception = "std::bad_alloc";
  } catch (const std::exception& e) {
    out.exception = std::string("exception: ") + e.what();
  } catch (...) {
    out.exception = "non-standard exception";
  }
  tracking = false;
  out.largest = largest_request;
  out.total = total_requested;
  return out;
}

std::size_t pick(std::mt19937_64& rng, std::size_t n) {
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
}

// Length claims as CAF 0.17's varint writes them (at most 32 bits; a longer varint is decoded
// with shifts past 32, so it claims whatever those wrap to).
const std::vector<bytes>& claims() {
  static const std::vector<bytes> v = {
    {'\x7f'},                                             // 127
    {'\xff', '\xff', '\x03'},                             // 65535
    {'\xff', '\xff', '\xff', '\x7f'},                     // 2^28 - 1: max_blob_floats - 1
    {'\x80', '\x80', '\x80', '\x80', '\x01'},             // 2^28: max_blob_floats
    {'\xff', '\xff', '\xff', '\xff', '\x0f'},             // 2^32 - 1
    {'\x80', '\x80', '\x80', '\x80', '\x80', '\x20'},     // "2^40" (wraps in 0.17's decoder)
    {'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\x01'}, // a 10-byte varint
  };
  return v;
}

// Mutations of a valid serialization, each named for the report.
std::vector<std::pair<std::string, bytes>> mutations(const bytes& valid, std::mt19937_64& rng) {
  std::vector<std::pair<std::string, bytes>> out;
  auto positions = [&](std::size_t limit) {
    std::vector<std::size_t> p;
    if (valid.size() <= limit) {
      for (std::size_t i = 0; i < valid.size(); ++i)
        p.push_back(i);
    } else {
      for (std::size_t i = 0; i < 64; ++i)
        p.push_back(i);
      for (std::size_t i = 0; i < limit - 64; ++i)
        p.push_back(pick(rng, valid.size()));
    }
    return p;
  };
  for (auto i : positions(256))
    out.emplace_back("truncated to " + std::to_string(i), bytes(valid.begin(), valid.begin() + static_cast<long>(i)));
  for (auto i : positions(256)) {
    for (char b : {'\x00', '\xff', '\x80', static_cast<char>(rng())}) {
      auto m = valid;
      m[i] = b;
      out.emplace_back("byte " + std::to_string(i) + " set to " + std::to_string(static_cast<unsigned char>(b)), m);
    }
  }
  for (auto i : positions(128)) {
    for (std::size_t c = 0; c < claims().size(); ++c) {
      auto m = valid;
      const auto& claim = claims()[c];
      for (std::size_t k = 0; k < claim.size() && i + k < m.size(); ++k)
        m[i + k] = claim[k];
      out.emplace_back("claim " + std::to_string(c) + " written at " + std::to_string(i), m);
      auto ins = valid;
      ins.insert(ins.begin() + static_cast<long>(i), claim.begin(), claim.end());
      out.emplace_back("claim " + std::to_string(c) + " inserted at " + std::to_string(i), ins);
    }
  }
  for (int k = 0; k < 64; ++k) {
    auto m = valid;
    for (int j = 0, n = 1 + static_cast<int>(pick(rng, 8)); j < n && !m.empty(); ++j)
      m[pick(rng, m.size())] = static_cast<char>(rng());
    out.emplace_back("random bytes changed (" + std::to_string(k) + ")", m);
  }
  auto longer = valid;
  for (int k = 0; k < 64; ++k)
    longer.push_back(static_cast<char>(rng()));
  out.emplace_back("garbage appended", longer);
  return out;
}

// Feeds valid samples, their mutations and random bytes to T's deserializer; checks each.
template <class T>
void fuzz_type(const std::string& name, const std::vector<T>& samples, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t cases = 0, values = 0, failures = 0;
  std::ostringstream report;
  auto judge = [&](const std::string& what, const bytes& input) {
    auto d = decode<T>(input);
    ++cases;
    values += d.ok;
    std::string fault;
    if (!d.exception.empty())
      fault = d.exception;
    else if (d.largest > allowance(input.size()) || d.total > allowance(input.size()))
      fault = "allocated " + std::to_string(d.total) + " bytes (largest " + std::to_string(d.largest) + ") for " +
              std::to_string(input.size()) + " input bytes";
    if (!fault.empty() && failures++ < 5)
      report << "\n  " << name << ", " << what << " (" << input.size() << " bytes): " << fault
             << (d.largest > refuse_above ? " [request refused by the test's operator new]" : "");
  };
  for (const auto& s : samples) {
    auto valid = encode(s);
    auto back = decode<T>(valid);
    CHECK_MESSAGE(back.ok, name << ": a valid serialization does not decode: " << back.error << back.exception);
    for (const auto& [what, m] : mutations(valid, rng))
      judge(what, m);
  }
  for (int k = 0; k < 2000; ++k) {
    bytes b(pick(rng, 300));
    for (auto& c : b)
      c = static_cast<char>(rng());
    judge("random bytes", b);
  }
  MESSAGE(name << ": " << cases << " inputs, " << values << " decoded to a value");
  CHECK_MESSAGE(failures == 0, failures << " of " << cases << " inputs failed; first ones:" << report.str());
}

weight_blob blob(std::size_t n, std::uint64_t layout = 7) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(i) * 0.25f - 1.0f;
  return weight_blob{layout, std::move(v)};
}

fl::strategy_state state(std::size_t buffers, std::size_t n) {
  fl::strategy_state s;
  s.strategy = "fedadam";
  s.steps = 3;
  for (std::size_t i = 0; i < buffers; ++i)
    s.buffers.push_back(blob(n).values());
  return s;
}

fl::round_record record() {
  fl::round_record r;
  r.phase = "cluster";
  r.round = 2;
  r.cluster = 1;
  r.failed = {3, 5};
  r.failure_reasons = {"DOWN", "timeout"};
  r.not_aggregated = "quorum";
  r.train_loss = 0.5;
  return r;
}

// A caf::message nested `depth` times in itself: ((((()))))
bytes nested_messages(std::size_t depth, const std::string& type = "@message") {
  bytes out;
  auto name = "@<>+" + type;
  for (std::size_t i = 0; i < depth; ++i) {
    out.push_back(0);
    out.push_back(0);                               // type number 0: named
    out.push_back(static_cast<char>(name.size())); // varint length
    out.insert(out.end(), name.begin(), name.end());
    if (type == "@error") {
      out.push_back(1);                            // code
      for (int k = 0; k < 8; ++k)                  // category atom
        out.push_back('\x0f');
    }
  }
  out.push_back(0);
  out.push_back(0);
  out.push_back(3);
  out.insert(out.end(), {'@', '<', '>'});
  return out;
}

// A message of one element of the named type whose first length field claims `claim`.
bytes message_claiming(const std::string& type, const bytes& claim, std::size_t tail = 16) {
  bytes out{0, 0};
  auto name = "@<>+" + type;
  out.push_back(static_cast<char>(name.size()));
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), claim.begin(), claim.end());
  out.insert(out.end(), tail, 0);
  return out;
}

} // namespace

TEST_CASE_FIXTURE(wire_fixture, "a blob's length claim is refused before anything is allocated") {
  for (std::size_t c = 0; c < claims().size(); ++c) {
    CAPTURE(c);
    bytes input(9, 0); // layout, then 0: the floats inline
    input.insert(input.end(), claims()[c].begin(), claims()[c].end());
    input.insert(input.end(), 64, 1);
    auto d = decode<weight_blob>(input);
    CHECK_FALSE(d.ok);
    CHECK(d.exception.empty());
    CHECK_MESSAGE(d.largest < 4096, "claim " << c << ": largest allocation " << d.largest << " bytes for " << input.size()
                                             << " input bytes");
    auto s = decode<fl::strategy_state>([&] {
      bytes st{0, 0, 0, 0, 0, 0, 0, 0, 0}; // strategy "" and steps 0
      st.push_back(16);                     // 16 buffers, each claiming
      for (int k = 0; k < 16; ++k)
        st.insert(st.end(), claims()[c].begin(), claims()[c].end());
      return st;
    }());
    CHECK_FALSE(s.ok);
    CHECK(s.exception.empty());
    CHECK(s.largest < 4096);
  }
}

TEST_CASE_FIXTURE(wire_fixture, "weights and their containers survive hostile bytes") {
  fuzz_type<weight_blob>("weight_blob", {blob(0), blob(1), blob(1000), blob(80202)}, 1);
  fuzz_type<std::vector<weight_blob>>("std::vector<weight_blob>", {{}, {blob(3), blob(0), blob(40)}}, 2);
  fuzz_type<fl::strategy_state>("strategy_state", {state(0, 0), state(2, 50), state(16, 1)}, 3);
}

TEST_CASE_FIXTURE(wire_fixture, "requests and answers survive hostile bytes") {
  auto& w = wire();
  fuzz_type<peer>("peer", {peer{}, peer{4, w.someone}}, 4);
  fuzz_type<fit_ins>("fit_ins", {fit_ins{fl::fit_config{2, 1, 0.05, 0.01}, blob(100)}}, 5);
  fuzz_type<fit_result>("fit_result", {fit_result{3, 2, 600, 0.4, 1.5, 1.2, blob(64)}}, 6);
  fuzz_type<eval_result>("eval_result", {eval_result{1, 200, 0.3, 0.97}}, 7);
  resource_report rr;
  rr.client_id = 9;
  rr.host_cpu = 12.5;
  rr.own_bytes = 1 << 20;
  fuzz_type<resource_report>("resource_report", {rr}, 8);
}

TEST_CASE_FIXTURE(wire_fixture, "cluster messages survive hostile bytes") {
  auto& w = wire();
  server_role role;
  role.cluster = 1;
  role.term = 2;
  role.strategy.name = "fedavgm";
  role.state = state(1, 30);
  role.model = blob(30);
  fuzz_type<server_role>("server_role", {server_role{}, role}, 9);
  fuzz_type<cluster_round_ins>("cluster_round_ins",
                               {cluster_round_ins{}, cluster_round_ins{3, {peer{1, w.someone}, peer{2, w.someone}}}}, 10);
  round_result rres;
  rres.record = record();
  rres.model = blob(20);
  rres.state = state(1, 20);
  rres.aggregator = w.someone.address();
  rres.split_off = {1, 2};
  fuzz_type<round_result>("round_result", {round_result{}, rres}, 11);
  fuzz_type<fl::round_record>("round_record", {fl::round_record{}, record()}, 12);
}

TEST_CASE_FIXTURE(wire_fixture, "whole messages survive hostile bytes") {
  auto& w = wire();
  std::vector<caf::message> samples = {
    caf::make_message(fit_atom::value, fit_ins{fl::fit_config{1, 1, 0.1, 0}, blob(50)}),
    caf::make_message(evaluate_atom::value, blob(10)),
    caf::make_message(setup_atom::value, std::string("{\"clients\": 4}"), std::vector<std::uint32_t>{0, 2},
                      std::string("abc")),
    caf::make_message(cluster_round_atom::value, cluster_round_ins{1, {peer{0, w.someone}}}),
    caf::make_message(round_result{}),
    caf::make_message(link_atom::value, std::vector<std::string>{"127.0.0.1:1", "h:2"}),
    caf::make_message(std::vector<caf::actor>{w.someone}),
  };
  fuzz_type<caf::message>("caf::message", samples, 13);
}

TEST_CASE_FIXTURE(wire_fixture, "a message's builtin types do not allocate what a length field claims") {
  // CAF 0.17.6 reads a std::vector<char> ("@charbuf") by resize(claim) before checking the
  // bytes are there; a std::vector<std::string> ("@strvec") turns each 1-byte empty string
  // into a 32-byte std::string. A node deserializes every message a peer sends, whatever
  // its receiver would do with it.
  struct probe {
    std::string what;
    bytes input;
  };
  std::vector<probe> probes;
  for (std::string type : {"@charbuf", "@str", "@strvec", "@strset", "@strmap", "@actorvec", "@addrvec",
                           "std::vector<uint32_t>", "std::vector<double>", "std::vector<flotilla::weight_blob>",
                           "std::vector<flotilla::round_record>", "std::vector<flotilla::strategy_state>"})
    probes.push_back({type + " claiming 2^32-1 elements", message_claiming(type, claims()[4])});
  // Claims the bytes do honour: n elements of the smallest encoding (zero bytes), exactly.
  struct honest {
    std::string type;
    std::size_t bytes_each, count;
  };
  for (const auto& h : {honest{"@strvec", 1, 1u << 20}, honest{"std::vector<flotilla::weight_blob>", 10, 1u << 20},
                        honest{"std::vector<flotilla::strategy_state>", 10, 1u << 20}, honest{"@actorvec", 16, 1u << 18},
                        honest{"std::vector<flotilla::round_record>", 101, 1u << 16}}) {
    bytes claim;
    for (auto v = h.count; v >= 0x80; v >>= 7)
      claim.push_back(static_cast<char>((v & 0x7f) | 0x80));
    claim.push_back(static_cast<char>([&] {
      auto v = h.count;
      while (v >= 0x80)
        v >>= 7;
      return v;
    }()));
    probes.push_back({h.type + " of " + std::to_string(h.count) + " minimal elements",
                      message_claiming(h.type, claim, h.bytes_each * h.count)});
  }
  std::size_t failures = 0;
  std::ostringstream report;
  for (const auto& p : probes) {
    // On a node, the guard sees the payload first: what it refuses never reaches CAF.
    if (guard_refuses(p.input))
      continue;
    auto d = decode<caf::message>(p.input);
    bool bad = !d.exception.empty() || d.largest > allowance(p.input.size()) || d.total > allowance(p.input.size());
    if (bad) {
      ++failures;
      report << "\n  " << p.what << " (" << p.input.size() << " bytes): "
             << (d.exception.empty() ? "" : d.exception + ", ") << "allocated " << d.total << " bytes, largest "
             << d.largest << (d.largest > refuse_above ? " (refused by the test)" : "");
    }
  }
  CHECK_MESSAGE(failures == 0, failures << " of " << probes.size() << " messages allocated beyond "
                                        << "16 x input + 64 KiB:" << report.str());
}

TEST_CASE_FIXTURE(wire_fixture, "messages nested in messages never reach CAF's recursive decoder") {
  // A peer controls how deeply a message nests messages (or errors, which carry one); each
  // level costs 15 bytes on the wire, and CAF 0.17.6 recurses once per level (a stack overflow
  // at ~100k). The guard refuses nesting from the payload's first bytes.
  for (std::string type : {"@message", "@error"})
    for (std::size_t depth : {2u, 1000u, 100000u, 1000000u}) {
      CAPTURE(type);
      CAPTURE(depth);
      CHECK(guard_refuses(nested_messages(depth, type)));
    }
}
