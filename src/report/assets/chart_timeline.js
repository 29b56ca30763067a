// Where the time went: the phases end to end on the top row, then one lane per model (the
// global model in the initial phase, each cluster after) with a bar per round. Clusters run in
// parallel, so their lanes overlap in time.

const PHASE_COLORS = ['#d0d7de', '#a5c8ed', '#f5c28b', '#9fd29a', '#d6b4d0', '#c9c9c9'];

function drawTimeline(el, run) {
  const t = run.timeline;
  if (!t.phases.length && !t.lanes.length) return note(el, 'No timing recorded.');
  const W = chartWidth(el), lane = 26, gap = 8;
  const rows = 1 + t.lanes.length;
  const box = { left: 130, right: W - 24, top: 12, bottom: 12 + rows * (lane + gap) };
  const H = box.bottom + 48;
  let end = t.total || 0;
  for (const l of t.lanes) for (const b of l.bars) end = Math.max(end, b.start + b.seconds);
  const x = linear(0, end > 0 ? end : 1, box.left, box.right);
  const y = (row) => box.top + row * (lane + gap);
  let s = svgOpen(W, H, 'timeline of the run');
  s += '<g class="grid">';
  for (const v of niceTicks(0, end, 10))
    s += `<line x1="${x(v)}" x2="${x(v)}" y1="${box.top}" y2="${box.bottom}"/>`;
  s += '</g>';
  s += `<text x="${box.left - 8}" y="${y(0) + lane / 2 + 4}" text-anchor="end">phases</text>`;
  t.phases.forEach((p, i) => {
    const w = Math.max(0.5, x(p.start + p.seconds) - x(p.start));
    s += `<g class="phase">${title(`${p.name}: ${num(p.seconds, 3)} s (from ${num(p.start, 3)} s)`)}` +
         `<rect x="${x(p.start)}" y="${y(0)}" width="${w}" height="${lane}" fill="${PHASE_COLORS[i % PHASE_COLORS.length]}" stroke="white"/>`;
    if (w > 7 * p.name.length)
      s += `<text x="${x(p.start) + w / 2}" y="${y(0) + lane / 2 + 4}" text-anchor="middle">${esc(p.name)}</text>`;
    s += '</g>';
  });
  t.lanes.forEach((l, i) => {
    const row = i + 1, color = clusterColor(l.cluster);
    s += `<text x="${box.left - 8}" y="${y(row) + lane / 2 + 4}" text-anchor="end">${esc(l.label)}</text>`;
    for (const b of l.bars) {
      const w = Math.max(0.5, x(b.start + b.seconds) - x(b.start));
      const bad = b.failures > 0 || !b.aggregated;
      const tip = `${l.label}, round ${b.round}: ${num(b.seconds, 3)} s from ${num(b.start, 3)} s` +
                  (b.failures > 0 ? `, ${b.failures} failed` : '') + (b.aggregated ? '' : ', quorum missed');
      s += `<g class="bar">${title(tip)}<rect x="${x(b.start)}" y="${y(row) + 3}" width="${w}" height="${lane - 6}" rx="2" ` +
           `fill="${b.aggregated ? color : 'white'}" fill-opacity="0.85" stroke="${bad ? BAD_COLOR : 'white'}" stroke-width="${bad ? 2 : 1}"/>`;
      if (w > 22) s += `<text x="${x(b.start) + w / 2}" y="${y(row) + lane / 2 + 4}" text-anchor="middle">${b.round}</text>`;
      s += '</g>';
    }
  });
  for (const m of t.marks) {
    const st = MARK_STYLES[m.kind] || MARK_STYLES.failure;
    s += `<path class="mark" d="${shapePath(st.shape, x(m.t), y(m.lane + 1) + 2, 5)}" fill="${st.hollow ? 'white' : st.color}" stroke="${st.color}">${title(m.text)}</path>`;
  }
  s += '<g class="axis">';
  s += `<line x1="${box.left}" x2="${box.right}" y1="${box.bottom}" y2="${box.bottom}"/>`;
  for (const v of niceTicks(0, end, 10))
    s += `<text x="${x(v)}" y="${box.bottom + 16}" text-anchor="middle" class="muted">${num(v)}</text>`;
  s += `<text x="${(box.left + box.right) / 2}" y="${box.bottom + 36}" text-anchor="middle">seconds since the run started</text></g>`;
  el.insertAdjacentHTML('beforeend', s + '</svg>');
}
