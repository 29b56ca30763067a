#include "fl/layer_history.hpp"

#include <cstring>
#include <stdexcept>

#include "common/sha256.hpp"

namespace flotilla::fl {

namespace {

constexpr char magic[8] = {'F', 'L', 'B', 'N', 'H', 'I', 'S', 'T'};
constexpr std::uint32_t format = 1;
constexpr std::size_t header_bytes = sizeof(magic) + 4 + 4 + 8 + 8; // magic, format, client, floats, versions
constexpr std::size_t digest_bytes = 32;

template <class T>
void append(std::string& out, T value) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  out.append(raw, sizeof(T));
}

template <class T>
T take(const std::string& in, std::size_t& at) {
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  at += sizeof(T);
  return value;
}

std::string raw_digest(const char* data, std::size_t bytes) {
  sha256 h;
  h.update(data, bytes);
  auto hex = h.hex_digest();
  std::string raw(digest_bytes, '\0');
  for (std::size_t i = 0; i < digest_bytes; ++i)
    raw[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return raw;
}

} // namespace

std::uint64_t layer_step(const std::string& phase, std::uint32_t round) {
  return (phase == "initial" ? 0 : std::uint64_t{1} << 32) | round;
}

const std::vector<float>* layer_history::before(std::uint64_t step) const {
  auto it = versions_.lower_bound(step);
  if (it == versions_.begin())
    return nullptr;
  return &std::prev(it)->second;
}

const std::vector<float>* layer_history::latest() const {
  return versions_.empty() ? nullptr : &versions_.rbegin()->second;
}

void layer_history::put(std::uint64_t step, std::vector<float> layers, std::uint64_t durable) {
  if (layers.size() != floats_)
    throw std::invalid_argument("layer_history: " + std::to_string(layers.size()) + " values for layers of " +
                                std::to_string(floats_));
  // Only this step's version is replaced (a round run again): a later one stays, should an
  // older fit finish after it (its deadline had passed).
  versions_[step] = std::move(layers);
  // Of the versions up to `durable`, a resume can need only the last one.
  auto keep = versions_.upper_bound(durable);
  if (keep != versions_.begin())
    versions_.erase(versions_.begin(), std::prev(keep));
}

void layer_history::rewind(std::uint64_t step) {
  versions_.erase(versions_.upper_bound(step), versions_.end());
}

std::string layer_history::encode(std::uint32_t client) const {
  std::string out;
  out.reserve(header_bytes + versions_.size() * (8 + 4 * floats_) + digest_bytes);
  out.append(magic, sizeof(magic));
  append<std::uint32_t>(out, format);
  append<std::uint32_t>(out, client);
  append<std::uint64_t>(out, floats_);
  append<std::uint64_t>(out, versions_.size());
  for (const auto& [step, layers] : versions_) {
    append<std::uint64_t>(out, step);
    out.append(reinterpret_cast<const char*>(layers.data()), layers.size() * sizeof(float));
  }
  out += raw_digest(out.data(), out.size());
  return out;
}

layer_history layer_history::decode(const std::string& bytes, std::uint32_t client, std::size_t floats) {
  auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (bytes.size() < header_bytes + digest_bytes || std::memcmp(bytes.data(), magic, sizeof(magic)) != 0)
    fail("it is not a client's layer file (no FLBNHIST header)");
  std::size_t at = sizeof(magic);
  auto version = take<std::uint32_t>(bytes, at);
  if (version != format)
    fail("its format " + std::to_string(version) + " is not " + std::to_string(format));
  auto owner = take<std::uint32_t>(bytes, at);
  if (owner != client)
    fail("it holds client " + std::to_string(owner) + "'s layers, not client " + std::to_string(client) + "'s");
  auto n = take<std::uint64_t>(bytes, at);
  if (n != floats)
    fail("its layers have " + std::to_string(n) + " values, the model's " + std::to_string(floats));
  auto k = take<std::uint64_t>(bytes, at);
  // Every size against the file before anything is allocated.
  auto per_version = 8 + 4 * static_cast<std::uint64_t>(floats);
  auto body = bytes.size() - header_bytes - digest_bytes;
  if (k > body / per_version || k * per_version != body)
    fail("it declares " + std::to_string(k) + " versions, which do not fit its " + std::to_string(bytes.size()) +
         " bytes (truncated or damaged)");
  if (raw_digest(bytes.data(), bytes.size() - digest_bytes) != bytes.substr(bytes.size() - digest_bytes))
    fail("its checksum does not match its contents (damaged)");
  layer_history h(floats);
  for (std::uint64_t i = 0; i < k; ++i) {
    auto step = take<std::uint64_t>(bytes, at);
    if (!h.versions_.empty() && step <= h.versions_.rbegin()->first)
      fail("its versions are not in order");
    std::vector<float> layers(floats);
    std::memcpy(layers.data(), bytes.data() + at, floats * sizeof(float));
    at += floats * sizeof(float);
    h.versions_.emplace_hint(h.versions_.end(), step, std::move(layers));
  }
  return h;
}

} // namespace flotilla::fl
