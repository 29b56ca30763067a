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
