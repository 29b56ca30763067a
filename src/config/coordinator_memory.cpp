#include "config/coordinator_memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <sstream>

#include "config/config.hpp"
#include "fl/cluster_methods.hpp"
#include "fl/resources.hpp"
#include "fl/strategy.hpp"
#include "model/model_spec.hpp"

namespace flotilla::config {

namespace {

std::string gib(std::uint64_t bytes) {
  std::ostringstream out;
  out.precision(1);
  out << std::fixed << static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return out.str();
}

} // namespace

std::uint64_t parameters_before_data(const settings& s) {
  const auto& row = data::dataset_named(s.data.dataset);
  return row.shape_known() ? model::spec_of(fitted_model(s, row.shape, row.classes)).parameters : 0;
}

memory_estimate coordinator_memory(const settings& s) {
  return coordinator_memory(s, parameters_before_data(s));
}

memory_estimate coordinator_memory(const settings& s, std::uint64_t parameters) {
  const auto& ex = s.experiment;
  const auto& cl = ex.clustering;
  const std::uint64_t n = ex.total_clients();
  const std::uint64_t dim = cl.sketch_dim > 0 ? cl.sketch_dim : parameters;
  memory_estimate m;
  if (fl::plain_fl(cl.method)) {
    m.what = "nothing: clustering.method=none keeps no features";
    return m; // plain FL: the coordinator holds a round's sums, not a client's features
  }
  // Features: with sketch_dim 0 they are the clients' weights themselves (the coordinator keeps
  // each client's update of the last initial round); with sketches, the sketches.
  m.bytes = n * dim * sizeof(float);
  m.what = std::to_string(n) + " clients x " + std::to_string(dim) +
           (cl.sketch_dim > 0 ? " features (clustering.sketch_dim)" : " features (the model's weights: clustering.sketch_dim = 0)") +
           " x 4 bytes";
  m.lower = cl.sketch_dim > 0 ? "clients or clustering.sketch_dim" : "clients, or set clustering.sketch_dim (e.g. 4096)";
  // A strategy that needs every update (median, trimmed mean, Krum) holds every client's
  // weights of a round besides their sketches.
  if (cl.sketch_dim > 0 && fl::make_strategy(ex.strategy)->keeps_updates()) {
    m.bytes += std::uint64_t{ex.clients} * parameters * sizeof(float);
    m.what += " + " + std::to_string(ex.clients) + " updates x " + std::to_string(parameters) + " weights x 4 bytes (strategy." +
              "name=" + ex.strategy.name + " keeps every update)";
  }
  // FL+HC's cosine linkage works on updates w - w_global: one more feature-sized copy.
  if (fl::cluster_method_named(cl.method).initial == fl::cluster_method::grouping::agglomerative &&
      cl.linkage != "ward" && cl.k != 1) {
    m.bytes += std::uint64_t{ex.clients} * dim * sizeof(float);
    m.what += " + the same again for agglomerative average linkage's updates";
  }
  // Pairwise distances, silhouette and the PCA's Gram matrix: n x n doubles, two at a time.
  m.bytes += 2 * n * n * sizeof(double);
  m.what += " + 2 x " + std::to_string(n) + " x " + std::to_string(n) + " distances x 8 bytes";
  return m;
}

void check_transfers(const settings& s, std::uint64_t parameters) {
  if (s.runtime.nodes.empty() && s.runtime.listen == 0)
    return; // one process: nothing is serialized
  auto buffers = fl::make_strategy(s.experiment.strategy)->state_buffers().size();
  const std::uint64_t bytes = parameters * sizeof(float);
  // Weights cross nodes in chunks; a strategy's state travels inline with a promotion and each
  // cluster round's result, and the guard caps a message at 64 MiB (headroom for the rest).
  if (buffers > 0 && buffers * bytes > (std::uint64_t{60} << 20))
    throw config_error("strategy.name=" + s.experiment.strategy.name + " keeps " + std::to_string(buffers) +
                       " state buffer(s) of the model's " + std::to_string(bytes >> 20) +
                       " MiB, which travel inline between nodes, and a message holds at most 64 MiB: with "
                       "runtime.nodes use fedavg, fedprox, median, trimmed_mean or krum for model.name=" +
                       s.model.name + ", or a model of at most ~" + std::to_string(15 / buffers) + " M parameters");
}

void check_memory(const settings& s, std::uint64_t memory_bytes) {
  check_memory(s, memory_bytes, parameters_before_data(s));
}

void check_memory(const settings& s, std::uint64_t memory_bytes, std::uint64_t parameters) {
  check_transfers(s, parameters);
  if (memory_bytes == 0)
    return;
  auto m = coordinator_memory(s, parameters);
  if (m.bytes > memory_bytes / 2)
    throw config_error("the coordinator would need about " + gib(m.bytes) + " for clustering (" + m.what +
                       "), more than half of the " + gib(memory_bytes) + " this process may use (MemTotal, or ulimit -v when lower); lower " +
                       m.lower);
}

std::uint64_t machine_memory_bytes() {
  std::uint64_t total = 0;
  try {
    total = fl::parse_meminfo(fl::read_proc_file("/proc/meminfo")).total_kb * 1024;
  } catch (const std::exception&) {
    // not Linux, or /proc is not mounted: only the address-space limit is known
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    total = total == 0 ? limit.rlim_cur : std::min<std::uint64_t>(total, limit.rlim_cur);
  return total;
}

} // namespace flotilla::config
