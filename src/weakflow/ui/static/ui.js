// weakflow dashboard: keyboard shortcuts of the review queue, a confirmation before a model
// move, and the interactive time charts (uPlot, vendored in static/vendor/uplot). Everything
// also works without this script (buttons, links, required fields, and the charts' SVG).
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // Review queue: 1..9 press the matching label button, s follows the skip link.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var form = document.getElementById("review-form");
    if (!form) {
      return;
    }
    if (event.key === "s" || event.key === "S") {
      var skip = document.getElementById("skip");
      if (skip) {
        event.preventDefault();
        window.location.assign(skip.href);
      }
      return;
    }
    var button = form.querySelector('button[data-key="' + event.key + '"]');
    if (button && !form.dataset.sent) {
      event.preventDefault();
      button.click();
    }
  });

  // One submission per page: a double key press must not store two labels.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });

  // Time charts: each [data-chart] block has its data in <script type="application/json"
  // id="KEY-data"> (data, never run). Drawn with uPlot for hover values and drag-to-zoom
  // (double click resets); the server's SVG is hidden only once the chart is drawn.
  var HEIGHT = 280;

  function chartOptions(data, width) {
    var series = [{ label: "time (UTC)" }];
    var bands = [];
    data.series.forEach(function (s) {
      var index = series.length;
      if (data.bars) {
        series.push({
          label: s.label, stroke: s.color, fill: s.color + "cc", width: 1,
          paths: uPlot.paths.bars({ size: [0.8, Infinity], align: 0 }), points: { show: false }
        });
        return;
      }
      series.push({
        label: s.label, stroke: s.color, dash: s.dash, width: 1.5, spanGaps: true,
        points: { show: true, size: 5, fill: s.color }
      });
      if (s.low && s.high) {
        series.push({ label: s.label + ", interval high", stroke: s.color + "55", width: 0.5,
          spanGaps: true, points: { show: false } });
        series.push({ label: s.label + ", interval low", stroke: s.color + "55", width: 0.5,
          spanGaps: true, points: { show: false } });
        bands.push({ series: [index + 1, index + 2], fill: s.color + "26" });
      }
    });
    if (data.reference) {
      series.push({ label: data.reference.label, stroke: "#444444", dash: [4, 3], width: 1.1,
        points: { show: false } });
    }
    return {
      width: width,
      height: HEIGHT,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      series: series,
      bands: bands,
      scales: {
        x: {
          time: true,
          range: function (u, min, max) {
            var pad = data.bars ? 1800 : 0;  // half an hourly bucket each side
            return min === max ? [min - 3600, max + 3600] : [min - pad, max + pad];
          }
        },
        y: data.ylim ? { range: data.ylim } : { range: function (u, min, max) {
          var lo = Math.min(min, data.bars ? 0 : min), hi = max;
          return uPlot.rangeNum(lo, hi, 0.1, true);
        } }
      },
      axes: [{ space: 70 }, { label: data.ylabel }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true }
    };
  }

  function chartRows(data) {
    var rows = [data.x];
    data.series.forEach(function (s) {
      rows.push(s.y);
      if (!data.bars && s.low && s.high) {
        rows.push(s.high);
        rows.push(s.low);
      }
    });
    if (data.reference) {
      rows.push(data.x.map(function () { return data.reference.value; }));
    }
    return rows;
  }

  function drawChart(block) {
    var source = document.getElementById(block.dataset.chart + "-data");
    var svg = block.querySelector(".chart-svg");
    if (!source || !svg) {
      return;
    }
    var host = document.createElement("div");
    host.className = "chart-live";
    host.setAttribute("role", "img");
    host.setAttribute("aria-labelledby", block.dataset.labelledby);
    block.appendChild(host);
    try {
      var data = JSON.parse(source.textContent);
      var width = block.clientWidth || 800;
      var plot = new uPlot(chartOptions(data, width), chartRows(data), host);
      svg.hidden = true;
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          var now = block.clientWidth;
          if (now && Math.abs(now - plot.width) > 1) {
            plot.setSize({ width: now, height: HEIGHT });
          }
        }).observe(block);
      }
    } catch (error) {
      block.removeChild(host);  // keep the server's SVG
      svg.hidden = false;
      if (window.console) {
        window.console.warn("weakflow: chart " + block.dataset.chart + " kept as SVG:", error);
      }
    }
  }

  function drawCharts() {
    if (typeof window.uPlot !== "function") {
      return;  // uPlot not loaded (page without time charts, or blocked): the SVG stays
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), drawChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
