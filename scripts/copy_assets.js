// Copy the front-end libraries the console serves from its own origin (CSP: script-src 'self').
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "..");
const out = path.join(root, "console", "static", "vendor");
fs.mkdirSync(out, { recursive: true });
const files = [["chart.js/dist/chart.umd.js", "chart.umd.js"]];
for (const [from, to] of files) {
  fs.copyFileSync(path.join(root, "node_modules", from), path.join(out, to));
}
console.log(`copied ${files.length} asset(s) to console/static/vendor`);
