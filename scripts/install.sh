#!/usr/bin/env bash
# Installs the whole Helios platform on the cluster kubectl points at, in one command:
#   1. charts/helios-operators: Strimzi, the Altinity ClickHouse operator, External Secrets and the
#      Prometheus Operator (upstream charts at pinned versions), waiting until their CRDs are served;
#   2. charts/helios at the chosen tier, whose custom resources need those CRDs.
# Usage: scripts/install.sh [--tier small|medium|large|xl] [--skip-operators] [extra helm args...]
# Example: scripts/install.sh --tier medium -f my-site.yaml
# Env: HELM (the helm binary, default: helm on PATH), HELIOS_RELEASE (default helios),
#      HELIOS_NAMESPACE (where the two releases' records live, default helios-operators).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
tier=medium
operators=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tier) tier=${2:?--tier needs small, medium, large or xl}; shift 2 ;;
    --tier=*) tier=${1#--tier=}; shift ;;
    --skip-operators) operators=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
case "$tier" in
  small|medium|large|xl) ;;
  *) echo "install.sh: unknown tier '$tier': use small, medium, large or xl" >&2; exit 2 ;;
esac
helm=${HELM:-helm}
command -v "$helm" >/dev/null || { echo "install.sh: helm not found: install Helm 3 (https://helm.sh) or set HELM" >&2; exit 1; }
release=${HELIOS_RELEASE:-helios}
namespace=${HELIOS_NAMESPACE:-helios-operators}

if [ "$operators" = 1 ]; then
  echo "install.sh: 1/2 operators (charts/helios-operators) into $namespace"
  "$helm" dependency build charts/helios-operators
  "$helm" upgrade --install "$release-operators" charts/helios-operators \
    --namespace "$namespace" --create-namespace --wait --timeout 10m
fi
echo "install.sh: 2/2 Helios ($tier tier)"
"$helm" upgrade --install "$release" charts/helios --namespace "$namespace" --create-namespace \
  -f "charts/helios/values-$tier.yaml" "${extra[@]}" --wait --timeout 20m
