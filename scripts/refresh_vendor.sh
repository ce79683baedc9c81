#!/usr/bin/env bash
# Refresh the browser libraries vendored in console/static/vendor/ (a developer's tool:
# running or installing the console never needs Node.js or npm).
# Usage: scripts/refresh_vendor.sh [CHART_JS_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-$(cat console/static/vendor/chart.js/VERSION)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "chart.js@${version}" --silent >/dev/null && tar xzf chart.js-*.tgz)
out=console/static/vendor/chart.js
mkdir -p "$out"
cp "$work/package/dist/chart.umd.min.js" "$out/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$out/LICENSE.md"
echo "$version" > "$out/VERSION"
echo "chart.js ${version} -> ${out}"
