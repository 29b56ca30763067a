#include <stdexcept>
#include <doctest/doctest.h>

#include "fl/selection.hpp"

using namespace flotilla;

TEST_CASE("each cluster's server is its member with the lowest cpu + mem") {
  std::vector<std::uint32_t> assignment{0, 1, 0, 1, 0};
  std::vector<fl::resource_score> scores{{50, 10}, {20, 20}, {10, 10}, {5, 5}, {30, 30}};
  CHECK(fl::select_servers(assignment, 2, scores) == std::vector<std::uint32_t>{2, 3});
}

TEST_CASE("ties go to the lowest client id") {
  std::vector<std::uint32_t> assignment{1, 0, 1, 0};
  std::vector<fl::resource_score> scores{{10, 10}, {15, 5}, {5, 15}, {20, 0}};
  CHECK(fl::select_servers(assignment, 2, scores) == std::vector<std::uint32_t>{1, 0});
}

TEST_CASE("a higher cpu share changes the choice") {
  std::vector<std::uint32_t> assignment{0, 0};
  std::vector<fl::resource_score> measured{{10, 10}, {12, 10}};
  CHECK(fl::select_servers(assignment, 1, measured)[0] == 0);
  measured[0].cpu += 80; // client 0 simulated as a busy device
  CHECK(fl::select_servers(assignment, 1, measured)[0] == 1);
}

TEST_CASE("an empty cluster gets no server and bad input is refused") {
  CHECK(fl::select_servers({0, 0}, 2, {{1, 1}, {2, 2}})[1] == UINT32_MAX);
  CHECK_THROWS_AS(fl::select_servers({0, 3}, 2, {{1, 1}, {2, 2}}), std::invalid_argument);
  CHECK_THROWS_AS(fl::select_servers({0}, 1, {{1, 1}, {2, 2}}), std::invalid_argument);
}
