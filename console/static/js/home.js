// The home page's last-run-state chart (data from the canvas's data-chart attribute).
(function () {
  const canvas = document.getElementById("state-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(canvas.dataset.chart);
  const colours = { failed: "#e03131", running: "#1c7ed6", queued: "#adb5bd", success: "#2f9e44", "never run": "#dee2e6" };
  new Chart(canvas, {
    type: "doughnut",
    data: {
      labels: data.labels,
      datasets: [{ data: data.values, backgroundColor: data.labels.map((l) => colours[l] || "#f59f00") }],
    },
    options: { plugins: { legend: { position: "bottom" } }, animation: false },
  });
})();
