#include <doctest/doctest.h>

#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/data_error.hpp"
#include "data/tensor_file.hpp"
#include "data/zip_archive.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using flotilla::data::data_error;

namespace {

// ---- A torch-free torch.save: the pickle and zip layout of torch 1.13's output ----

/// One tensor of the dict: which storage it views and how.
struct tensor_spec {
  std::string storage_type; // e.g. "ByteStorage"
  std::string key;          // storage key: the data is the record "<folder>/data/<key>"
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides; // empty: contiguous
  std::int64_t offset = 0;
};

/// A value of the dict: a tensor, or a plain int when `is_int`.
struct dict_value {
  tensor_spec tensor;
  bool is_int = false;
  std::int64_t number = 0;
};

dict_value tensor(std::string storage_type, std::string key, std::vector<std::int64_t> sizes,
                  std::vector<std::int64_t> strides = {}, std::int64_t offset = 0) {
  return {{std::move(storage_type), std::move(key), std::move(sizes), std::move(strides), offset}, false, 0};
}

dict_value int_value(std::int64_t v) {
  return {{}, true, v};
}

using dict = std::vector<std::pair<std::string, dict_value>>;

// Writes what pickletools.dis shows of torch.save(dict, f) at its default protocol 2: an empty
// dict, MARK, per entry its key and a _rebuild_tensor_v2 REDUCE on a persistent storage id
// (BINPUT after every value, BINGET for a global or string seen before), SETITEMS, STOP.
class pickle_writer {
public:
  std::string write(const dict& items, const std::map<std::string, std::int64_t>& numel) {
    out_ = "\x80\x02";
    out_ += '}';
    put();
    out_ += '(';
    for (const auto& [name, v] : items) {
      str(name);
      if (v.is_int) {
        integer(v.number);
        continue;
      }
      const auto& t = v.tensor;
      global("torch._utils", "_rebuild_tensor_v2");
      out_ += "((";
      str("storage");
      global("torch", t.storage_type);
      str(t.key);
      str("cpu");
      integer(numel.count(t.key) ? numel.at(t.key) : 0);
      out_ += 't';
      put();
      out_ += 'Q';
      integer(t.offset);
      ints(t.sizes);
      auto strides = t.strides;
      if (strides.empty()) {
        std::int64_t s = 1;
        strides.resize(t.sizes.size());
        for (auto i = t.sizes.size(); i-- > 0; s *= t.sizes[i])
          strides[i] = s;
      }
      ints(strides);
      out_ += '\x89'; // requires_grad=False
      global("collections", "OrderedDict");
      out_ += ")R";
      put();
      out_ += 't';
      put();
      out_ += 'R';
      put();
    }
    out_ += "u.";
    return out_;
  }

private:
  void put() {
    out_ += 'q';
    out_ += static_cast<char>(memo_++ & 0xff); // the tests stay under 256 memo entries
  }
  // A string or global seen before is fetched from the memo, as Python's pickler does.
  bool recall(const std::string& what) {
    auto it = seen_.find(what);
    if (it == seen_.end())
      return false;
    out_ += 'h';
    out_ += static_cast<char>(it->second);
    return true;
  }
  void str(const std::string& s) {
    if (recall("s:" + s))
      return;
    out_ += 'X';
    for (int i = 0; i < 4; ++i)
      out_ += static_cast<char>((s.size() >> (8 * i)) & 0xff);
    out_ += s;
    seen_["s:" + s] = memo_;
    put();
  }
  void global(const std::string& module, const std::string& name) {
    if (recall("g:" + module + " " + name))
      return;
    out_ += 'c' + module + '\n' + name + '\n';
    seen_["g:" + module + " " + name] = memo_;
    put();
  }
  void integer(std::int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      out_ += static_cast<char>(v);
    } else if (v >= 0 && v < 65536) {
      out_ += 'M';
      out_ += static_cast<char>(v & 0xff);
      out_ += static_cast<char>(v >> 8);
    } else if (v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max()) {
      out_ += 'J';
      for (int i = 0; i < 4; ++i)
        out_ += static_cast<char>((v >> (8 * i)) & 0xff);
    } else {
      out_ += "\x8a\x08"; // LONG1 of 8 bytes
      for (int i = 0; i < 8; ++i)
        out_ += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
    }
  }
  void ints(const std::vector<std::int64_t>& v) {
    if (v.size() <= 3) { // TUPLE1..3, as Python writes short tuples
      for (auto x : v)
        integer(x);
      out_ += v.empty() ? ')' : static_cast<char>(0x84 + v.size());
    } else {
      out_ += '(';
      for (auto x : v)
        integer(x);
      out_ += 't';
    }
    put();
  }

  std::string out_;
  std::uint32_t memo_ = 0;
  std::map<std::string, std::uint32_t> seen_;
};

void put16(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v & 0xffff);
  put16(out, v >> 16);
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v));
  put32(out, static_cast<std::uint32_t>(v >> 32));
}

std::uint32_t crc_of(const std::string& s) {
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// A stored zip as PyTorchStreamWriter writes it: local headers with flags 0x0808 and zero CRC
// and sizes (a data descriptor follows the data), data 64-byte aligned by an "FB" extra field,
// then the central directory, a zip64 end record and locator, and the end record.
std::string zip_of(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string out, directory;
  for (const auto& [name, data] : records) {
    auto at = out.size();
    auto padding = (64 - (at + 30 + name.size() + 4) % 64) % 64;
    put32(out, 0x04034b50);
    put16(out, 0);      // version needed
    put16(out, 0x0808); // data descriptor, UTF-8 names
    put16(out, 0);      // stored
    put32(out, 0);      // time, date
    put32(out, 0);      // CRC and sizes in the data descriptor
    put32(out, 0);
    put32(out, 0);
    put16(out, static_cast<std::uint32_t>(name.size()));
    put16(out, static_cast<std::uint32_t>(4 + padding));
    out += name;
    out += "FB";
    put16(out, static_cast<std::uint32_t>(padding));
    out.append(padding, 'Z');
    out += data;
    put32(out, 0x08074b50);
    put32(out, crc_of(data));
    put32(out, static_cast<std::uint32_t>(data.size()));
    put32(out, static_cast<std::uint32_t>(data.size()));

    put32(directory, 0x02014b50);
    put16(directory, 0);
    put16(directory, 0);
    put16(directory, 0x0808);
    put16(directory, 0);
    put32(directory, 0);
    put32(directory, crc_of(data));
    put32(directory, static_cast<std::uint32_t>(data.size()));
    put32(directory, static_cast<std::uint32_t>(data.size()));
    put16(directory, static_cast<std::uint32_t>(name.size()));
    put16(directory, 0); // extra
    put16(directory, 0); // comment
    put16(directory, 0); // disk
    put16(directory, 0); // internal attributes
    put32(directory, 0); // external attributes
    put32(directory, static_cast<std::uint32_t>(at));
    directory += name;
  }
  auto directory_at = out.size();
  out += directory;
  auto zip64_at = out.size();
  put32(out, 0x06064b50);
  put64(out, 44);
  put16(out, 0x2d1e);
  put16(out, 0x2d);
  put32(out, 0);
  put32(out, 0);
  put64(out, records.size());
  put64(out, records.size());
  put64(out, directory.size());
  put64(out, directory_at);
  put32(out, 0x07064b50);
  put32(out, 0);
  put64(out, zip64_at);
  put32(out, 1);
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint32_t>(records.size()));
  put16(out, static_cast<std::uint32_t>(records.size()));
  put32(out, static_cast<std::uint32_t>(directory.size()));
  put32(out, static_cast<std::uint32_t>(directory_at));
  put16(out, 0);
  return out;
}

/// What torch.save(items, "<folder>.pt") writes, with `storages` as the records data/<key>.
std::string torch_save(const dict& items, const std::map<std::string, std::string>& storages,
                       const std::string& folder = "data") {
  std::map<std::string, std::int64_t> numel;
  for (const auto& [name, v] : items)
    if (!v.is_int && storages.count(v.tensor.key)) {
      std::int64_t element = v.tensor.storage_type == "ByteStorage" ? 1
                             : v.tensor.storage_type == "LongStorage" || v.tensor.storage_type == "DoubleStorage" ? 8
                                                                                                                   : 4;
      numel[v.tensor.key] = static_cast<std::int64_t>(storages.at(v.tensor.key).size()) / element;
    }
  std::vector<std::pair<std::string, std::string>> records{{folder + "/data.pkl", pickle_writer().write(items, numel)}};
  for (const auto& [key, bytes] : storages)
    records.emplace_back(folder + "/data/" + key, bytes);
  records.emplace_back(folder + "/version", "3\n");
  return zip_of(records);
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

std::string raw_bytes(const std::vector<int>& v) {
  std::string out;
  for (auto b : v)
    out += static_cast<char>(b);
  return out;
}

void write(const std::string& path, const std::string& bytes) {
  test::write_bytes(path, std::vector<unsigned char>(bytes.begin(), bytes.end()));
}

// The offset of the central directory entry named `name` in a zip_of archive.
std::size_t central_entry(const std::string& zip, const std::string& name) {
  auto at = zip.find(std::string("PK\x01\x02", 4));
  while (at != std::string::npos) {
    std::uint32_t size = static_cast<unsigned char>(zip[at + 28]) | static_cast<unsigned char>(zip[at + 29]) << 8;
    if (zip.compare(at + 46, size, name) == 0 && size == name.size())
      return at;
    at = zip.find(std::string("PK\x01\x02", 4), at + 46);
  }
  FAIL("no entry " << name);
  return 0;
}

void patch32(std::string& zip, std::size_t at, std::uint32_t v) {
  std::string bytes;
  put32(bytes, v);
  zip.replace(at, 4, bytes);
}

void patch16(std::string& zip, std::size_t at, std::uint32_t v) {
  std::string bytes;
  put16(bytes, v);
  zip.replace(at, 2, bytes);
}

// ---- The data sets of the tests ----

// 4 training and 2 test images of 1x2x2 uint8; labels 0-3; clients 10, 2, 10, 7 and 2, 7.
struct image_set {
  dict items{
    {"x_train", tensor("ByteStorage", "0", {4, 1, 2, 2})},
    {"y_train", tensor("LongStorage", "1", {4})},
    {"x_test", tensor("ByteStorage", "2", {2, 1, 2, 2})},
    {"y_test", tensor("LongStorage", "3", {2})},
    {"client_train", tensor("LongStorage", "4", {4})},
    {"client_test", tensor("LongStorage", "5", {2})},
  };
  std::map<std::string, std::string> storages{
    {"0", raw_bytes({0, 51, 102, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})},
    {"1", raw(std::vector<std::int64_t>{0, 3, 1, 2})},
    {"2", raw_bytes({255, 255, 0, 0, 51, 51, 51, 51})},
    {"3", raw(std::vector<std::int64_t>{1, 2})},
    {"4", raw(std::vector<std::int64_t>{10, 2, 10, 7})},
    {"5", raw(std::vector<std::int64_t>{2, 7})},
  };

  dict_value& operator[](const std::string& key) {
    for (auto& [name, v] : items)
      if (name == key)
        return v;
    items.emplace_back(key, dict_value{});
    return items.back().second;
  }
  void erase(const std::string& key) {
    for (auto it = items.begin(); it != items.end(); ++it)
      if (it->first == key) {
        items.erase(it);
        return;
      }
  }
  std::string bytes() const { return torch_save(items, storages); }
};

// 6 float feature rows of 3 values in one storage: x_train views rows 0-3, x_test rows 4-5
// (offset 12), as torch.save writes X[:4] and X[4:]. No client ids.
struct feature_set {
  dict items{
    {"x_train", tensor("FloatStorage", "0", {4, 3})},
    {"y_train", tensor("LongStorage", "1", {4})},
    {"x_test", tensor("FloatStorage", "0", {2, 3}, {}, 12)},
    {"y_test", tensor("LongStorage", "2", {2})},
  };
  std::vector<float> x{0.5f, -1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, -11.25f, 12.f, 13.f, 14.f, 15.f, 16.f, 17.f};
  std::vector<std::int64_t> y{0, 4, 4, 1}, y_test{2, 0};

  std::string bytes(const dict& extra = {}) const {
    auto all = items;
    all.insert(all.end(), extra.begin(), extra.end());
    return torch_save(all, {{"0", raw(x)}, {"1", raw(y)}, {"2", raw(y_test)}});
  }
};

std::string error_of(const std::string& path) {
  try {
    data::read_tensor_file(path);
  } catch (const data_error& e) {
    return e.what();
  }
  return "(no error)";
}

// Whether `text` contains every one of `parts`; a failing CHECK shows the whole message.
#define CHECK_ERROR(path, ...)                                                         \
  do {                                                                                 \
    auto message_ = error_of(path);                                                    \
    for (const auto& part_ : std::initializer_list<std::string>{__VA_ARGS__})                                   \
      CHECK_MESSAGE(message_.find(part_) != std::string::npos, message_ << "\nlacks: " << part_); \
  } while (0)

} // namespace

TEST_CASE("tensor file: uint8 images are scaled, client ids become natural ids in numeric order") {
  test::temp_dir dir;
  auto path = dir.file("images.pt");
  image_set set;
  write(path, set.bytes());

  auto d = data::read_tensor_file(path);
  CHECK(d.sample_shape == std::vector<std::size_t>{1, 2, 2});
  CHECK(d.train.count == 4);
  CHECK(d.test.count == 2);
  REQUIRE(d.train.x.size() == 16);
  CHECK(d.train.x[0] == 0.0f);
  CHECK(d.train.x[1] == doctest::Approx(0.2f));
  CHECK(d.train.x[3] == 1.0f);
  CHECK(d.train.x[15] == doctest::Approx(12.0f / 255.0f));
  REQUIRE(d.test.x.size() == 8);
  CHECK(d.test.x[0] == 1.0f);
  CHECK(d.test.x[2] == 0.0f);
  CHECK(d.test.x[7] == doctest::Approx(0.2f));
  CHECK(d.train.y == std::vector<std::int64_t>{0, 3, 1, 2});
  CHECK(d.test.y == std::vector<std::int64_t>{1, 2});
  CHECK(d.classes == 4); // 1 + the largest label
  // 2 < 7 < 10 as numbers (as text, "10" < "2").
  CHECK(d.natural_ids == std::vector<std::string>{"2", "7", "10"});
  CHECK(d.train.owner == std::vector<std::uint32_t>{2, 0, 2, 1});
  CHECK(d.test.owner == std::vector<std::uint32_t>{0, 1});
  CHECK(d.true_group.empty());

  SUBCASE("declared classes win over the labels") {
    set["classes"] = int_value(10);
    write(path, set.bytes());
    CHECK(data::read_tensor_file(path).classes == 10);
  }
  SUBCASE("the largest label may be in the test split") {
    set.storages["3"] = raw(std::vector<std::int64_t>{1, 6});
    write(path, set.bytes());
    CHECK(data::read_tensor_file(path).classes == 7);
  }
  SUBCASE("client_train alone: test rows have no owner") {
    set.erase("client_test");
    write(path, set.bytes());
    auto e = data::read_tensor_file(path);
    CHECK(e.natural_ids == std::vector<std::string>{"2", "7", "10"});
    CHECK(e.train.owner == std::vector<std::uint32_t>{2, 0, 2, 1});
    CHECK(e.test.owner.empty());
  }
  SUBCASE("the archive folder need not match the file name") {
    write(path, torch_save(set.items, set.storages, "renamed_elsewhere"));
    CHECK(data::read_tensor_file(path).train.count == 4);
  }
}

TEST_CASE("tensor file: float features, shared storage at an offset, no client ids") {
  test::temp_dir dir;
  auto path = dir.file("features.pt");
  feature_set set;
  write(path, set.bytes({{"classes", int_value(6)}}));

  auto d = data::read_tensor_file(path);
  CHECK(d.sample_shape == std::vector<std::size_t>{3});
  CHECK(d.train.count == 4);
  CHECK(d.train.x == std::vector<float>(set.x.begin(), set.x.begin() + 12));
  CHECK(d.test.x == std::vector<float>{12.f, 13.f, 14.f, 15.f, 16.f, 17.f});
  CHECK(d.train.y == set.y);
  CHECK(d.test.y == set.y_test);
  CHECK(d.classes == 6);
  CHECK(d.natural_ids.empty());
  CHECK(d.train.owner.empty());
  CHECK(d.test.owner.empty());

  SUBCASE("inferred classes") {
    write(path, set.bytes());
    CHECK(data::read_tensor_file(path).classes == 5);
  }
  SUBCASE("a size-1 dim's stride does not matter") {
    set.items[0].second = tensor("FloatStorage", "0", {4, 1, 3}, {3, 99, 1});
    set.items[2].second = tensor("FloatStorage", "0", {2, 1, 3}, {3, 7, 1}, 12);
    write(path, set.bytes());
    auto e = data::read_tensor_file(path);
    CHECK(e.sample_shape == std::vector<std::size_t>{1, 3});
    CHECK(e.test.x[5] == 17.f);
  }
}

TEST_CASE("tensor file: wrong dtypes and shapes name the key and the fix") {
  test::temp_dir dir;
  auto path = dir.file("bad.pt");
  image_set set;
  auto p = path + ": ";

  SUBCASE("float labels") {
    set["y_train"] = tensor("FloatStorage", "1", {4}); // 32 bytes: 8 floats, a view of 4
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train is float32; class ids must be int64 (torch.long): save y_train.long() instead");
  }
  SUBCASE("float64 samples") {
    set["x_test"] = tensor("DoubleStorage", "1", {2, 1, 2});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_test is float64; samples must be uint8 (images, scaled to [0, 1] here) or float32: "
                                "save x_test.float() instead");
  }
  SUBCASE("int32 client ids") {
    set["client_train"] = tensor("IntStorage", "4", {4});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "client_train is int32; client ids must be int64 (torch.long): save "
                                "client_train.long() instead");
  }
  SUBCASE("x of one dim") {
    set["x_train"] = tensor("ByteStorage", "0", {16});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train has shape [16]; it must be [N, ...] with 1 to 3 dims per sample "
                                "(features; height, width; or channels, height, width)");
  }
  SUBCASE("x of four dims per sample") {
    set["x_train"] = tensor("ByteStorage", "0", {1, 1, 4, 2, 2});
    write(path, set.bytes());
    CHECK_ERROR(path, p + "x_train has shape [1, 1, 4, 2, 2]; it must be [N, ...] with 1 to 3 dims");
  }
  SUBCASE("labels of two dims") {
    set["y_train"] = tensor("LongStorage", "1", {4, 1});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train has shape [4, 1]; it must be [N], one class id per sample: save "
                                "y_train.flatten() instead");
  }
  SUBCASE("uint8 and float32 splits") {
    set["x_test"] = tensor("FloatStorage", "2", {2, 1, 2, 2}, {}, 0);
    set.storages["2"] = raw(std::vector<float>(8, 0.5f));
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train is uint8 but x_test is float32; save both splits with one dtype");
  }
  SUBCASE("sample shapes differ") {
    set["x_test"] = tensor("ByteStorage", "2", {2, 4});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train's samples are [1, 2, 2] but x_test's are [4]; both splits need one sample shape");
  }
  SUBCASE("fewer labels than samples") {
    set["y_train"] = tensor("LongStorage", "1", {3});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train holds 3 class ids but x_train holds 4 samples; it needs one per sample");
  }
  SUBCASE("more client ids than test samples") {
    set["client_test"] = tensor("LongStorage", "4", {3});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "client_test holds 3 client ids but x_test holds 2 samples; it needs one per sample");
  }
  SUBCASE("no training samples") {
    set["x_train"] = tensor("ByteStorage", "0", {0, 1, 2, 2});
    set["y_train"] = tensor("LongStorage", "1", {0});
    set.erase("client_train");
    set.erase("client_test");
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train holds no samples; a data set needs training samples");
  }
  SUBCASE("a transposed view") {
    set["x_train"] = tensor("ByteStorage", "0", {4, 1, 2, 2}, {4, 4, 1, 2});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train is not contiguous (strides [4, 4, 1, 2] for shape [4, 1, 2, 2]); save "
                                "x_train.contiguous().clone() instead");
  }
  SUBCASE("a value that is not a tensor") {
    set["y_test"] = int_value(3);
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_test is an int, not a tensor; save a torch tensor (torch.as_tensor(...))");
  }
  SUBCASE("an unknown storage type") {
    set["x_train"] = tensor("QUInt8Storage", "0", {4, 1, 2, 2});
    write(path, set.bytes());
    CHECK_ERROR(path, p + "x_train has storage type QUInt8Storage, which is not read here");
  }
}

TEST_CASE("tensor file: keys") {
  test::temp_dir dir;
  auto path = dir.file("keys.pt");
  image_set set;
  auto p = path + ": ";

  SUBCASE("unknown keys are named") {
    set["x_val"] = tensor("ByteStorage", "2", {2, 1, 2, 2});
    set["note"] = int_value(1);
    write(path, set.bytes());
    CHECK(error_of(path) == p + "unknown keys 'x_val', 'note'; a data set has x_train, y_train, x_test, y_test and "
                                "optionally client_train, client_test and classes");
  }
  SUBCASE("no test split") {
    set.erase("x_test");
    write(path, set.bytes());
    CHECK(error_of(path) == p + "has no x_test; a data set needs a test split: add \"x_test\" and \"y_test\" to the dict");
  }
  SUBCASE("no training labels") {
    set.erase("y_train");
    write(path, set.bytes());
    CHECK_ERROR(path, p + "has no y_train; write the data set with torch.save({\"x_train\": X");
  }
  SUBCASE("client_test without client_train") {
    set.erase("client_train");
    write(path, set.bytes());
    CHECK(error_of(path) == p + "has client_test but no client_train; test rows can only belong to clients that have "
                                "training rows: add client_train or drop client_test");
  }
  SUBCASE("classes as a tensor") {
    set["classes"] = tensor("LongStorage", "3", {});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "classes is a tensor; give a plain int, e.g. \"classes\": 10");
  }
  SUBCASE("classes of 0") {
    set["classes"] = int_value(0);
    write(path, set.bytes());
    CHECK(error_of(path) == p + "classes is 0; it must be 1 to 1048576");
  }
  SUBCASE("a model's state_dict") {
    dict model{{"0.weight", tensor("FloatStorage", "0", {2, 2})}, {"0.bias", tensor("FloatStorage", "1", {2})}};
    write(path, torch_save(model, {{"0", raw(std::vector<float>(4))}, {"1", raw(std::vector<float>(2))}}));
    CHECK_ERROR(path, p + "a model's state_dict (keys '0.weight', '0.bias'), not a data set; write the data set "
                          "with torch.save({");
  }
  SUBCASE("a single layer's state_dict") {
    dict model{{"weight", tensor("FloatStorage", "0", {2, 2})}, {"bias", tensor("FloatStorage", "1", {2})}};
    write(path, torch_save(model, {{"0", raw(std::vector<float>(4))}, {"1", raw(std::vector<float>(2))}}));
    CHECK_ERROR(path, p + "a model's state_dict (keys 'weight', 'bias'), not a data set");
  }
  SUBCASE("a long list of keys is cut short") {
    dict model;
    std::map<std::string, std::string> storages;
    for (int i = 0; i < 8; ++i) {
      model.emplace_back("layer" + std::to_string(i) + ".weight", tensor("FloatStorage", std::to_string(i), {1}));
      storages[std::to_string(i)] = raw(std::vector<float>(1));
    }
    write(path, torch_save(model, storages));
    CHECK_ERROR(path, p + "a model's state_dict (keys 'layer0.weight', 'layer1.weight', 'layer2.weight', "
                          "'layer3.weight', 'layer4.weight' and 3 more), not a data set");
  }
}

TEST_CASE("tensor file: bad values name the key and the index") {
  test::temp_dir dir;
  auto path = dir.file("values.pt");
  auto p = path + ": ";

  SUBCASE("a label beyond the declared classes") {
    image_set set;
    set["classes"] = int_value(3);
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train[1] is 3 but classes is 3; class ids run from 0 to classes - 1: fix the "
                                "label or raise classes");
  }
  SUBCASE("a negative label") {
    image_set set;
    set.storages["3"] = raw(std::vector<std::int64_t>{1, -1});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_test[1] is -1; class ids must be 0 or more");
  }
  SUBCASE("a label beyond any number of classes") {
    image_set set;
    set.storages["1"] = raw(std::vector<std::int64_t>{0, 3, std::int64_t{1} << 40, 2});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train[2] is 1099511627776, beyond the 1048576 classes a data set may have");
  }
  SUBCASE("nan in float samples") {
    feature_set set;
    set.x[7] = std::nanf("");
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train sample 2 holds nan (value 1 of the sample); samples must be finite: fix or "
                                "drop that sample");
  }
  SUBCASE("inf in the test split") {
    feature_set set;
    set.x[17] = -std::numeric_limits<float>::infinity();
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_test sample 1 holds -inf (value 2 of the sample); samples must be finite: fix or "
                                "drop that sample");
  }
  SUBCASE("a negative client id") {
    image_set set;
    set.storages["4"] = raw(std::vector<std::int64_t>{10, 2, -5, 7});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "client_train[2] is -5; client ids must be 0 or more");
  }
  SUBCASE("a test client without training rows") {
    image_set set;
    set.storages["5"] = raw(std::vector<std::int64_t>{2, 3});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "client_test[1] is 3, a client without training rows (not in client_train); every "
                                "client needs training data: drop its test rows or give it training rows");
  }
}

TEST_CASE("tensor file: declared sizes are checked before anything is allocated") {
  test::temp_dir dir;
  auto path = dir.file("sizes.pt");
  image_set set;
  auto p = path + ": ";

  SUBCASE("more samples than a split may have") {
    set["x_train"] = tensor("ByteStorage", "0", {(std::int64_t{1} << 31) + 1, 1});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train holds 2147483649 samples, more than the 2147483648 a split may have");
  }
  SUBCASE("samples larger than a sample may be, without overflowing") {
    set["x_train"] = tensor("ByteStorage", "0", {4, std::int64_t{1} << 40, std::int64_t{1} << 40});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train has shape [4, 1099511627776, 1099511627776]: samples of more than the "
                                "16777216 values a sample may have");
  }
  SUBCASE("samples without values") {
    set["x_train"] = tensor("ByteStorage", "0", {4, 5, 0});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train has shape [4, 5, 0]: samples without values");
  }
  SUBCASE("a shape beyond the storage in the file") {
    set["x_train"] = tensor("ByteStorage", "0", {60000, 28, 28});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "x_train (47040000 values from 0) reaches past its storage (16 values); the file is "
                                "damaged: write it again with torch.save");
  }
  SUBCASE("an offset beyond the storage") {
    set["y_train"] = tensor("LongStorage", "1", {4}, {}, 1);
    write(path, set.bytes());
    CHECK_ERROR(path, p + "y_train (4 values from 1) reaches past its storage (4 values)");
  }
  SUBCASE("a negative size") {
    set["y_train"] = tensor("LongStorage", "1", {-4}, {1});
    write(path, set.bytes());
    CHECK(error_of(path) == p + "y_train has the negative shape [-4]; the file is damaged: write it again with torch.save");
  }
  SUBCASE("a storage of a partial element") {
    set.storages["1"] += "abc";
    write(path, set.bytes());
    CHECK_ERROR(path, p + "y_train's storage (data/data/1) holds 35 bytes, not a whole number of int64 values");
  }
  SUBCASE("a storage record that is missing") {
    set["y_train"] = tensor("LongStorage", "9", {4});
    write(path, set.bytes());
    CHECK_ERROR(path, p + "y_train's data (entry data/data/9) is missing");
  }
}

TEST_CASE("tensor file: what is not a torch.save archive") {
  test::temp_dir dir;
  auto path = dir.file("odd.pt");
  auto p = path + ": ";

  SUBCASE("a missing file") {
    CHECK(error_of(dir.file("nope.pt")) == dir.file("nope.pt") + ": file not found");
  }
  SUBCASE("a directory") {
    CHECK(error_of(dir.path().string()) ==
          dir.path().string() + ": is a directory; give the path of the file torch.save wrote");
  }
  SUBCASE("/dev/zero") {
    CHECK(error_of("/dev/zero") == "/dev/zero: is not a regular file (a device, pipe or socket); give the path of "
                                   "the file torch.save wrote");
  }
  SUBCASE("an empty file") {
    write(path, "");
    CHECK(error_of(path) == p + "is empty, not a file torch.save wrote");
  }
  SUBCASE("a text file") {
    write(path, "x,y\n1,2\n");
    CHECK(error_of(path) == p + "not a zip archive, so not a file torch.save wrote");
  }
  SUBCASE("torch.save's legacy format") {
    write(path, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e.", 16));
    CHECK_ERROR(path, p + "written in torch.save's legacy format");
  }
  SUBCASE("a truncated archive") {
    auto bytes = image_set().bytes();
    write(path, bytes.substr(0, bytes.size() / 2));
    CHECK(error_of(path) == p + "a zip archive without its end (no end-of-central-directory record); the file is "
                                "damaged or truncated: write it again with torch.save");
  }
  SUBCASE("an archive cut just before its end record") {
    auto bytes = image_set().bytes();
    write(path, bytes.substr(0, bytes.size() - 1));
    CHECK_ERROR(path, p + "a zip archive without its end");
  }
  SUBCASE("a zip without data.pkl") {
    write(path, zip_of({{"notes/readme.txt", "hello"}}));
    CHECK_ERROR(path, p + "a zip archive without notes/data.pkl, not a file torch.save wrote; write the data set");
  }
  SUBCASE("a TorchScript module") {
    write(path, zip_of({{"m/data.pkl", "\x80\x02}."}, {"m/constants.pkl", "\x80\x02)."}}));
    CHECK_ERROR(path, p + "a TorchScript module (torch.jit.save), not a data set");
  }
  SUBCASE("a pickle that is not a dict") {
    write(path, zip_of({{"d/data.pkl", "\x80\x02]."}}));
    CHECK_ERROR(path, p + "the file holds a list, not a dict of tensors; write the data set");
  }
  SUBCASE("a pickle with an opcode beyond torch.save's") {
    write(path, zip_of({{"d/data.pkl", "\x80\x02}\x81."}}));
    CHECK_ERROR(path, p + "pickle opcode 0x81 is not one torch.save writes for a dict of tensors (data.pkl byte 3)");
  }
  SUBCASE("a huge pickle") {
    write(path, zip_of({{"d/data.pkl", std::string(300000, 'N')}}));
    CHECK_ERROR(path, p + "its pickle (d/data.pkl) holds 300000 bytes; a data set's");
  }
}

TEST_CASE("zip archive: hostile archives are refused before anything is read from them") {
  test::temp_dir dir;
  auto path = dir.file("hostile.pt");
  auto p = path + ": ";
  auto bytes = image_set().bytes();
  auto entry = central_entry(bytes, "data/data/0");

  SUBCASE("a huge declared entry size") {
    patch32(bytes, entry + 20, 0xfffffff0);
    patch32(bytes, entry + 24, 0xfffffff0);
    write(path, bytes);
    CHECK_ERROR(path, p + "entry 'data/data/0' claims 4294967280 bytes at byte ", ", past the end of the data");
  }
  SUBCASE("zip64 sizes") {
    patch32(bytes, entry + 24, 0xffffffff);
    write(path, bytes);
    CHECK(error_of(path) == p + "entry 'data/data/0' is a zip64 entry: files above 4 GiB are not supported; split "
                                "the data set into smaller files or reduce it");
  }
  SUBCASE("a zip64 end record") {
    patch16(bytes, bytes.size() - 12, 0xffff);
    write(path, bytes);
    CHECK(error_of(path) == p + "a zip64 archive: files above 4 GiB are not supported; split the data set into "
                                "smaller files or reduce it");
  }
  SUBCASE("a compressed entry") {
    patch16(bytes, entry + 10, 8);
    auto local = static_cast<unsigned char>(bytes[entry + 42]) | static_cast<unsigned char>(bytes[entry + 43]) << 8;
    patch16(bytes, local + 8, 8);
    write(path, bytes);
    CHECK(error_of(path) == p + "entry 'data/data/0' is compressed (method 8, deflate); torch.save stores entries "
                                "uncompressed: save with torch.save again rather than re-zipping the file");
  }
  SUBCASE("a local header that differs from the directory") {
    patch16(bytes, entry + 10, 8);
    write(path, bytes);
    CHECK(error_of(path) == p + "entry 'data/data/0' has a local header that does not match the central directory; "
                                "the file is damaged or truncated: write it again with torch.save");
  }
  SUBCASE("an encrypted entry") {
    patch16(bytes, entry + 8, 0x0809);
    write(path, bytes);
    CHECK_ERROR(path, p + "entry 'data/data/0' is encrypted");
  }
  SUBCASE("several disks") {
    patch16(bytes, bytes.size() - 18, 1);
    write(path, bytes);
    CHECK_ERROR(path, p + "a zip archive spanning several disks");
  }
  SUBCASE("a local header offset past the directory") {
    patch32(bytes, entry + 42, 0x7fffffff);
    write(path, bytes);
    CHECK_ERROR(path, p + "entry 'data/data/0' starts at byte 2147483647, not before the central directory");
  }
  SUBCASE("a directory past the end") {
    patch32(bytes, bytes.size() - 6, 0x7fffffff);
    write(path, bytes);
    CHECK_ERROR(path, p + "its central directory (", ") lies past its end record");
  }
  SUBCASE("a damaged byte of data") {
    auto at = bytes.find(std::string("\x33\x66\xff\x01", 4));
    REQUIRE(at != std::string::npos);
    bytes[at] = 0x34;
    write(path, bytes);
    CHECK(error_of(path) == p + "entry 'data/data/0' fails its CRC-32 check; the file is damaged or truncated: "
                                "write it again with torch.save");
  }
}

TEST_CASE("zip archive: entries read whole or by range, with a cap") {
  test::temp_dir dir;
  auto path = dir.file("a.zip");
  std::string big(3u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 7 % 251);
  write(path, zip_of({{"a/small", "hello"}, {"a/big", big}}));

  data::zip_archive zip(path);
  REQUIRE(zip.entries().size() == 2);
  CHECK(zip.find("a/none") == nullptr);
  const auto* small = zip.find("a/small");
  REQUIRE(small != nullptr);
  CHECK(small->offset % 64 == 0);
  auto hello = zip.read(*small, 5);
  CHECK(std::string(hello.begin(), hello.end()) == "hello");
  CHECK_THROWS_WITH_AS(zip.read(*small, 4),
                       (path + ": entry 'a/small' holds 5 bytes, more than the 4 it may have").c_str(), data_error);

  // A range across chunk boundaries; the first read checks the CRC over the whole entry.
  const auto* b = zip.find("a/big");
  REQUIRE(b != nullptr);
  std::string got;
  zip.read(*b, (1u << 20) - 3, (1u << 20) + 10, [&](const unsigned char* bytes, std::size_t n) {
    got.append(reinterpret_cast<const char*>(bytes), n);
  });
  CHECK(got == big.substr((1u << 20) - 3, (1u << 20) + 10));
  got.clear();
  zip.read(*b, 5, 3, [&](const unsigned char* bytes, std::size_t n) { got.append(reinterpret_cast<const char*>(bytes), n); });
  CHECK(got == big.substr(5, 3));
  CHECK_THROWS_AS(zip.read(*b, big.size() - 1, 2, [](const unsigned char*, std::size_t) {}), data_error);
}

TEST_CASE("tensor file: a file written by Python's torch.save") {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import torch (apt install python3-torch)");
    return;
  }
  test::temp_dir dir;
  auto script = dir.file("write.py");
  write(script, R"(import sys, torch
x = torch.arange(5 * 3 * 4, dtype=torch.int64).reshape(5, 1, 3, 4).mul(4).to(torch.uint8)
y = torch.tensor([0, 3, 1, 3, 2])
c = torch.tensor([12, 3, 12, 40, 3])
torch.save({"x_train": x[:3], "y_train": y[:3], "x_test": x[3:], "y_test": y[3:],
            "client_train": c[:3], "client_test": torch.tensor([3, 12]), "classes": 6}, sys.argv[1])
f = torch.arange(12, dtype=torch.float32).reshape(4, 3) / 4
torch.save({"x_train": f[:3], "y_train": y[:3], "x_test": f[3:], "y_test": y[3:4]}, sys.argv[2])
)");
  auto images = dir.file("images.pt"), features = dir.file("features.pt");
  REQUIRE(std::system(("/usr/bin/python3 " + script + " " + images + " " + features).c_str()) == 0);

  auto d = data::read_tensor_file(images);
  CHECK(d.sample_shape == std::vector<std::size_t>{1, 3, 4});
  CHECK(d.train.count == 3);
  CHECK(d.test.count == 2);
  REQUIRE(d.train.x.size() == 36);
  CHECK(d.train.x[1] == doctest::Approx(4.0f / 255.0f));
  CHECK(d.train.x[35] == doctest::Approx(140.0f / 255.0f));
  REQUIRE(d.test.x.size() == 24);
  CHECK(d.test.x[0] == doctest::Approx(144.0f / 255.0f)); // x[3] is a view at offset 36
  CHECK(d.test.x[23] == doctest::Approx(236.0f / 255.0f));
  CHECK(d.train.y == std::vector<std::int64_t>{0, 3, 1});
  CHECK(d.test.y == std::vector<std::int64_t>{3, 2});
  CHECK(d.classes == 6);
  CHECK(d.natural_ids == std::vector<std::string>{"3", "12"});
  CHECK(d.train.owner == std::vector<std::uint32_t>{1, 0, 1});
  CHECK(d.test.owner == std::vector<std::uint32_t>{0, 1});

  auto f = data::read_tensor_file(features);
  CHECK(f.sample_shape == std::vector<std::size_t>{3});
  CHECK(f.train.x == std::vector<float>{0.f, 0.25f, 0.5f, 0.75f, 1.f, 1.25f, 1.5f, 1.75f, 2.f});
  CHECK(f.test.x == std::vector<float>{2.25f, 2.5f, 2.75f});
  CHECK(f.classes == 4);
  CHECK(f.natural_ids.empty());
}
