// Charts drawn from data the page carries, with Chart.js served from Kervan's own static files (never a CDN, never
// an inline script: the Content Security Policy forbids both). A card renders
//   <canvas data-chart="chart-data-id"></canvas>
//   <script type="application/json" id="chart-data-id">{"type": "bar", "data": {...}, "options": {...}}</script>
// (json_script makes the second safely) and this file draws every such canvas once the page has loaded. Without
// JavaScript the card's own table shows the same numbers.
(function () {
  "use strict";

  function money(currency) {
    var format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
      style: "currency", currency: currency, currencyDisplay: "narrowSymbol", maximumFractionDigits: 0,
    });
    return function (value) { return format.format(value); };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var config = JSON.parse(source.textContent);
    // A "money" axis (set by the card) shows its ticks and tooltips in the given currency.
    var axes = (config.options && config.options.scales) || {};
    Object.keys(axes).forEach(function (key) {
      var axis = axes[key];
      if (axis.currency) {
        var shown = money(axis.currency);
        axis.ticks = Object.assign({}, axis.ticks, { callback: shown });
        delete axis.currency;
      }
    });
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, config);
  }

  function drawAll(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.target); });
})();
