/* Home page: the last-run-state chart, drawn from the canvas's data-chart attribute. Each slice takes
   its state's colour from the palette in states.css, through the class the server names for it. */
(function () {
  "use strict";

  var canvas = document.querySelector("canvas[data-chart]");
  if (!canvas || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(canvas.getAttribute("data-chart"));
  var probe = document.createElement("span");
  probe.hidden = true;
  document.body.appendChild(probe);
  var colours = data.classes.map(function (name) {
    probe.className = name;
    return window.getComputedStyle(probe).getPropertyValue("--state-bg").trim() || "#868e96";
  });
  probe.remove();
  new window.Chart(canvas, {
    type: "doughnut",
    data: { labels: data.labels, datasets: [{ data: data.values, backgroundColor: colours }] },
    options: { plugins: { legend: { position: "bottom" } }, animation: false }
  });
})();
