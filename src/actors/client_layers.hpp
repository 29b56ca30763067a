#pragma once
// FedBN (model.buffers=local) at a client: the BatchNorm layers it keeps to itself, put into the
// models it trains and evaluates, and their history on this machine's disk (runtime.client_state),
// which a resume reads back. Internal to the client actor (client.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/client.hpp"
#include "fl/local_layers.hpp"

namespace flotilla::actors {

/// The ranges this client keeps (model.buffers=local), empty otherwise.
const fl::layer_ranges& kept_layers(const client_actor* self);

/// A model as this client uses it: under FedBN with `layers` (its own BatchNorm layers) in
/// place; the second form with the layers of its last fit (evaluation, IFCA's losses).
weight_blob personal(const client_actor* self, const weight_blob& model, const std::vector<float>* layers);
weight_blob personal(const client_actor* self, const weight_blob& model);

/// Where this client's machine keeps its layer history.
std::string layer_file(const client_actor* self);

/// Writes the layer history whole (temporary file, rename): empty, or why it could not.
std::string save_layers(const client_actor* self);

/// Reads the history this machine kept for this client, once per actor; with `before` (the
/// first fit's step) the versions at or after it are dropped. Empty, or why the file cannot be
/// used; `found` says whether there was one.
std::string load_layers(client_actor* self, std::optional<std::uint64_t> before, bool& found);

/// A resume: the history as of the checkpoint's `step` (`trained`: it must hold layers).
caf::result<restore_atom> restore_layers(client_actor* self, std::uint64_t step, bool trained);

} // namespace flotilla::actors
