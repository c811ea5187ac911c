#!/usr/bin/env bash
# Builds Helios's binaries for linux/amd64 and linux/arm64 (FR-026, SC-011) into dist/<arch>/, then
# the multi-arch images of Dockerfile when Docker with buildx is available (otherwise it prints the
# commands). Installs the cross toolchain it needs (scripts/install-deps.sh --cross).
# Usage: scripts/build-images.sh [--arch amd64|arm64|all] [--profile release|dev] [--push]
# Env: REGISTRY (default ghcr.io/helios-observability), TAG (default: the workspace version).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=all profile=release push=
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --push) push=--push; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$arch" in amd64|arm64|all) ;; *) echo "build-images.sh: --arch amd64, arm64 or all" >&2; exit 2 ;; esac
binaries=(helios-flowd helios-enricher helios-targetgen helios)
packages=(-p helios-flowd -p helios-enricher -p helios-targetgen -p helios)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/helios/target}
dir=$profile; [ "$profile" = dev ] && dir=debug

build() { # arch rust-target
  local out="dist/$1"
  echo "build-images.sh: $2 ($profile) -> $out/"
  cargo build --locked --profile "$profile" --target "$2" "${packages[@]}"
  mkdir -p "$out"
  for b in "${binaries[@]}"; do cp "$CARGO_TARGET_DIR/$2/$dir/$b" "$out/$b"; done
}
platforms=()
if [ "$arch" != arm64 ]; then build amd64 x86_64-unknown-linux-gnu; platforms+=(linux/amd64); fi
if [ "$arch" != amd64 ]; then
  scripts/install-deps.sh --cross
  (source scripts/aarch64-env.sh && build arm64 aarch64-unknown-linux-gnu)
  platforms+=(linux/arm64)
fi

registry=${REGISTRY:-ghcr.io/helios-observability}
tag=${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)}
platform=$(IFS=,; echo "${platforms[*]}")
for b in "${binaries[@]}"; do
  cmd=(docker buildx build --platform "$platform" --build-arg "BINARY=$b" --build-arg "VERSION=$tag" -t "$registry/$b:$tag" $push .)
  if docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    "${cmd[@]}"
  else
    echo "build-images.sh: no Docker engine here; the image of $b: ${cmd[*]}"
  fi
done
