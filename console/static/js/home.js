/* Home page: the last-run-state chart, drawn from the canvas's data-chart attribute. */
(function () {
  "use strict";

  var canvas = document.querySelector("canvas[data-chart]");
  if (!canvas || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(canvas.getAttribute("data-chart"));
  var colours = { failed: "#e03131", running: "#1c7ed6", queued: "#adb5bd", success: "#2f9e44", "never run": "#dee2e6" };
  new window.Chart(canvas, {
    type: "doughnut",
    data: {
      labels: data.labels,
      datasets: [{ data: data.values, backgroundColor: data.labels.map(function (label) { return colours[label] || "#f59f00"; }) }]
    },
    options: { plugins: { legend: { position: "bottom" } }, animation: false }
  });
})();
