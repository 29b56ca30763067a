#include "app/run_recorder.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "app/checkpoint_file.hpp"
#include "app/record_json.hpp"
#include "common/atomic_file.hpp"

namespace flotilla::app {

run_recorder::run_recorder(const std::string& run_dir, const std::string& run_id, const std::string& progress_mode,
                           std::uint64_t metrics_bytes)
    : run_dir_(run_dir), run_id_(run_id), path_(run_dir + "/metrics.jsonl"), progress_(progress_mode) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw output_error("cannot write " + path_ + " (" + std::strerror(errno) + "); check output.dir / output.run_dir");
  size_ = ::lseek(fd_, 0, SEEK_END);
  // A resumed run continues after its checkpoint's last round: lines written after it go.
  if (metrics_bytes > 0 && static_cast<long long>(metrics_bytes) < size_) {
    if (::ftruncate(fd_, static_cast<off_t>(metrics_bytes)) != 0)
      throw output_error("cannot cut " + path_ + " back to its checkpoint (" + std::strerror(errno) + ")");
    size_ = static_cast<long long>(metrics_bytes);
  }
}

bool run_recorder::on_checkpoint(fl::checkpoint& state) {
  state.metrics_bytes = static_cast<std::uint64_t>(size_);
  state.report.warnings = warnings_;
  try {
    write_checkpoint(run_dir_, run_id_, state);
    return true;
  } catch (const std::exception& e) {
    if (write_error_.empty())
      write_error_ = e.what();
    progress_.warn(std::string("checkpoint not written: ") + e.what());
    return false;
  }
}

run_recorder::~run_recorder() {
  if (fd_ >= 0)
    ::close(fd_);
}

void run_recorder::on_phase(const std::string& phase, const std::string& detail) {
  progress_.phase(phase, detail);
}

void run_recorder::on_progress(std::size_t done, std::size_t total) {
  progress_.advance(done, total);
}

void run_recorder::on_round(const fl::round_record& r) {
  ++rounds_;
  if (write_error_.empty()) {
    auto text = metrics_line(r) + "\n";
    // One write per line; on failure cut the file back so no half line stays in it.
    auto n = ::write(fd_, text.data(), text.size());
    if (n == static_cast<ssize_t>(text.size())) {
      size_ += n;
    } else {
      write_error_ = "cannot write " + path_ + " (" + std::strerror(n < 0 ? errno : ENOSPC) + ")";
      if (::ftruncate(fd_, size_) != 0) {
        // nothing more to do: the error is already reported
      }
    }
  }
  char buf[256];
  if (r.test_accuracy == fl::not_evaluated && r.cluster == fl::no_cluster)
    std::snprintf(buf, sizeof(buf), "initial round %u: %u clients, %u failed, loss %.4f, not evaluated (%.1fs)",
                  r.round, r.clients, r.failures, r.train_loss, r.seconds);
  else if (r.test_accuracy == fl::not_evaluated)
    std::snprintf(buf, sizeof(buf), "cluster %u round %u: %u clients, %u failed, loss %.4f, not evaluated (%.1fs)",
                  r.cluster, r.round, r.clients, r.failures, r.train_loss, r.seconds);
  else if (r.cluster == fl::no_cluster)
    std::snprintf(buf, sizeof(buf), "initial round %u: %u clients, %u failed, loss %.4f, test accuracy %.2f%% (%.1fs)",
                  r.round, r.clients, r.failures, r.train_loss, 100 * r.test_accuracy, r.seconds);
  else
    std::snprintf(buf, sizeof(buf),
                  "cluster %u round %u: %u clients, %u failed, loss %.4f, local accuracy %.2f%% (%.1fs)", r.cluster,
                  r.round, r.clients, r.failures, r.train_loss, 100 * r.test_accuracy, r.seconds);
  progress_.line(buf);
}

void run_recorder::on_event(const std::string& text) {
  progress_.line(text);
}

void run_recorder::on_warning(const std::string& text) {
  warnings_.push_back(text);
  progress_.warn(text);
}

} // namespace flotilla::app
