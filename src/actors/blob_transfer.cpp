#include "actors/blob_transfer.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <sys/random.h>

#include "actors/errors.hpp"

namespace flotilla::actors {

namespace {

using clock = std::chrono::steady_clock;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

// The most floats one chunk answer carries, whatever the asking process's chunk size (32 MiB:
// runtime.chunk_kib's maximum, half the guard's message cap).
constexpr std::size_t max_chunk_floats = std::size_t{8} << 20;

struct shared_entry {
  std::shared_ptr<const std::vector<float>> data;
  clock::time_point touched;
  std::uint64_t served = 0; ///< floats answered so far: one fetch and one withdrawal at most
};

// An unguessable id (an id is all a peer needs to ask for a blob), from the kernel's CSPRNG.
std::uint64_t random_id() {
  std::uint64_t id = 0;
  while (id == 0)
    if (::getrandom(&id, sizeof id, 0) != static_cast<ssize_t>(sizeof id))
      id = 0;
  return id;
}

// Everything a process shares, behind one lock: the serializer runs on CAF's multiplexer
// thread, the servers on the scheduler's.
struct blob_registry {
  std::mutex mutex;
  transfer_settings settings;
  std::map<caf::actor_system*, caf::actor> servers;
  std::map<std::uint64_t, shared_entry> blobs;
  transfer_counters totals;

  void sweep(clock::time_point now) {
    auto ttl = std::chrono::duration<double>(settings.idle_ttl_s);
    for (auto it = blobs.begin(); it != blobs.end();)
      it = now - it->second.touched > ttl ? blobs.erase(it) : std::next(it);
  }
};

blob_registry& registry() {
  static blob_registry r;
  return r;
}

caf::duration seconds(double s) {
  return caf::duration{std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6))};
}

caf::behavior blob_server(caf::event_based_actor* self) {
  auto sweep_every = std::chrono::seconds(30);
  self->delayed_send(self, sweep_every, sweep_atom::value);
  return {
    [=](chunk_atom, std::uint64_t id, std::uint64_t offset, std::uint64_t count) -> caf::result<blob_chunk> {
      auto& r = registry();
      std::shared_ptr<const std::vector<float>> data;
      {
        std::lock_guard<std::mutex> lock(r.mutex);
        auto it = r.blobs.find(id);
        if (it == r.blobs.end())
          return make_error(errc::round_failed, "the weights asked for are no longer shared (sent more than " +
                                                  std::to_string(static_cast<long>(r.settings.idle_ttl_s)) +
                                                  " s ago, already fetched, or never sent)");
        auto& e = it->second;
        auto size = e.data->size();
        if (offset >= size || count == 0 || count > max_chunk_floats || count > size - offset)
          return make_error(errc::round_failed, "a chunk request for floats [" + std::to_string(offset) + ", +" +
                                                  std::to_string(count) + ") of " + std::to_string(size));
        // A receiver fetches a blob once, and a part of it again to withdraw it: twice its size
        // is all it ever needs, more is a peer making this process send without end.
        if (e.served + count > 2 * size) {
          r.blobs.erase(it);
          return make_error(errc::round_failed, "these weights were already sent twice over; no longer shared");
        }
        e.touched = clock::now();
        e.served += count;
        ++r.totals.chunks_served;
        r.totals.bytes_served += count * sizeof(float);
        data = e.data;
      }
      blob_chunk c;
      c.offset = offset;
      c.values.assign(data->begin() + static_cast<std::ptrdiff_t>(offset),
                      data->begin() + static_cast<std::ptrdiff_t>(offset + count));
      return c;
    },
    [=](unshare_atom, std::uint64_t id) {
      auto& r = registry();
      std::lock_guard<std::mutex> lock(r.mutex);
      r.blobs.erase(id);
    },
    [=](sweep_atom) {
      auto& r = registry();
      {
        std::lock_guard<std::mutex> lock(r.mutex);
        r.sweep(clock::now());
      }
      self->delayed_send(self, sweep_every, sweep_atom::value);
    },
  };
}

// One pull of [begin, end) of a shared blob: `window` requests outstanding, each answer checked
// against what was asked before the sink sees it.
struct pull_state {
  caf::event_based_actor* self;
  blob_ref ref;
  std::size_t next, end;
  std::size_t outstanding = 0;
  std::string failed;
  bool finished = false;
  transfer_settings settings;
  chunk_sink sink;
  std::function<void(std::string)> done;
};

void pump(const std::shared_ptr<pull_state>& p);

void settle(const std::shared_ptr<pull_state>& p) {
  if (p->finished || p->outstanding > 0)
    return;
  if (p->failed.empty() && p->next < p->end)
    return pump(p);
  p->finished = true;
  auto done = std::move(p->done);
  auto why = p->failed;
  p->sink = nullptr;
  done(why);
}

void pump(const std::shared_ptr<pull_state>& p) {
  while (p->failed.empty() && p->outstanding < p->settings.window && p->next < p->end) {
    auto offset = p->next;
    auto count = std::min(p->settings.chunk_floats, p->end - offset);
    p->next += count;
    ++p->outstanding;
    p->self
      ->request(p->ref.source, seconds(p->settings.chunk_timeout_s), chunk_atom::value, p->ref.id,
                static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(count))
      .then(
        [p, offset, count](blob_chunk& c) {
          --p->outstanding;
          if (p->failed.empty()) {
            if (c.offset != offset || c.values.size() != count)
              p->failed = "the sender answered floats [" + std::to_string(c.offset) + ", +" +
                          std::to_string(c.values.size()) + ") to a request for [" + std::to_string(offset) + ", +" +
                          std::to_string(count) + ")";
            else
              p->failed = p->sink(offset, c.values.data(), c.values.size());
          }
          settle(p);
        },
        [p, offset](caf::error& e) {
          --p->outstanding;
          if (p->failed.empty())
            p->failed = "fetching floats from " + std::to_string(offset) + ": " + text_of(p->self->system(), e);
          settle(p);
        });
  }
  settle(p);
}

void pull(caf::event_based_actor* self, const blob_ref& ref, std::size_t begin, std::size_t end, chunk_sink sink,
          std::function<void(std::string)> done) {
  auto p = std::make_shared<pull_state>();
  p->self = self;
  p->ref = ref;
  p->next = begin;
  p->end = end;
  p->settings = current_transfer_settings();
  p->sink = std::move(sink);
  p->done = std::move(done);
  if (begin >= end) {
    p->finished = true;
    return p->done({});
  }
  pump(p);
}

} // namespace

std::optional<blob_ref> share_for_wire(caf::serializer& f, const std::shared_ptr<const std::vector<float>>& data) {
  if (!data || f.context() == nullptr)
    return std::nullopt;
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (data->size() <= r.settings.chunk_floats)
    return std::nullopt;
  auto server = r.servers.find(&f.context()->system());
  if (server == r.servers.end())
    return std::nullopt; // no server: inline (the guard's cap decides whether it passes)
  auto now = clock::now();
  r.sweep(now);
  std::uint64_t id = 0;
  while (id == 0 || r.blobs.count(id))
    id = random_id();
  r.blobs.emplace(id, shared_entry{data, now});
  ++r.totals.blobs_shared;
  return blob_ref{server->second, id, data->size()};
}

void set_transfer_settings(const transfer_settings& s) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.settings = s;
  r.settings.chunk_floats = std::max<std::size_t>(1, s.chunk_floats);
  r.settings.window = std::max<std::size_t>(1, s.window);
}

transfer_settings current_transfer_settings() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.settings;
}

void start_blob_server(caf::actor_system& sys) {
  auto& r = registry();
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    if (r.servers.count(&sys))
      return;
  }
  auto server = sys.spawn<caf::hidden>(blob_server);
  std::lock_guard<std::mutex> lock(r.mutex);
  r.servers.emplace(&sys, server);
}

void stop_blob_server(caf::actor_system& sys) {
  caf::actor server;
  {
    auto& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.servers.find(&sys);
    if (it == r.servers.end())
      return;
    server = it->second;
    r.servers.erase(it);
    if (r.servers.empty())
      r.blobs.clear();
  }
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
}

transfer_counters transfer_totals() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.totals;
}

std::size_t shared_blob_count() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.blobs.size();
}

void fetch_chunks(caf::event_based_actor* self, const blob_ref& ref, chunk_sink sink,
                  std::function<void(std::string error)> done) {
  pull(self, ref, 0, static_cast<std::size_t>(ref.floats), std::move(sink), std::move(done));
}

void fetch_range(caf::event_based_actor* self, const blob_ref& ref, std::size_t offset, std::size_t n,
                 chunk_sink sink, std::function<void(std::string error)> done) {
  if (offset > ref.floats || n > ref.floats - offset)
    return done("a range beyond the blob");
  pull(self, ref, offset, offset + n, std::move(sink), std::move(done));
}

void release_blob(caf::event_based_actor* self, const blob_ref& ref) {
  if (ref.source)
    self->send(ref.source, unshare_atom::value, ref.id);
}

void fetch_blob(caf::event_based_actor* self, weight_blob blob, std::size_t expected_floats,
                std::function<void(std::string error, weight_blob)> done) {
  if (!blob.pending())
    return done({}, std::move(blob));
  auto ref = *blob.ref;
  if (expected_floats != 0 && ref.floats != expected_floats) {
    release_blob(self, ref);
    return done("the sender announced " + std::to_string(ref.floats) + " weights, the model has " +
                  std::to_string(expected_floats),
                weight_blob{});
  }
  auto values = std::make_shared<std::vector<float>>(static_cast<std::size_t>(ref.floats));
  auto layout = blob.layout;
  fetch_chunks(
    self, ref,
    [values](std::size_t offset, const float* v, std::size_t n) -> std::string {
      std::copy(v, v + n, values->begin() + static_cast<std::ptrdiff_t>(offset));
      return {};
    },
    [self, ref, values, layout, done](std::string error) {
      release_blob(self, ref);
      if (!error.empty())
        return done(error, weight_blob{});
      done({}, weight_blob{layout, std::shared_ptr<const std::vector<float>>(values)});
    });
}

namespace {

struct blobs_state {
  caf::event_based_actor* self;
  std::vector<weight_blob> blobs;
  std::size_t expected;
  std::function<void(std::string, std::vector<weight_blob>)> done;
};

void next_blob(const std::shared_ptr<blobs_state>& s, std::size_t i) {
  while (i < s->blobs.size() && !s->blobs[i].pending())
    ++i;
  if (i == s->blobs.size())
    return s->done({}, std::move(s->blobs));
  fetch_blob(s->self, s->blobs[i], s->expected, [s, i](std::string error, weight_blob b) {
    if (!error.empty()) {
      for (auto j = i + 1; j < s->blobs.size(); ++j)
        if (s->blobs[j].pending())
          release_blob(s->self, *s->blobs[j].ref);
      return s->done(error, {});
    }
    s->blobs[i] = std::move(b);
    next_blob(s, i + 1);
  });
}

} // namespace

void fetch_blobs(caf::event_based_actor* self, std::vector<weight_blob> blobs, std::size_t expected_floats,
                 std::function<void(std::string error, std::vector<weight_blob>)> done) {
  auto s = std::make_shared<blobs_state>(blobs_state{self, std::move(blobs), expected_floats, std::move(done)});
  next_blob(s, 0);
}

} // namespace flotilla::actors
