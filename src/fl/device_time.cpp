#include "fl/device_time.hpp"

#include <algorithm>

namespace flotilla::fl {

double transfer_seconds(std::uint64_t bytes, double kbps) {
  return kbps > 0 ? static_cast<double>(bytes) * 8.0 / (kbps * 1000.0) : 0.0;
}

fit_time fit_seconds(const device& d, std::uint64_t samples, std::uint32_t batch, std::uint32_t epochs,
                     std::uint64_t model_bytes) {
  fit_time t;
  auto steps = static_cast<double>(epochs) * static_cast<double>(batch > 0 ? (samples + batch - 1) / batch : 0);
  t.compute = 3.0 * batch * steps * d.ms_per_sample / 1000.0;
  t.download = transfer_seconds(model_bytes, d.kbps);
  t.upload = t.download;
  return t;
}

server_time server_seconds(const device& d, std::uint32_t asked, std::uint32_t updates, std::uint64_t model_bytes) {
  server_time t;
  t.send = asked * transfer_seconds(model_bytes, d.kbps);
  t.receive = updates * transfer_seconds(model_bytes, d.kbps);
  t.aggregate = updates * d.ms_per_sample / 3.0 / 1000.0;
  return t;
}

device_clock::device_clock(std::vector<device> devices, std::vector<std::uint64_t> train_samples, std::uint32_t batch,
                           std::uint64_t model_bytes, availability_options availability, std::uint64_t seed)
    : availability_(availability), seed_(seed), devices_(std::move(devices)), samples_(std::move(train_samples)),
      batch_(batch), model_bytes_(model_bytes) {}

period client_period(const device& d, const availability_options& o, std::uint64_t seed, std::uint32_t client,
                     double t) {
  return d.trace.empty() ? period_at(o, seed, client, t) : period_at(d.trace, t);
}

bool device_clock::online(std::uint32_t client, double t) const {
  return period_of(client, t).online;
}

period device_clock::period_of(std::uint32_t client, double t) const {
  return client < devices_.size() ? client_period(devices_[client], availability_, seed_, client, t)
                                  : period_at(availability_, seed_, client, t);
}

double device_clock::model_seconds(std::uint32_t client) const {
  return transfer_seconds(model_bytes_, of(client).kbps);
}

double device_clock::fit_seconds(std::uint32_t client, std::uint32_t epochs) const {
  return flotilla::fl::fit_seconds(of(client), samples_.at(client), batch_, epochs, model_bytes_).total();
}

server_time device_clock::server_seconds(std::uint32_t server, std::uint32_t asked, std::uint32_t updates) const {
  return flotilla::fl::server_seconds(of(server), asked, updates, model_bytes_);
}

bool makes_deadline(const round_timing& t, double completion) {
  return t.deadline_s <= 0 || completion <= t.start + t.deadline_s;
}

double round_end(const round_timing& t) {
  double last = t.start;
  bool waited = false;
  for (auto c : t.completion) {
    if (!makes_deadline(t, c))
      waited = true;
    else
      last = std::max(last, c);
  }
  if (waited && t.deadline_s > 0)
    last = t.start + t.deadline_s;
  // The server's link is busy sending before any update can be back, and receiving every update.
  auto link = t.start + t.server.send + t.server.receive;
  return std::max(last, link) + t.server.aggregate;
}

} // namespace flotilla::fl
