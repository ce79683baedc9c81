#!/usr/bin/env bash
# Refresh the browser libraries vendored in console/static/vendor/ (a developer's tool:
# running or installing the console never needs Node.js or npm).
# Usage: scripts/refresh_vendor.sh [CHART_JS_VERSION [DAGRE_VERSION]]
# Each library's tarball comes from the npm registry (curl, no npm needed); its licence is kept
# next to it and its version in VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
chart_version="${1:-$(cat console/static/vendor/chart.js/VERSION)}"
dagre_version="${2:-$(cat console/static/vendor/dagre/VERSION)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION TARBALL_NAME -> unpacked in $work/NAME/package
  mkdir -p "$work/$1"
  curl -fsSL "https://registry.npmjs.org/$1/-/$3-$2.tgz" | tar xz -C "$work/$1"
}

fetch chart.js "$chart_version" chart.js
out=console/static/vendor/chart.js
mkdir -p "$out"
cp "$work/chart.js/package/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$work/chart.js/package/LICENSE.md" "$out/LICENSE.md"
echo "$chart_version" > "$out/VERSION"
echo "chart.js ${chart_version} -> ${out}"

# @dagrejs/dagre: the graph tab's layout (the IIFE build defines window.dagre, graphlib included).
fetch @dagrejs/dagre "$dagre_version" dagre
out=console/static/vendor/dagre
mkdir -p "$out"
sed 's|^//# sourceMappingURL=.*$||' "$work/@dagrejs/dagre/package/dist/dagre.min.js" > "$out/dagre.min.js"
cp "$work/@dagrejs/dagre/package/LICENSE" "$out/LICENSE"
echo "$dagre_version" > "$out/VERSION"
echo "@dagrejs/dagre ${dagre_version} -> ${out}"
