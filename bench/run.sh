#!/usr/bin/env bash
# guildhall's load benchmark: installs wrk (and, for a PostgreSQL run, pgbench; for --pin,
# taskset) when missing, then runs bench/run.py (see --help); `bench/run.sh fanout ...` and
# `bench/run.sh seeding ...` run bench/fanout.py and bench/seeding.py instead.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v pgbench >/dev/null 2>&1 || need+=(postgresql-client postgresql-contrib)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq "${need[@]}"
    else
        echo "bench: needs ${need[*]} (Debian packages)" >&2
        exit 1
    fi
fi
case "${1:-}" in
    fanout | seeding) script="$1"; shift; exec python3 "bench/$script.py" "$@" ;;
    *) exec python3 bench/run.py "$@" ;;
esac
