#include <doctest/doctest.h>

#include "common/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/report.hpp"
#include "report/report_command.hpp"
#include "report/report_error.hpp"
#include "report/page.hpp"
#include "fixtures.hpp"
#include "report_fixture.hpp"

using namespace flotilla;
using namespace flotilla::test;

namespace {

// The page's embedded data, parsed back.
json page_data(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const auto start = html.find(open);
  REQUIRE(start != std::string::npos);
  const auto end = html.find("</script>", start);
  return json::parse(html.substr(start + open.size(), end - start - open.size()));
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}

template <class F>
std::string report_error_of(F f) {
  try {
    f();
  } catch (const report::report_error& e) {
    return e.what();
  }
  return "no report_error";
}

std::vector<std::string> kinds_of(const json& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(e["kind"]);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("the element ids of the report are stable") {
  CHECK(report::report_element_ids() == std::vector<std::string>{"chart-accuracy", "chart-simtime", "chart-devices",
                                                               "chart-staleness", "chart-loss", "chart-clients",
                                                               "table-contingency", "chart-pca", "table-selection",
                                                               "chart-timeline", "table-run", "table-config"});
  CHECK(report::comparison_element_ids() == std::vector<std::string>{"table-comparison", "chart-comparison"});
}

TEST_CASE("a run's report is one self-contained HTML file with every chart") {
  // prepare
  test::temp_dir tmp;
  write_run(tmp.path() / "run");
  add_new_fields(tmp.path() / "run");
  const auto out = tmp.file("report.html");

  // execute
  report::write_report({(tmp.path() / "run").string()}, out);
  const auto html = read_file(out);

  // assert: one document, nothing to fetch, each chart exactly once
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  for (const char* external : {"http://", "https://", "src=", "url(", "@import", "<link rel=\"stylesheet\""})
    CHECK_MESSAGE(html.find(external) == std::string::npos, external);
  CHECK(html.find("default-src 'none'") != std::string::npos);
  for (const auto& id : report::report_element_ids())
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "\"") == 1, id);
  CHECK(html.find("id=\"table-comparison\"") == std::string::npos);
  CHECK(html.find("function renderReport()") != std::string::npos);
  CHECK_FALSE(fs::exists(out + ".tmp"));

  const auto run = page_data(html)["runs"][0];
  CHECK(run["name"] == "synthetic");
  SUBCASE("rounds: the global model, then a line per cluster, and every kind of event") {
    const auto& series = run["rounds"]["series"];
    REQUIRE(series.size() == 4);
    CHECK(series[0]["cluster"].is_null());
    CHECK(series[0]["points"].size() == 2);
    CHECK(series[1]["cluster"] == 0);
    CHECK(series[1]["points"][0]["x"] == 3); // cluster round 1 follows the 2 initial rounds
    CHECK(series[2]["points"][3]["term"] == 2);
    CHECK(series[2]["points"][3]["reassigned"] == 2);
    CHECK(series[3]["cluster"] == 2);
    CHECK(run["rounds"]["initial_rounds"] == 2);
    CHECK(kinds_of(run["rounds"]["events"]) == std::vector<std::string>{"cluster_failed", "election", "failure",
                                                                         "late_join", "quorum", "split", "target"});
    for (const auto& e : run["rounds"]["events"])
      if (e["kind"] == "election") {
        CHECK(e["x"] == 4);
        CHECK(e["text"] == "cluster 0, round 2: server 2 -> 4 (term 2): server crashed");
      } else if (e["kind"] == "failure") {
        CHECK(e["text"] == "global model, round 2: 1 failed (clients 5): client 5: timed out, after 600 s");
      } else if (e["kind"] == "late_join") {
        CHECK(e["text"] == "client 6 joined cluster 2 in round 2 (distance to each cluster: 3.5, 1.25, 0.5)");
      }
  }
  SUBCASE("overall accuracy weighs clusters by their samples") {
    // Cluster round 1: cluster 0 (900 samples) 0.92, cluster 1 (600 samples) 0.93.
    CHECK(run["rounds"]["overall"][2]["x"] == 3);
    CHECK(run["rounds"]["overall"][2]["accuracy"].get<double>() == doctest::Approx((900 * 0.92 + 600 * 0.93) / 1500));
  }
  SUBCASE("clients, contingency and projection") {
    REQUIRE(run["clients"].size() == 7);
    CHECK(run["clients"][2]["server"] == true);
    CHECK(run["clients"][3]["attacker"] == true);
    CHECK(run["clients"][6]["late"] == true);
    CHECK(run["clients"][6]["initial"].is_null()); // -1: not measured
    CHECK(run["contingency"]["counts"] == json{{3, 0}, {0, 3}, {1, 0}});
    CHECK(run["contingency"]["ari"] == 1.0);
    REQUIRE(run["projection"].size() == 7);
    CHECK(run["projection"][1]["x"] == 1.0);
    CHECK(run["projection"][1]["cluster"] == 1);
    CHECK(run["projection"][6]["group"] == 0);
  }
  SUBCASE("selection lists members by score, the server marked") {
    const auto& c0 = run["selection"]["clusters"][0];
    CHECK(c0["members"][0]["client"] == 2);
    CHECK(c0["members"][0]["chosen"] == true);
    CHECK(c0["members"][0]["profiled"] == true);
    CHECK(c0["members"][1]["client"] == 4);
    CHECK(c0["members"][1]["chosen"] == false);
    CHECK(c0["elections"] == 1);
    CHECK(run["selection"]["clusters"][2]["failure"] == "server lost");
  }
  SUBCASE("timeline: phases end to end, lanes of round bars") {
    const auto& t = run["timeline"];
    CHECK(t["total"] == 20.0);
    REQUIRE(t["phases"].size() == 5);
    CHECK(t["phases"][0]["name"] == "setup + output");
    CHECK(t["phases"][0]["seconds"] == 11.0);
    CHECK(t["phases"][3]["start"] == 15.0);
    CHECK(t["lanes"].size() == 4);
    CHECK(t["lanes"][1]["bars"][0]["start"] == 15.0);
    // Cluster 2 split off cluster 1 in round 2: it starts after cluster 1's first two rounds.
    CHECK(t["lanes"][3]["bars"][0]["start"] == 18.0);
  }
  SUBCASE("run table") {
    const auto rows = run["run_table"];
    auto value_of = [&](const std::string& label) {
      for (const auto& r : rows)
        if (r[0] == label)
          return r[1].get<std::string>();
      return std::string("(missing)");
    };
    CHECK(value_of("strategy") == "fedprox");
    CHECK(value_of("  its settings") == "proximal_mu=0.01");
    CHECK(value_of("silhouette by k") == "k=2: 0.61, k=3: 0.42");
    CHECK(value_of("rounds to target") == "2");
    CHECK(value_of("personalized, clients' local splits (mean)") == "95.00%");
    CHECK(value_of("peak memory (RSS)") == "512 MiB");
    CHECK(value_of("elections") == "1");
  }
}

TEST_CASE("a run written before the newer fields still gets every chart") {
  test::temp_dir tmp;
  write_run(tmp.path() / "old");
  const auto out = tmp.file("old.html");

  report::write_report({(tmp.path() / "old").string()}, out);
  const auto html = read_file(out);

  for (const auto& id : report::report_element_ids())
    CHECK_MESSAGE(html.find("id=\"" + id + "\"") != std::string::npos, id);
  const auto run = page_data(html)["runs"][0];
  CHECK(run["projection"].is_null());
  CHECK(kinds_of(run["rounds"]["events"]) == std::vector<std::string>{"failure"});
  CHECK(run["rounds"]["series"].size() == 3);
  CHECK(run["contingency"]["counts"] == json{{3, 0}, {0, 3}});
}

TEST_CASE("a run without true groups has no contingency table, and its ARI is computed when absent") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  SUBCASE("no true groups") {
    auto clusters = json::parse(read_file(dir / "clusters.json"));
    clusters["true_groups"] = json::object();
    write_file(dir / "clusters.json", clusters.dump());
    auto summary = json::parse(read_file(dir / "summary.json"));
    for (auto& [id, c] : summary["clients"].items())
      c.erase("group");
    write_file(dir / "summary.json", summary.dump());
    report::write_report({dir.string()}, tmp.file("r.html"));
    CHECK(page_data(read_file(tmp.file("r.html")))["runs"][0]["contingency"].is_null());
  }
  SUBCASE("true groups but no ARI in the summary") {
    auto summary = json::parse(read_file(dir / "summary.json"));
    summary["clustering"].erase("adjusted_rand_index");
    summary["clients"]["5"]["cluster"] = 0; // one client in the other group's cluster
    write_file(dir / "summary.json", summary.dump());
    report::write_report({dir.string()}, tmp.file("r.html"));
    const auto c = page_data(read_file(tmp.file("r.html")))["runs"][0]["contingency"];
    CHECK(c["counts"] == json{{3, 1}, {0, 2}});
    CHECK(c["ari_source"] == "computed by the report");
    CHECK(c["ari"].get<double>() < 1.0);
  }
}

TEST_CASE("rounds to target tell a target not reached from no target") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  auto summary = json::parse(read_file(dir / "summary.json"));
  summary["final"]["rounds_to_target"] = nullptr;
  write_file(dir / "summary.json", summary.dump());
  auto rounds_to_target = [&] {
    report::write_report({dir.string()}, tmp.file("r.html"));
    return page_data(read_file(tmp.file("r.html")))["runs"][0]["comparison"]["rounds to target"];
  };
  CHECK(rounds_to_target() == "no target");
  auto config = json::parse(read_file(dir / "config.json"));
  config["rounds"]["target_accuracy"] = 0.99;
  write_file(dir / "config.json", config.dump());
  CHECK(rounds_to_target() == "not reached (99.00%)");
}

TEST_CASE("several run directories give a comparison with every run's charts side by side") {
  test::temp_dir tmp;
  write_run(tmp.path() / "a", "first");
  write_run(tmp.path() / "b", "second");
  add_new_fields(tmp.path() / "b");
  const auto out = tmp.file("compare.html");

  report::write_report({(tmp.path() / "a").string(), (tmp.path() / "b").string()}, out);
  const auto html = read_file(out);

  for (const auto& id : report::comparison_element_ids())
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "\"") == 1, id);
  for (const auto& id : report::report_element_ids()) {
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "-0\"") == 1, id);
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "-1\"") == 1, id);
    CHECK_MESSAGE(html.find("id=\"" + id + "\"") == std::string::npos, id);
  }
  const auto data = page_data(html);
  REQUIRE(data["runs"].size() == 2);
  CHECK(data["runs"][0]["comparison"]["run"] == "first");
  CHECK(data["runs"][1]["comparison"]["run"] == "second");
  CHECK(data["runs"][1]["comparison"]["rounds to target"] == "2");
  CHECK(data["runs"][0]["comparison"]["rounds to target"] == "no target");
  CHECK(data["comparison_columns"].size() == 12);
}

TEST_CASE("one run's report goes into its directory, a comparison into the current one") {
  CHECK(report::default_report_path({"runs/x"}) == "runs/x/report.html");
  CHECK(report::default_report_path({"runs/x", "runs/y"}) == "report.html");
}

TEST_CASE("text from the run cannot end the page's script block") {
  test::temp_dir tmp;
  const std::string name = "</script><script>alert(1)</script><!--";
  write_run(tmp.path() / "run", name);

  report::write_report({(tmp.path() / "run").string()}, tmp.file("r.html"));
  const auto html = read_file(tmp.file("r.html"));

  CHECK(html.find("<script>alert(1)") == std::string::npos);
  CHECK(page_data(html)["runs"][0]["name"] == name);
}

TEST_CASE("a missing or damaged run file is an error that names it") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  const auto out = tmp.file("r.html");
  auto report = [&] { report::write_report({dir.string()}, out); };

  SUBCASE("missing summary.json") {
    fs::remove(dir / "summary.json");
    const auto expected = (dir / "summary.json").string() +
                          " is missing or unreadable: a run writes it when it finishes; pass the directory of a "
                          "finished run, or rerun it";
    CHECK_THROWS_WITH_AS(report(), expected.c_str(), report::report_error);
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("missing directory") {
    const auto expected = "run directory " + tmp.file("nope") +
                          " does not exist; pass the directory a run printed at its end ('run directory: ...')";
    CHECK_THROWS_WITH_AS(report::write_report({tmp.file("nope")}, out), expected.c_str(), report::report_error);
  }
  SUBCASE("damaged clusters.json") {
    write_file(dir / "clusters.json", "{\"clusters\": [");
    CHECK(report_error_of(report).rfind((dir / "clusters.json").string() + " is not valid JSON (", 0) == 0);
  }
  SUBCASE("summary.json that is not an object") {
    write_file(dir / "summary.json", "[1, 2]");
    CHECK(report_error_of(report) == (dir / "summary.json").string() +
                                       " holds a JSON array, not an object; the file is damaged: restore it or "
                                       "rerun the run");
  }
  SUBCASE("a damaged line of metrics.jsonl") {
    write_file(dir / "metrics.jsonl", metrics_line("initial", 1, nullptr, 6, {}, 0.9, 0.5) + "{\"phase\": \n");
    const auto message = report_error_of(report);
    CHECK(message.rfind((dir / "metrics.jsonl").string() + " line 2 is not valid JSON (", 0) == 0);
    CHECK(message.find("restore it or rerun the run") != std::string::npos);
  }
}

TEST_CASE("flotilla report: where it writes and what it refuses") {
  test::temp_dir tmp;
  write_run(tmp.path() / "run");
  const auto dir = (tmp.path() / "run").string();

  SUBCASE("one directory: its report.html") {
    CHECK(report::report_command({dir}) == 0);
    CHECK(fs::exists(tmp.path() / "run" / "report.html"));
  }
  SUBCASE("--out FILE") {
    CHECK(report::report_command({dir, "--out", tmp.file("x.html")}) == 0);
    CHECK(fs::exists(tmp.file("x.html")));
    CHECK(report::report_command({"--out=" + tmp.file("y.html"), dir, dir}) == 0);
    CHECK(fs::exists(tmp.file("y.html")));
  }
  SUBCASE("command-line errors") {
    CHECK_THROWS_WITH_AS(report::report_command({}),
                         "report needs a run directory: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]",
                         report::report_usage_error);
    CHECK_THROWS_WITH_AS(report::report_command({dir, "--out"}),
                         "--out needs a file name: flotilla report RUN_DIR [RUN_DIR ...] --out FILE",
                         report::report_usage_error);
    CHECK_THROWS_WITH_AS(report::report_command({dir, "--bogus"}),
                         "unknown option --bogus for report; usage: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]",
                         report::report_usage_error);
  }
  SUBCASE("an output that cannot be written") {
    const auto out = tmp.file("no/such/dir/r.html");
    CHECK_THROWS_WITH_AS(report::report_command({dir, "--out", out}),
                         ("cannot write " + out + ": cannot create a temporary file (No such file or directory)").c_str(),
                         output_error);
  }
}
