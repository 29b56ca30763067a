#include <doctest/doctest.h>

#include <sstream>

#include "report/metrics_csv.hpp"
#include "fl/record_fields.hpp"
#include "report/report_error.hpp"
#include "fixtures.hpp"
#include "report_fixture.hpp"

using namespace flotilla;
using namespace flotilla::test;

TEST_CASE("metrics.csv's columns are the round record's fields, every one of them") {
  // Pinned: a change to the file format is deliberate (fl/record_fields.hpp, the one list).
  std::string header;
  for (const auto& c : report::metrics_csv_columns())
    header += (header.empty() ? "" : ",") + c;
  CHECK(header == "phase,round,cluster,server,term,asked,clients,failures,failed,failure_reasons,aggregated,"
                  "not_aggregated,samples,train_loss,test_loss,test_accuracy,evaluated,seconds,fit_seconds,sim_time_s,reassigned,"
                  "update_norm_mean,update_norm_max,stragglers,stragglers_kept,staleness_mean,staleness_max,dropped_stale,staleness,epsilon,"
        "noise_multiplier,secure_members,secure_bits,secure_bytes_up,secure_bytes_down,clip,clip_fraction");
  CHECK(report::metrics_csv_columns() == fl::round_record_names());
}

TEST_CASE("metrics.csv has a fixed header and one row per metrics line") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  add_new_fields(dir);

  report::write_metrics_csv(dir.string());
  std::istringstream csv(read_file(dir / "metrics.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);)
    lines.push_back(line);

  REQUIRE(lines.size() == 1 + 2 + 6 + 2);
  CHECK(lines[0].rfind("phase,round,cluster,server,", 0) == 0);
  CHECK(lines[1] == "initial,1,,,0,0,6,0,,,true,,0,0.9,0.0,0.51,0,1.5,0.0,0.0,0,0.0,0.0,0,false,0.0,0,0,,,0.0,0,0,0,0,0.0,");
  CHECK(lines[2] == "initial,2,,,0,0,5,1,5,\"client 5: timed out, after 600 s\",true,,0,0.4,0.0,0.62,0,1.5,0.0,0.0,0,0.0,0.0,0,false,0.0,0,0,,,0.0,0,0,0,0,0.0,");
  CHECK(lines[9] == "cluster,4,1,3,2,3,2,0,,,false,quorum missed: 2 of 3 answered,0,0.2,0.7,0.5,0,1.5,0.0,0.0,2,0.0,0.0,0,false,0.0,0,0,,,0.0,0,0,0,0,0.0,");
  CHECK(lines[10] == "cluster,3,2,,1,0,2,0,,,true,,0,0.1,0.2,0.93,0,1.5,0.0,0.0,0,0.0,0.0,0,false,0.0,0,0,,,0.0,0,0,0,0,0.0,");
}

TEST_CASE("a CSV cell with quotes or line breaks is quoted") {
  CHECK(report::metrics_csv_row({{"phase", "say \"hi\""}, {"failure_reasons", {"a\nb", "c"}}}) ==
        "\"say \"\"hi\"\"\",,,,,,,,,\"a\nb;c\",,,,,,,,,,,,,,,,,,,,,,,,,,,");
}

TEST_CASE("metrics.csv of a directory without metrics.jsonl is an error that names it") {
  test::temp_dir tmp;
  const auto expected = (tmp.path() / "metrics.jsonl").string() +
                        " is missing or unreadable: a run writes it when it starts; is this a flotilla run directory?";
  CHECK_THROWS_WITH_AS(report::write_metrics_csv(tmp.path().string()), expected.c_str(), report::report_error);
}

