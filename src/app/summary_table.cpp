#include "app/summary_table.hpp"

#include <cstdio>
#include <sstream>

#include "app/record_json.hpp"

namespace flotilla::app {

using json = nlohmann::json;

std::string summary_table(const json& summary, const fl::run_report& r) {
  std::ostringstream out;
  char buf[256];
  // Read back through the same field lists that wrote them.
  auto t = summary.at("timing").get<fl::summary_timing>();
  auto f = summary.at("final").get<fl::summary_final>();
  out << "\n  phase / model              clients   accuracy      time\n";
  out << "  -------------------------  -------  ---------  --------\n";
  if (r.clustering_method == "none") { // plain FL: rounds, then the global model
    char label[64];
    std::snprintf(label, sizeof(label), "rounds (%zu, no clustering)", r.rounds.size());
    std::snprintf(buf, sizeof(buf), "  %-25s  %7zu  %9s  %7.1fs\n", label, r.assignment.size(), "", t.initial_s);
    out << buf;
    std::snprintf(buf, sizeof(buf), "  global (test set)          %7s  %8.2f%%  %7.1fs\n", "",
                  100 * f.global_accuracy, t.evaluation_s);
    out << buf;
    std::snprintf(buf, sizeof(buf), "  total %.1fs, %.0f training samples/s, peak RSS %.0f MiB\n", t.total_s,
                  t.samples_per_s, static_cast<double>(t.peak_rss_bytes) / (1 << 20));
    out << buf;
    return out.str();
  }
  std::snprintf(buf, sizeof(buf), "  initial (global, test)     %7zu  %8.2f%%  %7.1fs\n", r.assignment.size(),
                100 * r.initial_global_accuracy, t.initial_s);
  out << buf;
  std::snprintf(buf, sizeof(buf), "  clustering + selection     %7s  %9s  %7.1fs\n", "", "",
                t.clustering_s);
  out << buf;
  for (const auto& c : r.clusters) {
    std::snprintf(buf, sizeof(buf), "  cluster %-3u (server %4u)  %7zu  %8.2f%%  %7s%s\n", c.id, c.server,
                  c.members.size(), 100 * c.accuracy, "", c.failed ? "  FAILED" : "");
    out << buf;
  }
  std::snprintf(buf, sizeof(buf), "  cluster rounds (all)       %7s  %9s  %7.1fs\n", "", "",
                t.cluster_rounds_s);
  out << buf;
  std::snprintf(buf, sizeof(buf), "  global (test set)          %7s  %8.2f%%  %7.1fs\n", "",
                100 * f.global_accuracy, t.evaluation_s);
  out << buf;
  std::snprintf(buf, sizeof(buf), "  personalized (local, mean) %7s  %8.2f%%   (initial global: %.2f%%)\n", "",
                100 * f.personalized_accuracy,
                100 * f.initial_global_personalized_accuracy);
  out << buf;
  if (summary["clustering"].contains("adjusted_rand_index")) {
    std::snprintf(buf, sizeof(buf), "  clusters vs true groups: adjusted Rand index %.3f\n",
                  summary["clustering"]["adjusted_rand_index"].get<double>());
    out << buf;
  }
  std::snprintf(buf, sizeof(buf), "  total %.1fs, %.0f training samples/s, peak RSS %.0f MiB\n",
                t.total_s, t.samples_per_s,
                static_cast<double>(t.peak_rss_bytes) / (1 << 20));
  out << buf;
  return out.str();
}

} // namespace flotilla::app
