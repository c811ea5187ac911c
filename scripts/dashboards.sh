#!/usr/bin/env bash
# Builds the Grafana dashboards from dashboards/builder (TypeScript, the Grafana Foundation SDK) into
# OUT_DIR (default: dashboards/, the files the chart ships) and type-checks every dashboard against
# Grafana's dashboard schema (@grafana/schema, tsc --strict). Installs the builder's npm packages
# (exact versions, package-lock.json) the first time. Usage: scripts/dashboards.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-$root/dashboards}
builder=$root/dashboards/builder
command -v npm >/dev/null || { echo "dashboards.sh: npm not found: install Node.js 20 and npm" >&2; exit 1; }
if ! (cd "$builder" && npm ls --depth=0 >/dev/null 2>&1); then
  (cd "$builder" && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd "$builder" && ./node_modules/.bin/tsc -p tsconfig.json)
mkdir -p "$out"
node "$builder/out/main.js" "$out"
check=$out/.check
trap 'rm -rf "$check"' EXIT
sed "s|\"./node_modules/@types\"|\"$builder/node_modules/@types\"|" "$builder/tsconfig.check.json" > "$check/tsconfig.json"
ln -sfn "$builder/node_modules" "$check/node_modules"
(cd "$check" && "$builder/node_modules/.bin/tsc" -p tsconfig.json)
echo "dashboards.sh: $(ls "$out"/metrics/*.json "$out"/flows/*.json 2>/dev/null | wc -l) dashboards in $out, each satisfying Grafana's Dashboard type"
