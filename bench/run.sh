#!/usr/bin/env bash
# guildhall's load benchmark: installs wrk when missing, then runs bench/run.py (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq wrk
    else
        echo "bench: wrk is needed (Debian package wrk)" >&2
        exit 1
    fi
fi
exec python3 bench/run.py "$@"
