/* Task form: live cron preview, the chosen server's DAGs, and the DAG's params as a conf starter.
   The form's fields are found by name, everything else through data-* attributes. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-preview-url][data-dags-url]");
  if (!form) { return; }
  var previewUrl = form.getAttribute("data-preview-url");
  var dagsUrl = form.getAttribute("data-dags-url");
  var cronInput = form.elements.namedItem("cron");
  var tzSelect = form.elements.namedItem("timezone");
  var serverSelect = form.elements.namedItem("server_id");
  var dagSelect = form.elements.namedItem("dag_id");
  var confInput = form.elements.namedItem("conf_json");
  var preview = form.querySelector("[data-cron-preview]");
  var dagStatus = form.querySelector("[data-dag-status]");
  var paramsBox = form.querySelector("[data-dag-params]");
  var currentParams = {};
  var previewTimer = null;
  var previewSeq = 0;

  function getJSON(url, params) {
    var query = new URLSearchParams(params).toString();
    return fetch(url + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function onChange(element, handler) {
    if (!element) { return; }
    if (window.jQuery) {
      window.jQuery(element).on("change", handler); // select2 fires jQuery events
    } else {
      element.addEventListener("change", handler);
    }
  }

  // -- cron preview ---------------------------------------------------------
  function showPreview(data) {
    var words = preview.querySelector(".cron-words");
    var error = preview.querySelector(".cron-error");
    var list = preview.querySelector(".cron-next");
    var label = preview.querySelector(".cron-label");
    list.textContent = "";
    preview.classList.toggle("is-invalid", !data.ok);
    words.textContent = data.ok ? data.description : "";
    // The server already shows its field error under the input until the field is edited.
    error.textContent = data.ok || serverErrorShown() ? "" : data.error;
    label.classList.toggle("d-none", !data.ok);
    (data.next || []).forEach(function (fire) {
      var item = document.createElement("li");
      item.textContent = fire.text;
      list.appendChild(item);
    });
  }

  function serverErrorShown() {
    var group = cronInput.closest(".form-group");
    return cronInput.classList.contains("is-invalid") && !!(group && group.querySelector(".invalid-feedback"));
  }

  function clearServerError() {
    var group = cronInput.closest(".form-group");
    var feedback = group && group.querySelector(".invalid-feedback");
    if (feedback) { feedback.remove(); }
    cronInput.classList.remove("is-invalid");
  }

  function updatePreview() {
    var seq = ++previewSeq;
    if (!cronInput.value.trim()) {
      showPreview({ ok: false, error: "Type a cron expression, e.g. 0 5 * * 1-5", next: [] });
      return;
    }
    getJSON(previewUrl, { cron: cronInput.value, timezone: tzSelect ? tzSelect.value : "UTC" })
      .then(function (data) { if (seq === previewSeq) { showPreview(data); } })
      .catch(function (err) { if (seq === previewSeq) { showPreview({ ok: false, error: "Preview unavailable: " + err.message }); } });
  }

  function schedulePreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(updatePreview, 200);
  }

  // -- DAGs of the server -------------------------------------------------
  function setOptions(dags, keep) {
    dagSelect.textContent = "";
    var found = false;
    dags.forEach(function (dag) {
      var option = document.createElement("option");
      option.value = dag.dag_id;
      option.textContent = dag.label === dag.dag_id ? dag.dag_id : dag.dag_id + " (" + dag.label + ")";
      if (dag.paused) { option.textContent += " \u2014 paused"; option.setAttribute("data-paused", "1"); }
      if (dag.dag_id === keep) { option.selected = true; found = true; }
      dagSelect.appendChild(option);
    });
    if (keep && !found) {
      var missing = document.createElement("option");
      missing.value = keep;
      missing.textContent = keep + " (not on this server)";
      missing.selected = true;
      dagSelect.insertBefore(missing, dagSelect.firstChild);
    }
  }

  function loadDags() {
    var keep = dagSelect.value;
    if (!serverSelect.value) { return; }
    dagStatus.textContent = "Reading the DAGs of this server\u2026";
    getJSON(dagsUrl, { server_id: serverSelect.value }).then(function (data) {
      if (!data.ok) {
        dagStatus.textContent = data.error + " You can still type a DAG id into the saved form later.";
        dagStatus.className = "small text-danger mb-2";
        return;
      }
      setOptions(data.dags, keep);
      dagStatus.className = "small text-muted mb-2";
      dagStatus.textContent = data.dags.length + " DAGs on this server.";
      dagChanged();
    }).catch(function (err) { dagStatus.textContent = "Could not read the DAGs: " + err.message; });
  }

  function dagChanged() {
    var option = dagSelect.options[dagSelect.selectedIndex];
    if (option && option.getAttribute("data-paused")) {
      dagStatus.textContent = "This DAG is paused in Airflow: its runs wait until it is unpaused.";
      dagStatus.className = "small text-warning mb-2";
    }
    loadParams();
  }

  // -- params -> conf ---------------------------------------------------------
  function loadParams() {
    paramsBox.classList.add("d-none");
    if (!dagSelect.value || !serverSelect.value) { return; }
    getJSON(dagsUrl, { server_id: serverSelect.value, dag_id: dagSelect.value }).then(function (data) {
      currentParams = (data.ok && data.params) || {};
      var names = Object.keys(currentParams);
      if (!names.length) { return; }
      var body = paramsBox.querySelector("tbody");
      body.textContent = "";
      names.forEach(function (name) {
        var param = currentParams[name] || {};
        var schema = param.schema || {};
        var row = document.createElement("tr");
        [name, JSON.stringify(param.value === undefined ? null : param.value), schema.type || "", param.description || ""]
          .forEach(function (text) { var cell = document.createElement("td"); cell.textContent = text; row.appendChild(cell); });
        body.appendChild(row);
      });
      paramsBox.querySelector("[data-dag-params-name]").textContent = dagSelect.value;
      paramsBox.classList.remove("d-none");
    }).catch(function () { paramsBox.classList.add("d-none"); });
  }

  function fillConf() {
    var conf = {};
    try { conf = JSON.parse(confInput.value || "{}"); } catch (e) { conf = {}; }
    Object.keys(currentParams).forEach(function (name) {
      var value = (currentParams[name] || {}).value;
      if (!(name in conf)) { conf[name] = value === undefined ? null : value; }
    });
    confInput.value = JSON.stringify(conf, null, 2);
  }

  cronInput.addEventListener("input", function () { clearServerError(); schedulePreview(); });
  onChange(tzSelect, schedulePreview);
  onChange(serverSelect, loadDags);
  onChange(dagSelect, dagChanged);
  paramsBox.querySelector("[data-fill-conf]").addEventListener("click", fillConf);
  updatePreview();
  loadDags();
})();
