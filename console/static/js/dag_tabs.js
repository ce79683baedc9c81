/* A DAG's tabs: selects that submit their form when changed (runs shown, run picked, filters), and
   the grid's collapsible task groups. Bound from data-* attributes: no inline code (CSP). */
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var grid = document.querySelector("[data-testid=dag-grid]");
  if (!grid) { return; }
  var collapsed = {};

  function apply() {
    grid.querySelectorAll("tbody tr").forEach(function (row) {
      var ancestors = (row.getAttribute("data-ancestors") || "").split(" ");
      row.hidden = ancestors.some(function (group) { return group && collapsed[group]; });
    });
    grid.querySelectorAll("[data-grid-toggle]").forEach(function (button) {
      var closed = !!collapsed[button.getAttribute("data-grid-toggle")];
      button.setAttribute("aria-expanded", closed ? "false" : "true");
      var caret = button.querySelector(".fa");
      if (caret) { caret.className = closed ? "fa fa-caret-right" : "fa fa-caret-down"; }
    });
  }

  function setAll(closed) {
    grid.querySelectorAll("[data-grid-toggle]").forEach(function (button) {
      collapsed[button.getAttribute("data-grid-toggle")] = closed;
    });
    apply();
  }

  grid.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-grid-toggle]");
    if (toggle) {
      var group = toggle.getAttribute("data-grid-toggle");
      collapsed[group] = !collapsed[group];
      apply();
    } else if (event.target.closest("[data-grid-expand-all]")) {
      setAll(false);
    } else if (event.target.closest("[data-grid-collapse-all]")) {
      setAll(true);
    }
  });
})();
