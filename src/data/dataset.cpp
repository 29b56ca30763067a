#include "data/dataset.hpp"

#include <algorithm>
#include <cstring>

#include "common/sha256.hpp"
#include "data/data_error.hpp"
#include "data/datasets.hpp"
#include "data/on_demand_users.hpp"

namespace flotilla::data {

namespace {

void limit(image_set& s, std::size_t n) {
  if (n == 0 || n >= s.count)
    return;
  auto per = s.channels * s.height * s.width;
  s.count = n;
  s.pixels.resize(n * per);
  s.labels.resize(n);
}

// A sample shape of 1 to 3 dims as the channels x height x width the models and batches use.
void set_shape(split& s, const std::vector<std::size_t>& shape, const std::string& dataset) {
  if (shape.empty() || shape.size() > 3)
    throw data_error(dataset + ": samples of " + std::to_string(shape.size()) +
                     " dims; Flotilla takes 1 (features), 2 (height x width) or 3 (channels x height x width)");
  std::size_t dims[3] = {1, 1, 1};
  std::copy(shape.begin(), shape.end(), dims + (3 - shape.size()));
  s.channels = dims[0];
  s.height = dims[1];
  s.width = dims[2];
}

split split_of(sample_arrays&& a, const std::vector<std::size_t>& shape, const std::string& dataset) {
  split out;
  set_shape(out, shape, dataset);
  out.count = a.count;
  out.pixels = std::move(a.x);
  out.labels = std::move(a.y);
  out.owner = std::move(a.owner);
  out.background.assign(out.channels, 0.0f); // rotation's fill: features have no black
  return out;
}

void limit(split& s, std::size_t n) {
  if (n == 0 || n >= s.count)
    return;
  s.count = n;
  if (!s.source) { // a split made on demand has no rows to cut: its first n rows are the same rows
    s.pixels.resize(n * s.sample_size());
    s.labels.resize(n);
  }
  if (!s.owner.empty())
    s.owner.resize(n);
}

// The owners row by row of a split that gives them as offsets (data made on demand): what the
// paths that edit owners (data.train_limit) work on.
void expand_owners(split& s) {
  if (s.owner_offsets.empty())
    return;
  s.owner.assign(s.count, 0);
  for (std::size_t u = 0; u + 1 < s.owner_offsets.size(); ++u)
    std::fill(s.owner.begin() + static_cast<std::ptrdiff_t>(s.owner_offsets[u]),
              s.owner.begin() + static_cast<std::ptrdiff_t>(s.owner_offsets[u + 1]), static_cast<std::uint32_t>(u));
  s.owner_offsets.clear();
}

// Hashes a split's owners as the bytes of the row-by-row list, whichever form it has (the
// fingerprint of data made on demand does not depend on how its owners are held). Rows past the
// last user's belong to nobody: owner = the number of users, as drop_clients_without_rows writes.
void hash_owners(sha256& hash, const split& s) {
  if (s.owner_offsets.empty()) {
    hash.update(reinterpret_cast<const unsigned char*>(s.owner.data()), s.owner.size() * sizeof(std::uint32_t));
    return;
  }
  const auto users = s.owner_offsets.size() - 1;
  std::vector<std::uint32_t> block;
  auto flush = [&] {
    hash.update(reinterpret_cast<const unsigned char*>(block.data()), block.size() * sizeof(std::uint32_t));
    block.clear();
  };
  for (std::size_t u = 0; u < users; ++u) {
    block.insert(block.end(), s.owner_offsets[u + 1] - s.owner_offsets[u], static_cast<std::uint32_t>(u));
    if (block.size() >= (1u << 16))
      flush();
  }
  for (auto row = s.owner_offsets.back(); row < s.count; ++row) {
    block.push_back(static_cast<std::uint32_t>(users));
    if (block.size() >= (1u << 16))
      flush();
  }
  flush();
}

// data.train_limit on data made on demand, its owners kept as offsets: users own contiguous rows
// in user order, so the first n training rows are whole users and part of one more, and the
// users after them have none. They are no clients of the run and their test rows stay in the
// test split, owned by nobody: what drop_clients_without_rows does to owners listed row by row,
// without listing a row. False (nothing changed) when the users left without rows are not all
// at the end (a user with no training rows at all): the caller lists owners row by row then.
bool limit_offsets(dataset& d, std::size_t n) {
  auto& train = d.train.owner_offsets;
  auto& test = d.test.owner_offsets;
  if (train.empty() || n == 0 || (!test.empty() && test.size() != train.size()))
    return false;
  n = std::min(n, d.train.count);
  const auto users = train.size() - 1;
  std::size_t kept = 0;
  while (kept < users && train[kept] < n && train[kept + 1] > train[kept])
    ++kept;
  for (auto u = kept; u < users; ++u)
    if (train[u] < n)
      return false; // a user before the cut without rows
  for (auto& at : train)
    at = std::min<std::uint64_t>(at, n);
  train.resize(kept + 1);
  if (!test.empty())
    test.resize(kept + 1);
  d.train.count = n;
  d.natural_ids.resize(std::min(d.natural_ids.size(), kept));
  d.true_group.resize(std::min(d.true_group.size(), kept));
  return true;
}

// data.train_limit may cut a natural client's every training row: such a client is no client of
// the run (its test rows stay in the global test split, owned by nobody: owner = ids count).
void drop_clients_without_rows(dataset& d) {
  if (d.natural_ids.empty())
    return;
  std::vector<std::uint32_t> renumber(d.natural_ids.size(), 0);
  std::vector<bool> used(d.natural_ids.size(), false);
  for (auto o : d.train.owner)
    used[o] = true;
  std::vector<std::string> ids;
  std::vector<std::int32_t> groups;
  for (std::size_t i = 0; i < used.size(); ++i)
    if (used[i]) {
      renumber[i] = static_cast<std::uint32_t>(ids.size());
      ids.push_back(std::move(d.natural_ids[i]));
      if (i < d.true_group.size())
        groups.push_back(d.true_group[i]);
    }
  const auto nobody = static_cast<std::uint32_t>(ids.size());
  for (auto& o : d.train.owner)
    o = renumber[o];
  for (auto& o : d.test.owner)
    o = o < used.size() && used[o] ? renumber[o] : nobody;
  d.natural_ids = std::move(ids);
  d.true_group = std::move(groups);
}

// Data of one's own and generated benchmarks: used as read (no normalization), natural clients
// kept. The fingerprint covers everything a client's training depends on.
std::shared_ptr<const dataset> load_federated(const dataset_entry& entry, const data_options& options) {
  auto out = std::make_shared<dataset>();
  out->name = entry.name;
  std::string identity; // a set made on demand is hashed by what makes it, not by its rows
  if (options.on_demand && entry.users) {
    auto generator = entry.users(options);
    auto set = make_on_demand(generator);
    out->num_classes = generator.classes;
    out->train = std::move(set.train);
    out->test = std::move(set.test);
    for (auto* s : {&out->train, &out->test}) {
      set_shape(*s, generator.sample_shape, entry.name);
      s->background.assign(s->channels, 0.0f);
    }
    out->natural_ids = std::move(set.natural_ids);
    out->true_group = std::move(set.true_group);
    // The rows depend on the C library's rounding too (synthetic_users.hpp): the first and last
    // users' rows are hashed as well, so a node whose library rounds otherwise is refused.
    sha256 rows;
    for (auto u : {0u, generator.users - 1}) {
      auto user = generator.make_user(u);
      for (const auto* a : {&user.train, &user.test}) {
        rows.update(a->x.data(), a->x.size() * sizeof(float));
        rows.update(a->y.data(), a->y.size() * sizeof(std::int64_t));
      }
    }
    identity = "on demand: " + generator.identity + " rows " + rows.hex_digest();
  } else {
    auto set = entry.make(options);
    out->num_classes = set.classes;
    out->train = split_of(std::move(set.train), set.sample_shape, entry.name);
    out->test = split_of(std::move(set.test), set.sample_shape, entry.name);
    out->natural_ids = std::move(set.natural_ids);
    out->true_group = std::move(set.true_group);
  }
  if (options.train_limit > 0 && !limit_offsets(*out, options.train_limit)) {
    // Cutting rows may leave clients without any: owners row by row, as for data read whole.
    expand_owners(out->train);
    expand_owners(out->test);
  }
  limit(out->train, options.train_limit);
  if (options.train_limit > 0 && out->train.owner_offsets.empty())
    drop_clients_without_rows(*out);
  sha256 hash;
  const std::uint64_t classes = out->num_classes; // the model's output layer depends on it
  hash.update(&classes, sizeof(classes));
  if (!identity.empty())
    hash.update(identity.data(), identity.size());
  for (const auto* s : {&out->train, &out->test}) {
    const std::uint64_t dims[4] = {s->count, s->channels, s->height, s->width};
    hash.update(reinterpret_cast<const unsigned char*>(dims), sizeof(dims));
    hash.update(reinterpret_cast<const unsigned char*>(s->pixels.data()), s->pixels.size() * sizeof(float));
    hash.update(reinterpret_cast<const unsigned char*>(s->labels.data()), s->labels.size() * sizeof(std::int64_t));
    hash_owners(hash, *s);
  }
  for (const auto& id : out->natural_ids)
    hash.update(reinterpret_cast<const unsigned char*>(id.c_str()), id.size() + 1);
  hash.update(reinterpret_cast<const unsigned char*>(out->true_group.data()),
              out->true_group.size() * sizeof(std::int32_t));
  out->fingerprint = hash.hex_digest();
  return out;
}

} // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& d : datasets())
      out.push_back(d.name);
    return out;
  }();
  return names;
}

image_shape shape_of(const std::string& dataset) {
  return dataset_named(dataset).shape;
}

std::string default_root(const std::string& dataset) {
  return dataset_named(dataset).default_root;
}

split normalize(const image_set& raw, const std::vector<float>& mean, const std::vector<float>& std) {
  split out;
  out.count = raw.count;
  out.channels = raw.channels;
  out.height = raw.height;
  out.width = raw.width;
  out.pixels.resize(raw.pixels.size());
  auto plane = raw.height * raw.width;
  for (std::size_t i = 0; i < raw.pixels.size(); ++i) {
    auto c = (i / plane) % raw.channels;
    out.pixels[i] = (static_cast<float>(raw.pixels[i]) / 255.0f - mean[c]) / std[c];
  }
  out.labels.assign(raw.labels.begin(), raw.labels.end());
  for (std::size_t c = 0; c < raw.channels; ++c)
    out.background.push_back((0.0f - mean[c]) / std[c]);
  return out;
}

std::shared_ptr<const dataset> load_dataset(const data_options& options) {
  const auto& entry = dataset_named(options.dataset);
  if (entry.make)
    return load_federated(entry, options);
  auto [train, test] = entry.read(options.root.empty() ? entry.default_root : options.root, entry);
  limit(train, options.train_limit);
  auto out = std::make_shared<dataset>();
  out->name = entry.name;
  out->num_classes = entry.classes; // the readers refuse any other label
  sha256 hash;
  for (const auto* s : {&train, &test}) {
    hash.update(s->pixels.data(), s->pixels.size());
    hash.update(s->labels.data(), s->labels.size());
  }
  out->fingerprint = hash.hex_digest();
  out->train = normalize(train, entry.mean, entry.std);
  out->test = normalize(test, entry.mean, entry.std);
  return out;
}

void gather(const split& s, const std::uint32_t* indices, std::size_t n,
            const std::vector<std::int32_t>& pixel_map, float* out, std::int64_t* labels) {
  auto size = s.sample_size();
  auto plane = s.height * s.width;
  std::vector<float> made;
  if (s.source) {
    if (pixel_map.empty())
      return s.source->gather(indices, n, out, labels);
    made.resize(n * size);
    s.source->gather(indices, n, made.data(), labels);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float* src = s.source ? made.data() + i * size : s.sample(indices[i]);
    float* dst = out + i * size;
    if (!s.source)
      labels[i] = s.labels[indices[i]];
    if (pixel_map.empty()) {
      std::memcpy(dst, src, size * sizeof(float));
      continue;
    }
    for (std::size_t c = 0; c < s.channels; ++c)
      for (std::size_t p = 0; p < plane; ++p) {
        auto from = pixel_map[p];
        dst[c * plane + p] = from < 0 ? s.background[c] : src[c * plane + static_cast<std::size_t>(from)];
      }
  }
}

} // namespace flotilla::data
