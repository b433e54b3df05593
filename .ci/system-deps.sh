#!/usr/bin/env bash
# System packages the test tiers need, installed only when missing (fast when present).
# PostgreSQL: the db tier starts a throwaway server from Debian's binaries (initdb, pg_ctl).
set -euo pipefail

pg_bindir() {
  for dir in "${MODELPLANE_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return 0; }
  done
  return 1
}

if pg_bindir >/dev/null; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "system-deps: PostgreSQL is missing and neither root nor sudo is available" >&2; exit 1; }
  SUDO="sudo"
fi
echo "system-deps: installing PostgreSQL server binaries (apt)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
pg_bindir >/dev/null || { echo "system-deps: PostgreSQL installed but initdb/pg_ctl not found" >&2; exit 1; }
