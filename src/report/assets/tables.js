// Tables: clusters against true groups, server selection, the run's figures, its configuration
// and, for several runs, their comparison.

function tableHtml(headers, rows, opts = {}) {
  let s = `<table class="data ${opts.cls || ''}">`;
  if (opts.caption) s += `<caption>${opts.caption}</caption>`;
  if (headers) {
    s += '<thead><tr>';
    headers.forEach((h, i) => { s += `<th class="${(opts.numeric || []).includes(i) ? 'num' : ''}">${esc(h)}</th>`; });
    s += '</tr></thead>';
  }
  s += '<tbody>';
  for (const r of rows) {
    const cells = r.cells || r;
    s += `<tr class="${r.cls || ''}">`;
    cells.forEach((c, i) => { s += `<td class="${(opts.numeric || []).includes(i) ? 'num' : ''}">${c}</td>`; });
    s += '</tr>';
  }
  return s + '</tbody></table>';
}

function drawContingency(el, run) {
  const t = run.contingency;
  if (!t)
    return note(el, 'No true groups: only partitions that define them (partition.scheme = rotated) can be ' +
                    'compared with the clusters found.');
  const max = Math.max(1, ...t.counts.flat());
  const rows = t.clusters.map((c, r) => {
    const cells = [c === null ? 'unclustered' : `<span class="legend-swatch" style="background:${clusterColor(c)}"></span>cluster ${c}`];
    t.counts[r].forEach((n) => {
      const alpha = (0.08 + 0.6 * (n / max)).toFixed(2);
      cells.push(n === 0 ? '<span class="muted">·</span>' :
                 `<span style="display:inline-block;min-width:28px;padding:2px 6px;border-radius:3px;background:rgba(9,105,218,${alpha})">${n}</span>`);
    });
    cells.push(String(t.counts[r].reduce((a, b) => a + b, 0)));
    return cells;
  });
  let caption = `adjusted Rand index ${t.ari === undefined ? 'n/a' : num(t.ari, 3)}`;
  if (t.ari_source) caption += ` (${esc(t.ari_source)})`;
  caption += `, purity ${pct(t.purity, 1)}`;
  const headers = ['cluster \\ true group'].concat(t.groups.map((g) => `group ${g}`), ['clients']);
  el.insertAdjacentHTML('beforeend', tableHtml(headers, rows, {
    cls: 'contingency', caption, numeric: [headers.length - 1] }));
}

function drawSelection(el, run) {
  const sel = run.selection;
  if (!sel.clusters.length) return note(el, 'No clusters recorded.');
  let s = '';
  if (sel.rule) s += `<p class="note">Rule: ${esc(sel.rule)}</p>`;
  s += '<div class="scroll">';
  for (const c of sel.clusters) {
    const maxScore = Math.max(1e-9, ...c.members.map((m) => m.score || 0));
    const rows = c.members.map((m) => ({
      cls: m.chosen ? 'chosen' : '',
      cells: [String(m.client) + (m.chosen ? ' (server)' : ''), num(m.cpu, 4), num(m.mem, 4),
              `${num(m.score, 4)}<span class="bar" style="width:${(60 * (m.score || 0) / maxScore).toFixed(1)}px"></span>`,
              m.host_cpu === undefined ? '' : num(m.host_cpu, 3), m.host_mem === undefined ? '' : num(m.host_mem, 3),
              m.profiled ? 'profile' : 'measured'],
    }));
    let caption = `<span class="legend-swatch" style="background:${clusterColor(c.cluster)}"></span>cluster ${c.cluster}: server ${c.server === null ? 'none' : c.server}`;
    if (c.elections) caption += `, ${c.elections} election${c.elections > 1 ? 's' : ''} since`;
    if (c.failure) caption += ` <span class="error">failed: ${esc(c.failure)}</span>`;
    if (!rows.length) rows.push(['<span class="muted">no scores recorded</span>', '', '', '', '', '', '']);
    s += tableHtml(['client', 'cpu %', 'mem %', 'score (cpu + mem)', 'host cpu %', 'host mem %', 'load from'], rows,
                   { caption, numeric: [1, 2, 4, 5] });
  }
  el.insertAdjacentHTML('beforeend', s + '</div>');
}

function keyValueTable(rows, cls) {
  return tableHtml(null, rows.map(([k, v]) => [esc(k), esc(v)]), { cls: `kv ${cls}` });
}

function drawRunTable(el, run) {
  el.insertAdjacentHTML('beforeend', keyValueTable(run.run_table, 'run'));
}

function drawConfig(el, run) {
  if (!run.config_table.length) return note(el, 'config.json is empty.');
  el.insertAdjacentHTML('beforeend', '<div class="scroll">' + keyValueTable(run.config_table, 'config') + '</div>');
}

function drawComparisonTable(el, run, data) {
  const rows = data.runs.map((r, i) => [`<span style="white-space:nowrap"><span class="legend-swatch" style="background:${runColor(i)}"></span>${i}</span>`]
    .concat(data.comparison_columns.map((c) => esc(r.comparison[c]))));
  el.insertAdjacentHTML('beforeend', '<div class="scroll">' +
    tableHtml(['#'].concat(data.comparison_columns), rows, {}) + '</div>');
}
