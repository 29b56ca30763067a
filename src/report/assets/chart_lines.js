// Curves over rounds: accuracy (with events marked), loss, and the comparison of runs.

const MARK_STYLES = {
  election: { shape: 'diamond', color: '#8250df', label: 'election' },
  failure: { shape: 'cross', color: BAD_COLOR, label: 'failures' },
  quorum: { shape: 'circle', color: BAD_COLOR, hollow: true, label: 'quorum missed' },
  late_join: { shape: 'triangle', color: '#1a7f37', label: 'late join' },
  split: { shape: 'star', color: '#bc4c00', label: 'cluster split' },
  cluster_failed: { shape: 'square', color: BAD_COLOR, label: 'cluster failed' },
  target: { shape: 'star', color: '#bf8700', label: 'target reached' },
};

// Initial rounds print as 1, 2, ...; cluster rounds as c1, c2, ... after the clustering guide.
function roundFormat(initialRounds) {
  return (x) => (x <= initialRounds ? String(x) : 'c' + (x - initialRounds));
}

function lineChart(opts) {
  const W = opts.width || 960, H = opts.height || 380;
  const kinds = [...new Set((opts.marks || []).map((m) => m.kind))].filter((k) => MARK_STYLES[k]);
  const items = opts.series.map((s) => ({ label: s.label, color: s.color, dash: s.dash }))
    .concat(kinds.map((k) => ({ label: MARK_STYLES[k].label, color: MARK_STYLES[k].color,
                                shape: MARK_STYLES[k].shape, hollow: MARK_STYLES[k].hollow })));
  const leg = legend(items, 64, 16, W - 90);
  const box = { left: 64, right: W - 24, top: 22 + leg.height, bottom: H - 46 };
  const xs = [];
  const ys = [];
  for (const s of opts.series) for (const p of s.points) { xs.push(p.x); ys.push(p.y); }
  for (const m of opts.marks || []) xs.push(m.x);
  const [x0, x1] = extent(xs);
  const x = linear(Math.floor(x0) - 0.4, Math.ceil(x1) + 0.4, box.left, box.right);
  // Marks sit in a band above the curves, one column per round, so none hides another or a
  // point; a dotted line leads from a mark down to the point it is about.
  const columns = new Map();
  for (const m of opts.marks || []) {
    if (!columns.has(m.x)) columns.set(m.x, []);
    columns.get(m.x).push(m);
  }
  const band = 14 * Math.max(0, ...[...columns.values()].map((ms) => ms.length));
  const yd = opts.yDomain ? opts.yDomain(extent(ys, 0.08)) : extent(ys, 0.08);
  const y = linear(yd[0], yd[1], box.bottom, box.top + band);
  const xTicks = niceTicks(Math.ceil(x0), Math.floor(x1), 14).filter(Number.isInteger);
  let s = svgOpen(W, H, opts.label) + leg.svg;
  s += axes(box, x, y, { xTicks, xFormat: opts.xFormat, yFormat: opts.yFormat, xLabel: opts.xLabel,
                         yLabel: opts.yLabel });
  for (const g of opts.guides || []) {
    s += `<g class="guide"><line x1="${x(g.x)}" x2="${x(g.x)}" y1="${box.top}" y2="${box.bottom}" stroke="#8c959f" stroke-dasharray="5 4"/>`;
    s += `<text x="${x(g.x) + 4}" y="${box.top + 12}" class="muted">${esc(g.label)}</text></g>`;
  }
  for (const ser of opts.series) {
    let d = '', pen = 'M';
    for (const p of ser.points) {
      if (p.y === null || p.y === undefined) { pen = 'M'; continue; }
      d += `${pen}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`;
      pen = 'L';
    }
    s += `<g class="series">${title(ser.label)}<path class="line" d="${d}" stroke="${ser.color}"` +
         (ser.dash ? ` stroke-dasharray="${ser.dash}"` : '') + '/>';
    for (const p of ser.points)
      if (p.y !== null && p.y !== undefined)
        s += `<circle class="point" cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.2" fill="${ser.color}" stroke="white">${title(p.tip || '')}</circle>`;
    s += '</g>';
  }
  if (band > 0)
    s += `<line x1="${box.left}" x2="${box.right}" y1="${box.top + band}" y2="${box.top + band}" stroke="#eaeef2" stroke-dasharray="2 3"/>`;
  for (const [mx, ms] of columns) {
    const base = box.top + band - 8;
    const below = ms.filter((m) => m.y !== null && m.y !== undefined).map((m) => y(m.y));
    if (below.length)
      s += `<line x1="${x(mx)}" x2="${x(mx)}" y1="${base + 6}" y2="${Math.max(...below) - 4}" stroke="#8c959f" stroke-dasharray="1 3"/>`;
    ms.forEach((m, i) => {
      const st = MARK_STYLES[m.kind] || MARK_STYLES.failure;
      s += `<path class="mark" d="${shapePath(st.shape, x(mx), base - 14 * i, 6)}" fill="${st.hollow ? 'white' : st.color}" stroke="${st.color}" stroke-width="1.5">${title(m.tip)}</path>`;
    });
  }
  return s + '</svg>';
}

// The y of a series (global: cluster null) at x, for placing an event mark on its curve.
function yAt(series, cluster, x, key) {
  const s = series.find((c) => c.cluster === cluster);
  const p = s && s.points.find((q) => q.x === x);
  return p && p[key] !== undefined ? p[key] : null;
}

function pointTip(series, p) {
  const parts = [`${series.label}, round ${p.round}`];
  if (p.accuracy !== undefined) parts.push(`accuracy ${pct(p.accuracy, 2)}`);
  if (p.train_loss !== undefined) parts.push(`train loss ${num(p.train_loss, 4)}`);
  if (p.test_loss !== undefined) parts.push(`test loss ${num(p.test_loss, 4)}`);
  if (p.clients !== undefined) parts.push(`${p.clients}${p.asked !== undefined ? ' of ' + p.asked : ''} updates`);
  if (p.failures) parts.push(`${p.failures} failed`);
  if (!p.aggregated) parts.push(p.not_aggregated ? `not aggregated: ${p.not_aggregated}` : 'not aggregated');
  if (p.seconds !== undefined) parts.push(`${num(p.seconds, 3)} s`);
  if (p.server !== undefined && p.server !== null) parts.push(`server ${p.server}`);
  if (p.term && series.cluster !== null) parts.push(`term ${p.term}`);
  if (p.reassigned) parts.push(`${p.reassigned} reassigned`);
  return parts.join(', ');
}

function clusteringGuide(rounds) {
  const hasCluster = rounds.series.some((s) => s.cluster !== null);
  return hasCluster && rounds.initial_rounds > 0 ? [{ x: rounds.initial_rounds + 0.5, label: 'clustering' }] : [];
}

// The rounds that were evaluated: rounds.eval_every may skip some, which then have no accuracy
// (the curve joins the evaluated ones instead of breaking at each skipped round).
function evaluated(points) {
  return points.filter((p) => p.accuracy !== undefined || p.test_loss !== undefined);
}

function drawAccuracy(el, run) {
  const r = run.rounds;
  if (!r.series.length) return note(el, 'No rounds recorded: metrics.jsonl is empty.');
  const series = r.series.map((s) => ({
    label: s.label, color: clusterColor(s.cluster),
    points: evaluated(s.points).map((p) => ({ x: p.x, y: p.accuracy, tip: pointTip(s, p) })),
  }));
  // One mark per kind and round (ten clusters electing in the same round make one mark whose
  // tooltip lists all ten), placed by the highest curve it is about.
  const grouped = new Map();
  for (const e of r.events) {
    const key = `${e.x}|${e.kind}`;
    const y = yAt(r.series, e.cluster, e.x, 'accuracy');
    const m = grouped.get(key);
    if (!m) grouped.set(key, { x: e.x, y, kind: e.kind, texts: [e.text] });
    else { m.texts.push(e.text); if (y !== null && (m.y === null || y > m.y)) m.y = y; }
  }
  const marks = [...grouped.values()].map((m) => ({ x: m.x, y: m.y, kind: m.kind,
    tip: m.texts.length > 1 ? `${m.texts.length} events:\n${m.texts.join('\n')}` : m.texts[0] }));
  el.insertAdjacentHTML('beforeend', lineChart({
    label: 'accuracy per round', series, marks, width: chartWidth(el), guides: clusteringGuide(r),
    xLabel: 'round (initial phase, then c1, c2, ... in each cluster)', yLabel: 'accuracy',
    xFormat: roundFormat(r.initial_rounds), yFormat: (v) => pct(v, 0),
    yDomain: ([lo, hi]) => [Math.max(0, lo), Math.min(1, hi)],
  }));
}

// Accuracy against the run's clock (sim_time_s): simulated under clock=virtual.
function drawSimTime(el, run) {
  const r = run.rounds;
  const timed = r.series.filter((s) => s.points.some((p) => typeof p.sim_time_s === 'number' && p.sim_time_s > 0));
  if (!timed.length) return note(el, 'No round records a time (sim_time_s): the run predates it.');
  const series = timed.map((s) => ({
    label: s.label, color: clusterColor(s.cluster),
    points: evaluated(s.points).map((p) => ({ x: p.sim_time_s, y: p.accuracy, tip: pointTip(s, p) })),
  }));
  el.insertAdjacentHTML('beforeend', lineChart({
    label: 'accuracy over time', series, width: chartWidth(el),
    xLabel: 'seconds into the run (simulated under clock=virtual)', yLabel: 'accuracy',
    xFormat: (v) => String(v), yFormat: (v) => pct(v, 0),
    yDomain: ([lo, hi]) => [Math.max(0, lo), Math.min(1, hi)],
  }));
}

// Every client's device, fastest to slowest (clock=virtual).
function drawDevices(el, run) {
  const devices = run.clients.filter((c) => typeof c.ms_per_sample === 'number' && c.ms_per_sample > 0);
  if (!devices.length) return note(el, 'No devices: the run used the wall clock (clock=virtual simulates devices).');
  const order = devices.slice().sort((a, b) => a.ms_per_sample - b.ms_per_sample || a.id - b.id);
  const tip = (c) => `client ${c.id}: ${c.ms_per_sample.toFixed(2)} ms a sample, ${(c.kbps / 1000).toFixed(2)} Mbit/s` +
    (c.server ? ' (cluster server)' : '');
  el.insertAdjacentHTML('beforeend', lineChart({
    label: 'device speeds', width: chartWidth(el),
    series: [{ label: 'ms per sample', color: '#0969da',
               points: order.map((c, i) => ({ x: i + 1, y: c.ms_per_sample, tip: tip(c) })) }],
    xLabel: 'clients, fastest device first', yLabel: 'ms per training sample',
    xFormat: (v) => String(v), yFormat: (v) => v.toFixed(1),
  }));
}

// How stale the aggregated updates were (strategy.mode=buffered|async): one bar per staleness.
function drawStaleness(el, run) {
  const counts = new Map();
  let dropped = 0, total = 0;
  for (const s of run.rounds.series)
    for (const p of s.points) {
      for (const v of p.staleness || []) { counts.set(v, (counts.get(v) || 0) + 1); ++total; }
      dropped += p.dropped_stale || 0;
    }
  if (!total) return note(el, 'No staleness recorded: the run aggregated in synchronous rounds (strategy.mode=sync).');
  const maxS = Math.max(...counts.keys());
  const W = chartWidth(el), H = 300;
  const box = { left: 64, right: W - 24, top: 20, bottom: H - 46 };
  const x = linear(-0.5, maxS + 0.5, box.left, box.right);
  const y = linear(0, Math.max(...counts.values()) * 1.05, box.bottom, box.top);
  const xTicks = niceTicks(0, maxS, 12).filter(Number.isInteger);
  let s = svgOpen(W, H, 'staleness histogram');
  s += axes(box, x, y, { xTicks, xFormat: (v) => String(v), yFormat: (v) => String(Math.round(v)),
                         xLabel: 'staleness (server versions behind when aggregated)', yLabel: 'updates' });
  const bw = Math.max(1, (x(1) - x(0)) * 0.8);
  for (const [v, n] of [...counts.entries()].sort((a, b) => a[0] - b[0]))
    s += `<rect x="${x(v) - bw / 2}" y="${y(n)}" width="${bw}" height="${box.bottom - y(n)}" fill="#0969da">` +
         title(`staleness ${v}: ${n} updates (${pct(n / total, 1)})`) + '</rect>';
  s += '</svg>';
  el.insertAdjacentHTML('beforeend', s);
  if (dropped) note(el, `${dropped} updates were dropped as staler than strategy.max_staleness.`);
}

function drawLoss(el, run) {
  const r = run.rounds;
  const series = [];
  for (const s of r.series) {
    const color = clusterColor(s.cluster);
    series.push({ label: `${s.label} (train)`, color,
                  points: s.points.map((p) => ({ x: p.x, y: p.train_loss, tip: pointTip(s, p) })) });
    if (s.points.some((p) => p.test_loss !== undefined))
      series.push({ label: `${s.label} (test)`, color, dash: '6 4',
                    points: evaluated(s.points).map((p) => ({ x: p.x, y: p.test_loss, tip: pointTip(s, p) })) });
  }
  if (!series.some((s) => s.points.some((p) => p.y !== undefined)))
    return note(el, 'No losses recorded.');
  el.insertAdjacentHTML('beforeend', lineChart({
    label: 'loss per round', series, guides: clusteringGuide(r), height: 340, width: chartWidth(el),
    xLabel: 'round', yLabel: 'loss', xFormat: roundFormat(r.initial_rounds), yFormat: (v) => num(v, 2),
    yDomain: ([lo, hi]) => [Math.max(0, lo), hi],
  }));
}

// Several runs on one curve each: the global model, then the clusters' sample-weighted mean.
function drawComparison(el, run, data) {
  const series = data.runs.map((r, i) => ({
    label: `${i}: ${r.name}`, color: runColor(i),
    points: r.rounds.overall.map((p) => ({ x: p.x, y: p.accuracy,
                                           tip: `${r.name}, step ${p.x}: ${pct(p.accuracy, 2)}` })),
  }));
  const initials = [...new Set(data.runs.map((r) => r.rounds.initial_rounds))];
  const guides = initials.map((v) => ({ x: v + 0.5, label: initials.length > 1 ? `clustering (${v} rounds)` : 'clustering' }));
  el.insertAdjacentHTML('beforeend', lineChart({
    label: 'accuracy of each run', series, guides, width: chartWidth(el),
    xLabel: initials.length === 1 ? 'round (initial phase, then cluster rounds c1, c2, ...)' : 'round, initial then cluster',
    xFormat: initials.length === 1 ? roundFormat(initials[0]) : (v) => String(v),
    yLabel: 'accuracy (clusters: sample-weighted mean)', yFormat: (v) => pct(v, 0),
    yDomain: ([lo, hi]) => [Math.max(0, lo), Math.min(1, hi)],
  }));
}
