#pragma once
#include <string>
#include <vector>

#include "report/inputs.hpp"

namespace flotilla::report {

/// The stable element ids of one run's charts and tables, in page order. In a report of
/// several runs each carries "-<i>" (i: the run's position on the command line, from 0).
///   chart-accuracy     accuracy per round: global model, then one line per cluster; events marked
///   chart-simtime      accuracy against the run's clock (sim_time_s: simulated under clock=virtual)
///   chart-devices      clock=virtual: every client's compute time per sample, fastest first
///   chart-staleness    strategy.mode=buffered|async: histogram of the aggregated updates' staleness
///   chart-loss         training (and test) loss per round, same lines
///   chart-clients      per client: personalized accuracy against the initial global model's
///   table-contingency  clusters x true groups, with the adjusted Rand index and purity
///   chart-pca          clients' clustering features on two principal components
///   table-selection    per cluster: each member's cpu, mem and score, the server highlighted
///   chart-timeline     phases end to end, a lane of round bars per model
///   table-run          results, timing, throughput, memory, strategy, attack, faults
///   table-config       the resolved configuration, dotted keys
/// Each element has data-kind (what it shows) and, once drawn, data-rendered="yes"; the page's
/// <html> has data-report-status "ok" when every element was drawn ("errors" otherwise).
const std::vector<std::string>& report_element_ids();

/// The element ids only a report of several runs has: table-comparison (headline figures per
/// run) and chart-comparison (each run's accuracy per round on one chart).
const std::vector<std::string>& comparison_element_ids();

/// The whole report page of one run, or a comparison of several: the HTML skeleton with an
/// element per chart, the runs' data as JSON, and the embedded style and script that draw it.
std::string report_page(const std::vector<run_files>& runs);

} // namespace flotilla::report
