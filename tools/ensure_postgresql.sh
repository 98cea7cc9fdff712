#!/usr/bin/env bash
# Install Debian's PostgreSQL server when its binaries are missing, so that
# `make test` can start the throwaway clusters of the lab-server tests
# (tests/pg_cluster.py). Needs root or password-less sudo; otherwise it says
# so and the lab-server tests skip with that reason.
set -uo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "note: PostgreSQL server binaries not found and no apt-get: the lab-server tests will skip" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
        echo "note: installing PostgreSQL needs root (sudo apt-get install postgresql); the lab-server tests will skip" >&2
        exit 0
    fi
fi
$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
