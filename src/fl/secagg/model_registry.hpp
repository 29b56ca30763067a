#pragma once
// The coordinator's registration of each secure round's model, against the model-inconsistency
// attack (Pasquini, Francati, Ateniese, CCS 2022): an aggregator that sends members different
// models can isolate one member's update inside a correct-looking sum. Members do not trust the
// aggregator (a promoted peer) to tell them which model is the round's; the coordinator signs
// (session, SHA-256 of the model) with its own Ed25519 key (RFC 8032, OpenSSL EVP_PKEY_ED25519),
// the signature travels with the round to every member, and a member that cannot verify it over
// the model it was sent refuses to mask its update. The coordinator's public key reaches each
// client with its node's setup (the coordinator's own process, or the node's host request), not
// through any aggregator. One signature per round, whatever its number of members.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fl/secagg/prg.hpp"

namespace flotilla::fl::secagg {

using digest32 = key32;
using signature64 = std::array<std::uint8_t, 64>;

/// The registrar: an Ed25519 key pair, generated fresh (os_random) or from a seed (tests).
class model_registrar {
public:
  explicit model_registrar(const random_source& random);
  /// The public key members verify with.
  const key32& public_key() const { return public_key_; }
  /// The signature that registers `model_hash` as session `session`'s model.
  signature64 sign(std::uint64_t session, const digest32& model_hash) const;

private:
  key32 secret_key_{};
  key32 public_key_{};
};

/// Whether `signature` registers `model_hash` for `session` under `public_key`. False for any
/// mismatch, a malformed key or a signature by another key; never throws on hostile bytes.
bool verify_registration(const key32& public_key, std::uint64_t session, const digest32& model_hash,
                         const signature64& signature);

/// The public key as 64 lowercase hex digits (how a node is told it), and back: nullopt unless
/// exactly 64 hex digits.
std::string key_hex(const key32& key);
std::optional<key32> key_from_hex(const std::string& text);

} // namespace flotilla::fl::secagg
