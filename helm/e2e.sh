#!/usr/bin/env bash
# make e2e: install the chart into the cluster of the current KUBECONFIG context (kind, k3d or a real cluster)
# and run the quickstart there: a Dataset is ingested, a TrainingRun trains and registers a ModelVersion,
# which is validated and served by an InferenceService that answers an OIP v2 inference request.
#
#   make image && make e2e                      images built locally (loaded into kind / k3d automatically)
#   IMAGE_REGISTRY=ghcr.io/modelplane make e2e  images pulled from a registry
#
# Settings (environment): E2E_RELEASE (modelplane), E2E_NAMESPACE (modelplane-system), E2E_APP_NAMESPACE
# (modelplane-e2e), IMAGE_REGISTRY, IMAGE_TAG (the chart's appVersion), E2E_HELM_ARGS (extra helm arguments,
# e.g. "-f my-values.yaml"; the default values use the bundled trial PostgreSQL and S3), E2E_TIMEOUT (20m),
# E2E_KEEP=1 keeps what it created. It never deletes the release: `helm uninstall` it when done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
RELEASE="${E2E_RELEASE:-modelplane}"
NS="${E2E_NAMESPACE:-modelplane-system}"
APP_NS="${E2E_APP_NAMESPACE:-modelplane-e2e}"
CHART=helm/modelplane
APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$CHART/Chart.yaml")"
IMAGE_REGISTRY="${IMAGE_REGISTRY:-ghcr.io/modelplane}"
IMAGE_TAG="${IMAGE_TAG:-$APP_VERSION}"
TIMEOUT="${E2E_TIMEOUT:-20m}"
API_PORT=18080
ISVC_PORT=18081

log() { printf 'e2e: %s\n' "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

tool() { # <name>: on PATH, else from `make helm-bin`
  if command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    printf '%s/%s\n' "$("$REPO/.ci/helm/fetch.sh")" "$1"
  fi
}
HELM="$(tool helm)"
KUBECTL="$(tool kubectl)"
k() { "$KUBECTL" "$@"; }

context="$(k config current-context 2>/dev/null)" || die "no current kubectl context: set KUBECONFIG"
k version >/dev/null || die "the cluster of context '$context' does not answer"
log "context '$context', release $RELEASE in $NS, images $IMAGE_REGISTRY/*:$IMAGE_TAG"

# --- images: local builds go into kind / k3d nodes ----------------------------------------------------------
images=()
for component in operator api serving jobs; do
  images+=("$IMAGE_REGISTRY/modelplane-$component:$IMAGE_TAG")
done
if command -v docker >/dev/null 2>&1 && docker image inspect "${images[0]}" >/dev/null 2>&1; then
  case "$context" in
    kind-*) log "loading images into kind cluster ${context#kind-}"; kind load docker-image --name "${context#kind-}" "${images[@]}" ;;
    k3d-*) log "importing images into k3d cluster ${context#k3d-}"; k3d image import -c "${context#k3d-}" "${images[@]}" ;;
    *) log "local images found; the cluster pulls from $IMAGE_REGISTRY (push them there first)" ;;
  esac
fi

# --- install: CRDs first (Helm never upgrades crds/), then the chart --------------------------------------------
k apply --server-side --force-conflicts -f "$CHART/crds/" >/dev/null
# shellcheck disable=SC2086
"$HELM" upgrade --install "$RELEASE" "$CHART" --namespace "$NS" --create-namespace \
  --set images.registry="$IMAGE_REGISTRY" --set images.tag="$IMAGE_TAG" \
  --wait=watcher --timeout "$TIMEOUT" ${E2E_HELM_ARGS:-}
k -n "$NS" rollout status "deployment/$RELEASE-operator" "deployment/$RELEASE-api" --timeout=5m
log "chart installed"

# --- a namespace for the quickstart, with its jobs' control-plane token ---------------------------------------
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ "${E2E_KEEP:-0}" != 1 ]]; then
    k delete namespace "$APP_NS" --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
k -n "$NS" port-forward "svc/$RELEASE-api" "$API_PORT:8080" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.2; done
admin="$(k -n "$NS" get secret "$RELEASE-admin-token" -o jsonpath='{.data.token}' | base64 -d)"
k create namespace "$APP_NS" --dry-run=client -o yaml | k apply -f - >/dev/null
token="$(curl -sf -X POST "http://127.0.0.1:$API_PORT/api/v1/tokens" -H "Authorization: Bearer $admin" \
  -H 'Content-Type: application/json' \
  -d "{\"principal\": \"e2e-jobs\", \"description\": \"make e2e\", \"roles\": {\"$APP_NS\": \"editor\"}}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')" || die "could not issue a job token"
k -n "$APP_NS" create secret generic modelplane-job-token --from-literal=token="$token" \
  --dry-run=client -o yaml | k apply -f - >/dev/null

# --- the quickstart ---------------------------------------------------------------------------------------------
k -n "$APP_NS" apply -f examples/datasets/inline-tiny.yaml -f examples/training/builtin-cpu.yaml
k -n "$APP_NS" wait --for=condition=Ready dataset/tiny-flowers --timeout="$TIMEOUT" || die "the Dataset is not Ready"
log "Dataset ready: $(k -n "$APP_NS" get dataset tiny-flowers --no-headers)"
k -n "$APP_NS" wait --for=condition=Ready trainingrun/flowers-logreg --timeout="$TIMEOUT" ||
  die "the TrainingRun did not succeed"
model="$(k -n "$APP_NS" get trainingrun flowers-logreg -o jsonpath='{.status.modelVersion}')"
[[ -n "$model" ]] || die "the TrainingRun registered no ModelVersion"
k -n "$APP_NS" wait --for=condition=Ready "modelversion/$model" --timeout="$TIMEOUT" ||
  die "ModelVersion $model is not Ready"
log "ModelVersion $model ready"
cat <<EOF | k -n "$APP_NS" apply -f -
apiVersion: modelplane.io/v1alpha1
kind: InferenceService
metadata:
  name: flowers
spec:
  modelVersionRef: {name: $model}
  replicas: {min: 1, max: 1}
EOF
k -n "$APP_NS" wait --for=condition=Ready inferenceservice/flowers --timeout="$TIMEOUT" ||
  die "the InferenceService is not Ready"
url="$(k -n "$APP_NS" get inferenceservice flowers -o jsonpath='{.status.url}')"
service="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname.split(".")[0])' "$url")"
port="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port or 80)' "$url")"
path="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).path)' "$url")"
k -n "$APP_NS" port-forward "svc/$service" "$ISVC_PORT:$port" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ISVC_PORT$path/ready" >/dev/null && break; sleep 0.2; done
signature="$(k -n "$APP_NS" get modelversion "$model" -o jsonpath='{.status.signature}')"
request="$(python3 - "$signature" <<'PY'
import json
import sys

signature = json.loads(sys.argv[1])
first = signature["inputs"][0]
width = first["shape"][-1] if first["shape"][-1] > 0 else 2
print(json.dumps({"inputs": [{"name": first["name"], "datatype": first["datatype"], "shape": [1, width],
                              "data": [5.1] * width}]}))
PY
)"
answer="$(curl -sf -X POST "http://127.0.0.1:$ISVC_PORT$path/infer" -H 'Content-Type: application/json' -d "$request")" ||
  die "the inference request failed"
log "inference answered: $answer"
log "passed"
