#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/data_error.hpp"
#include "data/leaf.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using flotilla::data::data_error;

namespace {

namespace fs = std::filesystem;

const std::string fix = "; fix the file or regenerate it with LEAF's preprocess.sh";
const std::string layout = "; LEAF's layout is data.root holding train/ and test/ folders of JSON files, "
                           "as LEAF's preprocess.sh writes them";

/// Writes `text` at root/`relative`, creating its folder.
void put(const test::temp_dir& dir, const std::string& relative, const std::string& text) {
  auto path = dir.path() / relative;
  fs::create_directories(path.parent_path());
  test::write_bytes(path.string(), std::vector<unsigned char>(text.begin(), text.end()));
}

std::string at(const test::temp_dir& dir, const std::string& relative) {
  return (dir.path() / relative).string();
}

/// What read_leaf throws for the tree in `dir`, or a note that it threw nothing.
std::string error_of(const test::temp_dir& dir) {
  try {
    data::read_leaf(dir.path().string());
  } catch (const data_error& e) {
    return e.what();
  }
  return "(no data_error)";
}

// Two users of 2-feature samples, both with training and test samples.
const std::string good_train = R"({"users": ["a", "b"], "num_samples": [2, 1],
  "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})";
const std::string good_test = R"({"users": ["a", "b"], "num_samples": [1, 1],
  "user_data": {"a": {"x": [[7, 8]], "y": [1]}, "b": {"x": [[9, 10]], "y": [0]}}})";

} // namespace

TEST_CASE("leaf reader reads users as natural clients, in byte order, samples in users order") {
  test::temp_dir dir;
  // user_data lists f10 first, users lists f9 first: samples follow users. Extra keys are ignored.
  put(dir, "train/data.json", R"({"users": ["f9", "f10"], "num_samples": [2, 1],
    "hierarchies": [["w", 1], {"k": null}],
    "user_data": {"f10": {"x": [[7, 8, 9.5]], "y": [1]},
                  "f9": {"x": [[1, 2, 3], [4, 5, 6]], "y": [0, 3.0], "extra": {"x": [true]}}}})");
  put(dir, "test/data.json", R"({"users": ["f10", "f9"], "num_samples": [1, 1],
    "user_data": {"f9": {"x": [[0.5, 0, -1e-3]], "y": [2]}, "f10": {"x": [[1e30, 0, 0]], "y": [1]}}})");

  auto set = data::read_leaf(dir.path().string());

  CHECK(set.sample_shape == std::vector<std::size_t>{3});
  CHECK(set.classes == 4);
  CHECK(set.natural_ids == std::vector<std::string>{"f10", "f9"});
  CHECK(set.true_group.empty());
  CHECK(set.train.count == 3);
  CHECK(set.train.x == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9.5f});
  CHECK(set.train.y == std::vector<std::int64_t>{0, 3, 1});
  CHECK(set.train.owner == std::vector<std::uint32_t>{1, 1, 0});
  CHECK(set.test.count == 2);
  CHECK(set.test.x == std::vector<float>{1e30f, 0, 0, 0.5f, 0, -1e-3f});
  CHECK(set.test.y == std::vector<std::int64_t>{1, 2});
  CHECK(set.test.owner == std::vector<std::uint32_t>{0, 1});
}

TEST_CASE("leaf reader merges a split's files in file-name order") {
  test::temp_dir dir;
  // all_data_10.json sorts before all_data_9.json, so z's samples come first.
  put(dir, "train/all_data_9.json", R"({"users": ["a"], "num_samples": [1], "user_data": {"a": {"x": [[1]], "y": [4]}}})");
  put(dir, "train/all_data_10.json",
      R"({"users": ["z"], "num_samples": [2], "user_data": {"z": {"x": [[2], [3]], "y": [0, 1]}}})");
  put(dir, "train/notes.txt", "not read");
  put(dir, "test/all_data_0.json", R"({"users": ["a", "z"], "num_samples": [1, 1],
    "user_data": {"a": {"x": [[4]], "y": [6]}, "z": {"x": [[5]], "y": [2]}}})");

  auto set = data::read_leaf(dir.path().string());

  CHECK(set.natural_ids == std::vector<std::string>{"a", "z"});
  CHECK(set.train.x == std::vector<float>{2, 3, 1});
  CHECK(set.train.y == std::vector<std::int64_t>{0, 1, 4});
  CHECK(set.train.owner == std::vector<std::uint32_t>{1, 1, 0});
  CHECK(set.test.owner == std::vector<std::uint32_t>{0, 1});
  CHECK(set.classes == 7); // the largest label, 6, is in the test split
}

TEST_CASE("leaf reader takes samples that are lists of equal-length lists") {
  test::temp_dir dir;
  put(dir, "train/t.json", R"({"users": ["a"], "num_samples": [2],
    "user_data": {"a": {"x": [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], "y": [0, 1]}}})");
  put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1],
    "user_data": {"a": {"x": [[[0, 0, 0], [0, 0, 1]]], "y": [1]}}})");

  auto set = data::read_leaf(dir.path().string());

  CHECK(set.sample_shape == std::vector<std::size_t>{2, 3});
  CHECK(set.train.count == 2);
  CHECK(set.train.x == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(set.test.x == std::vector<float>{0, 0, 0, 0, 0, 1});

  SUBCASE("but not ragged ones") {
    put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1],
      "user_data": {"a": {"x": [[[0, 0, 0], [0, 1]]], "y": [1]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user_data[\"a\"][\"x\"][0] is ragged: its lists at depth 2 "
                                                    "hold 3 and 2 entries; a sample is a list of numbers or of "
                                                    "equal-length lists" + fix);
  }
  SUBCASE("nor ones of another shape than the samples before") {
    put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1],
      "user_data": {"a": {"x": [[[0, 0], [0, 1], [1, 1]]], "y": [1]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user_data[\"a\"][\"x\"][0] has shape {3, 2}, unlike the "
                                                    "{2, 3} of the samples before it; every sample must have "
                                                    "the same shape" + fix);
  }
  SUBCASE("nor ones mixing numbers and lists") {
    put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1],
      "user_data": {"a": {"x": [[[0, 0, 0], 1]], "y": [1]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user_data[\"a\"][\"x\"][0] mixes numbers and lists; a "
                                                    "sample is a list of numbers or of equal-length lists" + fix);
  }
  SUBCASE("nor ones nested 4 deep") {
    put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1],
      "user_data": {"a": {"x": [[[[[0]]]]], "y": [1]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user_data[\"a\"][\"x\"][0] is nested more than 3 lists "
                                                    "deep; a sample has at most 3 dimensions" + fix);
  }
  SUBCASE("nor empty ones") {
    put(dir, "test/t.json", R"({"users": ["a"], "num_samples": [1], "user_data": {"a": {"x": [[[], []]], "y": [1]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user_data[\"a\"][\"x\"][0] is empty; a sample holds at "
                                                    "least one number" + fix);
  }
}

TEST_CASE("leaf reader names the file, the key and the index of a fault in the data") {
  test::temp_dir dir;
  put(dir, "train/t.json", good_train);
  put(dir, "test/t.json", good_test);
  auto train = at(dir, "train/t.json");
  REQUIRE(data::read_leaf(dir.path().string()).train.count == 3); // the tree each case spoils

  SUBCASE("num_samples disagrees with x") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [3, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": num_samples[0] = 3 but user_data[\"a\"][\"x\"] holds 2 samples" + fix);
  }
  SUBCASE("num_samples disagrees with y") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": num_samples[0] = 2 but user_data[\"a\"][\"y\"] holds 1 label" + fix);
  }
  SUBCASE("users and num_samples differ in length") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": users lists 2 names but num_samples 1 count" + fix);
  }
  SUBCASE("ragged x rows") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6, 7]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"b\"][\"x\"][0] has shape {3}, unlike the {2} of the samples "
                                   "before it; every sample must have the same shape" + fix);
  }
  SUBCASE("a negative label") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [-1]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"b\"][\"y\"][0] = -1 is not a class id (a whole number, 0 or "
                                   "more)" + fix);
  }
  SUBCASE("a fractional label") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 2.5]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"y\"][1] = 2.5 is not a class id (a whole number, 0 or "
                                   "more)" + fix);
  }
  SUBCASE("a label past the class limit") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1048576]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"y\"][1] = 1048576 is past the largest class id "
                                   "flotilla takes (1048575)" + fix);
  }
  SUBCASE("y a list of lists") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [[0], [1]]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"y\"][0] is a list, expected a class id (a whole "
                                   "number, 0 or more)" + fix);
  }
  SUBCASE("x of strings") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], ["3", "4"]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"x\"][1][0] is a string, expected a number" + fix);
  }
  SUBCASE("x a string") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": "1 2 3 4", "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"x\"] is a string, expected a list of samples" + fix);
  }
  SUBCASE("x a flat list of numbers") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [1, 2, 3, 4], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"x\"][0] is a number, expected a sample (a list of "
                                   "numbers)" + fix);
  }
  SUBCASE("a feature outside the float range") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 1e300]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"b\"][\"x\"][0][1] = 1e300 is outside the float range "
                                   "(-3.4e38 to 3.4e38)" + fix);
  }
  SUBCASE("a feature outside the double range") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, -1e400], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"][\"x\"][0][1] = -1e400 is outside the float range "
                                   "(-3.4e38 to 3.4e38)" + fix);
  }
  SUBCASE("a user listed but without data") {
    put(dir, "train/t.json", R"({"users": ["a", "b"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}}})");
    CHECK(error_of(dir) == train + ": users[1] = \"b\" has no entry in user_data" + fix);
  }
  SUBCASE("data of a user not listed") {
    put(dir, "train/t.json", R"({"users": ["a"], "num_samples": [2],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"b\"] is not listed in users" + fix);
  }
  SUBCASE("a user listed twice") {
    put(dir, "train/t.json", R"({"users": ["a", "a"], "num_samples": [2, 2],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}}})");
    CHECK(error_of(dir) == train + ": users[1] = \"a\" is also users[0]" + fix);
  }
  SUBCASE("a user's data given twice") {
    put(dir, "train/t.json", R"({"users": ["a"], "num_samples": [1],
      "user_data": {"a": {"x": [[1, 2]], "y": [0]}, "a": {"x": [[1, 2]], "y": [0]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"a\"] appears twice" + fix);
  }
  SUBCASE("a user with no samples") {
    put(dir, "train/t.json", R"({"users": ["a", "b", "e"], "num_samples": [2, 1, 0],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b": {"x": [[5, 6]], "y": [2]},
                    "e": {"x": [], "y": []}}})");
    CHECK(error_of(dir) == train + ": user_data[\"e\"] has no samples (num_samples[2] = 0); a client needs at "
                                   "least one: drop the user from the file");
  }
  SUBCASE("a user only in the test split") {
    put(dir, "test/t.json", R"({"users": ["a", "c"], "num_samples": [1, 1],
      "user_data": {"a": {"x": [[7, 8]], "y": [1]}, "c": {"x": [[9, 10]], "y": [0]}}})");
    CHECK(error_of(dir) == at(dir, "test/t.json") + ": user \"c\" has test samples but no training samples, so "
                                                    "it would be an empty client; split LEAF's data by sample "
                                                    "(preprocess.sh -t sample), not by user");
  }
  SUBCASE("a user in two files of a split") {
    put(dir, "train/u.json", R"({"users": ["b"], "num_samples": [1], "user_data": {"b": {"x": [[5, 6]], "y": [2]}}})");
    CHECK(error_of(dir) == at(dir, "train/u.json") + ": user \"b\" is also in " + train +
                               "; a user's samples of a split belong in one file: merge or rename them");
  }
  SUBCASE("an odd user name is quoted and escaped") {
    put(dir, "train/t.json", R"({"users": ["a", "b\"\n"], "num_samples": [2, 1],
      "user_data": {"a": {"x": [[1, 2], [3, 4]], "y": [0, 1]}, "b\"\n": {"x": [[5, 6]], "y": [-2]}}})");
    CHECK(error_of(dir) == train + ": user_data[\"b\\\"\\n\"][\"y\"][0] = -2 is not a class id (a whole "
                                   "number, 0 or more)" + fix);
  }
}

TEST_CASE("leaf reader refuses files that are not LEAF's JSON") {
  test::temp_dir dir;
  put(dir, "train/t.json", good_train);
  put(dir, "test/t.json", good_test);
  auto train = at(dir, "train/t.json");

  SUBCASE("truncated JSON") {
    put(dir, "train/t.json", good_train.substr(0, good_train.find("4]]") + 1)); // ends in "[3, 4"
    auto message = error_of(dir);
    CHECK(message.rfind(train + ": not valid JSON (parse error at line 2", 0) == 0);
    CHECK(message.find("unexpected end of input") != std::string::npos);
    CHECK(message.find("); the file is truncated or corrupt: regenerate it with LEAF's preprocess.sh") !=
          std::string::npos);
  }
  SUBCASE("bytes that are not JSON") {
    test::write_bytes(train, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0xff});
    auto message = error_of(dir);
    CHECK(message.rfind(train + ": not valid JSON (parse error at line 1, column 1: syntax error", 0) == 0);
    CHECK(message.find("\x89") == std::string::npos); // the file's bytes are not echoed raw
  }
  SUBCASE("an empty file") {
    put(dir, "train/t.json", "");
    CHECK(error_of(dir).rfind(train + ": not valid JSON (", 0) == 0);
  }
  SUBCASE("JSON after the object") {
    put(dir, "train/t.json", good_train + " {}");
    CHECK(error_of(dir).rfind(train + ": not valid JSON (", 0) == 0);
  }
  SUBCASE("a list at the top") {
    put(dir, "train/t.json", "[" + good_train + "]");
    CHECK(error_of(dir) == train + ": the top level is a list, expected an object with users, num_samples and "
                                   "user_data" + fix);
  }
  SUBCASE("no user_data") {
    put(dir, "train/t.json", R"({"users": ["a"], "num_samples": [2]})");
    CHECK(error_of(dir) == train + ": no user_data key; a LEAF file is an object with users, num_samples and "
                                   "user_data" + fix);
  }
  SUBCASE("users twice") {
    put(dir, "train/t.json", R"({"users": ["a"], "users": ["a"]})");
    CHECK(error_of(dir) == train + ": users appears twice" + fix);
  }
  SUBCASE("users of numbers") {
    put(dir, "train/t.json", R"({"users": ["a", 7]})");
    CHECK(error_of(dir) == train + ": users[1] is a number, expected a user name (a string)" + fix);
  }
  SUBCASE("a negative sample count") {
    put(dir, "train/t.json", R"({"users": ["a"], "num_samples": [-2]})");
    CHECK(error_of(dir) == train + ": num_samples[0] = -2 is not a sample count (a whole number, 0 to "
                                   "2147483648)" + fix);
  }
  SUBCASE("a directory named like a JSON file") {
    fs::create_directories(dir.path() / "train" / "a.json");
    CHECK(error_of(dir) == at(dir, "train/a.json") + ": a directory, not a JSON file; move it out of " +
                               at(dir, "train"));
  }
}

TEST_CASE("leaf reader says what LEAF's layout is when a folder is missing or empty") {
  test::temp_dir dir;
  put(dir, "train/t.json", good_train);

  SUBCASE("no test folder") {
    CHECK(error_of(dir) == at(dir, "test") + ": not found" + layout);
  }
  SUBCASE("no JSON in the test folder") {
    put(dir, "test/t.txt", good_test);
    CHECK(error_of(dir) == at(dir, "test") + ": holds no .json file" + layout);
  }
  SUBCASE("test a file") {
    put(dir, "test", good_test);
    CHECK(error_of(dir) == at(dir, "test") + ": not a directory" + layout);
  }
  SUBCASE("no users in the test split") {
    put(dir, "test/t.json", R"({"users": [], "num_samples": [], "user_data": {}})");
    CHECK(error_of(dir) == at(dir, "test") + ": its JSON files hold no users" + layout);
  }
  SUBCASE("no root at all") {
    CHECK_THROWS_WITH_AS(data::read_leaf(at(dir, "nowhere")),
                         (at(dir, "nowhere/train") + ": not found" + layout).c_str(), data_error);
  }
}
