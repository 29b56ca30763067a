#include "data/tensor_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "data/data_error.hpp"
#include "data/zip_archive.hpp"
#include "model/model_error.hpp"
#include "model/state_dict_pickle.hpp"

namespace flotilla::data {

namespace {

// torch.save writes the machine's byte order (torch >= 2.1 records it; checked below).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tensor files are read as little-endian");

// A data set's pickle is a few hundred bytes; the pickle reader holds a node per opcode, so
// this also bounds what a hostile pickle can make it allocate (tens of MB).
constexpr std::size_t max_pickle_bytes = std::size_t{256} << 10;

const char* const save_hint = "write the data set with torch.save({\"x_train\": X, \"y_train\": Y, "
                              "\"x_test\": Xt, \"y_test\": Yt}, path)";
const char* const damaged = "; the file is damaged: write it again with torch.save";

struct dtype_info {
  const char* storage;
  const char* name;
  std::size_t bytes;
};

constexpr dtype_info dtypes[] = {
  {"ByteStorage", "uint8", 1},       {"CharStorage", "int8", 1},
  {"ShortStorage", "int16", 2},      {"IntStorage", "int32", 4},
  {"LongStorage", "int64", 8},       {"HalfStorage", "float16", 2},
  {"BFloat16Storage", "bfloat16", 2}, {"FloatStorage", "float32", 4},
  {"DoubleStorage", "float64", 8},   {"BoolStorage", "bool", 1},
  {"ComplexFloatStorage", "complex64", 8}, {"ComplexDoubleStorage", "complex128", 16},
};

const dtype_info* const uint8_type = &dtypes[0];
const dtype_info* const int64_type = &dtypes[4];
const dtype_info* const float32_type = &dtypes[7];

std::string shape_text(const std::vector<std::int64_t>& sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i)
    out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::string shape_text(const std::vector<std::size_t>& sizes) {
  return shape_text(std::vector<std::int64_t>(sizes.begin(), sizes.end()));
}

enum class role { samples, labels, clients };

// A tensor of the file, checked: which elements of which storage record it is.
struct tensor_view {
  std::string key;
  const dtype_info* dtype = nullptr;
  const zip_entry* record = nullptr;
  std::uint64_t first = 0, count = 0; // in elements
  std::vector<std::size_t> sizes;

  std::size_t rows() const { return sizes[0]; }
  std::vector<std::size_t> sample_shape() const { return {sizes.begin() + 1, sizes.end()}; }
};

class file_reader {
public:
  explicit file_reader(const std::string& path) : path_(path), zip_(path) {}

  federated_set run() {
    auto items = pickled_items();
    std::map<std::string, const model::pickled_item*> by_key;
    for (const auto& item : items)
      by_key[item.name] = &item; // a repeated key: the last wins, as in Python
    check_keys(items, by_key);
    auto declared = declared_classes(by_key);

    auto x_train = view(*by_key["x_train"], role::samples);
    auto y_train = view(*by_key["y_train"], role::labels);
    auto x_test = view(*by_key["x_test"], role::samples);
    auto y_test = view(*by_key["y_test"], role::labels);
    bool clients = by_key.count("client_train") != 0, test_clients = by_key.count("client_test") != 0;
    tensor_view c_train, c_test;
    if (clients)
      c_train = view(*by_key["client_train"], role::clients);
    if (test_clients)
      c_test = view(*by_key["client_test"], role::clients);

    // Shapes agree before anything is allocated.
    if (x_test.dtype != x_train.dtype)
      throw error(std::string("x_train is ") + x_train.dtype->name + " but x_test is " + x_test.dtype->name +
                  "; save both splits with one dtype");
    if (x_test.sample_shape() != x_train.sample_shape())
      throw error("x_train's samples are " + shape_text(x_train.sample_shape()) + " but x_test's are " +
                  shape_text(x_test.sample_shape()) + "; both splits need one sample shape");
    if (x_train.rows() == 0)
      throw error("x_train holds no samples; a data set needs training samples");
    if (x_test.rows() == 0)
      throw error("x_test holds no samples; a data set needs a test split");
    same_rows(y_train, x_train, "class id");
    same_rows(y_test, x_test, "class id");
    if (clients)
      same_rows(c_train, x_train, "client id");
    if (test_clients)
      same_rows(c_test, x_test, "client id");

    federated_set out;
    out.sample_shape = x_train.sample_shape();
    out.train.count = x_train.rows();
    out.test.count = x_test.rows();
    out.train.x = samples(x_train);
    out.test.x = samples(x_test);
    out.train.y = int64s(y_train);
    out.test.y = int64s(y_test);
    out.classes = classes(declared, out.train.y, out.test.y);
    if (clients)
      owners(out, int64s(c_train), test_clients ? int64s(c_test) : std::vector<std::int64_t>{});
    return out;
  }

private:
  data_error error(const std::string& what) const { return data_error(path_ + ": " + what); }

  std::vector<model::pickled_item> pickled_items() {
    if (zip_.entries().empty())
      throw error(std::string("an empty zip archive, not a file torch.save wrote; ") + save_hint);
    // torch.save puts every entry in one folder, named after the file when it was written.
    const auto& first = zip_.entries().front().name;
    prefix_ = first.substr(0, first.find('/')) + "/";
    if (zip_.find(prefix_ + "constants.pkl"))
      throw error(std::string("a TorchScript module (torch.jit.save), not a data set; ") + save_hint);
    const auto* pickle = zip_.find(prefix_ + "data.pkl");
    if (!pickle)
      throw error("a zip archive without " + prefix_ + "data.pkl, not a file torch.save wrote; " + save_hint);
    if (const auto* order = zip_.find(prefix_ + "byteorder")) {
      auto bytes = zip_.read(*order, 16);
      if (std::string(bytes.begin(), bytes.end()) != "little")
        throw error("written on a big-endian machine; torch.load it and torch.save it again on a "
                    "little-endian one (x86, ARM)");
    }
    zip_.require_stored(*pickle);
    if (pickle->size > max_pickle_bytes)
      throw error("its pickle (" + pickle->name + ") holds " + std::to_string(pickle->size) +
                  " bytes; a data set's (a dict of a few tensors) holds a few hundred: is this a data set? " +
                  save_hint);
    auto bytes = zip_.read(*pickle, max_pickle_bytes);
    try {
      return model::read_tensor_dict_pickle(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    } catch (const model::model_error& e) {
      throw error(e.what() + std::string("; ") + save_hint);
    }
  }

  void check_keys(const std::vector<model::pickled_item>& items,
                  const std::map<std::string, const model::pickled_item*>& by_key) const {
    static const char* const known[] = {"x_train", "y_train", "x_test", "y_test",
                                        "client_train", "client_test", "classes"};
    std::vector<std::string> unknown;
    bool any_known = false, model_like = false;
    for (const auto& item : items) {
      if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return item.name == k; }) !=
          std::end(known)) {
        any_known = true;
        continue;
      }
      unknown.push_back(item.name);
      // A state_dict's keys end in a parameter or buffer name: "0.weight", "bn.running_mean".
      auto last = item.name.substr(item.name.rfind('.') + 1);
      for (const char* part : {"weight", "bias", "running_", "num_batches_tracked"})
        model_like = model_like || last.find(part) != std::string::npos;
    }
    // The first few keys only: a model may have hundreds.
    std::string names;
    for (std::size_t i = 0; i < unknown.size() && i < 5; ++i)
      names += (i ? ", '" : "'") + unknown[i] + "'";
    if (unknown.size() > 5)
      names += " and " + std::to_string(unknown.size() - 5) + " more";
    if (!any_known && model_like)
      throw error("a model's state_dict (keys " + names + "), not a data set; " + save_hint);
    if (!unknown.empty())
      throw error("unknown keys " + names + "; a data set has x_train, y_train, x_test, y_test and "
                  "optionally client_train, client_test and classes");
    for (const char* key : {"x_train", "y_train"})
      if (!by_key.count(key))
        throw error(std::string("has no ") + key + "; " + save_hint);
    for (const char* key : {"x_test", "y_test"})
      if (!by_key.count(key))
        throw error(std::string("has no ") + key + "; a data set needs a test split: add \"x_test\" and "
                    "\"y_test\" to the dict");
    if (by_key.count("client_test") && !by_key.count("client_train"))
      throw error("has client_test but no client_train; test rows can only belong to clients that have "
                  "training rows: add client_train or drop client_test");
  }

  // The tensor under `item`, checked against its role and against its storage record.
  tensor_view view(const model::pickled_item& item, role r) const {
    const auto& key = item.name;
    if (item.kind != model::pickled_item::tensor_value)
      throw error(key + " is " + item.what + ", not a tensor; save a torch tensor (torch.as_tensor(...))");
    const auto& t = item.tensor;
    tensor_view v;
    v.key = key;
    for (const auto& d : dtypes)
      if (t.storage_type == d.storage)
        v.dtype = &d;
    if (!v.dtype)
      throw error(key + " has storage type " + t.storage_type + ", which is not read here; save a uint8, "
                  "float32 or int64 tensor");
    const auto* dtype = v.dtype->name;
    if (r == role::samples && v.dtype != uint8_type && v.dtype != float32_type)
      throw error(key + " is " + dtype + "; samples must be uint8 (images, scaled to [0, 1] here) or "
                  "float32: save " + key + ".float() instead");
    if (r == role::labels && v.dtype != int64_type)
      throw error(key + " is " + dtype + "; class ids must be int64 (torch.long): save " + key +
                  ".long() instead");
    if (r == role::clients && v.dtype != int64_type)
      throw error(key + " is " + dtype + "; client ids must be int64 (torch.long): save " + key +
                  ".long() instead");
    auto shape = shape_text(t.sizes);
    if (r == role::samples && (t.sizes.size() < 2 || t.sizes.size() > 4))
      throw error(key + " has shape " + shape + "; it must be [N, ...] with 1 to 3 dims per sample "
                  "(features; height, width; or channels, height, width)");
    if (r != role::samples && t.sizes.size() != 1)
      throw error(key + " has shape " + shape + "; it must be [N], one " +
                  (r == role::labels ? "class" : "client") + " id per sample: save " + key + ".flatten() instead");

    // Bounds first: they also keep every product below from overflowing.
    for (auto s : t.sizes)
      if (s < 0)
        throw error(key + " has the negative shape " + shape + damaged);
    if (static_cast<std::uint64_t>(t.sizes[0]) > max_samples)
      throw error(key + " holds " + std::to_string(t.sizes[0]) + " samples, more than the " +
                  std::to_string(max_samples) + " a split may have");
    std::uint64_t per_sample = 1; // saturates at max_sample_size + 1
    for (std::size_t i = 1; i < t.sizes.size(); ++i)
      per_sample = std::min(per_sample * std::min<std::uint64_t>(static_cast<std::uint64_t>(t.sizes[i]), max_sample_size + 1),
                            std::uint64_t{max_sample_size} + 1);
    if (per_sample > max_sample_size)
      throw error(key + " has shape " + shape + ": samples of more than the " + std::to_string(max_sample_size) +
                  " values a sample may have");
    if (per_sample == 0)
      throw error(key + " has shape " + shape + ": samples without values");
    v.count = static_cast<std::uint64_t>(t.sizes[0]) * per_sample;
    for (auto s : t.sizes)
      v.sizes.push_back(static_cast<std::size_t>(s));

    // Contiguous: row-major strides, except where a dim of size 1 makes its stride moot.
    std::int64_t expected = 1;
    for (auto i = t.sizes.size(); i-- > 0;) {
      if (t.sizes[i] != 1 && t.strides[i] != expected)
        throw error(key + " is not contiguous (strides " + shape_text(t.strides) + " for shape " + shape +
                    "); save " + key + ".contiguous().clone() instead");
      expected *= t.sizes[i];
    }

    // Inside its storage record, whose size zip_archive has checked against the file's.
    auto record_name = prefix_ + "data/" + t.storage_key;
    v.record = zip_.find(record_name);
    if (!v.record)
      throw error(key + "'s data (entry " + record_name + ") is missing" + damaged);
    zip_.require_stored(*v.record);
    auto element = v.dtype->bytes;
    if (v.record->size % element != 0)
      throw error(key + "'s storage (" + record_name + ") holds " + std::to_string(v.record->size) +
                  " bytes, not a whole number of " + dtype + " values" + damaged);
    auto stored = v.record->size / element;
    if (t.offset < 0 || static_cast<std::uint64_t>(t.offset) > stored ||
        v.count > stored - static_cast<std::uint64_t>(t.offset))
      throw error(key + " (" + std::to_string(v.count) + " values from " + std::to_string(t.offset) +
                  ") reaches past its storage (" + std::to_string(stored) + " values)" + damaged);
    v.first = static_cast<std::uint64_t>(t.offset);
    return v;
  }

  void same_rows(const tensor_view& v, const tensor_view& x, const char* what) const {
    if (v.rows() != x.rows())
      throw error(v.key + " holds " + std::to_string(v.rows()) + " " + what + "s but " + x.key + " holds " +
                  std::to_string(x.rows()) + " samples; it needs one per sample");
  }

  std::vector<float> samples(const tensor_view& v) const {
    std::vector<float> out(static_cast<std::size_t>(v.count));
    auto element = v.dtype->bytes;
    if (v.dtype == uint8_type) {
      auto* dst = out.data();
      zip_.read(*v.record, v.first, v.count, [&](const unsigned char* bytes, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
          *dst++ = static_cast<float>(bytes[i]) / 255.0f;
      });
      return out;
    }
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    zip_.read(*v.record, v.first * element, v.count * element, [&](const unsigned char* bytes, std::size_t n) {
      std::memcpy(dst, bytes, n);
      dst += n;
    });
    auto per_sample = v.count / v.rows();
    for (std::size_t i = 0; i < out.size(); ++i)
      if (!std::isfinite(out[i]))
        throw error(v.key + " sample " + std::to_string(i / per_sample) + " holds " +
                    (std::isnan(out[i]) ? "nan" : out[i] > 0 ? "inf" : "-inf") + " (value " +
                    std::to_string(i % per_sample) + " of the sample); samples must be finite: fix or "
                    "drop that sample");
    return out;
  }

  std::vector<std::int64_t> int64s(const tensor_view& v) const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(v.count));
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    zip_.read(*v.record, v.first * 8, v.count * 8, [&](const unsigned char* bytes, std::size_t n) {
      std::memcpy(dst, bytes, n);
      dst += n;
    });
    return out;
  }

  // The "classes" entry, 0 when there is none.
  std::int64_t declared_classes(const std::map<std::string, const model::pickled_item*>& by_key) const {
    auto it = by_key.find("classes");
    if (it == by_key.end())
      return 0;
    if (it->second->kind != model::pickled_item::int_value)
      throw error("classes is " + it->second->what + "; give a plain int, e.g. \"classes\": 10");
    auto declared = it->second->number;
    if (declared < 1 || static_cast<std::uint64_t>(declared) > max_classes)
      throw error("classes is " + std::to_string(declared) + "; it must be 1 to " + std::to_string(max_classes));
    return declared;
  }

  // The declared classes, else 1 + the largest label; every label checked against them.
  std::size_t classes(std::int64_t declared, const std::vector<std::int64_t>& train,
                      const std::vector<std::int64_t>& test) const {
    std::int64_t largest = 0;
    auto check = [&](const std::vector<std::int64_t>& y, const char* key) {
      for (std::size_t i = 0; i < y.size(); ++i) {
        auto at = std::string(key) + "[" + std::to_string(i) + "] is " + std::to_string(y[i]);
        if (y[i] < 0)
          throw error(at + "; class ids must be 0 or more");
        if (declared > 0 && y[i] >= declared)
          throw error(at + " but classes is " + std::to_string(declared) + "; class ids run from 0 to classes - 1: "
                      "fix the label or raise classes");
        if (static_cast<std::uint64_t>(y[i]) >= max_classes)
          throw error(at + ", beyond the " + std::to_string(max_classes) + " classes a data set may have");
        largest = std::max(largest, y[i]);
      }
    };
    check(train, "y_train");
    check(test, "y_test");
    return declared > 0 ? static_cast<std::size_t>(declared) : static_cast<std::size_t>(largest) + 1;
  }

  // natural_ids: the distinct client ids ascending; owner: each row's index into them.
  void owners(federated_set& out, const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& test) const {
    for (std::size_t i = 0; i < train.size(); ++i)
      if (train[i] < 0)
        throw error("client_train[" + std::to_string(i) + "] is " + std::to_string(train[i]) +
                    "; client ids must be 0 or more");
    auto ids = train;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.size() > max_natural_ids)
      throw error("client_train holds " + std::to_string(ids.size()) + " distinct clients, more than the " +
                  std::to_string(max_natural_ids) + " a data set may have");
    auto index = [&](std::int64_t id) {
      return static_cast<std::uint32_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
    };
    out.train.owner.reserve(train.size());
    for (auto id : train)
      out.train.owner.push_back(index(id));
    out.test.owner.reserve(test.size());
    for (std::size_t i = 0; i < test.size(); ++i) {
      auto at = "client_test[" + std::to_string(i) + "] is " + std::to_string(test[i]);
      if (test[i] < 0)
        throw error(at + "; client ids must be 0 or more");
      auto k = index(test[i]);
      if (k == ids.size() || ids[k] != test[i])
        throw error(at + ", a client without training rows (not in client_train); every client needs "
                    "training data: drop its test rows or give it training rows");
      out.test.owner.push_back(k);
    }
    out.natural_ids.reserve(ids.size());
    for (auto id : ids)
      out.natural_ids.push_back(std::to_string(id));
  }

  std::string path_;
  zip_archive zip_;
  std::string prefix_; // "<archive name>/"
};

} // namespace

federated_set read_tensor_file(const std::string& path) {
  return file_reader(path).run();
}

} // namespace flotilla::data
