#!/usr/bin/env bash
# Time-boxed fuzzing of every target, seeded with testdata/ captures. Usage: scripts/fuzz-smoke.sh [SECONDS]
# A crash fails the run; its input is left in fuzz/artifacts/<target>/ to reproduce with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^helios-fuzz$')
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  case $t in
    decode_protobuf) printf '\x02\x48\x01' > "fuzz/corpus/$t/seed" ;;
    template_import) echo '{"format":1,"sources":[]}' > "fuzz/corpus/$t/seed" ;;
    rollup_native) head -c 512 /dev/urandom > "fuzz/corpus/$t/seed" ;;
    *) cp testdata/vendor-captures/*/*.dat "fuzz/corpus/$t/" ;;
  esac
done
cargo +nightly fuzz build -O
for t in $targets; do
  echo "fuzz: $t for ${secs}s"
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 2>&1 \
    | grep -E '^(Done|INFO: fuzzing|==[0-9]+==ERROR|SUMMARY)' | tail -2
done
echo "fuzz: all targets ran ${secs}s without a crash"
