#!/usr/bin/env bash
# The main job on its embedded default: decode the bundled capture of 25+ vendors' NetFlow v5/v9,
# IPFIX and sFlow exports with `helios decode`, print the first flows as JSON, then the summary.
# Any argument is passed to `helios decode` instead (e.g. your own capture: scripts/demo.sh my.pcap).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/helios/target}
cargo build --release --locked -p helios
helios="$CARGO_TARGET_DIR/release/helios"
if [ $# -gt 0 ]; then
  exec "$helios" decode "$@"
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$helios" decode --summary testdata/pcap/vendors.pcap > "$out"
echo
echo "First flows (one JSON object per flow; all $(wc -l < "$out") are in the capture):"
head -n 3 "$out"
