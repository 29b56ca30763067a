#include "data/leaf.hpp"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/data_error.hpp"

namespace flotilla::data {

namespace {

// Labels a file may hold beyond its samples before it is refused (16M: 128 MiB of int64).
constexpr std::size_t label_slack = std::size_t{1} << 24;


namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* layout_hint =
    "; LEAF's layout is data.root holding train/ and test/ folders of JSON files, as LEAF's "
    "preprocess.sh writes them";
constexpr const char* fix_hint = "; fix the file or regenerate it with LEAF's preprocess.sh";
constexpr std::size_t max_sample_dims = 3; // federated_set's sample_shape holds 1 to 3 dims
constexpr std::size_t max_shown_chars = 200;

std::string plural(std::size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// A name from the file as a JSON string, shortened: it may be long, or hold quotes or controls.
std::string json_quoted(const std::string& s) {
  std::string shown = s.size() > 64 ? s.substr(0, 64) + "..." : s;
  return json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
}

// Parser text quotes the file's bytes; keep messages printable and short.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max_shown_chars)
      return out + "...";
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string out = "{";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "}";
}

enum class value_kind { object, array, string, number, boolean, null };

const char* kind_name(value_kind k) {
  switch (k) {
  case value_kind::object: return "an object";
  case value_kind::array: return "a list";
  case value_kind::string: return "a string";
  case value_kind::number: return "a number";
  case value_kind::boolean: return "true or false";
  case value_kind::null: return "null";
  }
  return "a value";
}

// A JSON number as the parser gave it; the text is made only for a message.
struct number {
  double value;
  enum { signed_int, unsigned_int, text } form;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  const std::string* token = nullptr;

  std::string shown() const {
    switch (form) {
    case signed_int: return std::to_string(i);
    case unsigned_int: return std::to_string(u);
    case text: return printable(*token);
    }
    return {};
  }
  // Class ids and counts may be written 3.0 (some LEAF writers emit floats).
  bool whole_below(double limit) const {
    return value >= 0 && value < limit && std::floor(value) == value;
  }
};

struct user_block {
  std::vector<float> x; ///< rows * sample size
  std::vector<std::int64_t> y;
  std::size_t rows = 0;
  bool has_x = false, has_y = false;
};

// One file as parsed, before its counts are checked against its data.
struct leaf_file {
  std::vector<std::string> users;
  std::vector<std::uint64_t> num_samples;
  std::map<std::string, user_block> user_data; // ordered: which stray user is named is stable
  bool has_users = false, has_num_samples = false, has_user_data = false;
};

// Streams one file into a leaf_file, checking types, sample shapes, features and labels as
// they arrive so that memory never exceeds the floats and ids kept. Throws data_error.
class leaf_sax final : public nlohmann::json_sax<json> {
public:
  leaf_sax(std::string path, leaf_file& out, std::vector<std::size_t>& shape, std::size_t samples_before)
      : path_(std::move(path)), out_(out), shape_(shape), samples_before_(samples_before) {}

  bool null() override { return scalar(value_kind::null); }
  bool boolean(bool) override { return scalar(value_kind::boolean); }
  bool number_integer(number_integer_t v) override {
    return on_number({static_cast<double>(v), number::signed_int, v});
  }
  bool number_unsigned(number_unsigned_t v) override {
    return on_number({static_cast<double>(v), number::unsigned_int, 0, v});
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return on_number({v, number::text, 0, 0, &s});
  }
  bool string(string_t& s) override {
    if (skip_scalar())
      return true;
    if (stack_.empty() || stack_.back().r != role::users)
      wrong(value_kind::string);
    if (out_.users.size() >= max_natural_ids)
      fail("users lists more than " + std::to_string(max_natural_ids) + " users, more than flotilla takes" +
           fix_hint);
    out_.users.push_back(s);
    after_value();
    return true;
  }
  bool binary(binary_t&) override { return scalar(value_kind::string); } // never in JSON text

  bool start_object(std::size_t) override {
    if (skip_open())
      return true;
    if (stack_.empty()) {
      stack_.emplace_back(role::root);
      return true;
    }
    frame& f = stack_.back();
    if (f.r == role::root && f.key == "user_data") {
      stack_.emplace_back(role::user_data);
    } else if (f.r == role::user_data) {
      block_ = &out_.user_data[f.key];
      stack_.emplace_back(role::user);
    } else {
      wrong(value_kind::object);
    }
    return true;
  }

  bool key(string_t& k) override {
    if (skip_depth_ != 0)
      return true;
    frame& f = stack_.back(); // keys come only inside objects, which all push a frame
    f.key = k;
    switch (f.r) {
    case role::root: {
      bool* seen = k == "users" ? &out_.has_users
                   : k == "num_samples" ? &out_.has_num_samples
                   : k == "user_data" ? &out_.has_user_data
                                      : nullptr;
      if (seen == nullptr)
        skip_next_ = true; // "hierarchies" and anything else
      else if (*seen)
        fail(k + " appears twice" + fix_hint);
      else
        *seen = true;
      break;
    }
    case role::user_data:
      if (out_.user_data.count(k) != 0)
        fail(where() + " appears twice" + fix_hint);
      if (out_.user_data.size() >= max_natural_ids)
        fail("user_data holds more than " + std::to_string(max_natural_ids) + " users, more than flotilla takes" +
             fix_hint);
      break;
    case role::user: {
      bool* seen = k == "x" ? &block_->has_x : k == "y" ? &block_->has_y : nullptr;
      if (seen == nullptr)
        skip_next_ = true;
      else if (*seen)
        fail(where() + " appears twice" + fix_hint);
      else
        *seen = true;
      break;
    }
    default: break;
    }
    return true;
  }

  bool end_object() override {
    if (skip_close())
      return true;
    if (stack_.back().r == role::user)
      block_ = nullptr;
    stack_.pop_back();
    after_value();
    return true;
  }

  bool start_array(std::size_t) override {
    if (skip_open())
      return true;
    if (stack_.empty())
      wrong(value_kind::array);
    frame& f = stack_.back();
    switch (f.r) {
    case role::root:
      if (f.key == "users")
        stack_.emplace_back(role::users);
      else if (f.key == "num_samples")
        stack_.emplace_back(role::num_samples);
      else
        wrong(value_kind::array);
      break;
    case role::user:
      if (f.key == "x") {
        x_pos_ = stack_.size();
        stack_.emplace_back(role::x);
      } else {
        stack_.emplace_back(role::y);
      }
      break;
    case role::x: start_sample(); break;
    case role::sample:
      if (f.level == max_sample_dims)
        fail(sample_path() + " is nested more than " + std::to_string(max_sample_dims) +
             " lists deep; a sample has at most " + std::to_string(max_sample_dims) + " dimensions" + fix_hint);
      if (leaf_depth_ != 0 && f.level + 1 > leaf_depth_)
        mixed();
      max_depth_ = std::max(max_depth_, f.level + 1);
      stack_.emplace_back(role::sample, f.level + 1);
      break;
    default: wrong(value_kind::array);
    }
    return true;
  }

  bool end_array() override {
    if (skip_close())
      return true;
    frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.r == role::x)
      block_->rows = f.index;
    else if (f.r == role::sample)
      end_sample_list(f.level, f.index);
    after_value();
    return true;
  }

  bool parse_error(std::size_t, const std::string& last_token, const nlohmann::detail::exception& ex) override {
    // 1e400 and the like: the number's own check names where it is and what is allowed.
    if (ex.id == 406 && skip_depth_ == 0 && !skip_next_)
      on_number({HUGE_VAL, number::text, 0, 0, &last_token});
    std::string what = ex.what();
    auto bracket = what.find("] ");
    if (bracket != std::string::npos)
      what.erase(0, bracket + 2);
    fail("not valid JSON (" + printable(what) +
         "); the file is truncated or corrupt: regenerate it with LEAF's preprocess.sh");
  }

private:
  enum class role { root, users, num_samples, user_data, user, x, sample, y };
  struct frame {
    frame(role r, std::size_t level = 0) : r(r), level(level) {}
    role r;
    std::size_t index = 0; ///< arrays: the element being read
    std::string key;       ///< objects: the key being read
    std::size_t level;     ///< samples: 1 for the sample itself, 2 for its rows, ...
  };

  [[noreturn]] void fail(const std::string& what) const { throw data_error(path_ + ": " + what); }

  // Where the value being read sits, as in user_data["f0001_41"]["y"][7].
  std::string path_to(std::size_t frames) const {
    std::string out;
    for (std::size_t i = 0; i < frames; ++i) {
      const frame& f = stack_[i];
      if (f.r == role::root)
        out += f.key;
      else if (f.r == role::user_data || f.r == role::user)
        out += "[" + json_quoted(f.key) + "]";
      else
        out += "[" + std::to_string(f.index) + "]";
    }
    return out;
  }
  std::string where() const { return stack_.empty() ? "the top level" : path_to(stack_.size()); }
  std::string sample_path() const { return path_to(x_pos_ + 1); }

  std::string expected() const {
    if (stack_.empty())
      return "an object with users, num_samples and user_data";
    const frame& f = stack_.back();
    switch (f.r) {
    case role::root:
      return f.key == "users" ? "a list of user names"
             : f.key == "num_samples" ? "a list of sample counts"
                                      : "an object of each user's x and y";
    case role::users: return "a user name (a string)";
    case role::num_samples: return "a sample count (a whole number, 0 or more)";
    case role::user_data: return "an object with x and y";
    case role::user: return f.key == "x" ? "a list of samples" : "a list of class ids";
    case role::x: return "a sample (a list of numbers)";
    case role::sample: return "a number";
    case role::y: return "a class id (a whole number, 0 or more)";
    }
    return "something else";
  }

  [[noreturn]] void wrong(value_kind k) const {
    fail(where() + " is " + kind_name(k) + ", expected " + expected() + fix_hint);
  }

  // An ignored key's value is consumed whole, whatever it holds.
  bool skip_scalar() {
    if (skip_depth_ != 0)
      return true;
    if (!skip_next_)
      return false;
    skip_next_ = false;
    return true;
  }
  bool skip_open() {
    if (skip_depth_ != 0 || skip_next_) {
      skip_next_ = false;
      ++skip_depth_;
      return true;
    }
    return false;
  }
  bool skip_close() {
    if (skip_depth_ == 0)
      return false;
    --skip_depth_;
    return true;
  }

  void after_value() {
    if (!stack_.empty())
      ++stack_.back().index;
  }

  bool scalar(value_kind k) {
    if (!skip_scalar())
      wrong(k);
    return true;
  }

  bool on_number(const number& n) {
    if (skip_scalar())
      return true;
    if (stack_.empty())
      wrong(value_kind::number);
    switch (stack_.back().r) {
    case role::sample: add_feature(n); break;
    case role::y: add_label(n); break;
    case role::num_samples:
      if (!n.whole_below(static_cast<double>(max_samples) + 1))
        fail(where() + " = " + n.shown() + " is not a sample count (a whole number, 0 to " +
             std::to_string(max_samples) + ")" + fix_hint);
      if (out_.num_samples.size() >= max_natural_ids)
        fail(where() + " is past " + std::to_string(max_natural_ids) + " users, more than flotilla takes" + fix_hint);
      out_.num_samples.push_back(static_cast<std::uint64_t>(n.value));
      break;
    default: wrong(value_kind::number);
    }
    after_value();
    return true;
  }

  void start_sample() {
    if (samples_before_ + file_samples_ >= max_samples)
      fail(sample_path() + " is past " + std::to_string(max_samples) + " samples, more than a split may hold" +
           fix_hint);
    ++file_samples_;
    sample_numbers_ = 0;
    leaf_depth_ = 0;
    max_depth_ = 1;
    dims_set_ = {};
    // Once the shape is known a longer sample is only counted, for its message.
    sample_limit_ = max_sample_size;
    if (!shape_.empty()) {
      sample_limit_ = 1;
      for (auto d : shape_)
        sample_limit_ *= d;
    }
    stack_.emplace_back(role::sample, 1);
  }

  [[noreturn]] void mixed() const {
    fail(sample_path() + " mixes numbers and lists; a sample is a list of numbers or of equal-length lists" +
         fix_hint);
  }

  void add_feature(const number& n) {
    std::size_t level = stack_.back().level;
    if (level != max_depth_)
      mixed();
    leaf_depth_ = level;
    if (!(std::fabs(n.value) <= FLT_MAX))
      fail(where() + " = " + n.shown() + " is outside the float range (-3.4e38 to 3.4e38)" + fix_hint);
    if (sample_numbers_ < sample_limit_)
      block_->x.push_back(static_cast<float>(n.value));
    ++sample_numbers_;
  }

  void add_label(const number& n) {
    if (n.value < 0 || std::floor(n.value) != n.value)
      fail(where() + " = " + n.shown() + " is not a class id (a whole number, 0 or more)" + fix_hint);
    if (!n.whole_below(static_cast<double>(max_classes)))
      fail(where() + " = " + n.shown() + " is past the largest class id flotilla takes (" +
           std::to_string(max_classes - 1) + ")" + fix_hint);
    // Labels cost 8 bytes per 2 of JSON: bound them by the file's samples (LEAF writes each
    // user's x before its y), with slack for a writer that puts y first.
    if (++file_labels_ > file_samples_ + label_slack)
      fail(where() + " is label " + std::to_string(file_labels_) + " of this file, past its " +
           std::to_string(file_samples_) + " samples by more than " + std::to_string(label_slack) +
           "; every label needs its sample" + fix_hint);
    block_->y.push_back(static_cast<std::int64_t>(n.value));
  }

  void end_sample_list(std::size_t level, std::size_t length) {
    auto d = level - 1;
    if (!dims_set_[d]) {
      dims_set_[d] = true;
      dims_[d] = length;
    } else if (dims_[d] != length) {
      fail(sample_path() + " is ragged: its lists at depth " + std::to_string(level) + " hold " +
           std::to_string(dims_[d]) + " and " + std::to_string(length) +
           " entries; a sample is a list of numbers or of equal-length lists" + fix_hint);
    }
    if (level == 1)
      end_sample();
  }

  void end_sample() {
    if (sample_numbers_ == 0)
      fail(sample_path() + " is empty; a sample holds at least one number" + fix_hint);
    if (sample_numbers_ > max_sample_size)
      fail(sample_path() + " holds " + std::to_string(sample_numbers_) + " numbers, more than the " +
           std::to_string(max_sample_size) + " a sample may hold" + fix_hint);
    std::vector<std::size_t> shape(dims_.begin(), dims_.begin() + static_cast<long>(leaf_depth_));
    if (shape_.empty())
      shape_ = std::move(shape);
    else if (shape != shape_)
      fail(sample_path() + " has shape " + shape_text(shape) + ", unlike the " + shape_text(shape_) +
           " of the samples before it; every sample must have the same shape" + fix_hint);
  }

  std::string path_;
  leaf_file& out_;
  std::vector<std::size_t>& shape_; ///< the first sample's, shared by every file of both splits
  std::size_t samples_before_;      ///< this split's samples in earlier files
  std::size_t file_samples_ = 0;
  std::size_t file_labels_ = 0;
  std::vector<frame> stack_;
  std::size_t skip_depth_ = 0;
  bool skip_next_ = false;
  user_block* block_ = nullptr;
  std::size_t x_pos_ = 0;
  // The sample being read.
  std::size_t sample_numbers_ = 0, sample_limit_ = 0, leaf_depth_ = 0, max_depth_ = 1;
  std::array<std::size_t, max_sample_dims> dims_{};
  std::array<bool, max_sample_dims> dims_set_{};
};

// A split as its files are merged: owners index `users` (first-seen order) until the end.
struct split_reader {
  sample_arrays& out;
  std::vector<std::string> users;
  std::vector<std::string> user_file;
  std::unordered_map<std::string, std::uint32_t> index;
};

void check_counts(const std::string& path, const leaf_file& lf) {
  auto fail = [&](const std::string& what) { throw data_error(path + ": " + what + fix_hint); };
  for (auto [key, has] : {std::pair{"users", lf.has_users}, std::pair{"num_samples", lf.has_num_samples},
                          std::pair{"user_data", lf.has_user_data}})
    if (!has)
      fail(std::string("no ") + key + " key; a LEAF file is an object with users, num_samples and user_data");
  if (lf.users.size() != lf.num_samples.size())
    fail("users lists " + plural(lf.users.size(), "name") + " but num_samples " +
         plural(lf.num_samples.size(), "count"));
  std::unordered_map<std::string, std::size_t> first;
  for (std::size_t k = 0; k < lf.users.size(); ++k) {
    auto name = "users[" + std::to_string(k) + "] = " + json_quoted(lf.users[k]);
    auto [it, fresh] = first.emplace(lf.users[k], k);
    if (!fresh)
      fail(name + " is also users[" + std::to_string(it->second) + "]");
    auto block = lf.user_data.find(lf.users[k]);
    if (block == lf.user_data.end())
      fail(name + " has no entry in user_data");
    auto at = "user_data[" + json_quoted(lf.users[k]) + "]";
    if (!block->second.has_x || !block->second.has_y)
      fail(at + " has no " + (block->second.has_x ? "y" : "x"));
    auto promised = "num_samples[" + std::to_string(k) + "] = " + std::to_string(lf.num_samples[k]);
    if (block->second.rows != lf.num_samples[k])
      fail(promised + " but " + at + "[\"x\"] holds " + plural(block->second.rows, "sample"));
    if (block->second.y.size() != lf.num_samples[k])
      fail(promised + " but " + at + "[\"y\"] holds " + plural(block->second.y.size(), "label"));
    if (lf.num_samples[k] == 0)
      throw data_error(path + ": " + at + " has no samples (" + promised +
                       "); a client needs at least one: drop the user from the file");
  }
  for (const auto& [user, block] : lf.user_data)
    if (first.count(user) == 0)
      fail("user_data[" + json_quoted(user) + "] is not listed in users");
}

void merge(const std::string& path, leaf_file& lf, split_reader& split) {
  for (const auto& user : lf.users) {
    if (split.users.size() >= max_natural_ids)
      throw data_error(path + ": past " + std::to_string(max_natural_ids) +
                       " users in a split, more than flotilla takes; use fewer users");
    auto [it, fresh] = split.index.emplace(user, static_cast<std::uint32_t>(split.users.size()));
    if (!fresh)
      throw data_error(path + ": user " + json_quoted(user) + " is also in " + split.user_file[it->second] +
                       "; a user's samples of a split belong in one file: merge or rename them");
    split.users.push_back(user);
    split.user_file.push_back(path);
    auto& block = lf.user_data[user];
    auto& out = split.out;
    out.x.insert(out.x.end(), block.x.begin(), block.x.end());
    out.y.insert(out.y.end(), block.y.begin(), block.y.end());
    out.owner.insert(out.owner.end(), block.rows, it->second);
    out.count += block.rows;
    block = user_block{}; // frees the file's copy as the split grows
  }
}

void read_file(const std::string& path, split_reader& split, std::vector<std::size_t>& shape) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (fs::is_directory(status))
    throw data_error(path + ": a directory, not a JSON file; move it out of " +
                     fs::path(path).parent_path().string());
  if (!fs::is_regular_file(status))
    throw data_error(path + ": not a regular file" + layout_hint);
  auto size = fs::file_size(path, ec);
  if (ec)
    throw data_error(path + ": cannot read its size (" + ec.message() + ")");
  if (size > max_leaf_file_bytes)
    throw data_error(path + ": " + std::to_string(size) + " bytes, more than the " +
                     std::to_string(max_leaf_file_bytes) + " a LEAF JSON file may hold; split its users "
                                                           "into smaller files");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw data_error(path + ": cannot open file");
  leaf_file lf;
  leaf_sax sax(path, lf, shape, split.out.count);
  try {
    json::sax_parse(static_cast<std::istream&>(in), &sax);
  } catch (const std::bad_alloc&) {
    throw data_error(path + ": out of memory while reading it (" + std::to_string(size) +
                     " bytes); free memory or split its users into smaller files");
  }
  check_counts(path, lf);
  merge(path, lf, split);
}

std::vector<std::string> json_files(const std::string& root, const char* split) {
  auto dir = fs::path(root) / split;
  std::error_code ec;
  auto status = fs::status(dir, ec);
  if (!fs::exists(status))
    throw data_error(dir.string() + ": not found" + layout_hint);
  if (!fs::is_directory(status))
    throw data_error(dir.string() + ": not a directory" + layout_hint);
  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0)
      names.push_back(name);
  }
  if (ec)
    throw data_error(dir.string() + ": cannot list it (" + ec.message() + ")");
  if (names.empty())
    throw data_error(dir.string() + ": holds no .json file" + layout_hint);
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  for (const auto& name : names)
    paths.push_back((dir / name).string());
  return paths;
}

} // namespace

federated_set read_leaf(const std::string& root) {
  // Both folders are checked before a byte is parsed: a layout fault is the likeliest one.
  auto train_files = json_files(root, "train");
  auto test_files = json_files(root, "test");
  federated_set out;
  split_reader train{out.train, {}, {}, {}}, test{out.test, {}, {}, {}};
  for (const auto& path : train_files)
    read_file(path, train, out.sample_shape);
  for (const auto& path : test_files)
    read_file(path, test, out.sample_shape);
  for (auto* split : {&train, &test})
    if (split->out.count == 0)
      throw data_error((fs::path(root) / (split == &train ? "train" : "test")).string() +
                       ": its JSON files hold no users" + layout_hint);

  out.natural_ids = train.users;
  std::sort(out.natural_ids.begin(), out.natural_ids.end());
  std::unordered_map<std::string, std::uint32_t> natural;
  for (std::size_t i = 0; i < out.natural_ids.size(); ++i)
    natural.emplace(out.natural_ids[i], static_cast<std::uint32_t>(i));
  auto renumber = [&](split_reader& split) {
    std::vector<std::uint32_t> to_natural(split.users.size());
    for (std::size_t u = 0; u < split.users.size(); ++u) {
      auto it = natural.find(split.users[u]);
      if (it == natural.end())
        throw data_error(split.user_file[u] + ": user " + json_quoted(split.users[u]) +
                         " has test samples but no training samples, so it would be an empty client; "
                         "split LEAF's data by sample (preprocess.sh -t sample), not by user");
      to_natural[u] = it->second;
    }
    for (auto& o : split.out.owner)
      o = to_natural[o];
  };
  renumber(train);
  renumber(test);

  std::int64_t largest = 0;
  for (const auto* y : {&out.train.y, &out.test.y})
    for (auto label : *y)
      largest = std::max(largest, label);
  out.classes = static_cast<std::size_t>(largest) + 1;
  return out;
}

} // namespace flotilla::data
