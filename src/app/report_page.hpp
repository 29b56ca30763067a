#pragma once
#include <string>
#include <vector>

#include "app/report_inputs.hpp"

namespace flotilla::app {

/// The stable element ids of one run's charts and tables, in page order. In a report of
/// several runs each carries "-<i>" (i: the run's position, from 0).
const std::vector<std::string>& report_element_ids();

/// The element ids only a report of several runs has: table-comparison, chart-comparison.
const std::vector<std::string>& comparison_element_ids();

/// The whole report page of one run, or a comparison of several: the HTML skeleton with an
/// element per chart, the runs' data as JSON, and the embedded style and script that draw it.
std::string report_page(const std::vector<run_files>& runs);

} // namespace flotilla::app
