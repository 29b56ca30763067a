'use strict';
// Drawing helpers shared by every chart. Charts are built as SVG markup text and inserted once:
// the HTML parser puts <svg> in its namespace, so the page never names a namespace URI, and
// hover details are native <title> tooltips, so no event handlers are needed.

const CLUSTER_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1',
                        '#ff9da7', '#9c755f', '#bab0ac'];
const GLOBAL_COLOR = '#3b3b3b';
const BAD_COLOR = '#cf222e';
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'triangle-down', 'hexagon'];

function esc(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;',
                                                     "'": '&#39;'})[c]);
}

function clusterColor(cluster) {
  if (cluster === null || cluster === undefined) return GLOBAL_COLOR;
  return CLUSTER_COLORS[((cluster % CLUSTER_COLORS.length) + CLUSTER_COLORS.length) % CLUSTER_COLORS.length];
}

function runColor(index) {
  return CLUSTER_COLORS[index % CLUSTER_COLORS.length];
}

function pct(x, digits = 1) {
  return x === null || x === undefined ? 'n/a' : (100 * x).toFixed(digits) + '%';
}

function num(x, digits = 3) {
  if (x === null || x === undefined) return 'n/a';
  return Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : String(+x.toPrecision(digits));
}

// A linear map from [d0, d1] to [r0, r1]; a zero-width domain maps to the middle.
function linear(d0, d1, r0, r1) {
  const span = d1 - d0;
  const f = (x) => (span === 0 ? (r0 + r1) / 2 : r0 + ((x - d0) / span) * (r1 - r0));
  f.domain = [d0, d1];
  return f;
}

// About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart).
function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

// The extent of the values, widened when it is a single value so a scale has room.
function extent(values, pad = 0) {
  const v = values.filter((x) => x !== null && x !== undefined && isFinite(x));
  if (v.length === 0) return [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 0.5; hi += Math.abs(hi) * 0.05 || 0.5; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

// Charts are drawn at the width their element has on screen (text stays readable in narrow
// side-by-side panels) and scale with the page afterwards.
function chartWidth(el) {
  const w = el.clientWidth || 960;
  return Math.round(Math.max(380, Math.min(1400, w)));
}

function svgOpen(width, height, label) {
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}">`;
}

function title(text) {
  return `<title>${esc(text)}</title>`;
}

// Axes and light grid lines for a plot area box = {left, top, right, bottom}.
function axes(box, x, y, opts) {
  const xt = opts.xTicks || niceTicks(x.domain[0], x.domain[1], opts.xCount || 8);
  const yt = opts.yTicks || niceTicks(y.domain[0], y.domain[1], 5);
  const fx = opts.xFormat || ((v) => num(v)), fy = opts.yFormat || ((v) => num(v));
  let s = '<g class="grid">';
  for (const t of yt) s += `<line x1="${box.left}" x2="${box.right}" y1="${y(t)}" y2="${y(t)}"/>`;
  s += '</g><g class="axis">';
  s += `<line x1="${box.left}" x2="${box.right}" y1="${box.bottom}" y2="${box.bottom}"/>`;
  s += `<line x1="${box.left}" x2="${box.left}" y1="${box.top}" y2="${box.bottom}"/>`;
  for (const t of xt) {
    s += `<line x1="${x(t)}" x2="${x(t)}" y1="${box.bottom}" y2="${box.bottom + 4}"/>`;
    s += `<text x="${x(t)}" y="${box.bottom + 16}" text-anchor="middle" class="muted">${esc(fx(t))}</text>`;
  }
  for (const t of yt) {
    s += `<line x1="${box.left - 4}" x2="${box.left}" y1="${y(t)}" y2="${y(t)}"/>`;
    s += `<text x="${box.left - 7}" y="${y(t) + 4}" text-anchor="end" class="muted">${esc(fy(t))}</text>`;
  }
  if (opts.xLabel)
    s += `<text x="${(box.left + box.right) / 2}" y="${box.bottom + 32}" text-anchor="middle">${esc(opts.xLabel)}</text>`;
  if (opts.yLabel)
    s += `<text transform="translate(14 ${(box.top + box.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`;
  return s + '</g>';
}

// A marker path of the given shape centred on (x, y), r its half-size.
function shapePath(shape, x, y, r) {
  const pts = (list) => 'M' + list.map(([a, b]) => `${(x + a * r).toFixed(2)},${(y + b * r).toFixed(2)}`).join('L') + 'Z';
  switch (shape) {
    case 'square': return pts([[-0.85, -0.85], [0.85, -0.85], [0.85, 0.85], [-0.85, 0.85]]);
    case 'triangle': return pts([[0, -1.1], [1, 0.8], [-1, 0.8]]);
    case 'triangle-down': return pts([[0, 1.1], [1, -0.8], [-1, -0.8]]);
    case 'diamond': return pts([[0, -1.2], [1, 0], [0, 1.2], [-1, 0]]);
    case 'cross': return pts([[-0.35, -1], [0.35, -1], [0.35, -0.35], [1, -0.35], [1, 0.35], [0.35, 0.35], [0.35, 1],
                              [-0.35, 1], [-0.35, 0.35], [-1, 0.35], [-1, -0.35], [-0.35, -0.35]]);
    case 'star': {
      const list = [];
      for (let i = 0; i < 10; ++i) {
        const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? 0.5 : 1.2;
        list.push([Math.cos(a) * rr, Math.sin(a) * rr]);
      }
      return pts(list);
    }
    case 'hexagon': {
      const list = [];
      for (let i = 0; i < 6; ++i) list.push([Math.cos((i * Math.PI) / 3), Math.sin((i * Math.PI) / 3)]);
      return pts(list);
    }
    default:
      return `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0Z`;
  }
}

// A row of legend entries: [{label, color, shape?, dash?, hollow?}], wrapped to the width.
function legend(items, x, y, width) {
  let s = '<g class="legend">', cx = x, cy = y;
  for (const it of items) {
    const w = 34 + 7.4 * String(it.label).length;
    if (cx + w > x + width && cx > x) { cx = x; cy += 18; }
    if (it.shape) {
      s += `<path d="${shapePath(it.shape, cx + 6, cy - 4, 5)}" fill="${it.hollow ? 'white' : it.color}" stroke="${it.stroke || it.color}" stroke-width="1.5"/>`;
    } else {
      s += `<line x1="${cx}" x2="${cx + 14}" y1="${cy - 4}" y2="${cy - 4}" stroke="${it.color}" stroke-width="3"` +
           (it.dash ? ` stroke-dasharray="${it.dash}"` : '') + '/>';
    }
    s += `<text x="${cx + 19}" y="${cy}">${esc(it.label)}</text>`;
    cx += w;
  }
  return { svg: s + '</g>', height: cy - y + 18 };
}

function note(el, text) {
  el.insertAdjacentHTML('beforeend', `<p class="note">${esc(text)}</p>`);
}
