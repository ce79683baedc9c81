/* Home dashboard: draws each canvas[data-chart] with Chart.js (colours from the state palette in
   states.css, through the class the server names for each dataset), links every bar or point to
   the list behind it, refreshes the board from /admin/board every data-refresh-seconds while the
   tab is visible, and shows how old the data is. */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var ageLabel = document.querySelector("[data-testid=data-age]");
  var errorLabel = document.querySelector("[data-testid=refresh-error]");
  var refreshMs = Math.max(5, parseInt(root.getAttribute("data-refresh-seconds"), 10) || 30) * 1000;
  var charts = [];
  var timer = null;

  function paletteColour(className) {
    var probe = document.createElement("span");
    probe.hidden = true;
    probe.className = className;
    document.body.appendChild(probe);
    var colour = window.getComputedStyle(probe).getPropertyValue("--state-bg").trim() || "#868e96";
    probe.remove();
    return colour;
  }

  function linkOf(dataset, index) {
    return (dataset.links && dataset.links[index]) || dataset.link || null;
  }

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var horizontal = !!spec.horizontal;
    var datasets = spec.datasets.map(function (d) {
      var colour = paletteColour(d["class"]);
      return {
        label: d.label, data: d.data, links: d.links, link: d.link,
        backgroundColor: colour, borderColor: colour, spanGaps: true, pointRadius: 4, maxBarThickness: 28
      };
    });
    var scales = {
      x: { stacked: !!spec.stacked, ticks: { autoSkip: true, maxRotation: 0 } },
      y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { autoSkip: !horizontal } }
    };
    if (spec.max) { scales.y.max = spec.max; }
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: { legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } } },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var hit = elements[0];
          var url = linkOf(datasets[hit.datasetIndex], hit.index);
          if (url) { window.location.assign(url); }
        }
      }
    });
    canvas.setAttribute("data-drawn", "yes");
    charts.push(chart);
  }

  function drawAll() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    if (typeof window.Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  function ago(iso) {
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 90) { return seconds + " s ago"; }
    if (seconds < 5400) { return Math.round(seconds / 60) + " min ago"; }
    return Math.round(seconds / 3600) + " h ago";
  }

  function showAge() {
    var board = root.querySelector("[data-fetched-at]");
    if (board && ageLabel) {
      ageLabel.textContent = "data fetched " + ago(board.getAttribute("data-fetched-at"));
      ageLabel.setAttribute("data-fetched-at", board.getAttribute("data-fetched-at"));
    }
    root.querySelectorAll("[data-age-of]").forEach(function (el) {
      el.textContent = "data fetched " + ago(el.getAttribute("data-age-of"));
    });
  }

  function refresh() {
    fetch(root.getAttribute("data-board-url"), {
      credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, redirect: "error"
    }).then(function (response) {
      if (!response.ok) { throw new Error("the console answered " + response.status); }
      return response.text();
    }).then(function (html) {
      var holder = document.createElement("div");
      holder.innerHTML = html;
      if (!holder.querySelector("[data-testid=dash-board]")) { throw new Error("unexpected answer"); }
      root.replaceChildren.apply(root, Array.prototype.slice.call(holder.childNodes));
      errorLabel.hidden = true;
      drawAll();
      showAge();
    }).catch(function (error) {
      errorLabel.textContent = "Refresh failed (" + error.message + "); showing older data.";
      errorLabel.hidden = false;
    });
  }

  function schedule() {
    window.clearInterval(timer);
    timer = null;
    var visible = document.visibilityState === "visible";
    if (visible) {
      timer = window.setInterval(refresh, refreshMs);
    }
    root.setAttribute("data-refreshing", visible ? "on" : "paused");
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
    schedule();
  });
  drawAll();
  showAge();
  window.setInterval(showAge, 1000);
  schedule();
})();
