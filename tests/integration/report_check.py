#!/usr/bin/env python3
"""Checks for tests/integration/report_browser.sh, standard library only.

  report_check.py sample DIR            write a synthetic run directory with every optional field
  report_check.py console LOG           fail if Chromium's log holds any page console message
  report_check.py dom DOM ID [ID ...]   fail unless each id is in the rendered DOM, drawn, and the
                                        page says data-report-status="ok"
  report_check.py png PNG               fail if the screenshot is blank (too few colours or pixels)
  report_check.py values RUN HTML       fail unless every value RUN wrote (each metrics.jsonl field of
                                        each round, summary.json's final results, each cluster's
                                        members, server and accuracy) is in the report's data
"""
import html.parser
import json
import os
import re
import struct
import sys
import zlib


def sample(directory):
    """A run of 8 clients in 2 true groups, 2 + 3 rounds, with a failure, an election, a late
    client, a CFL split and a projection: every part of the report has something to draw."""
    os.makedirs(directory, exist_ok=True)
    config = {"name": "browser-sample", "seed": 1, "clients": 8, "data": {"dataset": "mnist"},
              "partition": {"scheme": "rotated", "groups": 2}, "model": {"name": "cnn"},
              "rounds": {"initial": 2, "cluster": 3, "target_accuracy": 0.6}, "clustering": {"k": 2}}
    lines = [
        {"phase": "initial", "round": 1, "cluster": None, "clients": 8, "failures": 0, "failed": [],
         "aggregated": True, "train_loss": 0.9, "test_accuracy": 0.52, "seconds": 2.0},
        {"phase": "initial", "round": 2, "cluster": None, "clients": 7, "failures": 1, "failed": [7],
         "failure_reasons": ["client 7: timed out"], "aggregated": True, "train_loss": 0.45,
         "test_accuracy": 0.63, "seconds": 2.5},
    ]
    for r in range(1, 4):
        for c in range(2):
            line = {"phase": "cluster", "round": r, "cluster": c, "clients": 4, "failures": 0, "failed": [],
                    "aggregated": not (c == 1 and r == 2), "train_loss": 0.3 / r + 0.01 * c,
                    "test_loss": 0.35 / r, "test_accuracy": 0.9 + 0.02 * r + 0.005 * c, "seconds": 1.5 + 0.2 * c,
                    "term": 2 if (c == 0 and r >= 2) else 1, "reassigned": [], "strategy": "fedavg"}
            lines.append(line)
    lines.append({"phase": "cluster", "round": 3, "cluster": 2, "clients": 1, "failures": 0, "failed": [],
                  "aggregated": True, "train_loss": 0.1, "test_accuracy": 0.93, "seconds": 1.0})
    with open(os.path.join(directory, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    members = {0: [0, 2, 4, 6], 1: [1, 3, 5, 7]}
    clusters = []
    for c, ids in members.items():
        scores = {str(i): {"cpu": 10.0 + 3 * i, "mem": 5.0, "score": 15.0 + 3 * i, "host_cpu": 9.0,
                           "host_mem": 5.0, "profiled": i == 4} for i in ids}
        clusters.append({"id": c, "members": ids, "server": ids[0], "samples": 1200, "accuracy": 0.96,
                         "scores": scores})
    clusters[0]["elections"] = [{"round": 2, "term": 2, "from": 0, "to": 2, "reason": "server crashed"}]
    clusters.append({"id": 2, "members": [8], "server": 8, "created_round": 2, "parent": 1, "samples": 300,
                     "accuracy": 0.93})
    projection = {str(i): [(-1.0 if i % 2 == 0 else 1.0) + 0.05 * i, 0.3 * ((i // 2) % 3) - 0.3]
                  for i in range(9)}
    with open(os.path.join(directory, "clusters.json"), "w") as f:
        json.dump({"clusters": clusters, "rule": "server = argmin(cpu + mem)",
                   "true_groups": {str(i): i % 2 for i in range(8)}, "unclustered": [],
                   "late_clients": [{"client": 8, "cluster": 2, "joined_round": 2, "distances": [2.0, 0.9, 0.2]}],
                   "projection": projection}, f, indent=1)
    clients = {str(i): {"cluster": i % 2, "group": i % 2, "personalized_accuracy": 0.95 + 0.003 * i,
                        "initial_global_accuracy": 0.6 - 0.01 * i, "train_samples": 300, "test_samples": 75}
               for i in range(8)}
    clients["8"] = {"cluster": 2, "group": 0, "personalized_accuracy": 0.93, "initial_global_accuracy": -1}
    summary = {"name": "browser-sample",
               "final": {"global_accuracy": 0.7, "initial_global_accuracy": 0.63, "personalized_accuracy": 0.96,
                         "initial_global_personalized_accuracy": 0.56, "cluster_accuracy": {"0": 0.96, "1": 0.97},
                         "global_model_sha256": "0" * 64, "rounds_to_target": 2},
               "clients": clients,
               "clustering": {"k": 2, "method": "kmeans", "assignment": [i % 2 for i in range(8)],
                              "adjusted_rand_index": 1.0, "silhouette": {"2": 0.7, "3": 0.4}},
               "strategy": {"name": "fedavg"}, "attack": {"clients": [3], "kind": "sign_flip"},
               "faults": [{"client": 0, "kind": "crash", "phase": "cluster", "round": 2}], "elections": 1,
               "timing": {"total_s": 20.0, "initial_s": 4.5, "clustering_s": 0.5, "cluster_rounds_s": 6.0,
                          "evaluation_s": 1.0, "samples_per_s": 4000.0, "samples_trained": 80000,
                          "samples_evaluated": 10000, "weight_bytes_moved": 10 << 20, "peak_rss_bytes": 300 << 20},
               "warnings": ["client 7 timed out in initial round 2"]}
    with open(os.path.join(directory, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def console(log_path):
    """Chromium logs every console message of the page (console.*, uncaught errors, refused
    fetches) as ':CONSOLE' lines; the report writes none, so any is a failure."""
    with open(log_path, errors="replace") as f:
        messages = [line.rstrip() for line in f if re.search(r":CONSOLE[:(]", line)]
    for m in messages:
        print("console: " + m, file=sys.stderr)
    return 1 if messages else 0


class _Elements(html.parser.HTMLParser):
    """Element ids, each with what was drawn inside it (svg or table elements and notes)."""

    def __init__(self):
        super().__init__()
        self.open = []  # (tag, id) of open elements
        self.found = {}  # id -> {"rendered": bool, "content": set of tags inside}
        self.status = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.status = a.get("data-report-status")
        for _, ident in self.open:
            if ident in self.found:
                self.found[ident]["content"].add(tag)
        if "id" in a:
            self.found[a["id"]] = {"rendered": a.get("data-rendered") == "yes", "content": set()}
        if tag not in ("meta", "link", "br", "img", "input", "hr", "path", "circle", "line", "rect"):
            self.open.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break


def dom(dom_path, ids):
    with open(dom_path, errors="replace") as f:
        parser = _Elements()
        parser.feed(f.read())
    problems = []
    if parser.status != "ok":
        problems.append(f"the page's data-report-status is {parser.status!r}, not 'ok': a chart failed to draw")
    for ident in ids:
        e = parser.found.get(ident)
        if e is None:
            problems.append(f"#{ident} is not in the rendered page")
        elif not e["rendered"] or not (e["content"] & {"svg", "table", "p"}):
            problems.append(f"#{ident} was not drawn (data-rendered missing or nothing inside)")
    for p in problems:
        print("dom: " + p, file=sys.stderr)
    return 1 if problems else 0


def read_png(path):
    """(width, height, channels, rows of bytes) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6):
                raise ValueError(f"{path}: bit depth {depth}, colour type {colour}: only 8-bit RGB(A) is read")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b, c = prev[i], prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def png(path):
    width, height, channels, rows = read_png(path)
    colours, counts = set(), {}
    for line in rows:
        for i in range(0, len(line), channels):
            px = bytes(line[i:i + 3])
            colours.add(px)
            counts[px] = counts.get(px, 0) + 1
    background = max(counts.values()) / (width * height)
    print(f"png: {width}x{height}, {len(colours)} colours, {100 * (1 - background):.1f}% of pixels off the background")
    if len(colours) < 64 or background > 0.97:
        print("png: the screenshot is blank or nearly so", file=sys.stderr)
        return 1
    return 0


def report_data(html_path):
    text = open(html_path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    if not m:
        raise SystemExit("values: no report-data block in " + html_path)
    return json.loads(m.group(1))


def leaves(x, out):
    """Every number, string and boolean inside x, as JSON text (1 and 1.0 are one value)."""
    if isinstance(x, dict):
        for v in x.values():
            leaves(v, out)
    elif isinstance(x, list):
        for v in x:
            leaves(v, out)
    elif isinstance(x, bool) or x is None:
        out.add(json.dumps(x))
    elif isinstance(x, (int, float)):
        out.add(repr(float(x)))
    else:
        out.add(json.dumps(x))
    return out


def values(run_dir, html_path):
    data = report_data(html_path)
    run = data["runs"][0]
    missing = []
    series = {json.dumps(s.get("cluster")): s for s in run["rounds"]["series"]}
    lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl")) if l.strip()]
    for line in lines:
        s = series.get(json.dumps(line.get("cluster")))
        points = [p for p in (s or {}).get("points", []) if p.get("round") == line["round"]]
        if len(points) != 1:
            missing.append(f"round {line['phase']} {line['round']} cluster {line.get('cluster')}: no point")
            continue
        for key, value in line.items():
            if value is None:
                continue  # "not set": the page shows nothing for it
            if points[0].get(key) != value:
                missing.append(f"round {line['phase']} {line['round']} cluster {line.get('cluster')}: {key}="
                               f"{json.dumps(value)} shown as {json.dumps(points[0].get(key))}")
    everything = leaves(run, set())
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    for key, value in summary["final"].items():
        for leaf in leaves(value, set()):
            if leaf not in everything:
                missing.append(f"summary.json final.{key}: {leaf} is not in the report")
    clusters = json.load(open(os.path.join(run_dir, "clusters.json")))
    for c in clusters["clusters"]:
        for key in ("members", "server", "accuracy"):
            for leaf in leaves(c[key], set()):
                if leaf not in everything:
                    missing.append(f"clusters.json cluster {c['id']} {key}: {leaf} is not in the report")
    for m in missing:
        print("values: " + m, file=sys.stderr)
    print(f"values: {len(lines)} rounds, {len(summary['final'])} final results, {len(clusters['clusters'])} "
          f"clusters checked; {len(missing)} values missing")
    return 1 if missing else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "sample":
        sample(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "console":
        return console(argv[2])
    if len(argv) >= 3 and argv[1] == "dom":
        return dom(argv[2], argv[3:])
    if len(argv) == 3 and argv[1] == "png":
        return png(argv[2])
    if len(argv) == 4 and argv[1] == "values":
        return values(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
