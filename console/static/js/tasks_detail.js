/* Task page: while a run is pending or running (data-live="1" on the history), the history and the
   success rate refresh themselves from a fresh copy of the page. */
(function () {
  "use strict";

  var REFRESH_MS = 3000;

  function refresh() {
    var history = document.getElementById("task-history");
    if (!history || history.getAttribute("data-live") !== "1") { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        ["task-history", "task-stats"].forEach(function (id) {
          var fresh = page.getElementById(id);
          var current = document.getElementById(id);
          if (fresh && current) { current.replaceWith(fresh); }
        });
      })
      .catch(function () { /* try again on the next tick */ })
      .then(function () { window.setTimeout(refresh, REFRESH_MS); });
  }

  window.setTimeout(refresh, REFRESH_MS);
})();
