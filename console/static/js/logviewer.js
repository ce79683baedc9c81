/* The task log viewer: pages of a (possibly huge) log fetched as JSON, level filter, search with
   highlighted matches, follow mode for a running task.  Log text only ever goes into the page
   through textContent / text nodes, never innerHTML. */
(function () {
  "use strict";

  var root = document.querySelector("[data-lines-url]");
  if (!root || !root.querySelector("[data-log-lines]")) { return; }

  var el = function (sel) { return root.querySelector(sel); };
  var linesBox = el("[data-log-lines]");
  var statusBox = el("[data-log-status]");
  var bannerBox = el("[data-log-banner]");
  var truncatedBox = el("[data-log-truncated]");
  var downloadLink = el("[data-log-download]");
  var pageInfo = el("[data-log-page-info]");
  var matchInfo = el("[data-log-match-info]");
  var levelSelect = el("[data-log-level]");
  var searchInput = el("[data-log-search]");
  var followBox = el("[data-log-follow]");
  var wrapBox = el("[data-log-wrap]");
  var url = root.getAttribute("data-lines-url");
  var limit = parseInt(root.getAttribute("data-page-size"), 10) || 500;
  var FOLLOW_MS = 2000;

  var state = { offset: 0, total: 0, pages: 1, page: 1, level: "", q: "", matches: [], matchCount: 0,
                current: -1, finished: true, loading: false, followTimer: null, lastData: null };

  function show(node, text) { node.textContent = text; }

  function request(offset) {
    var params = new URLSearchParams({ offset: String(offset), limit: String(limit) });
    if (state.level) { params.set("level", state.level); }
    if (state.q) { params.set("q", state.q); }
    var sep = url.indexOf("?") >= 0 ? "&" : "?";
    return fetch(url + sep + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        return resp.json().catch(function () { return { failure: { message: "The console answered " + resp.status + "." } }; });
      });
  }

  function banner(message) {
    if (!message) { bannerBox.hidden = true; bannerBox.textContent = ""; return; }
    bannerBox.hidden = false;
    bannerBox.textContent = "";
    var div = document.createElement("div");
    div.className = "alert alert-danger mb-0 rounded-0";
    div.setAttribute("data-testid", "log-error");
    div.textContent = message;
    bannerBox.appendChild(div);
  }

  // The console keeps only the start of a huge log: say so, and link to the download (which has it all).
  function truncatedNotice(data) {
    truncatedBox.textContent = "";
    truncatedBox.hidden = !data.truncated;
    if (!data.truncated) { return; }
    var div = document.createElement("div");
    div.className = "alert alert-warning mb-0 rounded-0";
    div.setAttribute("data-testid", "log-truncated");
    div.appendChild(document.createTextNode("Log truncated at " + data.total_lines + " lines; "));
    var link = document.createElement("a");
    link.href = downloadLink.getAttribute("href");
    link.textContent = "download for the rest";
    div.appendChild(link);
    div.appendChild(document.createTextNode("."));
    truncatedBox.appendChild(div);
  }

  // Append `text` to `parent`, wrapping case-insensitive matches of `needle` in <mark>.
  function appendHighlighted(parent, text, needle) {
    if (!needle) { parent.appendChild(document.createTextNode(text)); return 0; }
    var lower = text.toLowerCase(), n = needle.toLowerCase(), from = 0, found = 0, at;
    while ((at = lower.indexOf(n, from)) >= 0) {
      if (at > from) { parent.appendChild(document.createTextNode(text.slice(from, at))); }
      var mark = document.createElement("mark");
      mark.className = "log-match";
      mark.textContent = text.slice(at, at + n.length);
      parent.appendChild(mark);
      from = at + n.length;
      found += 1;
    }
    if (from < text.length) { parent.appendChild(document.createTextNode(text.slice(from))); }
    return found;
  }

  function timeOf(iso) {
    if (!iso) { return ""; }
    var t = iso.indexOf("T");
    return t >= 0 ? iso.slice(t + 1, t + 13) : iso;
  }

  function render(lines) {
    var frag = document.createDocumentFragment();
    var currentPos = state.current >= 0 ? state.matches[state.current] : -1;
    lines.forEach(function (line, i) {
      var row = document.createElement("div");
      row.className = "log-line" + (line.level ? " level-" + line.level : "") + (line.group ? " log-group" : "");
      row.setAttribute("data-n", String(line.n));
      if (state.offset + i === currentPos) { row.classList.add("current-match"); }
      var num = document.createElement("span");
      num.className = "ln";
      num.textContent = String(line.n);
      var time = document.createElement("span");
      time.className = "ts";
      time.textContent = timeOf(line.time);
      if (line.time) { time.title = line.time; }
      var level = document.createElement("span");
      level.className = "lvl";
      level.textContent = line.level ? line.level.toUpperCase() : "";
      var msg = document.createElement("span");
      msg.className = "msg";
      appendHighlighted(msg, line.group ? "\u25B8 " + line.text : line.text, state.q);
      row.appendChild(num); row.appendChild(time); row.appendChild(level); row.appendChild(msg);
      frag.appendChild(row);
    });
    linesBox.textContent = "";
    if (!lines.length) {
      var empty = document.createElement("div");
      empty.className = "log-empty text-muted";
      empty.textContent = state.total === 0 && state.level ? "No lines at this level." : "The log is empty so far.";
      linesBox.appendChild(empty);
    } else {
      linesBox.appendChild(frag);
    }
    var cur = linesBox.querySelector(".current-match");
    if (cur) { cur.scrollIntoView({ block: "center" }); }
  }

  function updateInfo(data) {
    var first = data.total ? data.offset + 1 : 0;
    var last = data.offset + data.lines.length;
    show(pageInfo, "Page " + data.page + " of " + data.pages + " \u00B7 lines " + first + "\u2013" + last +
      " of " + data.total + (data.total !== data.total_lines ? " (" + data.total_lines + " before the filter)" : ""));
    if (state.q) {
      show(matchInfo, state.matchCount ? (state.current + 1) + " of " + state.matchCount + " matches" : "no match");
    } else {
      show(matchInfo, "");
    }
    root.querySelector("[data-log-page=first]").disabled = data.page <= 1;
    root.querySelector("[data-log-page=prev]").disabled = data.page <= 1;
    root.querySelector("[data-log-page=next]").disabled = data.page >= data.pages;
    root.querySelector("[data-log-page=last]").disabled = data.page >= data.pages;
    var text = data.finished ? "" : "The task is " + (data.state || "not started") + ": the log may still grow.";
    show(statusBox, text);
    statusBox.hidden = !text;
  }

  function load(offset, after) {
    if (state.loading) { return Promise.resolve(); }
    state.loading = true;
    if (!state.lastData) { show(statusBox, "Loading the log\u2026"); statusBox.hidden = false; }
    return request(offset).then(function (data) {
      state.loading = false;
      if (data.busy) { banner(data.message); show(statusBox, ""); return; }
      if (data.not_found) { banner("This log does not exist (yet)."); show(statusBox, ""); return; }
      if (data.failure) { banner(data.failure.message); show(statusBox, ""); return; }
      banner("");
      state.offset = data.offset; state.total = data.total; state.page = data.page; state.pages = data.pages;
      state.finished = data.finished;
      state.matches = data.matches || []; state.matchCount = data.match_count || 0;
      if (after) { after(data); }
      state.lastData = data;
      render(data.lines);
      updateInfo(data);
      truncatedNotice(data);
      if (data.finished && followBox.checked) { followBox.checked = false; stopFollow(); }
    }, function () {
      state.loading = false;
      banner("The console could not be reached. Check your connection and reload.");
    });
  }

  function goToMatch(index) {
    if (!state.matches.length) { return; }
    state.current = (index + state.matches.length) % state.matches.length;
    var pos = state.matches[state.current];
    var pageOffset = Math.floor(pos / limit) * limit;
    if (pageOffset === state.offset && state.lastData) {
      render(state.lastData.lines);
      updateInfo(state.lastData);
    } else {
      load(pageOffset);
    }
  }

  function stopFollow() {
    if (state.followTimer) { window.clearInterval(state.followTimer); state.followTimer = null; }
  }

  function startFollow() {
    stopFollow();
    var tick = function () {
      var lastOffset = Math.max(0, Math.floor(Math.max(state.total - 1, 0) / limit) * limit);
      load(Math.max(lastOffset, state.offset)).then(function () {
        linesBox.scrollTop = linesBox.scrollHeight;
      });
    };
    tick();
    state.followTimer = window.setInterval(tick, FOLLOW_MS);
  }

  root.querySelectorAll("[data-log-page]").forEach(function (button) {
    button.addEventListener("click", function () {
      var where = button.getAttribute("data-log-page");
      var target = { first: 0, prev: state.offset - limit, next: state.offset + limit,
                     last: (state.pages - 1) * limit }[where];
      load(Math.max(0, target)).then(function () { linesBox.scrollTop = 0; });
    });
  });

  levelSelect.addEventListener("change", function () {
    state.level = levelSelect.value; state.current = -1;
    load(0, function () { if (state.matches.length) { state.current = 0; } });
  });

  var searchTimer = null;
  function runSearch() {
    state.q = searchInput.value.trim(); state.current = -1;
    load(state.offset, function (data) {
      if (state.q && data.matches && data.matches.length) {
        state.current = 0;
        var pageOffset = Math.floor(data.matches[0] / limit) * limit;
        if (pageOffset !== data.offset) { window.setTimeout(function () { load(pageOffset); }, 0); }
      }
    });
  }
  searchInput.addEventListener("input", function () {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(runSearch, 300);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      window.clearTimeout(searchTimer);
      if (state.q === searchInput.value.trim() && state.matches.length) {
        goToMatch(state.current + (event.shiftKey ? -1 : 1));
      } else {
        runSearch();
      }
    }
  });
  el("[data-log-next]").addEventListener("click", function () { goToMatch(state.current + 1); });
  el("[data-log-prev]").addEventListener("click", function () { goToMatch(state.current - 1); });

  followBox.addEventListener("change", function () {
    if (followBox.checked) { startFollow(); } else { stopFollow(); }
  });
  wrapBox.addEventListener("change", function () { linesBox.classList.toggle("wrap", wrapBox.checked); });

  load(0).then(function () {
    if (!state.finished) { followBox.checked = true; startFollow(); }
  });
})();
