// An aggregation point's memory while K clients' updates of M floats stream in, 16 MiB chunks
// at a time (round_updates::begin / fold / commit, then take_mean), against the goal
// 2 x model bytes + 256 MiB. Each chunk is generated on the fly from a seeded RNG: no whole
// update ever exists. Figures are the growth of the process's peak RSS (VmHWM) over a baseline
// taken after allocating one model-sized "global model".
//
// For comparison, unless --no-old, a forked child first does what aggregation did before:
// every update whole (as accept() takes it), 128-bit sums, then mean(). Both print a digest of
// the mean: FedAvg must give the same bits either way.
//
// Usage: aggregation_memory [model_floats=80000000] [clients=8] [--no-old]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fl/aggregate.hpp"
#include "fl/resources.hpp"
#include "fl/round_updates.hpp"

using namespace flotilla;

namespace {

constexpr std::size_t chunk_floats = std::size_t{4} << 20; // 16 MiB
constexpr std::uint64_t seed = 20261205;

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Chunk c of client k's update: weights in [-0.5, 0.5), a function of (seed, k, c) alone.
void generate(std::uint32_t k, std::size_t c, float* out, std::size_t n) {
  std::uint64_t s = seed ^ (std::uint64_t{k} * 0xD1B54A32D192ED03ull) ^ (std::uint64_t{c} * 0x8CB92BA72F3D8DD7ull);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(splitmix(s) >> 40) * 0x1p-24f - 0.5f;
}

std::uint64_t samples_of(std::uint32_t k) { return 100 + 37 * std::uint64_t{k}; }

std::uint64_t digest(const std::vector<float>& v) {
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (std::size_t i = 0; i < v.size() * sizeof(float); ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The former aggregation, kept here to measure it: 128-bit sums, whole updates, mean() copies.
struct old_accumulator {
  std::vector<__int128> sums;
  std::uint64_t samples = 0;
  explicit old_accumulator(std::size_t n) : sums(n, 0) {}
  void add(std::uint64_t s, const std::vector<float>& w) {
    float largest = 0;
    for (float x : w)
      largest = std::max(largest, std::fabs(x));
    auto n = static_cast<double>(s);
    if (n * static_cast<double>(largest) * fl::fixed_scale < 9.0e18) {
      for (std::size_t i = 0; i < sums.size(); ++i) {
        double t = n * static_cast<double>(w[i]) * fl::fixed_scale;
        sums[i] += static_cast<std::int64_t>(t + std::copysign(0.5, t));
      }
    } else {
      for (std::size_t i = 0; i < sums.size(); ++i) {
        double t = n * static_cast<double>(w[i]) * fl::fixed_scale;
        sums[i] += static_cast<__int128>(std::trunc(t + std::copysign(0.5, t)));
      }
    }
    samples += s;
  }
  std::vector<float> mean() const {
    std::vector<float> out(sums.size());
    double denom = static_cast<double>(samples) * fl::fixed_scale;
    for (std::size_t i = 0; i < sums.size(); ++i)
      out[i] = static_cast<float>(static_cast<double>(sums[i]) / denom);
    return out;
  }
};

struct old_result {
  std::uint64_t growth = 0, digest = 0;
  double seconds = 0;
  bool ok = false;
};

// Runs the former approach in a child process (its own peak), reporting through a pipe.
old_result run_old(std::size_t m, std::uint32_t k) {
  int fds[2];
  if (pipe(fds) != 0)
    return {};
  pid_t pid = fork();
  if (pid < 0)
    return {};
  if (pid == 0) {
    close(fds[0]);
    old_result r;
    auto base = fl::peak_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    {
      old_accumulator acc(m);
      for (std::uint32_t c = 0; c < k; ++c) {
        std::vector<float> update(m); // the whole update, as accept() receives it
        for (std::size_t o = 0, i = 0; o < m; o += chunk_floats, ++i)
          generate(c, i, update.data() + o, std::min(chunk_floats, m - o));
        acc.add(samples_of(c), update);
      }
      auto mean = acc.mean();
      r.digest = digest(mean);
      r.growth = fl::peak_rss_bytes() - base;
    }
    r.seconds = seconds_since(start);
    r.ok = true;
    ssize_t written = write(fds[1], &r, sizeof r);
    _exit(written == static_cast<ssize_t>(sizeof r) ? 0 : 1);
  }
  close(fds[1]);
  old_result r;
  ssize_t got = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof r))
    r.ok = false;
  return r;
}

} // namespace

int main(int argc, char** argv) {
  std::size_t m = 80'000'000;
  std::uint32_t k = 8;
  bool old = true;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-old")
      old = false;
    else if (positional++ == 0)
      m = std::stoull(a);
    else
      k = static_cast<std::uint32_t>(std::stoul(a));
  }
  const double model_bytes = static_cast<double>(m) * sizeof(float);
  const double goal = 2 * model_bytes + 256.0 * 1024 * 1024;

  // The global model a server holds anyway: the baseline.
  std::vector<float> global(m);
  generate(~0u, 0, global.data(), std::min(m, chunk_floats));
  std::fill(global.begin() + static_cast<std::ptrdiff_t>(std::min(m, chunk_floats)), global.end(), 0.25f);
  const auto base = fl::peak_rss_bytes();
  std::printf("model: %zu floats (%.1f MiB), %u clients, %zu-float (%.0f MiB) chunks\n", m, mib(model_bytes), k,
              chunk_floats, mib(chunk_floats * sizeof(float)));
  std::printf("baseline peak RSS (after the global model): %.1f MiB\n", mib(static_cast<double>(base)));
  std::printf("goal: peak growth <= 2 x model + 256 MiB = %.1f MiB\n\n", mib(goal));

  old_result before;
  if (old)
    before = run_old(m, k);

  // Streaming: every client's chunks interleaved, in a shuffled chunk order.
  auto start = std::chrono::steady_clock::now();
  fl::round_updates updates(m, false);
  for (std::uint32_t c = 0; c < k; ++c)
    if (auto why = updates.begin(c, samples_of(c), 1.0 / (c + 1)); !why.empty()) {
      std::printf("begin refused: %s\n", why.c_str());
      return 1;
    }
  std::vector<std::size_t> order((m + chunk_floats - 1) / chunk_floats);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::vector<float> chunk(std::min(m, chunk_floats));
  double generating = 0;
  for (std::size_t i : order)
    for (std::uint32_t c = 0; c < k; ++c) {
      std::size_t offset = i * chunk_floats, n = std::min(chunk_floats, m - offset);
      auto g = std::chrono::steady_clock::now();
      generate(c, i, chunk.data(), n);
      generating += seconds_since(g);
      if (auto why = updates.fold(c, offset, chunk.data(), n); !why.empty()) {
        std::printf("fold refused: %s\n", why.c_str());
        return 1;
      }
    }
  for (std::uint32_t c = 0; c < k; ++c)
    if (auto why = updates.commit(c); !why.empty()) {
      std::printf("commit refused: %s\n", why.c_str());
      return 1;
    }
  const double folding = seconds_since(start) - generating;
  const auto after_folds = fl::peak_rss_bytes() - base;
  auto t = std::chrono::steady_clock::now();
  auto mean = updates.take_mean();
  const double finishing = seconds_since(t);
  const auto growth = fl::peak_rss_bytes() - base;
  const auto d = digest(mean);

  std::printf("streaming (begin/fold/commit, take_mean):\n");
  std::printf("  peak growth after the folds:       %8.1f MiB (%.2f x model)\n", mib(static_cast<double>(after_folds)),
              static_cast<double>(after_folds) / model_bytes);
  std::printf("  peak growth, take_mean included:   %8.1f MiB (%.2f x model) -> %s the goal (%.1f MiB)\n",
              mib(static_cast<double>(growth)), static_cast<double>(growth) / model_bytes,
              static_cast<double>(growth) <= goal ? "within" : "BEYOND", mib(goal));
  std::printf("  time: folding %.2f s (%.0f MiB/s of updates), take_mean %.2f s, chunk generation %.2f s\n", folding,
              mib(model_bytes * k) / folding, finishing, generating);
  std::printf("  mean digest %016llx (mean[0] = %.9g, %zu clients, %llu samples)\n",
              static_cast<unsigned long long>(d), static_cast<double>(mean.empty() ? 0.0f : mean[0]), updates.count(),
              static_cast<unsigned long long>(updates.samples()));
  if (old) {
    if (!before.ok) {
      std::printf("\nformer approach: the child process failed\n");
    } else {
      std::printf("\nformer approach (whole updates, 128-bit sums, mean() copy), in a child process:\n");
      std::printf("  peak growth:                       %8.1f MiB (%.2f x model) -> %s the goal\n",
                  mib(static_cast<double>(before.growth)), static_cast<double>(before.growth) / model_bytes,
                  static_cast<double>(before.growth) <= goal ? "within" : "beyond");
      std::printf("  time: %.2f s, generation included\n", before.seconds);
      std::printf("  mean digest %016llx: %s\n", static_cast<unsigned long long>(before.digest),
                  before.digest == d ? "bit-identical to streaming" : "DIFFERENT BITS");
    }
  }
  return 0;
}
