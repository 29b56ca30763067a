#include "actors/secure_member.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/sha256.hpp"
#include "fl/aggregate.hpp"
#include "actors/secure_round.hpp"
#include "fl/secagg/model_registry.hpp"
#include "fl/seeds.hpp"

namespace flotilla::actors {

namespace sa = fl::secagg;

namespace {

sa::digest32 digest_of(const void* data, std::size_t bytes) {
  auto hex = sha256_hex(data, bytes);
  sa::digest32 d{};
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]));
  return d;
}

} // namespace

sa::digest32 model_digest(const std::vector<float>& values) {
  return digest_of(values.data(), values.size() * sizeof(float));
}

std::uint8_t magnitude_bits(const std::vector<std::int64_t>& values) {
  std::uint64_t largest = 0;
  for (auto v : values) {
    // |INT64_MIN| does not fit; fixed_terms never makes one (|term| < 2^62).
    auto a = v < 0 ? static_cast<std::uint64_t>(-(v + 1)) + 1 : static_cast<std::uint64_t>(v);
    largest = a > largest ? a : largest;
  }
  std::uint8_t bits = 0;
  for (; largest != 0; largest >>= 1)
    ++bits;
  return bits;
}

void secure_sessions::check_model(std::uint64_t session, const std::vector<float>& sent,
                                  const std::vector<std::uint8_t>& registration) const {
  if (!registrar_)
    throw sa::protocol_error("secagg: this client has no coordinator key to check the round's model with; it "
                             "takes part in no secure round");
  sa::signature64 sig{};
  if (registration.size() != sig.size())
    throw sa::protocol_error("secagg: the round's model comes without the coordinator's registration (" +
                             std::to_string(registration.size()) + " bytes, not " + std::to_string(sig.size()) + ")");
  std::copy(registration.begin(), registration.end(), sig.begin());
  if (!sa::verify_registration(*registrar_, session, model_digest(sent), sig))
    throw sa::protocol_error("secagg: the model this client was sent is not the one the coordinator registered for "
                             "the round (or the registration is forged): it masks nothing");
}

std::uint8_t secure_sessions::keep(std::uint64_t session, std::uint32_t member, std::uint64_t weight,
                                   const std::vector<float>& sent, const std::vector<float>& trained,
                                   double noise_stddev, const fl::privacy::noise_key& noise, clip_count count) {
  if (sent.size() != trained.size())
    throw std::invalid_argument("secure fit: the trained model has " + std::to_string(trained.size()) +
                                " weights, the model sent " + std::to_string(sent.size()));
  entry s;
  s.member = member;
  s.order = next_++;
  s.input.resize(trained.size());
  std::vector<std::int64_t> base(sent.size());
  auto at = fl::fixed_terms(weight, trained.data(), trained.size(), s.input.data());
  if (at == trained.size())
    at = fl::fixed_terms(weight, sent.data(), sent.size(), base.data());
  if (at != trained.size())
    throw std::invalid_argument("update has a weight too large for secure aggregation's exact sum at index " +
                                std::to_string(at) + " (" + std::to_string(weight) + " x " +
                                std::to_string(trained[at]) + "; a diverged model)");
  for (std::size_t i = 0; i < base.size(); ++i)
    s.input[i] -= base[i]; // both below 2^62 in magnitude: no overflow
  if (noise_stddev > 0) {
    auto share = fl::privacy::noise_share(noise, noise_stddev, trained.size());
    if (fl::fixed_terms(1, share.data(), share.size(), base.data()) != share.size())
      throw std::invalid_argument("the noise share has a value beyond secure aggregation's exact sum (stddev " +
                                  std::to_string(noise_stddev) + ")");
    for (std::size_t i = 0; i < base.size(); ++i) {
      auto v = static_cast<__int128>(s.input[i]) + base[i];
      if (v >= (static_cast<__int128>(1) << 62) || v <= -(static_cast<__int128>(1) << 62))
        throw std::invalid_argument("update plus noise share is beyond secure aggregation's exact sum at index " +
                                    std::to_string(i) + " (a diverged model)");
      s.input[i] = static_cast<std::int64_t>(v);
    }
  }
  if (count.on) {
    float value[2] = {count.within ? 1.0f : 0.0f, 0.0f};
    if (count.noise_stddev > 0)
      fl::privacy::noise_share(noise, count.noise_stddev, trained.size(), value + 1, 1);
    std::int64_t terms[2];
    if (fl::fixed_terms(1, value, 2, terms) != 2)
      throw std::invalid_argument("the clipped count's noise share is beyond secure aggregation's exact sum (stddev " +
                                  std::to_string(count.noise_stddev) + ")");
    s.input.push_back(terms[0] + terms[1]); // |terms[1]| < 2^62, terms[0] <= 2^30: no overflow
  }
  s.model_hash = model_digest(sent);
  auto bits = magnitude_bits(s.input);
  open(session, std::move(s));
  return bits;
}

namespace {

// Puts `value` under `key` (replacing what is there), first dropping the entries of lowest
// `order` (the oldest) until fewer than `limit` remain: a member's memory stays bounded.
template <class Map>
void put_bounded(Map& m, const typename Map::key_type& key, typename Map::mapped_type value, std::size_t limit) {
  m.erase(key);
  while (!m.empty() && m.size() >= limit)
    m.erase(std::min_element(m.begin(), m.end(),
                             [](const auto& a, const auto& b) { return a.second.order < b.second.order; }));
  m.emplace(key, std::move(value));
}

} // namespace

void secure_sessions::open(std::uint64_t session, entry s) {
  put_bounded(sessions_, session, std::move(s), max_sessions);
}

namespace {

void put(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int b = 0; b < 8; ++b)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
}

std::uint64_t get(const std::vector<std::uint8_t>& in, std::size_t at) {
  std::uint64_t v = 0;
  for (int b = 0; b < 8; ++b)
    v |= static_cast<std::uint64_t>(in[at + b]) << (8 * b);
  return v;
}

} // namespace

std::vector<std::uint8_t> encode_commit(const step_commit& c) {
  std::vector<std::uint8_t> out;
  out.reserve(32 + 16 * c.fits.size());
  for (auto v : {c.step_version, std::uint64_t{c.phase}, static_cast<std::uint64_t>(c.cluster), std::uint64_t{c.term}})
    put(out, v);
  for (const auto& f : c.fits) {
    put(out, f.fit_session);
    put(out, f.ticket);
  }
  return out;
}

step_commit decode_commit(const std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < 48 || (bytes.size() - 32) % 16 != 0 || (bytes.size() - 32) / 16 > secure_sessions::max_holds)
    throw sa::protocol_error("secagg: a commit of held fits has " + std::to_string(bytes.size()) +
                             " bytes, not 32 and 16 for each of 1 to " + std::to_string(secure_sessions::max_holds) +
                             " fits");
  step_commit c;
  c.step_version = get(bytes, 0);
  auto phase = get(bytes, 8), term = get(bytes, 24);
  c.cluster = static_cast<std::int64_t>(get(bytes, 16));
  if (phase > 1 || term > 0xffffffffu)
    throw sa::protocol_error("secagg: a commit names phase " + std::to_string(phase) + " and term " +
                             std::to_string(term));
  c.phase = static_cast<std::uint32_t>(phase);
  c.term = static_cast<std::uint32_t>(term);
  for (std::size_t at = 32; at < bytes.size(); at += 16) {
    held_fit f{get(bytes, at), get(bytes, at + 8)};
    if (f.fit_session == 0 || f.ticket == 0)
      throw sa::protocol_error("secagg: a commit names a fit with a zero session or ticket");
    c.fits.push_back(f);
  }
  return c;
}

std::array<std::uint8_t, 32> round_context_of(std::uint64_t session) {
  std::array<std::uint8_t, 32> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(fl::splitmix64(session + i) & 0xff);
  return out;
}

sa::digest32 buffered_digest(std::uint64_t session) {
  std::uint8_t bytes[24] = {'f', 'e', 'd', 'b', 'u', 'f', 'f', ' ', 's', 't', 'e', 'p', ' ', 's', 'e', 's'};
  for (int b = 0; b < 8; ++b)
    bytes[16 + b] = static_cast<std::uint8_t>(session >> (8 * b));
  return digest_of(bytes, sizeof bytes);
}

void secure_sessions::spend(std::uint64_t fit_session) {
  if (!spent_.insert(fit_session).second)
    return;
  spent_order_.push_back(fit_session);
  if (spent_order_.size() > max_spent) {
    spent_.erase(spent_order_.front());
    spent_order_.erase(spent_order_.begin());
  }
}

void secure_sessions::hold(std::uint64_t fit_session, std::uint64_t ticket, std::uint64_t version,
                           std::uint64_t samples, const std::vector<float>& sent, const std::vector<float>& trained) {
  if (spent_.count(fit_session))
    throw sa::protocol_error("secagg: a fit of this session was already committed to a step; the same update is not "
                             "held again (it would enter a second sum)");
  if (sent.size() != trained.size())
    throw std::invalid_argument("secure fit: the trained model has " + std::to_string(trained.size()) +
                                " weights, the model sent " + std::to_string(sent.size()));
  held h{next_++, ticket, version, samples, std::vector<float>(trained.size())};
  for (std::size_t i = 0; i < trained.size(); ++i) {
    h.delta[i] = trained[i] - sent[i]; // the float the clear FedBuff's server subtracts
    if (!std::isfinite(h.delta[i]))
      throw std::invalid_argument("update refused: a non-finite weight");
  }
  put_bounded(holds_, fit_session, std::move(h), max_holds);
}

std::uint8_t secure_sessions::commit(std::uint64_t session, std::uint32_t member, const step_commit& c) {
  // Every named fit this member holds is used up first, whatever follows: an aggregator cannot
  // retry a commit with other parameters, nor have a used fit trained and held again (hold
  // refuses a spent session), so no update enters two sums.
  std::vector<held> used;
  bool missing = false;
  for (const auto& f : c.fits) {
    auto it = holds_.find(f.fit_session);
    if (it == holds_.end()) {
      missing = true;
      continue;
    }
    missing = missing || it->second.ticket != f.ticket;
    used.push_back(std::move(it->second));
    holds_.erase(it);
    spend(f.fit_session);
  }
  if (missing)
    throw sa::protocol_error("secagg: the step names a fit this member does not hold (never trained, named twice, "
                             "replaced by a newer fit, or one of more than " + std::to_string(max_holds) +
                             " held fits)");
  if (c.step_version >= 0xffffffffu ||
      session != secure_session(seed_, static_cast<int>(c.phase), c.cluster,
                                static_cast<std::uint32_t>(c.step_version + 1), c.term))
    throw sa::protocol_error("secagg: session " + std::to_string(session) + " is not the step it names");
  std::size_t n = used.front().delta.size();
  for (std::size_t k = 0; k < used.size(); ++k) {
    const auto& h = used[k];
    if (h.version > c.step_version ||
        c.fits[k].fit_session != buffered_fit_session(seed_, static_cast<int>(c.phase), c.cluster, h.version))
      throw sa::protocol_error("secagg: the step names a fit of another aggregation point or a later version");
    if (async_.max_staleness > 0 && c.step_version - h.version > async_.max_staleness)
      throw sa::protocol_error("secagg: the step names a fit staler than strategy.max_staleness");
    if (h.delta.size() != n)
      throw sa::protocol_error("secagg: the step's held fits have different sizes");
  }
  entry s;
  s.member = member;
  s.order = next_++;
  s.input.assign(n, 0);
  std::vector<std::int64_t> terms(n);
  for (const auto& h : used) {
    auto staleness = c.step_version - h.version;
    auto weight = fl::buffered_weight(
      h.samples, fl::staleness_weight(async_, static_cast<std::uint32_t>(std::min<std::uint64_t>(staleness, 0xffffffffu))));
    if (fl::fixed_terms(weight, h.delta.data(), n, terms.data()) != n)
      throw std::invalid_argument("held update too large for secure aggregation's exact sum (a diverged model)");
    for (std::size_t i = 0; i < n; ++i) {
      auto v = static_cast<__int128>(s.input[i]) + terms[i];
      if (v >= (static_cast<__int128>(1) << 62) || v <= -(static_cast<__int128>(1) << 62))
        throw std::invalid_argument("held updates sum beyond secure aggregation's exact sum (a diverged model)");
      s.input[i] = static_cast<std::int64_t>(v);
    }
  }
  s.model_hash = buffered_digest(session);
  auto bits = magnitude_bits(s.input);
  open(session, std::move(s));
  return bits;
}

std::vector<std::uint8_t> secure_sessions::step(std::uint64_t session, std::uint8_t stage,
                                                const std::vector<std::uint8_t>& bytes) {
  auto it = sessions_.find(session);
  if (it == sessions_.end())
    throw sa::protocol_error("secagg: no secure fit of this client belongs to session " + std::to_string(session) +
                             " (it never trained for it, or the session ended or was replaced)");
  try {
    auto out = run(session, it->second, stage, bytes);
    if (stage == 3)
      sessions_.erase(it);
    return out;
  } catch (...) {
    sessions_.erase(it);
    throw;
  }
}

std::vector<std::uint8_t> secure_sessions::run(std::uint64_t session, entry& s, std::uint8_t stage,
                                               const std::vector<std::uint8_t>& bytes) {
  switch (stage) {
    case 0: {
      if (s.machine)
        throw sa::protocol_error("secagg: the round's parameters arrived twice");
      auto p = sa::checked(sa::round_setup::from_bytes(bytes).p);
      if (p.round_context != round_context_of(session))
        throw sa::protocol_error("secagg: the round's parameters belong to another session");
      if (p.min_members < min_members_)
        throw sa::protocol_error("secagg: the round allows sums over " + std::to_string(p.min_members) +
                                 " members, the run's privacy.min_cluster is " + std::to_string(min_members_));
      if (p.length != s.input.size())
        throw sa::protocol_error("secagg: the round sums " + std::to_string(p.length) + " values, this member's "
                                 "update has " + std::to_string(s.input.size()));
      std::vector<std::uint64_t> ring(s.input.size());
      for (std::size_t i = 0; i < ring.size(); ++i)
        ring[i] = sa::to_ring(s.input[i], p.bits); // throws when the aggregator's ring is too small
      std::vector<std::int64_t>().swap(s.input);
      s.machine = std::make_unique<sa::secagg_client>(std::move(p), s.member, std::move(ring), sa::os_random());
      return s.machine->advertise(s.model_hash).to_bytes();
    }
    case 1:
    case 2:
    case 3:
      if (!s.machine)
        throw sa::protocol_error("secagg: step " + std::to_string(stage) + " before the round's parameters");
      if (stage == 1)
        return s.machine->share(sa::key_list::from_bytes(bytes)).to_bytes();
      if (stage == 2)
        return s.machine->mask(sa::routed_shares::from_bytes(bytes)).to_bytes();
      return s.machine->unmask(sa::unmask_request::from_bytes(bytes)).to_bytes();
    default:
      throw sa::protocol_error("secagg: unknown step " + std::to_string(stage) + " (0..3)");
  }
}

} // namespace flotilla::actors
