#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config.hpp"
#include "app/metrics_csv.hpp"
#include "app/report.hpp"
#include "app/report_command.hpp"
#include "app/report_error.hpp"
#include "app/report_page.hpp"
#include "fixtures.hpp"

using namespace flotilla;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string metrics_line(const char* phase, int round, json cluster, int clients, std::vector<int> failed,
                         double loss, double accuracy, json extra = json::object()) {
  json line{{"phase", phase},   {"round", round},        {"cluster", cluster},   {"clients", clients},
            {"failures", failed.size()}, {"failed", failed}, {"aggregated", true}, {"train_loss", loss},
            {"test_accuracy", accuracy}, {"seconds", 1.5}};
  line.update(extra);
  return line.dump() + "\n";
}

// A run as today's binary writes it: 6 clients in 2 true groups, k = 2, 2 + 3 rounds, client 5
// failing in initial round 2.
void write_run(const fs::path& dir, const std::string& name = "synthetic") {
  fs::create_directories(dir);
  write_file(dir / "config.json", json{{"name", name},
                                       {"seed", 42},
                                       {"clients", 6},
                                       {"data", {{"dataset", "mnist"}}},
                                       {"partition", {{"scheme", "rotated"}, {"groups", 2}}},
                                       {"model", {{"name", "cnn"}}},
                                       {"rounds", {{"initial", 2}, {"cluster", 3}}},
                                       {"clustering", {{"k", 2}}}}
                                    .dump(2));
  std::string metrics = metrics_line("initial", 1, nullptr, 6, {}, 0.9, 0.51) +
                        metrics_line("initial", 2, nullptr, 5, {5}, 0.4, 0.62,
                                     {{"failure_reasons", {"client 5: timed out, after 600 s"}}});
  for (int r = 1; r <= 3; ++r)
    for (int c = 0; c < 2; ++c)
      metrics += metrics_line("cluster", r, c, 3, {}, 0.3 / r, 0.9 + 0.02 * r + 0.01 * c);
  write_file(dir / "metrics.jsonl", metrics);
  json clusters{{"clusters",
                 {{{"id", 0}, {"members", {0, 2, 4}}, {"server", 2}, {"samples", 900}, {"accuracy", 0.96},
                   {"scores",
                    {{"0", {{"cpu", 50.0}, {"mem", 10.0}, {"score", 60.0}, {"profiled", false}}},
                     {"2", {{"cpu", 20.0}, {"mem", 10.0}, {"score", 30.0}, {"profiled", true}}},
                     {"4", {{"cpu", 30.0}, {"mem", 10.0}, {"score", 40.0}, {"profiled", false}}}}}},
                  {{"id", 1}, {"members", {1, 3, 5}}, {"server", 1}, {"samples", 600}, {"accuracy", 0.97},
                   {"scores",
                    {{"1", {{"cpu", 5.0}, {"mem", 5.0}, {"score", 10.0}}},
                     {"3", {{"cpu", 9.0}, {"mem", 5.0}, {"score", 14.0}}},
                     {"5", {{"cpu", 7.0}, {"mem", 5.0}, {"score", 12.0}}}}}}}},
                {"rule", "server = argmin(cpu + mem)"},
                {"true_groups", {{"0", 0}, {"1", 1}, {"2", 0}, {"3", 1}, {"4", 0}, {"5", 1}}},
                {"unclustered", json::array()}};
  write_file(dir / "clusters.json", clusters.dump(2));
  json clients = json::object();
  for (int i = 0; i < 6; ++i)
    clients[std::to_string(i)] = {{"cluster", i % 2},          {"group", i % 2},      {"personalized_accuracy", 0.95},
                                  {"initial_global_accuracy", 0.6}, {"train_samples", 300}, {"test_samples", 75}};
  json summary{{"name", name},
               {"final",
                {{"global_accuracy", 0.66},
                 {"initial_global_accuracy", 0.62},
                 {"personalized_accuracy", 0.95},
                 {"initial_global_personalized_accuracy", 0.6},
                 {"cluster_accuracy", {{"0", 0.96}, {"1", 0.97}}},
                 {"global_model_sha256", "abc123"}}},
               {"clients", clients},
               {"clustering", {{"k", 2}, {"assignment", {0, 1, 0, 1, 0, 1}}, {"adjusted_rand_index", 1.0}}},
               {"timing",
                {{"total_s", 20.0}, {"initial_s", 3.0}, {"clustering_s", 1.0}, {"cluster_rounds_s", 4.5},
                 {"evaluation_s", 0.5}, {"samples_per_s", 5000.0}, {"samples_trained", 100000},
                 {"samples_evaluated", 20000}, {"weight_bytes_moved", 1 << 24}, {"peak_rss_bytes", 1 << 29}}},
               {"warnings", json::array()}};
  write_file(dir / "summary.json", summary.dump(2));
}

// The same run with every field the newer coordinator adds: test loss, server terms, IFCA
// reassignments, elections, a late client, a CFL split, a projection, silhouettes, strategy,
// attack and faults.
void add_new_fields(const fs::path& dir) {
  std::string metrics = read_file(dir / "metrics.jsonl");
  metrics += metrics_line("cluster", 4, 1, 2, {}, 0.2, 0.5,
                          {{"aggregated", false}, {"test_loss", 0.7}, {"term", 2}, {"reassigned", {3, 5}},
                           {"strategy", "fedprox"}});
  metrics += metrics_line("cluster", 3, 2, 2, {}, 0.1, 0.93, {{"test_loss", 0.2}, {"term", 1}, {"reassigned", 0}});
  write_file(dir / "metrics.jsonl", metrics);
  auto clusters = json::parse(read_file(dir / "clusters.json"));
  clusters["clusters"][0]["elections"] = {{{"round", 2}, {"term", 2}, {"from", 2}, {"to", 4}, {"reason", "server crashed"}}};
  clusters["clusters"].push_back({{"id", 2}, {"members", {6}}, {"server", 6}, {"created_round", 2}, {"parent", 1},
                                  {"failure", "server lost"}, {"rounds_done", 3}});
  clusters["late_clients"] = {{{"client", 6}, {"cluster", 2}, {"joined_round", 2}, {"distances", {3.5, 1.25, 0.5}}}};
  clusters["projection"] = json::object();
  for (int i = 0; i < 7; ++i)
    clusters["projection"][std::to_string(i)] = {i % 2 ? 1.0 : -1.0, 0.1 * i};
  write_file(dir / "clusters.json", clusters.dump(2));
  auto summary = json::parse(read_file(dir / "summary.json"));
  summary["final"]["rounds_to_target"] = 2;
  summary["clustering"]["method"] = "kmeans";
  summary["clustering"]["silhouette"] = {{"2", 0.61}, {"3", 0.42}};
  summary["strategy"] = {{"name", "fedprox"}, {"proximal_mu", 0.01}};
  summary["attack"] = {{"clients", {3}}, {"kind", "sign_flip"}};
  summary["faults"] = {{{"client", 5}, {"kind", "crash"}, {"phase", "initial"}, {"round", 2}}};
  summary["elections"] = 1;
  summary["clients"]["6"] = {{"cluster", 2}, {"group", 0}, {"personalized_accuracy", 0.9},
                             {"initial_global_accuracy", -1.0}};
  write_file(dir / "summary.json", summary.dump(2));
}

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
  } catch (const app::report_error& e) {
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
  CHECK(app::report_element_ids() == std::vector<std::string>{"chart-accuracy", "chart-loss", "chart-clients",
                                                               "table-contingency", "chart-pca", "table-selection",
                                                               "chart-timeline", "table-run", "table-config"});
  CHECK(app::comparison_element_ids() == std::vector<std::string>{"table-comparison", "chart-comparison"});
}

TEST_CASE("a run's report is one self-contained HTML file with every chart") {
  // prepare
  test::temp_dir tmp;
  write_run(tmp.path() / "run");
  add_new_fields(tmp.path() / "run");
  const auto out = tmp.file("report.html");

  // execute
  app::write_report({(tmp.path() / "run").string()}, out);
  const auto html = read_file(out);

  // assert: one document, nothing to fetch, each chart exactly once
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  for (const char* external : {"http://", "https://", "src=", "url(", "@import", "<link rel=\"stylesheet\""})
    CHECK_MESSAGE(html.find(external) == std::string::npos, external);
  CHECK(html.find("default-src 'none'") != std::string::npos);
  for (const auto& id : app::report_element_ids())
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
    CHECK(value_of("strategy") == "fedprox (proximal_mu=0.01)");
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

  app::write_report({(tmp.path() / "old").string()}, out);
  const auto html = read_file(out);

  for (const auto& id : app::report_element_ids())
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
    app::write_report({dir.string()}, tmp.file("r.html"));
    CHECK(page_data(read_file(tmp.file("r.html")))["runs"][0]["contingency"].is_null());
  }
  SUBCASE("true groups but no ARI in the summary") {
    auto summary = json::parse(read_file(dir / "summary.json"));
    summary["clustering"].erase("adjusted_rand_index");
    summary["clients"]["5"]["cluster"] = 0; // one client in the other group's cluster
    write_file(dir / "summary.json", summary.dump());
    app::write_report({dir.string()}, tmp.file("r.html"));
    const auto c = page_data(read_file(tmp.file("r.html")))["runs"][0]["contingency"];
    CHECK(c["counts"] == json{{3, 1}, {0, 2}});
    CHECK(c["ari_source"] == "computed by the report");
    CHECK(c["ari"].get<double>() < 1.0);
  }
}

TEST_CASE("several run directories give a comparison with every run's charts side by side") {
  test::temp_dir tmp;
  write_run(tmp.path() / "a", "first");
  write_run(tmp.path() / "b", "second");
  add_new_fields(tmp.path() / "b");
  const auto out = tmp.file("compare.html");

  app::write_report({(tmp.path() / "a").string(), (tmp.path() / "b").string()}, out);
  const auto html = read_file(out);

  for (const auto& id : app::comparison_element_ids())
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "\"") == 1, id);
  for (const auto& id : app::report_element_ids()) {
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "-0\"") == 1, id);
    CHECK_MESSAGE(occurrences(html, "id=\"" + id + "-1\"") == 1, id);
    CHECK_MESSAGE(html.find("id=\"" + id + "\"") == std::string::npos, id);
  }
  const auto data = page_data(html);
  REQUIRE(data["runs"].size() == 2);
  CHECK(data["runs"][0]["comparison"]["run"] == "first");
  CHECK(data["runs"][1]["comparison"]["run"] == "second");
  CHECK(data["runs"][1]["comparison"]["rounds to target"] == "2");
  CHECK(data["runs"][0]["comparison"]["rounds to target"] == "n/a");
  CHECK(data["comparison_columns"].size() == 12);
}

TEST_CASE("one run's report goes into its directory, a comparison into the current one") {
  CHECK(app::default_report_path({"runs/x"}) == "runs/x/report.html");
  CHECK(app::default_report_path({"runs/x", "runs/y"}) == "report.html");
}

TEST_CASE("text from the run cannot end the page's script block") {
  test::temp_dir tmp;
  const std::string name = "</script><script>alert(1)</script><!--";
  write_run(tmp.path() / "run", name);

  app::write_report({(tmp.path() / "run").string()}, tmp.file("r.html"));
  const auto html = read_file(tmp.file("r.html"));

  CHECK(html.find("<script>alert(1)") == std::string::npos);
  CHECK(page_data(html)["runs"][0]["name"] == name);
}

TEST_CASE("a missing or damaged run file is an error that names it") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  const auto out = tmp.file("r.html");
  auto report = [&] { app::write_report({dir.string()}, out); };

  SUBCASE("missing summary.json") {
    fs::remove(dir / "summary.json");
    const auto expected = (dir / "summary.json").string() +
                          " is missing or unreadable: a run writes it when it finishes; pass the directory of a "
                          "finished run, or rerun it";
    CHECK_THROWS_WITH_AS(report(), expected.c_str(), app::report_error);
    CHECK_FALSE(fs::exists(out));
  }
  SUBCASE("missing directory") {
    const auto expected = "run directory " + tmp.file("nope") +
                          " does not exist; pass the directory a run printed at its end ('run directory: ...')";
    CHECK_THROWS_WITH_AS(app::write_report({tmp.file("nope")}, out), expected.c_str(), app::report_error);
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

TEST_CASE("metrics.csv has a fixed header and one row per metrics line") {
  test::temp_dir tmp;
  const auto dir = tmp.path() / "run";
  write_run(dir);
  add_new_fields(dir);

  app::write_metrics_csv(dir.string());
  std::istringstream csv(read_file(dir / "metrics.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);)
    lines.push_back(line);

  REQUIRE(lines.size() == 1 + 2 + 6 + 2);
  CHECK(lines[0] == "phase,round,cluster,clients,failures,failed,aggregated,train_loss,test_loss,test_accuracy,"
                    "seconds,term,reassigned,strategy,failure_reasons");
  CHECK(lines[1] == "initial,1,,6,0,,true,0.9,,0.51,1.5,,,,");
  CHECK(lines[2] == "initial,2,,5,1,5,true,0.4,,0.62,1.5,,,,\"client 5: timed out, after 600 s\"");
  CHECK(lines[9] == "cluster,4,1,2,0,,false,0.2,0.7,0.5,1.5,2,3;5,fedprox,");
  CHECK(lines[10] == "cluster,3,2,2,0,,true,0.1,0.2,0.93,1.5,1,0,,");
}

TEST_CASE("a CSV cell with quotes or line breaks is quoted") {
  CHECK(app::metrics_csv_row({{"phase", "say \"hi\""}, {"failure_reasons", {"a\nb", "c"}}}) ==
        "\"say \"\"hi\"\"\",,,,,,,,,,,,,,\"a\nb;c\"");
}

TEST_CASE("metrics.csv of a directory without metrics.jsonl is an error that names it") {
  test::temp_dir tmp;
  const auto expected = (tmp.path() / "metrics.jsonl").string() +
                        " is missing or unreadable: a run writes it when it starts; is this a flotilla run directory?";
  CHECK_THROWS_WITH_AS(app::write_metrics_csv(tmp.path().string()), expected.c_str(), app::report_error);
}

TEST_CASE("flotilla report: where it writes and what it refuses") {
  test::temp_dir tmp;
  write_run(tmp.path() / "run");
  const auto dir = (tmp.path() / "run").string();

  SUBCASE("one directory: its report.html") {
    CHECK(app::report_command({dir}) == 0);
    CHECK(fs::exists(tmp.path() / "run" / "report.html"));
  }
  SUBCASE("--out FILE") {
    CHECK(app::report_command({dir, "--out", tmp.file("x.html")}) == 0);
    CHECK(fs::exists(tmp.file("x.html")));
    CHECK(app::report_command({"--out=" + tmp.file("y.html"), dir, dir}) == 0);
    CHECK(fs::exists(tmp.file("y.html")));
  }
  SUBCASE("command-line errors") {
    CHECK_THROWS_WITH_AS(app::report_command({}),
                         "report needs a run directory: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]",
                         app::config_error);
    CHECK_THROWS_WITH_AS(app::report_command({dir, "--out"}),
                         "--out needs a file name: flotilla report RUN_DIR [RUN_DIR ...] --out FILE",
                         app::config_error);
    CHECK_THROWS_WITH_AS(app::report_command({dir, "--bogus"}),
                         "unknown option --bogus for report; usage: flotilla report RUN_DIR [RUN_DIR ...] [--out FILE]",
                         app::config_error);
  }
  SUBCASE("an output that cannot be written") {
    const auto out = tmp.file("no/such/dir/r.html");
    CHECK(report_error_of([&] { app::report_command({dir, "--out", out}); }) ==
          "cannot write " + out + ".tmp; check that its directory exists and is writable, or pass another --out FILE");
  }
}
