/* DAG screens: bulk selection, the trigger form's JSON toggle, run auto-refresh (console.js asks the
   data-confirm questions). No inline handlers: everything is wired from data-* attributes. */
(function () {
  "use strict";

  // Bulk selection on the DAG list.
  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    var boxes = function () { return bulk.querySelectorAll("input[name=dag]"); };
    var all = bulk.querySelector("[data-check-all]");
    var refresh = function () {
      var n = 0;
      boxes().forEach(function (b) { if (b.checked) { n += 1; } });
      var count = bulk.querySelector("[data-bulk-count]");
      if (count) { count.textContent = String(n); }
      bulk.querySelectorAll("[data-needs-selection]").forEach(function (btn) { btn.disabled = n === 0; });
      if (all) {
        all.checked = n > 0 && n === boxes().length;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        refresh();
      });
    }
    bulk.addEventListener("change", function (event) {
      if (event.target.name === "dag") { refresh(); }
    });
    refresh();
  }

  // Trigger form: params <-> raw JSON conf.
  var toggle = document.querySelector("[data-raw-toggle]");
  if (toggle) {
    var params = document.querySelector("[data-params-section]");
    var raw = document.querySelector("[data-raw-section]");
    var apply = function () {
      if (params) { params.hidden = toggle.checked; }
      if (raw) { raw.hidden = !toggle.checked; }
    };
    toggle.addEventListener("change", apply);
    apply();
  }

  // A run that is not finished reloads itself, unless the person is typing or has a dialog open.
  var auto = document.querySelector("[data-auto-refresh]");
  if (auto) {
    var seconds = parseInt(auto.getAttribute("data-auto-refresh"), 10) || 5;
    window.setTimeout(function tick() {
      if (document.hidden || (document.activeElement && document.activeElement.tagName === "INPUT")) {
        window.setTimeout(tick, seconds * 1000);
        return;
      }
      window.location.reload();
    }, seconds * 1000);
  }
})();
