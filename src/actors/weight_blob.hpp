#pragma once
// Model weights as messages carry them: a shared immutable buffer, on the wire one raw block or,
// above the transfer's chunk size, a reference the receiver pulls in chunks (blob_transfer.hpp).
// Deserializers check every length against the bytes present and the limits below before
// allocating.
#include <caf/all.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace flotilla::actors {

/// The largest float buffer accepted from the wire (1 GiB); besides, never more than the
/// message holds.
constexpr std::size_t max_blob_floats = std::size_t{1} << 28;

namespace detail {

/// The bytes a deserializer has left when it knows (BASP's binary deserializer does).
inline std::size_t remaining_bytes(caf::deserializer& f) {
  if (auto* b = dynamic_cast<caf::binary_deserializer*>(&f))
    return b->remaining();
  return std::numeric_limits<std::size_t>::max();
}

/// A float buffer as one raw block: CAF's element-wise float encoding runs at ~200 MB/s, this
/// at memcpy speed (all nodes must be little-endian).
template <class Inspector>
caf::error raw_floats_save(Inspector& f, const float* data, std::size_t n) {
  if (auto err = f.begin_sequence(n))
    return err;
  if (n > 0)
    if (auto err = f.apply_raw(n * sizeof(float), const_cast<float*>(data)))
      return err;
  return f.end_sequence();
}

template <class Inspector>
caf::error raw_floats_load(Inspector& f, std::vector<float>& out) {
  std::size_t n = 0;
  if (auto err = f.begin_sequence(n))
    return err;
  if (n > max_blob_floats || n > remaining_bytes(f) / sizeof(float))
    return caf::make_error(caf::sec::invalid_argument,
                           "a float buffer of " + std::to_string(n) + " floats exceeds the message or the limit");
  out.resize(n);
  if (n > 0)
    if (auto err = f.apply_raw(n * sizeof(float), out.data()))
      return err;
  return f.end_sequence();
}

} // namespace detail

/// Where the floats of a large blob wait to be fetched: the sending process's blob server and
/// the id it shared them under (see blob_transfer.hpp).
struct blob_ref {
  caf::actor source;
  std::uint64_t id = 0;
  std::uint64_t floats = 0;
};

/// The largest blob a reference may announce (2 GiB of floats); the receiver also checks it
/// against the model it expects before allocating anything.
constexpr std::size_t max_ref_floats = std::size_t{1} << 29;

/// Serializer side of blob references: shares `data` with this process's blob server when it
/// is too large to travel inline (blob_transfer.cpp); nullopt: inline. Defined with the server.
std::optional<blob_ref> share_for_wire(caf::serializer& f, const std::shared_ptr<const std::vector<float>>& data);

/// Model weights: an immutable, shared buffer (copying a blob, or a message holding one, never
/// copies the floats: 10,000 clients forwarding the same model hold one buffer), and on the
/// wire either one raw block or, above the transfer's chunk size, a reference that the
/// receiver resolves in flow-controlled chunks (fetch_blob in blob_transfer.hpp) before use.
struct weight_blob {
  std::uint64_t layout = 0; ///< model layout id (model_spec::layout), checked on load
  std::shared_ptr<const std::vector<float>> data;
  std::optional<blob_ref> ref; ///< set when the floats are still at the sender (data is null)

  weight_blob() = default;
  weight_blob(std::uint64_t layout_id, std::vector<float> values)
      : layout(layout_id), data(std::make_shared<const std::vector<float>>(std::move(values))) {}
  weight_blob(std::uint64_t layout_id, std::shared_ptr<const std::vector<float>> values)
      : layout(layout_id), data(std::move(values)) {}

  const std::vector<float>& values() const {
    static const std::vector<float> none;
    return data ? *data : none;
  }
  /// The number of floats, also of a blob still to be fetched.
  std::size_t size() const { return data ? data->size() : ref ? static_cast<std::size_t>(ref->floats) : 0; }
  /// True while the floats are still at the sender.
  bool pending() const { return !data && ref.has_value(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, weight_blob& x) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "weights travel in host order");
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    if (auto err = f(x.layout))
      return err;
    // A blob that is a reference already (forwarded unresolved) stays one; a large one becomes one.
    auto ref = x.ref;
    if (!x.pending())
      ref = share_for_wire(f, x.data);
    std::uint8_t mode = ref ? 1 : 0;
    if (auto err = f(mode))
      return err;
    if (ref)
      return f(ref->source, ref->id, ref->floats);
    return detail::raw_floats_save(f, x.values().data(), x.size());
  } else if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    std::uint8_t mode = 0;
    if (auto err = f(x.layout, mode))
      return err;
    x.data.reset();
    x.ref.reset();
    if (mode == 1) {
      blob_ref r;
      if (auto err = f(r.source, r.id, r.floats))
        return err;
      if (!r.source || r.id == 0 || r.floats == 0 || r.floats > max_ref_floats)
        return caf::make_error(caf::sec::invalid_argument,
                               "a blob reference of " + std::to_string(r.floats) + " floats (at most " +
                                 std::to_string(max_ref_floats) + ", from a known sender)");
      x.ref = std::move(r);
      return caf::none;
    }
    if (mode != 0)
      return caf::make_error(caf::sec::invalid_argument, "unknown weight blob encoding " + std::to_string(mode));
    auto values = std::make_shared<std::vector<float>>();
    if (auto err = detail::raw_floats_load(f, *values))
      return err;
    x.data = std::move(values);
    return caf::none;
  } else {
    // to_string and logging: the size only, never megabytes of floats.
    auto n = static_cast<std::uint64_t>(x.size());
    return f(caf::meta::type_name("flotilla::weight_blob"), x.layout, n);
  }
}

/// One chunk of a shared blob, as its server answers a chunk request.
struct blob_chunk {
  std::uint64_t offset = 0;
  std::vector<float> values;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blob_chunk& x) {
  if constexpr (std::is_base_of<caf::serializer, Inspector>::value) {
    if (auto err = f(x.offset))
      return err;
    return detail::raw_floats_save(f, x.values.data(), x.values.size());
  } else if constexpr (std::is_base_of<caf::deserializer, Inspector>::value) {
    if (auto err = f(x.offset))
      return err;
    return detail::raw_floats_load(f, x.values);
  } else {
    auto n = static_cast<std::uint64_t>(x.values.size());
    return f(caf::meta::type_name("flotilla::blob_chunk"), x.offset, n);
  }
}

} // namespace flotilla::actors
