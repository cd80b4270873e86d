#!/usr/bin/env bash
# Regenerates imports/ from the local CRD copies (offline). Upstream URLs are listed in cdk8s.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
crds="${MESHGEN_CRDS:-../shared/crds}"
[ -d "$crds" ] || { echo "CRD directory $crds not found; set MESHGEN_CRDS" >&2; exit 2; }
export CDK8S_CHECK_UPGRADE=false
cp cdk8s.yaml /tmp/cdk8s.yaml.keep
for f in istio-networking-crds sealed-secrets-crd istio-operator-crd argocd-crds flux-crds external-secrets-crds; do
  npx cdk8s import "$crds/$f.yaml" --language typescript --output imports --no-check-upgrade
done
cp /tmp/cdk8s.yaml.keep cdk8s.yaml   # cdk8s import appends local paths; keep the upstream URLs
