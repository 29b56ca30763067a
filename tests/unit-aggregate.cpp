#include <stdexcept>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "fl/aggregate.hpp"
#include "fl/round_updates.hpp"

using namespace flotilla;

TEST_CASE("fedavg weights clients by sample count") {
  std::vector<float> a{1, 2}, b{4, 8};
  auto avg = fl::weighted_mean({{0, 1, &a}, {1, 3, &b}});
  CHECK(avg[0] == doctest::Approx(3.25));
  CHECK(avg[1] == doctest::Approx(6.5));
}

TEST_CASE("fedavg is bit-identical whatever the arrival order") {
  std::vector<std::vector<float>> w;
  for (int c = 0; c < 7; ++c) {
    std::vector<float> v(1000);
    for (int i = 0; i < 1000; ++i)
      v[static_cast<std::size_t>(i)] = std::sin(static_cast<float>(c * 1000 + i)) * 1e3f;
    w.push_back(v);
  }
  std::vector<fl::weighted_update> forward, backward;
  for (std::uint32_t c = 0; c < 7; ++c)
    forward.push_back({c, 10 + c * 3, &w[c]});
  backward.assign(forward.rbegin(), forward.rend());
  CHECK(fl::weighted_mean(forward) == fl::weighted_mean(backward));
}

TEST_CASE("fedavg refuses what it cannot average") {
  std::vector<float> a{1, 2}, b{1, 2, 3};
  CHECK_THROWS_WITH_AS(fl::weighted_mean({}), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::weighted_mean({{0, 1, &a}, {4, 1, &b}}),
                       "fedavg: client 4: update has 3 weights, expected 2", std::invalid_argument);
  CHECK_THROWS_WITH_AS(fl::weighted_mean({{0, 0, &a}}), "fedavg: updates carry no samples",
                       std::invalid_argument);
}

TEST_CASE("check_update catches wrong shapes and NaN") {
  CHECK(fl::check_update({1, 2, 3}, 3).empty());
  CHECK(fl::check_update({1, 2}, 3) == "update has 2 weights, the model has 3");
  CHECK(fl::check_update({1, NAN, 3}, 3) == "update has a non-finite weight (nan) at index 1");
  CHECK(fl::check_update({1, 2, INFINITY}, 3) == "update has a non-finite weight (inf) at index 2");
}

TEST_CASE("the streaming accumulator gives the same bits in any order") {
  std::vector<std::vector<float>> w;
  for (int c = 0; c < 5; ++c) {
    std::vector<float> v(257);
    for (std::size_t i = 0; i < v.size(); ++i)
      v[i] = std::cos(static_cast<float>(c * 300 + static_cast<int>(i))) * static_cast<float>(i + 1) * 1e-3f;
    w.push_back(v);
  }
  fl::fedavg_accumulator a(257), b(257);
  for (int c = 0; c < 5; ++c)
    a.add(static_cast<std::uint64_t>(7 + c), w[static_cast<std::size_t>(c)]);
  for (int c : {3, 0, 4, 2, 1})
    b.add(static_cast<std::uint64_t>(7 + c), w[static_cast<std::size_t>(c)]);
  CHECK(a.mean() == b.mean());
  CHECK(a.count() == 5);
  CHECK(a.samples() == 7 + 8 + 9 + 10 + 11);
  // And it is the weighted mean to float precision.
  double expect = 0;
  for (int c = 0; c < 5; ++c)
    expect += (7 + c) * static_cast<double>(w[static_cast<std::size_t>(c)][100]);
  CHECK(a.mean()[100] == doctest::Approx(expect / 45).epsilon(1e-6));
}

TEST_CASE("the accumulator refuses weights it cannot sum exactly") {
  fl::fedavg_accumulator acc(2);
  CHECK_THROWS_WITH_AS(acc.add(1, {1.0f, 2e7f}),
                       "fedavg: weight 20000000.000000 at index 1 is not finite or beyond +-1e6",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(acc.mean(), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK(fl::check_update({1, -2e6f}, 2) ==
        "update has a weight of -2000000.000000 at index 1 (beyond +-1e6: a diverged model)");
}

// ---- 64-bit sums, slices, streaming collections ----------------------------------------------

namespace {

// The accumulator as it was: 128-bit sums for every weight. Its means are the reference bits.
class reference_fedavg {
public:
  explicit reference_fedavg(std::size_t size) : sums_(size, 0) {}
  void add(std::uint64_t samples, const std::vector<float>& weights, bool subtract = false) {
    float largest = 0;
    for (float w : weights)
      largest = std::max(largest, std::fabs(w));
    auto n = static_cast<double>(samples);
    if (n * static_cast<double>(largest) * fl::fixed_scale < 9.0e18) {
      for (std::size_t i = 0; i < sums_.size(); ++i) {
        double term = n * static_cast<double>(weights[i]) * fl::fixed_scale;
        auto v = static_cast<std::int64_t>(term + std::copysign(0.5, term));
        sums_[i] += subtract ? -v : v;
      }
    } else {
      for (std::size_t i = 0; i < sums_.size(); ++i) {
        double term = n * static_cast<double>(weights[i]) * fl::fixed_scale;
        auto v = static_cast<__int128>(std::trunc(term + std::copysign(0.5, term)));
        sums_[i] += subtract ? -v : v;
      }
    }
    if (subtract) {
      samples_ -= samples;
      --count_;
    } else {
      samples_ += samples;
      ++count_;
    }
  }
  std::vector<float> mean() const {
    std::vector<float> out(sums_.size());
    double denom = static_cast<double>(samples_) * fl::fixed_scale;
    for (std::size_t i = 0; i < sums_.size(); ++i)
      out[i] = static_cast<float>(static_cast<double>(sums_[i]) / denom);
    return out;
  }
  bool fits_int64() const {
    for (auto s : sums_)
      if (s > INT64_MAX || s < INT64_MIN)
        return false;
    return true;
  }

private:
  std::vector<__int128> sums_;
  std::uint64_t samples_ = 0;
  std::size_t count_ = 0;
};

std::vector<std::uint32_t> bits(const std::vector<float>& v) {
  std::vector<std::uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

struct client_data {
  std::uint64_t samples;
  std::vector<float> w;
};

// Clients whose weights are uniform in [lo, hi], with random signs when `signs`.
std::vector<client_data> clients_of(std::mt19937_64& rng, std::size_t count, std::size_t size,
                                    std::uint64_t min_samples, std::uint64_t max_samples, float lo, float hi,
                                    bool signs) {
  std::uniform_int_distribution<std::uint64_t> s(min_samples, max_samples);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<client_data> out;
  for (std::size_t c = 0; c < count; ++c) {
    client_data d{s(rng), std::vector<float>(size)};
    for (auto& x : d.w)
      x = std::min(1e6f, u(rng)) * (signs && (rng() & 1) ? -1.0f : 1.0f);
    out.push_back(std::move(d));
  }
  return out;
}

// Adds every client to a fresh accumulator and the reference; checks the bits agree, through
// mean() and take_mean().
void check_against_reference(const std::vector<client_data>& clients, std::size_t* wide = nullptr) {
  std::size_t size = clients.front().w.size();
  fl::fedavg_accumulator acc(size);
  reference_fedavg ref(size);
  for (const auto& c : clients) {
    acc.add(c.samples, c.w);
    ref.add(c.samples, c.w);
  }
  auto expect = bits(ref.mean());
  CHECK(bits(acc.mean()) == expect);
  if (wide)
    *wide = acc.wide_weights();
  CHECK(acc.sum_bytes() <= size * 16 + (size / 16384 + 1) * 32);
  CHECK(bits(std::move(acc).take_mean()) == expect);
}

fl::client_update whole(std::uint32_t id, const client_data& d, double loss = 0.25) {
  return {id, d.samples, loss, std::make_shared<const std::vector<float>>(d.w)};
}

// (offset, n) chunks covering [0, size), `chunk` weights each (the last one shorter).
std::vector<std::pair<std::size_t, std::size_t>> chunks_of(std::size_t size, std::size_t chunk) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t o = 0; o < size; o += chunk)
    out.emplace_back(o, std::min(chunk, size - o));
  return out;
}

} // namespace

TEST_CASE("64-bit sums give the 128-bit reference's bits on ordinary updates, all on the fast path") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 4; ++trial) {
    auto clients = clients_of(rng, 12, 40000, 1, 5000, -50.0f, 50.0f, true);
    std::size_t wide = 1;
    check_against_reference(clients, &wide);
    CHECK(wide == 0);
  }
  fl::fedavg_accumulator acc(40000);
  CHECK(acc.sum_bytes() <= 40000 * 8 + 3 * 32);
}

TEST_CASE("sums beyond int64 equal the 128-bit reference: huge sample counts times weights near 1e6") {
  std::mt19937_64 rng(12);
  SUBCASE("int64 terms whose sums overflow") {
    auto clients = clients_of(rng, 30, 40000, 1 << 10, 8 << 10, 5e5f, 1e6f, false); // terms near 2^63
    reference_fedavg ref(40000);
    for (const auto& c : clients)
      ref.add(c.samples, c.w);
    REQUIRE(!ref.fits_int64());
    std::size_t wide = 0;
    check_against_reference(clients, &wide);
    CHECK(wide == 40000);
  }
  SUBCASE("terms beyond int64 themselves") {
    for (std::uint64_t max_samples : {std::uint64_t{10'000'000}, std::uint64_t{1'000'000'000'000},
                                      (std::uint64_t{1} << 60) + 12345})
      check_against_reference(clients_of(rng, 7, 20000, 1, max_samples, 9e5f, 1e6f, true));
  }
  SUBCASE("signs that cancel: sums wander past int64 and back") {
    auto clients = clients_of(rng, 40, 20000, 4 << 10, 8 << 10, 9.9e5f, 1e6f, true);
    check_against_reference(clients);
  }
  SUBCASE("a block whose worst-case bound passes int64 but whose sums do not stays 64-bit") {
    std::vector<client_data> clients;
    for (float w : {5e5f, -5e5f, 5e5f, -5e5f, 5e5f})
      clients.push_back({8 << 10, std::vector<float>(20000, w)});
    std::size_t wide = 1;
    check_against_reference(clients, &wide);
    CHECK(wide == 0);
  }
  SUBCASE("only blocks with huge weights spill to 128 bits") {
    auto clients = clients_of(rng, 20, 50000, 5000, 6000, -1.0f, 1.0f, true);
    for (auto& c : clients)
      for (std::size_t i = 20000; i < 20010; ++i)
        c.w[i] = 1e6f; // a BatchNorm-like counter, say
    std::size_t wide = 0;
    check_against_reference(clients, &wide);
    CHECK(wide == 16384); // the one block holding them
  }
}

TEST_CASE("slices in any order, and subtracting them, keep the reference's bits") {
  std::mt19937_64 rng(13);
  for (bool pathological : {false, true}) {
    CAPTURE(pathological);
    auto clients = pathological ? clients_of(rng, 6, 40000, 1, 1'000'000, 9e5f, 1e6f, true)
                                : clients_of(rng, 6, 40000, 1, 5000, -3.0f, 3.0f, true);
    fl::fedavg_accumulator acc(40000);
    reference_fedavg ref(40000);
    struct piece {
      std::size_t client, offset, n;
    };
    std::vector<piece> pieces;
    for (std::size_t c = 0; c < clients.size(); ++c)
      for (auto [o, n] : chunks_of(40000, 7000 + 1000 * c))
        pieces.push_back({c, o, n});
    std::shuffle(pieces.begin(), pieces.end(), rng);
    for (const auto& p : pieces)
      acc.add_range(clients[p.client].samples, p.offset, clients[p.client].w.data() + p.offset, p.n);
    CHECK(acc.count() == 0);
    CHECK(acc.samples() == 0);
    for (std::size_t c = 0; c < clients.size(); ++c) {
      ref.add(clients[c].samples, clients[c].w);
      if (c != 2)
        acc.count_update(clients[c].samples); // client 2 never completes: it is taken out below
    }
    // Client 2 out again, slice by slice in another order: exactly the mean without it.
    std::shuffle(pieces.begin(), pieces.end(), rng);
    for (const auto& p : pieces)
      if (p.client == 2)
        acc.subtract_range(clients[2].samples, p.offset, clients[2].w.data() + p.offset, p.n);
    ref.add(clients[2].samples, clients[2].w, true);
    fl::fedavg_accumulator without(40000);
    for (std::size_t c = 0; c < clients.size(); ++c)
      if (c != 2)
        without.add(clients[c].samples, clients[c].w);
    auto expect = bits(ref.mean());
    CHECK(bits(without.mean()) == expect);
    CHECK(bits(acc.mean()) == expect);
    CHECK(acc.count() == clients.size() - 1);
  }
}

TEST_CASE("add_range refuses a bad slice, naming the absolute index, and changes nothing") {
  std::vector<float> w(100, 0.5f);
  fl::fedavg_accumulator acc(1000);
  acc.add_range(3, 0, w.data(), 100);
  w[37] = NAN;
  CHECK_THROWS_WITH_AS(acc.add_range(3, 500, w.data(), 100), "fedavg: weight nan at index 537 is not finite or beyond +-1e6",
                       std::invalid_argument);
  w[37] = -2e6f;
  CHECK_THROWS_WITH_AS(acc.subtract_range(3, 500, w.data(), 100),
                       "fedavg: weight -2000000.000000 at index 537 is not finite or beyond +-1e6", std::invalid_argument);
  w[37] = 0.5f;
  CHECK_THROWS_WITH_AS(acc.add_range(3, 901, w.data(), 100), "fedavg: 100 weights at offset 901 lie beyond the model's 1000",
                       std::invalid_argument);
  acc.count_update(3);
  auto m = acc.mean();
  CHECK(m[0] == 0.5f);
  CHECK(m[99] == 0.5f);
  CHECK(m[100] == 0.0f);
  CHECK(m[537] == 0.0f);
  CHECK(m[999] == 0.0f);
}

TEST_CASE("take_mean gives mean()'s bits and leaves the accumulator empty") {
  std::mt19937_64 rng(14);
  // Several 16 MiB release steps, a last partial block, and one block spilled to 128 bits.
  const std::size_t size = 5'000'000 + 123;
  auto clients = clients_of(rng, 3, size, 10, 900, -2.0f, 2.0f, true);
  clients[1].w[4'000'000] = 1e6f;
  clients[1].samples = 900 << 10; // the 1e6 weight's terms are beyond int64: its block alone is 128-bit
  fl::fedavg_accumulator acc(size);
  for (const auto& c : clients)
    acc.add(c.samples, c.w);
  CHECK(acc.wide_weights() == 16384);
  auto m = acc.mean();
  auto taken = std::move(acc).take_mean();
  CHECK(bits(taken) == bits(m));
  CHECK(acc.size() == 0); // NOLINT(bugprone-use-after-move): documented state
  CHECK(acc.count() == 0);
  CHECK_THROWS_AS(acc.mean(), std::invalid_argument);
  fl::fedavg_accumulator none(4);
  CHECK_THROWS_WITH_AS(std::move(none).take_mean(), "fedavg: no updates to aggregate", std::invalid_argument);
  CHECK(none.size() == 4); // refused: unchanged
}

TEST_CASE("chunked updates, shuffled and interleaved across clients, give whole updates' bits") {
  std::mt19937_64 rng(15);
  const std::size_t size = 50'000;
  auto clients = clients_of(rng, 3, size, 50, 700, -4.0f, 4.0f, true);
  fl::round_updates whole_round(size, false), streamed(size, false);
  for (std::uint32_t c = 0; c < 3; ++c)
    REQUIRE(whole_round.accept(whole(c + 10, clients[c], 0.1 * (c + 1))).empty());
  struct piece {
    std::uint32_t client;
    std::size_t offset, n;
  };
  std::vector<piece> pieces;
  for (std::uint32_t c = 0; c < 3; ++c) {
    REQUIRE(streamed.begin(c + 10, clients[c].samples, 0.1 * (c + 1)).empty());
    for (auto [o, n] : chunks_of(size, 3000 + 4111 * c))
      pieces.push_back({c, o, n});
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  for (const auto& p : pieces)
    REQUIRE(streamed.fold(p.client + 10, p.offset, clients[p.client].w.data() + p.offset, p.n).empty());
  CHECK(streamed.count() == 0);
  CHECK(streamed.in_progress() == std::vector<std::uint32_t>{10, 11, 12});
  for (std::uint32_t c : {12u, 10u, 11u})
    CHECK(streamed.commit(c).empty());
  CHECK(streamed.in_progress().empty());
  CHECK(bits(streamed.mean()) == bits(whole_round.mean()));
  CHECK(streamed.count() == 3);
  CHECK(streamed.samples() == whole_round.samples());
  CHECK(streamed.train_loss() == whole_round.train_loss());
  CHECK(streamed.clients() == whole_round.clients());
  auto m = streamed.mean();
  CHECK(bits(streamed.take_mean()) == bits(m));
  CHECK(bits(whole_round.take_mean()) == bits(m));
  CHECK(streamed.count() == 3); // the counts stay
  CHECK(streamed.model_size() == size);
  CHECK_THROWS_AS(streamed.mean(), std::logic_error);
  CHECK(streamed.begin(99, 1, 0) == "the round's mean was already taken");
}

TEST_CASE("a withdrawn and abandoned update leaves exactly the mean without it") {
  std::mt19937_64 rng(16);
  const std::size_t size = 30'000;
  auto clients = clients_of(rng, 3, size, 50, 700, -4.0f, 4.0f, true);
  fl::round_updates u(size, false), expect(size, false);
  REQUIRE(u.accept(whole(0, clients[0])).empty());
  REQUIRE(expect.accept(whole(0, clients[0])).empty());
  REQUIRE(u.begin(1, clients[1].samples, 0.5).empty());
  REQUIRE(u.begin(2, clients[2].samples, 0.5).empty());
  auto chunks = chunks_of(size, 4096);
  for (auto [o, n] : chunks) {
    REQUIRE(u.fold(2, o, clients[2].w.data() + o, n).empty());
    if (o < 20'000)
      REQUIRE(u.fold(1, o, clients[1].w.data() + o, n).empty()); // client 1 breaks off
  }
  REQUIRE(u.commit(2).empty());
  REQUIRE(expect.accept(whole(2, clients[2], 0.5)).empty());
  CHECK_THROWS_AS(u.mean(), std::logic_error); // client 1's chunks are still in the sums
  CHECK_THROWS_AS(u.abandon(1), std::logic_error);
  // Values that differ from those folded are refused, and change nothing.
  std::vector<float> other(clients[1].w.begin() + 4096, clients[1].w.begin() + 8192);
  other[7] += 1.0f;
  CHECK_THROWS_AS(u.withdraw(1, 4096, other.data(), 4096), std::invalid_argument);
  CHECK_THROWS_AS(u.withdraw(1, 4096, clients[1].w.data() + 4096, 4000), std::logic_error);
  CHECK_THROWS_AS(u.withdraw(1, 24576, clients[1].w.data() + 24576, 4096), std::logic_error);
  for (auto [o, n] : chunks)
    if (o < 20'000)
      u.withdraw(1, o, clients[1].w.data() + o, n);
  u.abandon(1);
  CHECK_THROWS_AS(u.abandon(1), std::logic_error);
  CHECK(u.in_progress().empty());
  CHECK(u.clients() == std::vector<std::uint32_t>{0, 2});
  CHECK(bits(u.mean()) == bits(expect.mean()));
  CHECK(u.train_loss() == expect.train_loss());
  // Withdrawn, the client may send again.
  CHECK(u.begin(1, clients[1].samples, 0.5).empty());
}

TEST_CASE("a bad or misplaced chunk is refused and changes nothing") {
  const std::size_t size = 10'000;
  std::vector<float> w(size);
  for (std::size_t i = 0; i < size; ++i)
    w[i] = std::sin(static_cast<float>(i));
  fl::round_updates u(size, false), expect(size, false);
  REQUIRE(expect.accept({7, 40, 1.0, std::make_shared<const std::vector<float>>(w)}).empty());
  REQUIRE(u.begin(7, 40, 1.0).empty());
  auto bad = w;
  bad[1234] = NAN;
  CHECK(u.fold(7, 1000, bad.data() + 1000, 1000) == "update has a non-finite weight (nan) at index 1234");
  bad[1234] = 3e6f;
  CHECK(u.fold(7, 1000, bad.data() + 1000, 1000) ==
        "update has a weight of 3000000.000000 at index 1234 (beyond +-1e6: a diverged model)");
  CHECK(u.fold(7, 9000, w.data() + 9000, 1001) == "chunk of 1001 weights at offset 9000 lies beyond the model's 10000");
  CHECK(u.fold(8, 0, w.data(), 10) == "no update in progress from client 8");
  REQUIRE(u.fold(7, 1000, w.data() + 1000, 1000).empty());
  CHECK(u.fold(7, 1500, w.data() + 1500, 1000) == "chunk [1500, 2500) overlaps [1000, 2000), already folded from client 7");
  CHECK(u.fold(7, 0, w.data(), 1001) == "chunk [0, 1001) overlaps [1000, 2000), already folded from client 7");
  CHECK(u.fold(7, 1999, w.data() + 1999, 2) == "chunk [1999, 2001) overlaps [1000, 2000), already folded from client 7");
  REQUIRE(u.fold(7, 0, w.data(), 1000).empty());
  REQUIRE(u.fold(7, 2000, w.data() + 2000, 8000).empty());
  CHECK(u.commit(7).empty());
  CHECK(bits(u.mean()) == bits(expect.mean()));
}

TEST_CASE("commit refuses an update its chunks do not cover") {
  std::vector<float> w(100, 1.5f);
  fl::round_updates u(100, false);
  CHECK(u.commit(3) == "no update in progress from client 3");
  REQUIRE(u.begin(3, 10, 0.5).empty());
  REQUIRE(u.fold(3, 0, w.data(), 40).empty());
  REQUIRE(u.fold(3, 50, w.data() + 50, 50).empty());
  CHECK(u.commit(3) == "update from client 3 covers 90 of the model's 100 weights");
  CHECK(u.count() == 0);
  CHECK(u.in_progress() == std::vector<std::uint32_t>{3});
  REQUIRE(u.fold(3, 40, w.data() + 40, 10).empty());
  CHECK(u.commit(3).empty());
  CHECK(u.count() == 1);
  CHECK(u.mean() == w);
}

TEST_CASE("begin refuses second updates, bad losses and keeping collections") {
  std::vector<float> w(4, 1.0f);
  fl::round_updates u(4, false);
  REQUIRE(u.accept({1, 5, 0.5, std::make_shared<const std::vector<float>>(w)}).empty());
  CHECK(u.begin(1, 5, 0.5) == "a second update from client 1 in the same round");
  REQUIRE(u.begin(2, 5, 0.5).empty());
  CHECK(u.begin(2, 5, 0.5) == "a second update from client 2 in the same round");
  CHECK(u.accept({2, 5, 0.5, std::make_shared<const std::vector<float>>(w)}) ==
        "a second update from client 2 in the same round");
  CHECK(u.begin(3, 5, NAN) == "update reports a non-finite training loss");
  CHECK(u.begin(3, 5, INFINITY) == "update reports a non-finite training loss");
  fl::round_updates keeping(4, true);
  CHECK(keeping.begin(1, 5, 0.5).rfind("this round keeps whole updates", 0) == 0);
  CHECK(keeping.in_progress().empty());
}

TEST_CASE("a poisoned collection refuses to average") {
  std::vector<float> w(4, 1.0f);
  fl::round_updates u(4, false);
  REQUIRE(u.accept({1, 5, 0.5, std::make_shared<const std::vector<float>>(w)}).empty());
  CHECK(u.poisoned().empty());
  u.poison("client 9's update broke off and could not be withdrawn");
  u.poison("a later reason");
  CHECK(u.poisoned() == "client 9's update broke off and could not be withdrawn");
  CHECK_THROWS_WITH_AS(u.mean(), "client 9's update broke off and could not be withdrawn", std::runtime_error);
  CHECK_THROWS_WITH_AS(u.take_mean(), "client 9's update broke off and could not be withdrawn", std::runtime_error);
  fl::round_updates v(4, false);
  v.poison("");
  CHECK(!v.poisoned().empty());
}
