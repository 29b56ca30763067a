// Per client: its cluster's model on its local test split (filled, in the cluster's colour)
// against the initial phase's global model on the same split (hollow); the line between them
// is what personalization gained or lost.

function clientTip(c) {
  const parts = [`client ${c.id}`];
  const where = [];
  if (c.cluster !== null) where.push(`cluster ${c.cluster}`);
  else where.push('unclustered');
  if (c.group !== null) where.push(`true group ${c.group}`);
  if (c.server) where.push('cluster server');
  if (c.late) where.push('joined late');
  if (c.attacker) where.push('attacker');
  parts.push(`(${where.join(', ')})`);
  let s = parts.join(' ') + `: personalized ${pct(c.personalized, 2)}, initial global ${pct(c.initial, 2)}`;
  if (c.personalized !== null && c.initial !== null) {
    const gain = 100 * (c.personalized - c.initial);
    s += ` (${gain >= 0 ? '+' : ''}${gain.toFixed(1)} points)`;
  }
  if (c.train_samples !== undefined) s += `; ${c.train_samples} train / ${c.test_samples} test samples`;
  return s;
}

function drawClients(el, run) {
  const clients = run.clients.filter((c) => c.personalized !== null || c.initial !== null);
  if (!clients.length) return note(el, 'No per-client accuracies recorded (summary.json has no clients).');
  const clusterKey = (c) => (c === null ? Infinity : c);
  const order = clients.slice().sort((a, b) => clusterKey(a.cluster) - clusterKey(b.cluster) || a.id - b.id);
  const W = chartWidth(el), H = 360;
  const clusters = [...new Set(order.map((c) => c.cluster))];
  const items = clusters.map((c) => ({ label: c === null ? 'unclustered' : `cluster ${c}`, color: clusterColor(c),
                                       shape: 'circle' }))
    .concat([{ label: 'initial global model', color: '#57606a', shape: 'circle', hollow: true },
             { label: 'cluster server', color: 'white', stroke: '#1f2328', shape: 'circle' }]);
  if (order.some((c) => c.late)) items.push({ label: 'joined late', color: '#57606a', shape: 'triangle' });
  if (order.some((c) => c.attacker)) items.push({ label: 'attacker', color: BAD_COLOR, shape: 'cross' });
  const leg = legend(items, 64, 16, W - 90);
  const box = { left: 64, right: W - 24, top: 26 + leg.height, bottom: H - 46 };
  const values = [];
  for (const c of order) values.push(c.personalized, c.initial);
  const [lo, hi] = extent(values, 0.06);
  const y = linear(Math.max(0, lo), Math.min(1, hi), box.bottom, box.top);
  const step = (box.right - box.left) / order.length;
  const cx = (i) => box.left + step * (i + 0.5);
  const x = linear(0, order.length, box.left, box.right);
  let s = svgOpen(W, H, 'per-client accuracy') + leg.svg;
  // A light band behind each cluster's clients, labelled once.
  let start = 0;
  for (let i = 1; i <= order.length; ++i) {
    if (i < order.length && order[i].cluster === order[start].cluster) continue;
    const c = order[start].cluster;
    s += `<rect x="${x(start)}" y="${box.top}" width="${x(i) - x(start)}" height="${box.bottom - box.top}" fill="${clusterColor(c)}" opacity="0.07"/>`;
    s += `<text x="${(x(start) + x(i)) / 2}" y="${box.top - 6}" text-anchor="middle" class="muted">${c === null ? 'none' : 'cluster ' + c}</text>`;
    start = i;
  }
  s += axes(box, x, y, { xTicks: [], yFormat: (v) => pct(v, 0), yLabel: 'accuracy on the local test split' });
  // Client ids at least 30 pixels apart, so they never overlap.
  const every = Math.max(1, Math.ceil((order.length * 30) / (box.right - box.left)));
  order.forEach((c, i) => {
    if (i % every === 0)
      s += `<text x="${cx(i)}" y="${box.bottom + 15}" text-anchor="middle" class="muted">${c.id}</text>`;
  });
  s += `<text x="${(box.left + box.right) / 2}" y="${box.bottom + 34}" text-anchor="middle">client</text>`;
  const r = Math.max(1.2, Math.min(6, step / 3)), stem = Math.min(1.5, step / 3);
  order.forEach((c, i) => {
    const color = clusterColor(c.cluster), X = cx(i), tip = title(clientTip(c));
    s += '<g class="client">' + tip;
    if (c.personalized !== null && c.initial !== null)
      s += `<line x1="${X}" x2="${X}" y1="${y(c.initial)}" y2="${y(c.personalized)}" stroke="#8c959f" stroke-width="${stem}"/>`;
    if (c.initial !== null)
      s += `<path class="point" d="${shapePath(c.late ? 'triangle' : 'circle', X, y(c.initial), r)}" fill="white" stroke="#57606a" stroke-width="1.5">${tip}</path>`;
    if (c.personalized !== null) {
      s += `<path class="point" d="${shapePath(c.late ? 'triangle' : 'circle', X, y(c.personalized), r)}" fill="${color}" stroke="${c.server ? '#1f2328' : 'white'}" stroke-width="${c.server ? 2.2 : 1}">${tip}</path>`;
      if (c.server)
        s += `<circle cx="${X}" cy="${y(c.personalized)}" r="${r + 3}" fill="none" stroke="#1f2328" stroke-width="1"/>`;
    }
    if (c.attacker)
      s += `<path d="${shapePath('cross', X, box.top + 8, 5)}" fill="${BAD_COLOR}">${tip}</path>`;
    s += '</g>';
  });
  el.insertAdjacentHTML('beforeend', s + '</svg>');
}
