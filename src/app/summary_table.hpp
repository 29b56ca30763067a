#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "fl/run_report.hpp"

namespace flotilla::app {

/// The closing table: per phase and cluster, accuracy and time.
std::string summary_table(const nlohmann::json& summary, const fl::run_report& r);

} // namespace flotilla::app
