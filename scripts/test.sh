#!/usr/bin/env bash
# The whole test suite, as CI runs it: format, lints, tests under coverage (>= 70% per crate), core's
# tests and a smoke run of every binary built for aarch64 under qemu, a time-boxed fuzz run of every
# target, and the instruction-count performance gate.
# Installs what it needs first (scripts/install-deps.sh). Env: FUZZ_SECONDS (default 20 per target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/helios/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { echo; echo "=== $* ==="; }

step "dependencies"
scripts/install-deps.sh

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (with coverage)"
cargo llvm-cov clean --workspace >/dev/null 2>&1 || true
cargo llvm-cov --workspace --locked --exclude helios-benches --no-report
cargo llvm-cov report --json --summary-only | python3 scripts/coverage-gate.py 70

step "aarch64 under qemu (core tests, every binary)"
scripts/test-aarch64.sh

step "fuzz smoke"
scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-20}"

step "perf gate (instructions per record)"
cargo build --release --locked -p helios-benches --bin helios-perf-gate
"$CARGO_TARGET_DIR/release/helios-perf-gate" check

step "benches compile"
cargo bench --workspace --locked --no-run

echo
echo "all checks passed"
