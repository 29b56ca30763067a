#include "report/page.hpp"

#include <map>
#include <stdexcept>

#include "report/model.hpp"
#include "report_assets.hpp"

namespace flotilla::report {

using json = nlohmann::json;

namespace {

/// One section of the page: an element per run, drawn by the script's drawer for `kind`.
struct section_spec {
  const char* id;
  const char* kind;
  const char* title;
  const char* explain;
};

const section_spec run_sections[] = {
  {"chart-accuracy", "accuracy", "Accuracy per round",
   "Initial phase: the global model on the test set. Cluster phase: each cluster's model on its members' local "
   "test splits, one line per cluster. Marks show elections, failures, missed quorums, late joins, splits and "
   "the round a target accuracy was reached; hover over any point or mark for details."},
  {"chart-simtime", "simtime", "Accuracy over time",
   "The same curves against the run's clock: simulated seconds under clock=virtual (each cluster on its own "
   "clock), wall seconds since the run began otherwise."},
  {"chart-devices", "devices", "Device speeds",
   "Under clock=virtual: every client's compute time per sample, fastest to slowest; hover over a point for its "
   "link and whether it serves a cluster."},
  {"chart-staleness", "staleness", "Staleness of the updates",
   "Under strategy.mode=buffered or async: how many server versions old each aggregated update was, over the "
   "whole run (updates dropped as staler than strategy.max_staleness are counted apart)."},
  {"chart-loss", "loss", "Loss per round",
   "Mean training loss of the round's updates (solid) and, where the run recorded it, the test loss (dashed)."},
  {"chart-clients", "clients", "Per client: personalized against the initial global model",
   "Each client's accuracy on its own local test split: its cluster's model (filled) against the global model "
   "of the initial phase (hollow). The line between them is what clustering gained."},
  {"table-contingency", "contingency", "Clusters against true groups",
   "How many clients of each true group landed in each cluster; the adjusted Rand index is 1 for a perfect "
   "recovery (whatever the cluster numbers) and about 0 for chance."},
  {"chart-pca", "pca", "Clustering features, projected on two principal components",
   "Each client's clustering features (its weights, or their sketch) projected to 2-D: colour is the cluster "
   "found, shape the true group, a ring and S mark each cluster's server."},
  {"table-selection", "selection", "Server selection",
   "Every member's CPU and memory load when the servers were chosen, and its score; the chosen server is "
   "highlighted."},
  {"chart-timeline", "timeline", "Timeline",
   "The phases end to end, then a lane per model with one bar per round (clusters run in parallel). Red "
   "outlines mark rounds with failures."},
  {"table-run", "run", "Results, timing, throughput and memory", ""},
  {"table-config", "config", "Configuration", "The resolved configuration of the run (config.json)."},
};

const section_spec comparison_sections[] = {
  {"table-comparison", "comparison-table", "Runs compared", "The headline figures of each run."},
  {"chart-comparison", "comparison-chart", "Accuracy of each run",
   "Per round: the global model in the initial phase, then the clusters' sample-weighted mean accuracy on "
   "their members' local splits."},
};

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s)
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  return out;
}

// JSON inside <script>: '<', '>' and '&' can only occur inside strings, where \u escapes mean
// the same, so no "</script>" or "<!--" in the data can end the block early.
std::string script_json(const json& j) {
  const auto text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text)
    switch (c) {
    case '<': out += "\\u003c"; break;
    case '>': out += "\\u003e"; break;
    case '&': out += "\\u0026"; break;
    default: out += c;
    }
  return out;
}

// Replaces each {{name}} of the template (never of the inserted text) with its value.
std::string fill(const std::string& tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto open = tmpl.find("{{", pos);
    if (open == std::string::npos)
      break;
    const auto close = tmpl.find("}}", open);
    const auto it = close == std::string::npos ? values.end() : values.find(tmpl.substr(open + 2, close - open - 2));
    if (it == values.end())
      throw std::logic_error("report.html template: unknown placeholder at offset " + std::to_string(open));
    out.append(tmpl, pos, open - pos).append(it->second);
    pos = close + 2;
  }
  return out.append(tmpl, pos, std::string::npos);
}

std::string text_of(const json& j, const char* key) {
  return html_escape(j[key].get<std::string>());
}

std::string card(const std::string& value, const std::string& label) {
  return "<div class=\"card\"><div class=\"value\">" + html_escape(value) + "</div><div class=\"label\">" +
         html_escape(label) + "</div></div>";
}

std::string header_html(const json& runs) {
  std::string h;
  if (runs.size() == 1) {
    const auto& r = runs[0];
    const auto& c = r["comparison"];
    h += "<h1>Flotilla run: " + text_of(r, "name") + "</h1>\n<p class=\"subtitle\">" + text_of(r, "dir") +
         "</p>\n<div class=\"cards\">";
    h += card(c["personalized (local)"].get<std::string>(), "personalized accuracy (mean)");
    h += card(c["initial global (local)"].get<std::string>(), "initial global model, same splits");
    h += card(c["global (test)"].get<std::string>(), "global model, test set");
    if (c["ARI"] != "n/a")
      h += card(c["ARI"].get<std::string>(), "adjusted Rand index");
    h += card(c["total time"].get<std::string>(), "total time");
    h += card(c["peak RSS"].get<std::string>(), "peak memory");
    return h + "</div>";
  }
  h += "<h1>Flotilla: " + std::to_string(runs.size()) + " runs compared</h1>\n<p class=\"subtitle\">";
  for (std::size_t i = 0; i < runs.size(); ++i)
    h += std::to_string(i) + ": " + text_of(runs[i], "name") + " (" + text_of(runs[i], "dir") + ")" +
         (i + 1 < runs.size() ? "<br>" : "");
  return h + "</p>";
}

std::string section_html(const section_spec& s, const json& runs, bool per_run) {
  std::string h = std::string("<section class=\"section\" id=\"section-") + s.kind + "\">\n<h2>" + s.title + "</h2>\n";
  if (*s.explain)
    h += std::string("<p class=\"explain\">") + s.explain + "</p>\n";
  if (!per_run)
    return h + "<div class=\"panel\" id=\"" + s.id + "\" data-kind=\"" + s.kind + "\"></div>\n</section>\n";
  const bool several = runs.size() > 1;
  h += "<div class=\"runs\">\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string id = several ? std::string(s.id) + "-" + std::to_string(i) : std::string(s.id);
    h += "<div class=\"panel\" id=\"" + id + "\" data-kind=\"" + s.kind + "\" data-run=\"" + std::to_string(i) + "\">";
    if (several)
      h += "<div class=\"run-caption\">" + std::to_string(i) + ": " + text_of(runs[i], "name") + "</div>";
    h += "</div>\n";
  }
  return h + "</div>\n</section>\n";
}

std::string script() {
  // Drawing helpers first, the drawers next, main last: it draws as soon as it runs.
  return std::string(assets::svg_js) + assets::chart_lines_js + assets::chart_clients_js +
         assets::chart_pca_js + assets::chart_timeline_js + assets::tables_js +
         assets::main_js;
}

} // namespace

const std::vector<std::string>& report_element_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (const auto& s : run_sections)
      v.push_back(s.id);
    return v;
  }();
  return ids;
}

const std::vector<std::string>& comparison_element_ids() {
  static const std::vector<std::string> ids{comparison_sections[0].id, comparison_sections[1].id};
  return ids;
}

std::string report_page(const std::vector<run_files>& runs) {
  json models = json::array();
  for (const auto& r : runs)
    models.push_back(run_model(r));
  std::string title = models.size() == 1 ? "Flotilla report: " + models[0]["name"].get<std::string>()
                                         : "Flotilla: " + std::to_string(models.size()) + " runs compared";
  std::string nav, body;
  if (models.size() > 1)
    for (const auto& s : comparison_sections) {
      nav += std::string("<a href=\"#section-") + s.kind + "\">" + s.title + "</a>\n";
      body += section_html(s, models, false);
    }
  for (const auto& s : run_sections) {
    nav += std::string("<a href=\"#section-") + s.kind + "\">" + s.title + "</a>\n";
    body += section_html(s, models, true);
  }
  json data{{"runs", models}, {"comparison_columns", comparison_columns()}};
  return fill(assets::report_html, {{"title", html_escape(title)},
                                           {"style", assets::report_css},
                                           {"layout", models.size() == 1 ? "one-run" : "several-runs"},
                                           {"header", header_html(models)},
                                           {"nav", nav},
                                           {"body", body},
                                           {"data", script_json(data)},
                                           {"script", script()}});
}

} // namespace flotilla::report
