#!/usr/bin/env bash
# Smoke-test the binaries from build.sh: print versions, start etcd and a
# kube-apiserver on top of it and wait for /readyz, start MinIO and wait for
# /minio/health/live, then stop everything. Every server binds 127.0.0.1 only,
# on free ports, with state in a temp dir that is removed afterwards.
#
#   .ci/testbin/smoke.sh [BIN_DIR]     (default: the output of build.sh)
#
# Needs: curl, openssl, python3 (to pick free ports).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${1:-$("$HERE/build.sh" | tail -n1)}"
for b in etcd kube-apiserver minio; do
  [[ -x "$BIN/$b" ]] || { echo "smoke: $BIN/$b missing" >&2; exit 1; }
done

log() { printf 'smoke [%3ss]: %s\n' "$SECONDS" "$*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelplane-testbin-smoke.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$? i
  log "stopping"
  # Newest first: kube-apiserver must go before etcd, or its graceful shutdown
  # (endpoint/lease cleanup) hangs ~20s retrying a dead etcd.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  if [[ $rc -ne 0 ]]; then
    echo "smoke: FAILED (rc=$rc); last log lines:" >&2
    tail -n 25 "$WORK"/*.log >&2 || true
  fi
  rm -rf "$WORK"
  log "stopped everything"
}
trap cleanup EXIT

# wait_for <name> <seconds> <command...>: poll until the command succeeds.
wait_for() {
  local name=$1 limit=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      log "$name not ready after ${limit}s"
      return 1
    fi
    sleep 0.5
  done
  log "$name ready after $((SECONDS - start))s"
}

read -r P_ETCD P_PEER P_API P_MINIO P_CONSOLE < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)

log "versions:"
"$BIN/etcd" --version >&2
"$BIN/kube-apiserver" --version >&2
"$BIN/minio" --version >&2

# --- etcd ---------------------------------------------------------------------
ETCD_URL="http://127.0.0.1:$P_ETCD"
"$BIN/etcd" --name smoke --data-dir "$WORK/etcd" --unsafe-no-fsync \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$P_PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$P_PEER" \
  --initial-cluster "smoke=http://127.0.0.1:$P_PEER" \
  >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_for etcd 30 curl -fsS "$ETCD_URL/health"

# --- kube-apiserver -------------------------------------------------------------
TOKEN="smoke-$(openssl rand -hex 16)"
printf '%s,admin,admin-uid,"system:masters"\n' "$TOKEN" >"$WORK/tokens.csv"
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
openssl rsa -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub" 2>/dev/null
APISERVER_FLAGS=(
  --etcd-servers="$ETCD_URL"
  --bind-address=127.0.0.1
  --advertise-address=127.0.0.1
  --secure-port="$P_API"
  --cert-dir="$WORK/certs"
  --service-account-key-file="$WORK/sa.pub"
  --service-account-signing-key-file="$WORK/sa.key"
  --service-account-issuer=https://kubernetes.default.svc.cluster.local
  --service-cluster-ip-range=10.0.0.0/24
  --authorization-mode=RBAC
  --token-auth-file="$WORK/tokens.csv"
  --disable-admission-plugins=ServiceAccount
  --allow-privileged=true
)
"$BIN/kube-apiserver" "${APISERVER_FLAGS[@]}" >"$WORK/kube-apiserver.log" 2>&1 &
PIDS+=($!)
readyz() {
  [[ "$(curl -ksS -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$P_API/readyz")" == ok ]]
}
wait_for kube-apiserver 90 readyz
curl -ksS -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$P_API/version" >&2
echo >&2
# An authenticated, RBAC-authorised write proves etcd round-trips work.
curl -kfsS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -X POST "https://127.0.0.1:$P_API/api/v1/namespaces" \
  -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"smoke"}}'
log "kube-apiserver: created namespace 'smoke'"

# --- MinIO --------------------------------------------------------------------
MINIO_ROOT_USER=smoke MINIO_ROOT_PASSWORD="$(openssl rand -hex 16)" \
  MINIO_UPDATE=off MINIO_BROWSER=off \
  "$BIN/minio" server --quiet --address "127.0.0.1:$P_MINIO" \
  --console-address "127.0.0.1:$P_CONSOLE" "$WORK/minio-data" \
  >"$WORK/minio.log" 2>&1 &
PIDS+=($!)
wait_for minio 30 curl -fsS "http://127.0.0.1:$P_MINIO/minio/health/live"

log "OK"
