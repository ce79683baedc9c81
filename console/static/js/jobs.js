/* A background job's page: polls the job's progress (JSON) until it ends, and redraws the bar,
   the counts and each item's outcome. Text goes in as text, never as HTML. */
(function () {
  "use strict";

  var page = document.querySelector("[data-job-progress]");
  if (!page) { return; }
  var url = page.getAttribute("data-job-progress");
  var pollMs = parseInt(page.getAttribute("data-poll-ms"), 10) || 1000;
  // Ended items never change: each poll asks only for those that ended since the last one.
  var seen = parseInt(page.getAttribute("data-seen"), 10) || 0;
  var bar = page.querySelector("[data-job-bar]");
  var meter = page.querySelector("[role=progressbar]");

  var badge = function (state, testid) {
    var span = document.createElement("span");
    var value = state || "none";
    span.className = "badge state-badge state-" + value.replace(/[^a-z_]/g, "");
    span.setAttribute("data-testid", testid);
    span.textContent = value.replace(/_/g, " ");
    return span;
  };
  var setText = function (selector, text) {
    var el = page.querySelector(selector);
    if (el) { el.textContent = text; }
  };

  var draw = function (job) {
    bar.style.width = job.percent + "%";
    meter.setAttribute("aria-valuenow", String(job.percent));
    setText("[data-job-percent]", job.percent + "%");
    setText("[data-job-done]", String(job.done));
    setText("[data-job-failed]", String(job.failed));
    setText("[data-job-message]", job.message || "");
    var state = page.querySelector("[data-job-state]");
    if (state) { state.replaceChildren(badge(job.state, "job-state")); }
    if (job.final) {
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
      bar.classList.add("job-bar-final", "state-" + job.state.replace(/[^a-z_]/g, ""));
      var cancel = page.querySelector("[data-job-cancel]");
      if (cancel) { cancel.remove(); }
    }
    job.items.forEach(function (item) {
      var row = page.querySelector("[data-job-items] tr[data-position='" + item.position + "']");
      if (!row) { return; }
      var cells = row.querySelectorAll("td");
      cells[3].replaceChildren(badge(item.state, "item-state"));
      var detail = [];
      if (item.run_url) {
        var link = document.createElement("a");
        link.href = item.run_url;
        link.className = "mono";
        link.textContent = item.run_id;
        detail.push(link, document.createTextNode(" "));
      }
      if (item.message) {
        var text = document.createElement("span");
        text.textContent = item.message;
        detail.push(text);
      }
      cells[4].replaceChildren.apply(cells[4], detail);
    });
  };

  var poll = function () {
    fetch(url + "?seen=" + seen, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (job) {
        if (job) {
          draw(job);
          seen = job.seen;
        }
        if (!job || !job.final) { window.setTimeout(poll, document.hidden ? pollMs * 5 : pollMs); }
      })
      .catch(function () { window.setTimeout(poll, pollMs * 5); });
  };

  bar.style.width = (meter.getAttribute("aria-valuenow") || "0") + "%";
  if (page.getAttribute("data-final") !== "1") { poll(); }
})();
