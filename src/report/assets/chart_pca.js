// The clients' clustering features projected on their two principal components: colour is
// the cluster found, shape the true group, a ring marks each cluster's server. Both axes use
// one scale, so distances on screen compare like distances between the features.

function drawPca(el, run) {
  const pts = run.projection;
  if (!pts || !pts.length)
    return note(el, 'This run recorded no projection (clusters.json has no "projection"; runs written ' +
                    'before the report existed lack it).');
  const W = chartWidth(el), H = Math.round(Math.max(340, Math.min(480, 0.55 * W)));
  const groups = [...new Set(pts.map((p) => p.group).filter((g) => g !== null))].sort((a, b) => a - b);
  const shapeOf = (g) => (g === null ? 'circle' : SHAPES[groups.indexOf(g) % SHAPES.length]);
  const clusters = [...new Set(pts.map((p) => p.cluster))].sort((a, b) => (a === null) - (b === null) || a - b);
  const items = clusters.map((c) => ({ label: c === null ? 'unclustered' : `cluster ${c}`, color: clusterColor(c),
                                       shape: 'circle' }))
    .concat(groups.map((g) => ({ label: `group ${g}`, color: '#8c959f', shape: shapeOf(g) })))
    .concat([{ label: 'server', color: 'white', stroke: '#1f2328', shape: 'circle' }]);
  const leg = legend(items, 64, 16, W - 90);
  const box = { left: 64, right: W - 24, top: 24 + leg.height, bottom: H - 46 };
  const [x0, x1] = extent(pts.map((p) => p.x), 0.08);
  const [y0, y1] = extent(pts.map((p) => p.y), 0.08);
  // One scale for both axes: the larger spread fills its side, the other is centred.
  const k = Math.min((box.right - box.left) / (x1 - x0), (box.bottom - box.top) / (y1 - y0));
  const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
  const cxm = (box.left + box.right) / 2, cym = (box.top + box.bottom) / 2;
  const hx = (box.right - box.left) / 2 / k, hy = (box.bottom - box.top) / 2 / k;
  const x = linear(mx - hx, mx + hx, cxm - hx * k, cxm + hx * k);
  const y = linear(my - hy, my + hy, cym + hy * k, cym - hy * k);
  let s = svgOpen(W, H, 'PCA projection of the clustering features') + leg.svg;
  s += axes(box, x, y, { xLabel: 'principal component 1', yLabel: 'principal component 2',
                         xFormat: (v) => num(v, 2), yFormat: (v) => num(v, 2) });
  // Servers last, so their rings are on top.
  const order = pts.slice().sort((a, b) => a.server - b.server || a.client - b.client);
  for (const p of order) {
    const X = x(p.x), Y = y(p.y), r = p.server ? 8 : 6.5;
    const tip = `client ${p.client}: cluster ${p.cluster === null ? 'none' : p.cluster}` +
                (p.group !== null ? `, true group ${p.group}` : '') + (p.server ? ', server' : '') +
                (p.late ? ', joined late' : '') + ` (${num(p.x, 4)}, ${num(p.y, 4)})`;
    s += `<g class="point">${title(tip)}<path d="${shapePath(shapeOf(p.group), X, Y, r)}" fill="${clusterColor(p.cluster)}" fill-opacity="0.85" stroke="${p.server ? '#1f2328' : 'white'}" stroke-width="${p.server ? 2.5 : 1}"/>`;
    if (p.server)
      s += `<circle cx="${X}" cy="${Y}" r="${r + 4}" fill="none" stroke="#1f2328" stroke-width="1.2"/>` +
           `<text x="${X + r + 6}" y="${Y - r}" font-weight="600">S${p.cluster === null ? '' : p.cluster}</text>`;
    s += '</g>';
  }
  el.insertAdjacentHTML('beforeend', s + '</svg>');
}
