// The in-flight budget: reservations up to the limit, then first come, first served.
#include <doctest/doctest.h>

#include "net/in_flight_budget.hpp"

using flotilla::net::in_flight_budget;
using ids = std::vector<std::uint64_t>;

TEST_CASE("reservations succeed until the limit, then queue in arrival order") {
  in_flight_budget b{100};
  CHECK(b.reserve_or_wait(1, 60));
  CHECK(b.reserve_or_wait(2, 40));
  CHECK(b.used() == 100);
  CHECK(!b.reserve_or_wait(3, 50));
  CHECK(!b.reserve_or_wait(4, 10)); // fits after 3, but 3 came first
  CHECK(b.waiting() == 2);
  CHECK(b.release(40) == ids{}); // 60 used: 3's 50 does not fit yet, and 4 waits behind it
  CHECK(b.release(60) == ids{3, 4});
  CHECK(b.used() == 60);
}

TEST_CASE("a release grants every waiter that then fits, in order") {
  in_flight_budget b{100};
  CHECK(b.reserve_or_wait(1, 100));
  CHECK(!b.reserve_or_wait(2, 30));
  CHECK(!b.reserve_or_wait(3, 30));
  CHECK(!b.reserve_or_wait(4, 50));
  CHECK(b.release(100) == ids{2, 3});
  CHECK(b.used() == 60);
  CHECK(b.release(30) == ids{4});
  CHECK(b.used() == 80);
  CHECK(b.waiting() == 0);
}

TEST_CASE("a closed connection's queued request is dropped and frees the queue") {
  in_flight_budget b{100};
  CHECK(b.reserve_or_wait(1, 90));
  CHECK(!b.reserve_or_wait(2, 50));
  CHECK(!b.reserve_or_wait(3, 5));
  CHECK(b.cancel(2) == ids{3});
  CHECK(b.used() == 95);
  CHECK(b.release(1000) == ids{});
  CHECK(b.used() == 0);
}

TEST_CASE("a request above the limit never passes") {
  in_flight_budget b{100};
  CHECK(!b.reserve_or_wait(1, 101));
  CHECK(b.release(0) == ids{});
  CHECK(b.waiting() == 1);
}
