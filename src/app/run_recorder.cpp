#include "app/run_recorder.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "config/config.hpp"

namespace flotilla::app {

run_recorder::run_recorder(const std::string& metrics_path, const std::string& progress_mode)
    : metrics_(metrics_path), progress_(progress_mode) {
  if (!metrics_)
    throw config::config_error("cannot write " + metrics_path + "; check output.dir / output.run_dir");
}

void run_recorder::on_phase(const std::string& phase, const std::string& detail) {
  progress_.phase(phase, detail);
}

void run_recorder::on_progress(std::size_t done, std::size_t total) {
  progress_.advance(done, total);
}

void run_recorder::on_round(const fl::round_record& r) {
  nlohmann::json line{{"phase", r.phase},
                      {"round", r.round},
                      {"cluster", r.cluster == fl::no_cluster ? nlohmann::json(nullptr) : nlohmann::json(r.cluster)},
                      {"server", r.server == fl::no_cluster ? nlohmann::json(nullptr) : nlohmann::json(r.server)},
                      {"term", r.term},
                      {"asked", r.asked},
                      {"clients", r.clients},
                      {"failures", r.failures},
                      {"failed", r.failed},
                      {"aggregated", r.aggregated},
                      {"train_loss", r.train_loss},
                      {"test_loss", r.test_loss},
                      {"test_accuracy", r.test_accuracy},
                      {"seconds", r.seconds}};
  if (!r.failure_reasons.empty())
    line["failure_reasons"] = r.failure_reasons;
  if (!r.aggregated)
    line["not_aggregated"] = r.not_aggregated;
  metrics_ << line.dump() << '\n';
  metrics_.flush();
  char buf[256];
  if (r.cluster == fl::no_cluster)
    std::snprintf(buf, sizeof(buf), "initial round %u: %u clients, %u failed, loss %.4f, test accuracy %.2f%% (%.1fs)",
                  r.round, r.clients, r.failures, r.train_loss, 100 * r.test_accuracy, r.seconds);
  else
    std::snprintf(buf, sizeof(buf),
                  "cluster %u round %u: %u clients, %u failed, loss %.4f, local accuracy %.2f%% (%.1fs)", r.cluster,
                  r.round, r.clients, r.failures, r.train_loss, 100 * r.test_accuracy, r.seconds);
  progress_.line(buf);
}

void run_recorder::on_warning(const std::string& text) {
  warnings_.push_back(text);
  progress_.warn(text);
}

} // namespace flotilla::app
