#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "fl/async_aggregation.hpp"

using namespace flotilla;

TEST_CASE("staleness weights: constant, FedBuff's polynomial, hinge (hand-computed)") {
  fl::async_options o;
  o.staleness = "constant";
  CHECK(fl::staleness_weight(o, 7) == 1.0);
  o.staleness = "polynomial";
  o.exponent = 0.5; // FedBuff: 1 / sqrt(1 + s)
  CHECK(fl::staleness_weight(o, 0) == 1.0);
  CHECK(fl::staleness_weight(o, 3) == doctest::Approx(0.5));
  CHECK(fl::staleness_weight(o, 8) == doctest::Approx(1.0 / 3.0));
  o.staleness = "hinge";
  o.hinge_b = 4;
  o.hinge_a = 10;
  CHECK(fl::staleness_weight(o, 4) == 1.0);
  CHECK(fl::staleness_weight(o, 6) == doctest::Approx(1.0 / 21.0));
  // In units of 1/1024 sample, never 0.
  CHECK(fl::buffered_weight(100, 0.5) == 51200);
  CHECK(fl::buffered_weight(1, 1e-9) == 1);
}

TEST_CASE("fits are taken in (simulated completion, client) order, whatever order they were added") {
  fl::in_flight f;
  f.add({7, 0, 12.5});
  f.add({3, 1, 12.5});
  f.add({9, 2, 4.0});
  CHECK(f.size() == 3);
  CHECK(f.busy(7));
  CHECK(f.earliest()->client == 9);
  CHECK(*f.oldest_version() == 0);
  f.remove(9);
  CHECK(f.earliest()->client == 3); // a tie in time goes to the lower id
  f.remove(3);
  f.remove(3); // twice: nothing
  CHECK(f.earliest()->client == 7);
  f.remove(7);
  CHECK(!f.earliest());
  CHECK(!f.oldest_version());
}

TEST_CASE("the next client is drawn from (seed, version, draw): the same every run, spread over the candidates") {
  std::vector<std::uint32_t> c{2, 5, 8, 11};
  CHECK(*fl::pick_client(c, 1, 3, 4) == *fl::pick_client(c, 1, 3, 4));
  std::set<std::uint32_t> seen;
  for (std::uint64_t d = 0; d < 64; ++d)
    seen.insert(*fl::pick_client(c, 1, 3, d));
  CHECK(seen.size() == 4);
  CHECK(!fl::pick_client({}, 1, 3, 4));
}

TEST_CASE("a position's fits in flight are checked before a server or a resume uses them") {
  auto model = [](std::vector<float> w) { return std::make_shared<const std::vector<float>>(std::move(w)); };
  fl::async_state s;
  s.flights = {{3, 4, 10.5}, {1, 5, 11}};
  s.versions = {{4, model({1, 2})}, {5, model({3, 4})}};
  CHECK(fl::check_async_state(s, 5, 2, 2, 8).empty());
  CHECK(fl::check_async_state(s, 5, 1, 2, 8) == "2 fits in flight, more than strategy.concurrency = 1");
  CHECK(fl::check_async_state(s, 4, 2, 2, 8) == "client 1's fit was sent version 5, which is not held (0 to 4)");
  CHECK(fl::check_async_state(s, 5, 2, 3, 8) == "model version 4 has 2 weights, not 3");
  CHECK(fl::check_async_state(s, 5, 2, 2, 3) == "a fit in flight of client 3, not a client of the run");
  auto twice = s;
  twice.flights[1].client = 3;
  CHECK(fl::check_async_state(twice, 5, 2, 2, 8) == "client 3 in flight twice");
  auto missing = s;
  missing.versions.erase(4);
  CHECK(fl::check_async_state(missing, 5, 2, 2, 8) == "client 3's fit was sent version 4, which is not held (0 to 5)");
  auto nan = s;
  nan.versions[5] = model({3, std::nanf("")});
  CHECK(fl::check_async_state(nan, 5, 2, 2, 8) == "model version 5 has a weight that is not finite");
  auto forever = s;
  forever.flights[0].done = INFINITY;
  CHECK(fl::check_async_state(forever, 5, 2, 2, 8) == "client 3's fit completes at a time that is not finite");
  CHECK(fl::check_async_state(fl::async_state{}, 0, 0, 2, 8).empty());
}
