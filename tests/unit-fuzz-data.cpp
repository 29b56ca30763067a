#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <random>

#include "data/cifar.hpp"
#include "data/data_error.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"
#include "fixtures.hpp"

// Every allocation of this test executable goes through here, so a reader that allocates
// from a header's claim is caught even where the kernel would overcommit the memory.
#include "allocation_probe.hpp"

using namespace flotilla::test;

using namespace flotilla;
using bytes = std::vector<unsigned char>;

namespace {

// Every input here is under 100 KB, so a larger single allocation came from a header's claim.
constexpr std::size_t allocation_limit = std::size_t{4} << 20;
constexpr std::uint32_t side = 4;
const data::idx_expectation small{side, side, 10};

enum class verdict { load, refuse, either };

// One input: the file contents, what was done to them, and what a correct reader must do.
struct mutation {
  bytes content;
  std::string what;
  verdict expected = verdict::either;
  std::string message; ///< exact data_error text expected, when known ("" = any)

  mutation() = default;
  mutation(bytes c, std::string w, verdict e, std::string m = {})
      : content(std::move(c)), what(std::move(w)), expected(e), message(std::move(m)) {}
};

// The outcome of one call: a value, a data_error's text, or a failure (other exception).
template <class T>
struct attempt {
  std::optional<T> value;
  std::optional<std::string> refused;
  std::string failure;
  std::size_t largest = 0;
};

template <class F>
auto try_load(F&& load) -> attempt<decltype(load())> {
  attempt<decltype(load())> out;
  largest_request = 0;
  tracking = true;
  try {
    out.value.emplace(load());
  } catch (const data::data_error& e) {
    out.refused = e.what();
  } catch (const std::exception& e) {
    out.failure = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    out.failure = "unexpected non-standard exception";
  }
  tracking = false;
  out.largest = largest_request;
  return out;
}

std::uint32_t pick(std::mt19937_64& rng, std::uint32_t lo, std::uint32_t hi) {
  return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
}

void set_u32(bytes& b, std::size_t offset, std::uint32_t v) {
  for (int k = 0; k < 4; ++k)
    b[offset + static_cast<std::size_t>(k)] = static_cast<unsigned char>(v >> (24 - 8 * k));
}

// Values a corrupt or hostile header field might hold; never equal to `current`.
std::uint32_t odd_value(std::mt19937_64& rng, std::uint32_t current) {
  const std::uint32_t values[] = {0, 1, current - 1, current + 1, 28, 32, 1u << 16, 1u << 31, 0xffffffffu,
                                  static_cast<std::uint32_t>(rng())};
  auto v = values[pick(rng, 0, 9)];
  return v == current ? v + 1 : v;
}

// A label byte: near the class boundary half the time, anything the other half.
std::uint32_t label_value(std::mt19937_64& rng) {
  return pick(rng, 0, 1) ? pick(rng, 0, 12) : pick(rng, 0, 255);
}

bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  bytes out(n);
  for (auto& b : out)
    b = static_cast<unsigned char>(rng());
  return out;
}

// Damage common to both formats. Bit flips may land anywhere, so `accepts` decides whether
// the flipped file is still valid (the header intact, every label below 10).
template <class Accepts>
mutation damage(std::mt19937_64& rng, bytes b, Accepts&& accepts, const std::string& what) {
  switch (pick(rng, 0, 4)) {
  case 0: {
    auto flips = pick(rng, 1, 8);
    for (std::uint32_t k = 0; k < flips; ++k)
      b[pick(rng, 0, static_cast<std::uint32_t>(b.size() - 1))] ^= static_cast<unsigned char>(1u << pick(rng, 0, 7));
    bool ok = accepts(b);
    return {b, what + ": " + std::to_string(flips) + " bit flips", ok ? verdict::load : verdict::refuse};
  }
  case 1:
    b.resize(pick(rng, 0, static_cast<std::uint32_t>(b.size() - 1)));
    return {b, what + ": truncated to " + std::to_string(b.size()), verdict::refuse};
  case 2: {
    auto extra = random_bytes(rng, pick(rng, 1, 64));
    b.insert(b.end(), extra.begin(), extra.end());
    return {b, what + ": " + std::to_string(extra.size()) + " bytes appended", verdict::refuse};
  }
  case 3:
    return {random_bytes(rng, pick(rng, 0, 300)), what + ": garbage", verdict::either};
  default:
    return {{}, what + ": empty", verdict::refuse};
  }
}

// Whether an IDX file of these bytes is as valid as `original`: same header, labels below 10.
bool idx_accepts(const bytes& b, const bytes& original, bool images) {
  std::size_t header = images ? 16 : 8;
  return std::equal(b.begin(), b.begin() + static_cast<long>(header), original.begin()) &&
         (images || std::all_of(b.begin() + 8, b.end(), [](unsigned char y) { return y < 10; }));
}

// An IDX image or label file of n samples (images px x px), damaged in one of the ways a
// reader must survive.
mutation idx_mutation(std::mt19937_64& rng, bool images, std::uint32_t n, std::uint32_t px,
                      const std::string& path) {
  auto b = images ? test::idx_images(n, px, px) : test::idx_labels(n);
  std::size_t header = images ? 16 : 8;
  auto kind = pick(rng, 0, 3);
  if (kind == 0) { // a header field set to an odd value
    auto field = pick(rng, 1, images ? 3 : 1);
    set_u32(b, 4 * field, odd_value(rng, field == 1 ? n : px));
    return {b, path + ": header field " + std::to_string(field) + " changed", verdict::refuse};
  }
  if (kind == 1 && images) { // pixels are free values
    b[header + pick(rng, 0, n * px * px - 1)] ^= static_cast<unsigned char>(1u << pick(rng, 0, 7));
    return {b, path + ": a pixel bit flipped", verdict::load};
  }
  if (kind == 1) { // a label byte, possibly past the classes
    auto i = pick(rng, 0, n - 1), v = label_value(rng);
    b[header + i] = static_cast<unsigned char>(v);
    // The fixture's labels are all below 10, so this one is the first bad label if any.
    if (v < 10)
      return {b, path + ": label " + std::to_string(i) + " = " + std::to_string(v), verdict::load};
    return {b, path + ": label " + std::to_string(i) + " = " + std::to_string(v), verdict::refuse,
            path + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                " is outside 0-9; the file is corrupt: delete it and fetch it again"};
  }
  if (kind == 2 && images) { // a whole, consistent file of another image size
    auto rows = pick(rng, 1, 40), cols = rows == px ? px + 1 : pick(rng, 1, 40);
    return {test::idx_images(n, rows, cols), path + ": " + std::to_string(rows) + "x" + std::to_string(cols) +
            " images", verdict::refuse};
  }
  return damage(rng, b, [&](const bytes& d) { return idx_accepts(d, b, images); }, path);
}

// Writes `m` raw, gzip-compressed or as a damaged gzip stream; the verdict follows.
void write_variant(std::mt19937_64& rng, const std::string& path, mutation& m) {
  auto form = pick(rng, 0, 3);
  if (form <= 1) {
    test::write_bytes(path, m.content);
    return;
  }
  auto gz = test::gzip(m.content);
  if (form == 2) {
    test::write_bytes(path, gz);
    m.what += " (gzip)";
    return;
  }
  // Damaged compressed bytes: CRC and length checks usually catch it, but a flip in the
  // gzip header's time stamp is harmless, so any outcome is right if consistent.
  if (pick(rng, 0, 1) == 0)
    gz[pick(rng, 0, static_cast<std::uint32_t>(gz.size() - 1))] ^= static_cast<unsigned char>(1u << pick(rng, 0, 7));
  else
    gz.resize(pick(rng, 2, static_cast<std::uint32_t>(gz.size() - 1)));
  test::write_bytes(path, gz);
  m.what += " (damaged gzip)";
  m.expected = verdict::either;
  m.message.clear();
}

bool consistent(const data::image_set& s, std::size_t channels, std::size_t h, std::size_t w) {
  return s.count > 0 && s.channels == channels && s.height == h && s.width == w &&
         s.labels.size() == s.count && s.pixels.size() == s.count * channels * h * w &&
         std::all_of(s.labels.begin(), s.labels.end(), [](std::uint8_t y) { return y < 10; });
}

bool consistent(const data::split& s, std::size_t channels, std::size_t side_px) {
  return s.count > 0 && s.channels == channels && s.height == side_px && s.width == side_px &&
         s.labels.size() == s.count && s.pixels.size() == s.count * s.sample_size() &&
         s.background.size() == channels &&
         std::all_of(s.labels.begin(), s.labels.end(), [](std::int64_t y) { return y >= 0 && y < 10; });
}

// Checks one outcome against the verdict; returns 1 when it loaded, for the tallies.
template <class T, class Consistent>
int judge(const attempt<T>& a, const mutation& m, Consistent&& is_consistent) {
  INFO(m.what);
  CHECK_MESSAGE(a.failure.empty(), a.failure);
  CHECK(a.largest <= allocation_limit);
  if (a.value) {
    CHECK(m.expected != verdict::refuse);
    CHECK(is_consistent(*a.value));
    return 1;
  }
  if (a.refused) {
    CHECK_MESSAGE(m.expected != verdict::load, *a.refused);
    if (!m.message.empty())
      CHECK(*a.refused == m.message);
  }
  return 0;
}

} // namespace

TEST_CASE("fuzzed IDX files load consistently or raise data_error") {
  test::temp_dir dir;
  std::mt19937_64 rng(0x1d8f00d);
  int loaded = 0, cases = 2500;
  for (int c = 0; c < cases; ++c) {
    auto n = pick(rng, 1, 12);
    bool damage_images = pick(rng, 0, 1) == 0;
    auto img_path = dir.file("img"), lbl_path = dir.file("lbl");
    auto m = idx_mutation(rng, damage_images, n, side, damage_images ? img_path : lbl_path);
    m.what = "case " + std::to_string(c) + ", " + m.what;
    write_variant(rng, damage_images ? img_path : lbl_path, m);
    test::write_bytes(damage_images ? lbl_path : img_path,
                      damage_images ? test::idx_labels(n) : test::idx_images(n, side, side));
    auto a = try_load([&] { return data::read_idx(img_path, lbl_path, small); });
    loaded += judge(a, m, [](const data::image_set& s) { return consistent(s, 1, side, side); });
    if (a.value && m.expected == verdict::load) { // what loaded is what the file holds
      const auto& got = damage_images ? a.value->pixels : a.value->labels;
      CHECK(std::equal(got.begin(), got.end(), m.content.begin() + (damage_images ? 16 : 8), m.content.end()));
    }
  }
  // Both outcomes must be common, or the generator has stopped testing one of them.
  CHECK(loaded > cases / 10);
  CHECK(loaded < cases * 9 / 10);
}

TEST_CASE("huge IDX counts and image sizes are refused without allocating them") {
  test::temp_dir dir;
  std::mt19937_64 rng(0xb16);
  for (int c = 0; c < 500; ++c) {
    // Consistent headers in both files that promise far more than the few bytes that follow;
    // half expect the huge size, so the 64-bit overflow check is reached too.
    std::uint32_t count = c == 0 ? 0xffffffffu : pick(rng, 13, 0xffffffffu);
    std::uint32_t rows = c % 2 ? side : pick(rng, 1u << 12, 0xffffffffu);
    std::uint32_t cols = c % 2 ? side : pick(rng, 1u << 12, 0xffffffffu);
    auto img = test::idx_images(2, side, side), lbl = test::idx_labels(2);
    set_u32(img, 4, count);
    set_u32(img, 8, rows);
    set_u32(img, 12, cols);
    set_u32(lbl, 4, count);
    mutation m{img, "case " + std::to_string(c) + ": " + std::to_string(count) + " images of " +
                        std::to_string(rows) + "x" + std::to_string(cols), verdict::refuse};
    write_variant(rng, dir.file("img"), m);
    test::write_bytes(dir.file("lbl"), lbl);
    auto a = try_load([&] { return data::read_idx(dir.file("img"), dir.file("lbl"), {rows, cols, 10}); });
    judge(a, m, [](const data::image_set&) { return false; });
    CHECK(a.largest < (std::size_t{1} << 20));
  }
}

TEST_CASE("fuzzed CIFAR-10 batches load consistently or raise data_error") {
  test::temp_dir dir;
  std::mt19937_64 rng(0xc1fa);
  constexpr std::size_t record = 3073;
  int loaded = 0, cases = 1500;
  for (int c = 0; c < cases; ++c) {
    auto files = pick(rng, 1, 3), victim = pick(rng, 0, files - 1);
    std::vector<std::string> paths;
    std::size_t records_written = 0;
    mutation m;
    for (std::uint32_t f = 0; f < files; ++f) {
      paths.push_back(dir.file("batch" + std::to_string(f)));
      auto b = test::cifar_records(static_cast<int>(pick(rng, 1, 3)), static_cast<int>(f));
      records_written += b.size() / record;
      if (f != victim) {
        test::write_bytes(paths.back(), b);
        continue;
      }
      auto what = "case " + std::to_string(c) + ", " + paths.back();
      auto records = b.size() / record;
      auto kind = pick(rng, 0, 2);
      if (kind == 0) { // one label byte, possibly out of range
        auto r = pick(rng, 0, static_cast<std::uint32_t>(records - 1)), v = label_value(rng);
        b[r * record] = static_cast<unsigned char>(v);
        m = {b, what + ": label of record " + std::to_string(r) + " = " + std::to_string(v),
             v < 10 ? verdict::load : verdict::refuse,
             v < 10 ? "" : paths.back() + ": label " + std::to_string(v) + " at index " + std::to_string(r) +
                               " is outside 0-9; the file is corrupt: delete it and fetch it again"};
      } else if (kind == 1) { // pixels are free values
        b[1 + pick(rng, 0, static_cast<std::uint32_t>(records - 1)) * record + pick(rng, 0, 3071)] ^= 0x40;
        m = {b, what + ": a pixel bit flipped", verdict::load};
      } else {
        m = damage(rng, b, [&](const bytes& d) {
          for (std::size_t r = 0; r < records; ++r)
            if (d[r * record] >= 10)
              return false;
          return true;
        }, what);
        // Whole records cut (rare) may load, when their labels are in range.
        if (!m.content.empty() && m.content.size() % record == 0)
          m.expected = verdict::either;
      }
      write_variant(rng, paths.back(), m);
    }
    auto a = try_load([&] { return data::read_cifar10(paths); });
    loaded += judge(a, m, [](const data::image_set& s) { return consistent(s, 3, 32, 32); });
    if (a.value && m.expected == verdict::load)
      CHECK(a.value->count == records_written);
  }
  CHECK(loaded > cases / 10);
  CHECK(loaded < cases * 9 / 10);
}

TEST_CASE("fuzzed dataset folders load a consistent dataset or raise data_error") {
  test::temp_dir dir;
  std::mt19937_64 rng(0xda7a);
  const std::string names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                               "t10k-labels-idx1-ubyte"};
  int loaded = 0, cases = 1000;
  for (int c = 0; c < cases; ++c) {
    for (const auto& name : names) // the other form would be found instead
      for (const auto& form : {name, name + ".gz"})
        std::filesystem::remove(dir.file(form));
    std::uint32_t sizes[] = {pick(rng, 1, 6), pick(rng, 1, 3)};
    auto victim = pick(rng, 0, 3);
    auto limit = pick(rng, 0, 7);
    mutation m;
    for (std::uint32_t f = 0; f < 4; ++f) {
      bool images = f % 2 == 0;
      auto n = sizes[f / 2];
      auto path = dir.file(names[f] + (pick(rng, 0, 1) ? ".gz" : ""));
      if (f != victim) {
        auto b = images ? test::idx_images(n, 28, 28) : test::idx_labels(n);
        test::write_bytes(path, path.size() > 3 && path.substr(path.size() - 3) == ".gz" ? test::gzip(b) : b);
        continue;
      }
      m = idx_mutation(rng, images, n, 28, path);
      m.what = "case " + std::to_string(c) + ", limit " + std::to_string(limit) + ", " + m.what;
      write_variant(rng, path, m);
    }
    auto a = try_load([&] { return data::load_dataset({"mnist", dir.path().string(), limit}); });
    loaded += judge(a, m, [&](const std::shared_ptr<const data::dataset>& ds) {
      auto train_n = limit == 0 ? sizes[0] : std::min(limit, sizes[0]);
      return ds->num_classes == 10 && consistent(ds->train, 1, 28) && consistent(ds->test, 1, 28) &&
             ds->train.count == train_n && ds->test.count == sizes[1] && ds->fingerprint.size() == 64;
    });
  }
  CHECK(loaded > cases / 10);
  CHECK(loaded < cases * 9 / 10);
}
