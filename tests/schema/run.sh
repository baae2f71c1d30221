#!/usr/bin/env bash
# Fuzzes the real binary against its own description: schemathesis generates requests from
# /openapi.json (valid ones and, on purpose, invalid ones) and checks every answer against it —
# no 5xx, no status code, header or body the description does not list, valid input accepted,
# invalid input refused (`--checks all`). Any finding fails, and so does a panic in the log.
#
# Each server runs on a fresh SQLite file in a temporary directory, on a free port, with a known
# admin password; every request carries the admin's bearer token. The main pass fuzzes every
# operation except those that can end the admin's own session or account (SELF, below): each of
# those is fuzzed afterwards on a server of its own, so it cannot cut another pass short.
#
# Usage: tests/schema/run.sh [GUILDHALL_BINARY]   (default target/debug/guildhall)
# One worker: with two, CPython 3.11 sometimes fails compiling in two threads at once ("AST
# constructor recursion depth mismatch") inside hypothesis, an error of the run, not of guildhall.
# Environment: VENV (default target/ci-venv, with schemathesis installed), MAX_EXAMPLES (per
# operation and phase, default 30), SCHEMATHESIS_SEED (to replay a run), REPORT_DIR (default
# target/schemathesis: JUnit reports and the servers' logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
BINARY=${1:-target/debug/guildhall}
VENV=${VENV:-target/ci-venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
REPORT_DIR=${REPORT_DIR:-target/schemathesis}
CONFIG=tests/schema/schemathesis.toml
PASSWORD="schema-fuzz-admin-$$-$RANDOM"

# Operations that can end the admin's own session or account, and why (schemathesis follows the
# ids one answer gives to the operations that take them, so it finds the admin's own):
SELF=(
    "POST /auth/logout"                # end the session of the token every request carries
    "POST /auth/logout-all"
    "POST /api/auth/logout"
    "POST /logout"
    "DELETE /auth/sessions/{id}"       # GET /auth/sessions lists the admin's own session
    "PATCH /admin/users/{id}"          # GET /auth/me gives the admin's id: is_active=false, a
    "DELETE /admin/users/{id}"         #   new password or email end the admin's sessions
    "PUT /users/{user_id}"             # seed 002's users are numbers and the admin is number 1
    "DELETE /users/{user_id}"
    "PATCH /orgs/{id}"                 # is_active=false on the admin's organisation
    "POST /auth/organizations/{slug}/leave"  # the admin out of an organisation it was added to
    "DELETE /orgs/{id}/members/{user_id}"  # the admin out of its organisation
    "DELETE /orgs/{id}/members/{user_id}/mfa"  # resetting the admin's factors ends its sessions
)
# What those passes may also call, so that the ids they need are there to follow.
SUPPLIERS=("GET /auth/me" "GET /auth/sessions" "GET /orgs" "GET /orgs/{id}/members" "GET /users/")

rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
DATA=$(mktemp -d)
SERVER=
stop() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap 'stop; rm -rf "$DATA"' EXIT

# A fresh server; sets BASE and SERVER. Nothing from the caller's environment configures it.
# Argon2 is cheap here: fuzzing hashes thousands of passwords, and the cost is not under test.
serve() {
    local name=$1 dir="$DATA/$1" port
    mkdir -p "$dir"
    port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE="http://127.0.0.1:$port"
    env -i PATH="$PATH" HOME="${HOME:-/root}" \
        AUTH_DATA_DIR="$dir" AUTH_HOST=127.0.0.1 AUTH_PORT="$port" AUTH_LOG_FORMAT=json \
        AUTH_ADMIN_PASSWORD="$PASSWORD" AUTH_ARGON2_MEMORY_KIB=1024 AUTH_ARGON2_ITERATIONS=1 \
        RUST_LOG=warn RUST_BACKTRACE=1 \
        "$BINARY" >"$REPORT_DIR/guildhall-$name.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
        curl -sf "$BASE/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.2
    done
    cat "$REPORT_DIR/guildhall-$name.log"
    echo "guildhall did not start"
    exit 1
}

token() {
    curl -sf -H 'content-type: application/json' \
        -d "{\"username\": \"admin\", \"password\": \"$PASSWORD\"}" "$BASE/auth/login" |
        "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

status=0
fuzz() {
    local name=$1
    shift
    echo "--- schemathesis: $name"
    "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$BASE/openapi.json" \
        --checks all --max-examples "$MAX_EXAMPLES" --workers 1 --no-color \
        ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
        -H "Authorization: Bearer $(token)" \
        --report junit --report-dir "$REPORT_DIR/$name" "$@" || status=1
}

exclude=()
for operation in "${SELF[@]}"; do
    exclude+=(--exclude-name "$operation")
done
serve main
fuzz main "${exclude[@]}"
stop

suppliers=()
for operation in "${SUPPLIERS[@]}"; do
    suppliers+=(--include-name "$operation")
done
for operation in "${SELF[@]}"; do
    name=$(echo "$operation" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-')
    serve "$name"
    fuzz "$name" --include-name "$operation" "${suppliers[@]}"
    stop
done

# A panic the client saw only as a dropped connection is a finding too.
if grep -l "panicked" "$REPORT_DIR"/guildhall-*.log; then
    grep -h -A3 "panicked" "$REPORT_DIR"/guildhall-*.log | head -40
    echo "guildhall panicked during the run"
    status=1
fi
[ $status -eq 0 ] && echo "schemathesis: no findings"
exit $status
