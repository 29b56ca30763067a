// Draws every element that names a kind (data-kind) with its run's data (data-run). A chart
// that fails shows why in place and on the console, and the others are still drawn; the page's
// data-report-status ends as "ok" only when every chart was drawn; data-render-ms says how long
// drawing took and data-page-height how tall the page is (for a full-page screenshot).

const DRAWERS = {
  accuracy: drawAccuracy,
  loss: drawLoss,
  simtime: drawSimTime,
  devices: drawDevices,
  staleness: drawStaleness,
  clients: drawClients,
  contingency: drawContingency,
  pca: drawPca,
  selection: drawSelection,
  timeline: drawTimeline,
  run: drawRunTable,
  config: drawConfig,
  'comparison-table': drawComparisonTable,
  'comparison-chart': drawComparison,
};

function renderReport() {
  const start = performance.now();
  const data = JSON.parse(document.getElementById('report-data').textContent);
  let failures = 0;
  for (const el of document.querySelectorAll('[data-kind]')) {
    const run = el.dataset.run === undefined ? null : data.runs[Number(el.dataset.run)];
    try {
      const draw = DRAWERS[el.dataset.kind];
      if (!draw) throw new Error(`no drawer for kind '${el.dataset.kind}'`);
      draw(el, run, data);
      el.dataset.rendered = 'yes';
    } catch (e) {
      ++failures;
      el.insertAdjacentHTML('beforeend', `<p class="error">This part could not be drawn: ${esc(e.message)}</p>`);
      console.error(`${el.id}: ${e && e.stack ? e.stack : e}`);
    }
  }
  document.documentElement.dataset.renderMs = (performance.now() - start).toFixed(1);
  document.documentElement.dataset.pageHeight = document.documentElement.scrollHeight;
  document.documentElement.dataset.reportStatus = failures ? 'errors' : 'ok';
}

renderReport();
