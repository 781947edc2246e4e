/**
 * The report page's own script (browser JavaScript, run once the data and Chart.js are in the
 * page). It reads the data from a JSON `<script>` element and draws every chart; text from runs
 * only ever reaches the page through Chart.js (drawn on a canvas) or `textContent`, never as HTML.
 * Each canvas gets `data-drawn="1"` once its chart has rendered, and `window.tokbenchCharts` counts
 * them: what the browser test checks.
 */
export const REPORT_SCRIPT = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var drawn = 0;
  window.tokbenchCharts = { expected: document.querySelectorAll("canvas[data-chart]").length, drawn: 0, errors: [] };
  var palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.size = 11;
  var markDrawn = {
    id: "markDrawn",
    afterRender: function (chart) {
      if (chart.canvas.getAttribute("data-drawn") !== "1") {
        chart.canvas.setAttribute("data-drawn", "1");
        drawn += 1;
        window.tokbenchCharts.drawn = drawn;
      }
    }
  };
  Chart.register(markDrawn);
  function canvas(id) { return document.querySelector('canvas[data-chart="' + id + '"]'); }
  function chart(id, config) {
    var c = canvas(id);
    if (!c) return;
    try { new Chart(c, config); } catch (e) { window.tokbenchCharts.errors.push(String(e)); throw e; }
  }
  function axis(title, extra) { var o = { title: { display: true, text: title } }; for (var k in extra || {}) o[k] = extra[k]; return o; }
  function round(x) { return Math.round(x * 1000) / 1000; }

  data.runs.forEach(function (run, r) {
    var p = "r" + r + "-";
    run.distributions.forEach(function (d) {
      var labels = d.bins.counts.map(function (_, i) { return round(d.bins.from + (i + 0.5) * d.bins.width); });
      chart(p + "hist-" + d.metric, {
        type: "bar",
        data: { labels: labels, datasets: [{ label: d.label + " (" + d.unit + ")", data: d.bins.counts, backgroundColor: palette[0], barPercentage: 1, categoryPercentage: 1 }] },
        options: { plugins: { legend: { display: false }, title: { display: true, text: d.label + ": histogram (tail above p99.9 in the last bar)" } },
          scales: { x: axis(d.unit, { ticks: { maxTicksLimit: 10 } }), y: axis("samples") } }
      });
      var marks = [];
      ["p50", "p90", "p95", "p99"].forEach(function (k) {
        var v = d.percentiles[k];
        if (v === null) return;
        var y = 0;
        for (var i = 0; i < d.cdf.length; i++) { if (d.cdf[i][0] <= v) y = d.cdf[i][1]; }
        marks.push({ x: v, y: y, label: k });
      });
      chart(p + "cdf-" + d.metric, {
        type: "scatter",
        data: { datasets: [
          { label: "CDF", data: d.cdf.map(function (q) { return { x: q[0], y: q[1] }; }), showLine: true, pointRadius: 0, borderColor: palette[0], stepped: true },
          { label: "percentiles", data: marks, pointRadius: 5, pointStyle: "crossRot", borderColor: palette[1], backgroundColor: palette[1] }
        ] },
        options: { plugins: { title: { display: true, text: d.label + ": CDF, " + marks.map(function (m) { return m.label + " " + round(m.x); }).join(", ") },
          tooltip: { callbacks: { label: function (c) { return (c.raw.label ? c.raw.label + ": " : "") + round(c.raw.x) + " " + d.unit + " (" + (c.raw.y * 100).toFixed(1) + " %)"; } } } },
          scales: { x: axis(d.unit, { type: "linear" }), y: axis("fraction of samples", { min: 0, max: 1 }) } }
      });
    });
    if (run.timeline) {
      var t = run.timeline.requests;
      var labels = t.map(function (_, i) { return String(i * run.timeline.every); });
      var wait = t.map(function (q) { return [q[0] / 1000, q[1] / 1000]; });
      var toFirst = t.map(function (q) { return [q[1] / 1000, (q[2] === null ? q[3] : q[2]) / 1000]; });
      var decode = t.map(function (q) { return q[2] === null ? null : [q[2] / 1000, q[3] / 1000]; });
      chart(p + "timeline", {
        type: "bar",
        data: { labels: labels, datasets: [
          { label: "planned → sent (dispatch lag)", data: wait, backgroundColor: palette[4] },
          { label: "sent → first token", data: toFirst, backgroundColor: palette[1] },
          { label: "first token → end", data: decode, backgroundColor: palette[0] }
        ] },
        options: { indexAxis: "y", grouped: false, plugins: { title: { display: true, text: "Per-request timeline" + (run.timeline.every > 1 ? " (every " + run.timeline.every + "th of " + run.timeline.total + " requests)" : "") } },
          scales: { x: axis("seconds since the run started"), y: axis("request", { ticks: { maxTicksLimit: 20 } }) } }
      });
    }
    if (run.throughput) {
      var tp = run.throughput;
      chart(p + "throughput", {
        type: "line",
        data: { labels: tp.t_s.map(round), datasets: [
          { label: "output tok/s", data: tp.output_tps, borderColor: palette[0], yAxisID: "y", pointRadius: 0 },
          { label: "requests in flight (mean)", data: tp.in_flight, borderColor: palette[1], yAxisID: "y1", pointRadius: 0 }
        ] },
        options: { plugins: { title: { display: true, text: "Throughput and requests in flight (" + tp.bin_s + " s bins)" } },
          scales: { x: axis("seconds", { ticks: { maxTicksLimit: 12 } }), y: axis("output tok/s", { position: "left" }), y1: axis("in flight", { position: "right", grid: { drawOnChartArea: false } }) } }
      });
    }
    if (run.resources) {
      var rs = run.resources;
      var sets = [
        { label: "RSS (MiB)", data: rs.rss_mb, yAxisID: "y" },
        { label: "CPU (%)", data: rs.cpu_percent, yAxisID: "y1" },
        { label: "GPU memory (MiB)", data: rs.gpu_memory_mb, yAxisID: "y" },
        { label: "GPU utilization (%)", data: rs.gpu_utilization_percent, yAxisID: "y1" },
        { label: "disk read (MiB, cumulative)", data: rs.disk_read_mb, yAxisID: "y" },
        { label: "disk written (MiB, cumulative)", data: rs.disk_write_mb, yAxisID: "y" }
      ].filter(function (s) { return s.data.some(function (v) { return v !== null; }); })
       .map(function (s, i) { s.borderColor = palette[i % palette.length]; s.pointRadius = 0; s.spanGaps = true; return s; });
      chart(p + "resources", {
        type: "line",
        data: { labels: rs.t_s.map(round), datasets: sets },
        options: { plugins: { title: { display: true, text: "Resource use over time" } },
          scales: { x: axis("seconds", { ticks: { maxTicksLimit: 12 } }), y: axis("MiB", { position: "left" }), y1: axis("%", { position: "right", min: 0, grid: { drawOnChartArea: false } }) } }
      });
    }
    if (run.tests.length > 0) {
      var names = run.tests.map(function (x) { return x.name; });
      var points = [];
      run.tests.forEach(function (x) { x.samples.forEach(function (v) { points.push({ x: x.name, y: v }); }); });
      chart(p + "tests", {
        data: { labels: names, datasets: [
          { type: "bar", label: "mean t/s", data: run.tests.map(function (x) { return x.avg_ts; }), backgroundColor: "rgba(37,99,235,0.5)" },
          { type: "scatter", label: "each repetition", data: points, backgroundColor: palette[1], pointRadius: 3 },
          { type: "scatter", label: "engine's own t/s", data: run.tests.map(function (x) { return { x: x.name, y: x.engine_ts }; }), backgroundColor: palette[2], pointStyle: "triangle", pointRadius: 5 }
        ] },
        options: { plugins: { title: { display: true, text: "llama-bench-style tests: mean, each repetition, engine's own rate" } }, scales: { x: { type: "category" }, y: axis("tokens/s", { beginAtZero: true }) } }
      });
    }
    if (run.server_vs_client.length > 0) {
      chart(p + "server", {
        type: "bar",
        data: { labels: run.server_vs_client.map(function (x) { return x.label; }), datasets: [
          { label: "measured by tokbench", data: run.server_vs_client.map(function (x) { return x.client; }), backgroundColor: palette[0] },
          { label: "reported by the server / engine", data: run.server_vs_client.map(function (x) { return x.server; }), backgroundColor: palette[2] }
        ] },
        options: { plugins: { title: { display: true, text: "Client-measured rates beside the server's or engine's own" } }, scales: { y: axis("tokens/s", { beginAtZero: true }) } }
      });
    }
  });

  if (data.comparison) {
    var rows = data.comparison.rows.filter(function (x) { return x.comparisons.some(function (c) { return c.ratio !== null; }); });
    var sets = [];
    data.comparison.runs.slice(1).forEach(function (run, i) {
      sets.push({ type: "bar", label: String.fromCharCode(66 + i) + "/A, 95 % interval", data: rows.map(function (x) { var c = x.comparisons[i]; return c.low === null ? null : [c.low, c.high]; }), backgroundColor: "rgba(37,99,235,0.35)" });
      sets.push({ type: "scatter", label: String.fromCharCode(66 + i) + "/A", data: rows.map(function (x) { var c = x.comparisons[i]; return { x: c.ratio, y: x.name + " " + x.stat }; }), backgroundColor: palette[1], pointRadius: 4 });
    });
    chart("comparison", {
      data: { labels: rows.map(function (x) { return x.name + " " + x.stat; }), datasets: sets },
      options: { indexAxis: "y", grouped: false, plugins: { title: { display: true, text: "Ratios to run A with their 95 % intervals (1 = no change)" } }, scales: { x: axis("ratio to A"), y: { type: "category" } } }
    });
  }
})();
`;
