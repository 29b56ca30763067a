#include "actors/client_layers.hpp"

#include <filesystem>

#include "actors/errors.hpp"
#include "common/atomic_file.hpp"
#include "common/small_file.hpp"
#include "fl/layer_history.hpp"

namespace flotilla::actors {

// model.buffers=local (FedBN): the ranges this client keeps, empty otherwise.
const fl::layer_ranges& kept_layers(const client_actor* self) {
  static const fl::layer_ranges none;
  const auto& ctx = *self->state.ctx;
  return ctx.model_choice.buffers == "local" ? ctx.model.norm_ranges : none;
}

// A model as this client uses it: under FedBN with `layers` (its own BatchNorm layers) in place.
weight_blob personal(const client_actor* self, const weight_blob& model, const std::vector<float>* layers) {
  const auto& ranges = kept_layers(self);
  if (ranges.empty() || !layers)
    return model;
  return weight_blob(model.layout, fl::with_local(model.values(), ranges, *layers));
}

// ...with the layers of its last fit (evaluation, IFCA's losses).
weight_blob personal(const client_actor* self, const weight_blob& model) {
  return personal(self, model, self->state.layers.latest());
}

// FedBN: where this client's machine keeps its layer history (runtime.client_state).
std::string layer_file(const client_actor* self) {
  return self->state.ctx->client_state_dir + "/client-" + std::to_string(self->state.id) + ".layers";
}

// Writes the layer history whole (temporary file, rename): empty, or why it could not.
std::string save_layers(const client_actor* self) {
  auto path = layer_file(self);
  try {
    std::error_code ec;
    std::filesystem::create_directories(self->state.ctx->client_state_dir, ec);
    if (ec)
      return "cannot create " + self->state.ctx->client_state_dir + ": " + ec.message();
    write_file_atomically(path, self->state.layers.encode(self->state.id));
    return {};
  } catch (const output_error& e) {
    return e.what();
  }
}

// Reads the history this machine kept for this client, once per actor (a new actor is a
// resumed run's, or one that joined late). With `before`, the first fit's step: versions at or
// after it were made by rounds the resumed run has not done yet, and are dropped. Empty, or why
// the file cannot be used; `found` says whether there was one.
std::string load_layers(client_actor* self, std::optional<std::uint64_t> before, bool& found) {
  auto& st = self->state;
  found = false;
  if (st.layers_loaded || kept_layers(self).empty())
    return {};
  st.layers_loaded = true;
  auto path = layer_file(self);
  auto advice = "; resume with each client on the machine that ran it and the same runtime.client_state, or start "
                "the run again";
  // A history holds at most a version per round of the run.
  auto limit = 128 + (std::uintmax_t{8} + 4 * std::uintmax_t{st.layers.floats()}) * st.ctx->max_layer_versions;
  auto file = read_small_file(path, limit);
  if (file.status == small_file_status::missing)
    return {};
  auto who = "client " + std::to_string(st.id) + "'s layer file " + path;
  if (!file.ok())
    return who + " " + file.problem + advice;
  try {
    auto h = fl::layer_history::decode(file.bytes, st.id, st.layers.floats());
    if (before)
      h.rewind(*before - 1);
    st.layers = std::move(h);
    found = true;
    return {};
  } catch (const std::exception& e) { // invalid_argument, or bad_alloc on a huge model
    return who + " cannot be used: " + e.what() + advice;
  }
}

// A resume: the history as of the checkpoint's `step`. `trained`: the client trained before
// it, so its layers must be there. A client that already read its history (a fit reached it
// first) keeps it.
caf::result<restore_atom> restore_layers(client_actor* self, std::uint64_t step, bool trained) {
  auto& st = self->state;
  if (st.layers_loaded || kept_layers(self).empty())
    return restore_atom::value;
  bool found = false;
  if (auto why = load_layers(self, step + 1, found); !why.empty())
    return make_error(errc::data_error, why);
  if (trained && st.layers.empty())
    return make_error(errc::data_error, "client " + std::to_string(st.id) + " kept its BatchNorm layers "
                                        "(model.buffers=local) in " + layer_file(self) +
                                        (found ? ", which holds none from before the checkpoint" : ", which is missing") +
                                        "; resume with each client on the machine that ran it and the same "
                                        "runtime.client_state, or start the run again");
  return restore_atom::value;
}

} // namespace flotilla::actors
