/* The Graph tab: lays the DAG out left to right with the vendored dagre (static/vendor/dagre) and
   draws it as SVG. Data come from the container's data-graph attribute (services/dag_graph.py):
   nodes (id, label, group, state, mapped, counts, operator), edges [from, to], groups (id, label,
   parent). A node's colour is its state's class from states.css; a click opens the task in the
   selected run. The time the layout and drawing took is left in data-draw-ms. */
(function () {
  "use strict";

  var box = document.querySelector("[data-graph]");
  if (!box || typeof window.dagre === "undefined") { return; }
  var started = window.performance.now();
  var data = JSON.parse(box.getAttribute("data-graph"));
  var runUrl = box.getAttribute("data-run-url");
  var SVG = "http://www.w3.org/2000/svg";
  var CHAR = 7.3, PAD = 22, HEIGHT = 38;

  var g = new window.dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 46, edgesep: 8, marginx: 16, marginy: 24 });
  g.setDefaultEdgeLabel(function () { return {}; });
  data.groups.forEach(function (group) {
    g.setNode("group:" + group.id, { label: group.label, clusterLabelPos: "top", paddingTop: 10, paddingLeft: 10, paddingRight: 10, paddingBottom: 10 });
  });
  data.groups.forEach(function (group) {
    if (group.parent) { g.setParent("group:" + group.id, "group:" + group.parent); }
  });
  data.nodes.forEach(function (node) {
    var sub = node.mapped ? "mapped" : node.operator;
    var width = Math.max(node.label.length, (sub || "").length * 0.85) * CHAR + PAD + 8;
    g.setNode("task:" + node.id, { width: Math.min(Math.max(width, 70), 320), height: HEIGHT, node: node, sub: sub });
    if (node.group) { g.setParent("task:" + node.id, "group:" + node.group); }
  });
  data.edges.forEach(function (edge) { g.setEdge("task:" + edge[0], "task:" + edge[1]); });
  window.dagre.layout(g);

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { e.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }

  var size = g.graph();
  var svg = el("svg", { width: Math.ceil(size.width || 0), height: Math.ceil(size.height || 0), role: "img",
    "aria-label": data.nodes.length + " tasks and " + data.edges.length + " dependencies", "data-testid": "graph-svg" });
  var defs = el("defs", {}, svg);
  var marker = el("marker", { id: "graph-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", "class": "graph-arrow" }, marker);

  // Groups first (outer before inner), so they sit behind their tasks.
  data.groups.forEach(function (group) {
    var n = g.node("group:" + group.id);
    var gg = el("g", { "class": "graph-group", "data-testid": "graph-group", "data-group-id": group.id }, svg);
    el("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: 6 }, gg);
    el("text", { x: n.x - n.width / 2 + 6, y: n.y - n.height / 2 - 4 }, gg).textContent = group.label;
  });

  g.edges().forEach(function (e) {
    var points = g.edge(e).points || [];
    var d = points.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + "," + p.y.toFixed(1); }).join(" ");
    el("path", { d: d, "class": "graph-edge", "marker-end": "url(#graph-arrow)", "data-testid": "graph-edge",
      "data-from": e.v.slice(5), "data-to": e.w.slice(5) }, svg);
  });

  data.nodes.forEach(function (node) {
    var n = g.node("task:" + node.id);
    var state = node.state || "none";
    var attrs = { "class": "graph-node state-" + state, "data-testid": "graph-node", "data-task-id": node.id, "data-state": state };
    var parent = svg;
    if (runUrl) {
      parent = el("a", { href: runUrl + "#task-" + encodeURIComponent(node.id) }, svg);
    }
    var gg = el("g", attrs, parent);
    if (runUrl) { parent.setAttribute("class", attrs["class"]); gg.removeAttribute("class"); }
    var x = n.x - n.width / 2, y = n.y - n.height / 2;
    el("rect", { x: x, y: y, width: n.width, height: n.height, rx: 4 }, gg);
    el("rect", { "class": "graph-state", x: x, y: y, width: 6, height: n.height, rx: 2 }, gg);
    el("text", { x: x + 14, y: y + 16 }, gg).textContent = node.label;
    el("text", { "class": "graph-sub", x: x + 14, y: y + 30 }, gg).textContent = n.sub || "";
    var counts = Object.keys(node.counts || {}).map(function (k) { return node.counts[k] + " " + k.replace(/_/g, " "); });
    el("title", {}, gg).textContent = node.id + "\nstate: " + state.replace(/_/g, " ") +
      (counts.length ? "\n" + counts.join(", ") : "") + (node.operator ? "\n" + node.operator : "");
  });

  box.appendChild(svg);
  box.setAttribute("data-draw-ms", String(Math.round(window.performance.now() - started)));
})();
