#include <doctest/doctest.h>

#include <stdexcept>

#include "fl/layer_history.hpp"

using namespace flotilla;

namespace {

std::vector<float> v(float x) { return {x, x + 0.5f}; }

} // namespace

TEST_CASE("layer steps order the run: every initial round before cluster round 0") {
  CHECK(fl::layer_step("initial", 1) < fl::layer_step("initial", 2));
  CHECK(fl::layer_step("initial", 1000000) < fl::layer_step("cluster", 0));
  CHECK(fl::layer_step("cluster", 3) < fl::layer_step("cluster", 4));
}

TEST_CASE("a fit starts from the layers of the rounds before it, also when its round runs again") {
  fl::layer_history h(2);
  auto i1 = fl::layer_step("initial", 1), i2 = fl::layer_step("initial", 2), c1 = fl::layer_step("cluster", 1),
       c2 = fl::layer_step("cluster", 2);
  CHECK(h.before(i1) == nullptr); // never trained: the model's own values
  h.put(i1, v(1), 0);
  h.put(i2, v(2), i1);
  CHECK(*h.before(c1) == v(2));
  h.put(c1, v(3), i2);
  CHECK(*h.latest() == v(3));
  // Cluster round 1 runs again (its server was lost): it starts from what round 1's first attempt
  // started from, and its new result replaces the first.
  CHECK(*h.before(c1) == v(2));
  h.put(c1, v(4), i2);
  CHECK(*h.latest() == v(4));
  CHECK(h.size() == 2); // i1 is before the durable i2, which is kept as the last one up to it
  h.put(c2, v(5), c1);
  CHECK(h.size() == 2);
  CHECK(*h.before(c2) == v(4));
  CHECK_THROWS_AS(h.put(c2, {1, 2, 3}, c1), std::invalid_argument);
  // An older fit finishing after a newer one (its deadline had passed) does not erase it.
  auto c3 = fl::layer_step("cluster", 3);
  h.put(c3, v(6), c1);
  h.put(c2, v(7), c1);
  CHECK(*h.latest() == v(6));
  CHECK(*h.before(c3) == v(7));
}

TEST_CASE("versions past the last checkpoint are kept until one is written after them") {
  fl::layer_history h(2);
  // A fast cluster's member trains rounds 1..4 while the last checkpoint stays at round 0.
  for (std::uint32_t r = 1; r <= 4; ++r)
    h.put(fl::layer_step("cluster", r), v(static_cast<float>(r)), fl::layer_step("cluster", 0));
  CHECK(h.size() == 4);
  // The run stops; its checkpoint holds this member's cluster after round 2.
  h.rewind(fl::layer_step("cluster", 2));
  CHECK(h.size() == 2);
  CHECK(*h.latest() == v(2));
  CHECK(*h.before(fl::layer_step("cluster", 3)) == v(2));
}

TEST_CASE("the layer file reads back exactly and refuses a foreign, damaged or truncated file") {
  fl::layer_history h(2);
  h.put(fl::layer_step("initial", 1), v(1), 0);
  h.put(fl::layer_step("cluster", 2), v(-7.25f), 0);
  auto bytes = h.encode(5);
  auto back = fl::layer_history::decode(bytes, 5, 2);
  CHECK(back.size() == 2);
  CHECK(*back.latest() == v(-7.25f));
  CHECK(*back.before(fl::layer_step("cluster", 0)) == v(1));
  CHECK(fl::layer_history::decode(fl::layer_history(2).encode(5), 5, 2).empty());

  auto refused = [&](const std::string& b, std::uint32_t client, std::size_t floats, const std::string& says) {
    try {
      fl::layer_history::decode(b, client, floats);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK_MESSAGE(std::string(e.what()).find(says) != std::string::npos, e.what());
    }
  };
  refused(bytes, 6, 2, "client 5's layers");
  refused(bytes, 5, 3, "2 values");
  refused(bytes.substr(0, bytes.size() - 1), 5, 2, "do not fit");
  refused("PK\x03\x04 not a layer file at all, but long enough to hold a header", 5, 2, "FLBNHIST");
  auto flipped = bytes;
  flipped[flipped.size() - 40] ^= 1; // inside the last version's floats
  refused(flipped, 5, 2, "checksum");
  // A declared count far beyond the file is refused before anything is allocated.
  auto huge = bytes;
  huge[8 + 4 + 4 + 8 + 7] = 0x7f;
  refused(huge, 5, 2, "do not fit");
}
