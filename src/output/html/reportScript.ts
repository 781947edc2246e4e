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

  function shade(v, min, max, higherIsBetter) {
    var t = max === min || min === null ? 1 : (v - min) / (max - min);
    if (!higherIsBetter) t = 1 - t;
    t = 0.15 + 0.85 * t;
    var lo = [220, 252, 231], hi = [20, 83, 45];
    return "rgb(" + lo.map(function (a, i) { return Math.round(a + (hi[i] - a) * t); }).join(",") + ")";
  }
  // Draws the tiles of a heatmap under its (invisible) points: Chart.js has no matrix chart.
  var heatmapTiles = {
    id: "heatmapTiles",
    beforeDatasetsDraw: function (chart) {
      var h = chart.config.options.heatmap;
      var ctx = chart.ctx, xs = chart.scales.x, ys = chart.scales.y;
      var w = (xs.right - xs.left) / h.x_values.length, hh = (ys.bottom - ys.top) / h.y_labels.length;
      ctx.save();
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      h.tiles.forEach(function (t) {
        var cx = xs.getPixelForValue(h.x_values.indexOf(t.x)), cy = ys.getPixelForValue(h.y_labels.indexOf(t.y));
        var x0 = cx - w / 2 + 1, y0 = cy - hh / 2 + 1, tw = w - 2, th = hh - 2;
        var dark = false;
        if (t.status === "feasible") {
          ctx.fillStyle = shade(t.value, h.min, h.max, h.higher_is_better);
          ctx.fillRect(x0, y0, tw, th);
          var tt = h.max === h.min ? 1 : (t.value - h.min) / (h.max - h.min);
          dark = (h.higher_is_better ? tt : 1 - tt) > 0.5;
        } else {
          ctx.fillStyle = t.status === "failed" || t.status === "wont_fit" ? "#fee2e2" : "#e5e7eb";
          ctx.fillRect(x0, y0, tw, th);
          ctx.save();
          ctx.beginPath(); ctx.rect(x0, y0, tw, th); ctx.clip();
          ctx.strokeStyle = t.status === "failed" || t.status === "wont_fit" ? "#fca5a5" : "#9ca3af";
          ctx.lineWidth = 1;
          for (var d = -th; d < tw; d += 10) { ctx.beginPath(); ctx.moveTo(x0 + d, y0 + th); ctx.lineTo(x0 + d + th, y0); ctx.stroke(); }
          ctx.restore();
        }
        var label = t.text;
        ctx.fillStyle = dark ? "#ffffff" : "#111827";
        ctx.fillText(label, cx, cy, tw - 4);
      });
      ctx.restore();
    }
  };
  // Max over min of positive values: a log axis reads a range of powers of two (1 to 512) better.
  function spread(values) {
    var pos = values.filter(function (v) { return v !== null && v > 0; });
    if (pos.length === 0 || pos.length !== values.filter(function (v) { return v !== null; }).length) return 1;
    return Math.max.apply(null, pos) / Math.min.apply(null, pos);
  }
  function unique(values) {
    return values.filter(function (v, i) { return values.indexOf(v) === i; }).sort(function (a, b) { return a - b; });
  }
  function statusStyle(feasible) { return feasible ? "circle" : "crossRot"; }

  (data.sweeps || []).forEach(function (s, k) {
    var p = "s" + k + "-";
    if (s.heatmap) {
      var h = s.heatmap;
      h.higher_is_better = s.higher_is_better;
      // A category axis runs top to bottom: reversed, the largest value is at the top.
      h.y_labels = h.y_values.slice().reverse();
      chart(p + "heatmap", {
        type: "scatter",
        data: { datasets: [{ label: s.objective_label, data: h.tiles.map(function (t) { return { x: t.x, y: t.y, tile: t }; }), pointRadius: 0, pointHoverRadius: 0, pointHitRadius: 40 }] },
        options: {
          heatmap: h,
          interaction: { mode: "nearest", intersect: false },
          plugins: { legend: { display: false },
            title: { display: true, text: s.objective_label + " (" + s.objective_unit + ") by " + h.x_axis + " and " + h.y_axis + (h.folded.length ? ", best over " + h.folded.join(", ") : "") },
            tooltip: { callbacks: {
              title: function (items) { var t = items[0].raw.tile; return h.x_axis + "=" + t.x + "  " + h.y_axis + "=" + t.y; },
              label: function (c) { return c.raw.tile.lines; } } } },
          scales: {
            x: { type: "category", labels: h.x_values, offset: true, grid: { display: false }, title: { display: true, text: h.x_axis } },
            y: { type: "category", labels: h.y_labels, offset: true, grid: { display: false }, title: { display: true, text: h.y_axis } }
          }
        },
        plugins: [heatmapTiles]
      });
    }
    if (s.curves) {
      var cv = s.curves;
      var xs = [];
      cv.series.forEach(function (se) { se.points.forEach(function (q) { xs.push(q.x); }); });
      var logX = spread(xs) >= 8;
      [["tps", "output tokens/s", "Throughput"], ["ttft_p95_ms", "ms", "TTFT p95"]].forEach(function (m, j) {
        chart(p + (j === 0 ? "tps" : "ttft"), {
          type: "line",
          data: { datasets: cv.series.map(function (se, i) {
            return { label: se.label, data: se.points.map(function (q) { return { x: q.x, y: q[m[0]], feasible: q.feasible, cell: q.cell }; }),
              borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
              pointStyle: se.points.map(function (q) { return statusStyle(q.feasible); }), pointRadius: 5, spanGaps: true };
          }) },
          options: { plugins: { title: { display: true, text: m[2] + " against " + cv.x_axis + " (× = not feasible)" },
              tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + round(c.raw.y) + " " + m[1] + " (cell #" + c.raw.cell + (c.raw.feasible ? "" : ", not feasible") + ")"; } } } },
            scales: { x: axis(cv.x_axis + (logX ? " (log scale)" : ""), logX ? {
                type: "logarithmic",
                // A tick at each value swept (1, 2, 4 ... 512), not the log scale's 1.1, 1.2, 1.3 ...
                afterBuildTicks: function (scale) { scale.ticks = unique(xs).map(function (v) { return { value: v }; }); },
                ticks: { callback: function (v) { return String(v); } }
              } : { type: "linear" }), y: axis(m[1], { beginAtZero: true }) } }
        });
      });
    }
    if (s.pareto.points.length > 0) {
      var pts = s.pareto.points;
      var byCell = {};
      pts.forEach(function (q) { byCell[q.cell] = q; });
      var front = s.pareto.front.map(function (i) { return byCell[i]; });
      var logT = spread(pts.map(function (q) { return q.ttft_p95_ms; })) >= 20;
      var xy = function (q) { return { x: q.ttft_p95_ms, y: q.tps, label: q.label, cell: q.cell }; };
      chart(p + "pareto", {
        type: "scatter",
        data: { datasets: [
          { label: "Pareto front", data: front.map(xy), showLine: true, borderColor: palette[1], backgroundColor: palette[1], pointRadius: 6, pointStyle: "rectRot" },
          { label: "feasible", data: pts.filter(function (q) { return q.feasible; }).map(xy), backgroundColor: palette[2], pointRadius: 4 },
          { label: "not feasible", data: pts.filter(function (q) { return !q.feasible; }).map(xy), borderColor: "#9ca3af", backgroundColor: "#9ca3af", pointStyle: "crossRot", pointRadius: 5 }
        ] },
        options: { plugins: { title: { display: true, text: "Output throughput against TTFT p95, every measured cell" },
            tooltip: { callbacks: { label: function (c) { return "#" + c.raw.cell + " " + c.raw.label + ": " + round(c.raw.y) + " tok/s at " + round(c.raw.x) + " ms"; } } } },
          scales: { x: axis("TTFT p95 (ms)" + (logT ? ", log scale" : ""), { type: logT ? "logarithmic" : "linear" }), y: axis("output tokens/s", { beginAtZero: true }) } }
      });
    }
  });

  (data.tunes || []).forEach(function (t, k) {
    if (t.trials.length === 0) return;
    var colours = { feasible: palette[2], infeasible: palette[4], failed: palette[1] };
    var sets = ["feasible", "infeasible"].map(function (st) {
      return { type: "scatter", label: st + " trials", data: t.trials.filter(function (x) { return x.status === st && x.value !== null; }).map(function (x) { return { x: x.index, y: x.value, knobs: x.knobs }; }),
        backgroundColor: colours[st], borderColor: colours[st], pointStyle: statusStyle(st === "feasible"), pointRadius: 5 };
    });
    sets.unshift({ type: "line", label: "best so far", data: t.trials.map(function (x) { return { x: x.index, y: x.best_so_far }; }), stepped: true, borderColor: palette[0], pointRadius: 0, spanGaps: false });
    var failed = t.trials.filter(function (x) { return x.status === "failed"; }).length;
    chart("t" + k + "-progress", {
      type: "scatter",
      data: { datasets: sets },
      options: { plugins: { title: { display: true, text: "Best " + t.objective + " so far against trials" + (failed ? " (" + failed + " failed trials not drawn)" : "") },
          tooltip: { callbacks: { label: function (c) { return (c.raw.knobs ? c.raw.knobs + ": " : c.dataset.label + ": ") + round(c.raw.y) + " " + t.objective_unit; } } } },
        scales: { x: axis("trial", { type: "linear", ticks: { precision: 0 } }), y: axis(t.objective + " (" + t.objective_unit + ")") } }
    });
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
