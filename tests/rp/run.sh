#!/usr/bin/env bash
# Stock, unchanged relying-party libraries against guildhall acting as an OpenID Provider, the
# real binary on 127.0.0.1 with a fresh database. What passing proves:
#
#  - openid-client (node, panva; an OpenID Certified RP library) discovers guildhall (the issuer
#    matches byte for byte), and a real browser (Debian's Chromium driven by playwright-core)
#    goes through the hosted login, consent and device pages with their CSP, CSRF cookie and
#    forms, starting from the application's own page on another site (localhost, so SameSite
#    rules apply as in production):
#      (a) a public SPA-style client: code + PKCE S256 + state + nonce (RFC 9207 iss checked),
#          ID token validated by the library, userinfo, refresh with rotation, silent SSO with
#          prompt=none, RP-initiated logout (end_session_endpoint, id_token_hint +
#          post_logout_redirect_uri + state), a back-channel logout token verified against the
#          JWKS, and afterwards prompt=none answers login_required and the tokens are dead;
#      (b) a confidential client_secret_basic client: code flow through the consent page,
#          remembered consent, refresh-token reuse detection, introspection, revocation,
#          client_credentials, a wrong secret refused;
#      (c) a wrong (or missing) PKCE verifier refused with invalid_grant;
#      (d) response_mode=form_post (the auto-submitting page under its CSP);
#      (e) the device authorization grant (code entered in the browser, the library polls);
#      (f) a multi-organisation application: the user picks the organisation on the picker page
#          and the tokens are for it;
#    and three checks of what the specifications say that guildhall once got wrong (logout by a
#    cross-site POST, introspection's scope, revoking a client-credentials token;
#    tests/rp/README.md).
#  - Passkeys on the hosted pages (tests/rp/passkeys.test.mjs), against a second guildhall whose
#    public URL is http://localhost:PORT (WebAuthn refuses an IP address as relying party):
#    Chromium's virtual authenticator registers a passkey, logs in with it from the login page
#    without a password, and answers the second-factor page after a password.
#  - The web console and the account page (tests/rp/console.test.mjs): an admin logs in through
#    the console's own code + PKCE login, invites (the test's SMTP listener on SMTP_PORT reads the
#    mail; the invitee accepts in another browser context), builds a team, enrols an authenticator app,
#    signs out a session and logs in again with the code; axe-core checks every page (no
#    serious or critical violation) and each is kept as a screenshot in
#    $REPORT_DIR/screenshots.
#  - Authlib (python) drives the hosted pages with `requests` (hidden CSRF field + cookie),
#    does the code flow with PKCE as a confidential client_secret_basic client and validates
#    the ID token against the JWKS with authlib.jose + authlib.oidc.core (iss, aud, azp, nonce,
#    exp, iat, at_hash); a client it registers through the admin API with its own RSA public key
#    authenticates with private_key_jwt (RFC 7523) for client_credentials, the code exchange,
#    refresh, introspection (RFC 7662) and revocation (RFC 7009); client_secret_post works for
#    client_credentials (tests/rp/rp_authlib.py).
#
# Usage: tests/rp/run.sh [GUILDHALL_BINARY]   (default target/debug/guildhall)
# Needs node + npm, python3, and Debian's chromium at /usr/bin/chromium (apt-get install
# chromium); installs nothing globally: node packages with `npm ci --prefix tests/rp`, Python
# ones into a venv. Environment: VENV (default target/rp-venv), REPORT_DIR (default target/rp:
# the server's log and the seed document), CHROMIUM (default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/../.."
BINARY=${1:-target/debug/guildhall}
VENV=${VENV:-target/rp-venv}
REPORT_DIR=${REPORT_DIR:-target/rp}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
started=$(date +%s)

[ -x "$BINARY" ] || { echo "no guildhall binary at $BINARY (cargo build --bin guildhall)"; exit 1; }
[ -x "$CHROMIUM" ] || { echo "no Chromium at $CHROMIUM (apt-get install chromium)"; exit 1; }

echo "--- npm ci (openid-client, playwright-core, jose)"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/rp --no-audit --no-fund --loglevel=error
echo "--- python venv $VENV (Authlib, requests)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/rp/requirements.txt

rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"
REPORT_DIR=$(cd "$REPORT_DIR" && pwd)
DATA=$(mktemp -d)
PK_DATA=$(mktemp -d)
SERVERS=()
stop() {
    for pid in "${SERVERS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVERS=()
}
trap 'stop; rm -rf "$DATA" "$PK_DATA"' EXIT

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
secret() {
    "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))'
}

PORT=$(free_port)
# The node test's relying party (redirect, post-logout and back-channel URIs) listens here.
RP_PORT=$(free_port)
while [ "$RP_PORT" = "$PORT" ]; do RP_PORT=$(free_port); done
ISSUER="http://127.0.0.1:$PORT"
# The console test's SMTP listener (smtp-server, in the test) reads guildhall's mail off the wire.
SMTP_PORT=$(free_port)
while [ "$SMTP_PORT" = "$PORT" ] || [ "$SMTP_PORT" = "$RP_PORT" ]; do SMTP_PORT=$(free_port); done
# localhost, not 127.0.0.1: another site than guildhall's (both loopback), so that the browser
# applies its cross-site cookie rules as between app.example and auth.example.
RP="http://localhost:$RP_PORT"
ADMIN_PASSWORD="rp-admin-$(secret)"
USER_EMAIL="ada@acme.test"
USER_PASSWORD="rp-user-$(secret)"
CONSOLE_USER="lin@acme.test"
CONSOLE_PASSWORD="rp-console-$(secret)"
WEB_SECRET=$(secret)
PY_SECRET=$(secret)
POST_SECRET=$(secret)

# The organisation, its member and the clients, declared the way an operator would (the member
# is in a second organisation too, for the picker; the multi-organisation client is registered
# by the node test as the superuser). The
# private_key_jwt client is registered by the Python test through the admin API (its key is
# made there).
SEED="$REPORT_DIR/seed.json"
cat >"$SEED" <<EOF
{"orgs": [{"slug": "acme", "name": "Acme",
  "users": [{"email": "$USER_EMAIL", "password": "$USER_PASSWORD", "roles": ["member"]},
            {"email": "$CONSOLE_USER", "password": "$CONSOLE_PASSWORD", "roles": ["admin"]}],
  "applications": [
    {"client_id": "rp-spa", "name": "Node SPA", "kind": "public", "first_party": true,
     "token_endpoint_auth_method": "none",
     "redirect_uris": ["$RP/spa/callback"], "post_logout_redirect_uris": ["$RP/spa/bye"],
     "backchannel_logout_uri": "$RP/spa/backchannel",
     "grant_types": ["authorization_code", "refresh_token"]},
    {"client_id": "rp-web", "client_secret": "$WEB_SECRET", "name": "Node Web", "kind": "confidential",
     "token_endpoint_auth_method": "client_secret_basic",
     "redirect_uris": ["$RP/web/callback"],
     "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
     "scopes": ["openid", "profile", "email", "reports:read"]},
    {"client_id": "rp-device", "name": "Node CLI", "kind": "public", "first_party": true,
     "token_endpoint_auth_method": "none", "redirect_uris": [],
     "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]},
    {"client_id": "rp-authlib", "client_secret": "$PY_SECRET", "name": "Authlib Web", "kind": "confidential",
     "token_endpoint_auth_method": "client_secret_basic",
     "redirect_uris": ["http://127.0.0.1:9/authlib/callback"],
     "grant_types": ["authorization_code", "refresh_token"]},
    {"client_id": "rp-post", "client_secret": "$POST_SECRET", "name": "Authlib Batch (post)", "kind": "confidential",
     "token_endpoint_auth_method": "client_secret_post", "redirect_uris": [],
     "grant_types": ["client_credentials"]}
  ]},
  {"slug": "beta", "name": "Beta Works",
   "users": [{"email": "$USER_EMAIL", "password": "$USER_PASSWORD", "roles": ["admin"]}]}]}
EOF

# start_guildhall ISSUER PORT DATA_DIR SEED LOG: the binary on 127.0.0.1:PORT, up when /healthz is.
start_guildhall() {
    local issuer=$1 port=$2 data=$3 seed=$4 log=$5
    echo "--- guildhall on $issuer"
    env -i PATH="$PATH" HOME="${HOME:-/root}" \
        AUTH_DATA_DIR="$data" AUTH_HOST=127.0.0.1 AUTH_PORT="$port" AUTH_LOG_FORMAT=json \
        AUTH_ISSUER="$issuer" AUTH_PUBLIC_URL="$issuer" AUTH_SEED_FILE="$seed" \
        AUTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" AUTH_ARGON2_MEMORY_KIB=1024 AUTH_ARGON2_ITERATIONS=1 \
        AUTH_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" \
        RUST_LOG=info RUST_BACKTRACE=1 \
        "$BINARY" >"$log" 2>&1 &
    local pid=$!
    SERVERS+=("$pid")
    for _ in $(seq 1 150); do
        if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then return 0; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    tail -50 "$log"
    echo "guildhall did not start"
    exit 1
}

start_guildhall "$ISSUER" "$PORT" "$DATA" "$SEED" "$REPORT_DIR/guildhall.log"

# The passkey server: its own database, one member and one public client.
PK_PORT=$(free_port)
while [ "$PK_PORT" = "$PORT" ] || [ "$PK_PORT" = "$RP_PORT" ]; do PK_PORT=$(free_port); done
PK_ISSUER="http://localhost:$PK_PORT"
PK_USER="grace@acme.test"
PK_PASSWORD="rp-pk-$(secret)"
# The browser's request to the redirect URI is answered by the test itself (Playwright's route).
PK_CALLBACK="http://127.0.0.1:$RP_PORT/pk/callback"
PK_SEED="$REPORT_DIR/passkeys-seed.json"
cat >"$PK_SEED" <<EOF
{"orgs": [{"slug": "acme", "name": "Acme",
  "users": [{"email": "$PK_USER", "password": "$PK_PASSWORD", "roles": ["member"]}],
  "applications": [
    {"client_id": "pk-spa", "name": "Passkey SPA", "kind": "public", "first_party": true,
     "token_endpoint_auth_method": "none", "redirect_uris": ["$PK_CALLBACK"],
     "grant_types": ["authorization_code"]}]}]}
EOF
start_guildhall "$PK_ISSUER" "$PK_PORT" "$PK_DATA" "$PK_SEED" "$REPORT_DIR/guildhall-passkeys.log"

export GH_ISSUER="$ISSUER" RP_PORT RP_BASE="$RP" GH_USER="$USER_EMAIL" GH_PASSWORD="$USER_PASSWORD" \
    GH_ADMIN_PASSWORD="$ADMIN_PASSWORD" WEB_SECRET PY_SECRET POST_SECRET CHROMIUM \
    GH_PK_ISSUER="$PK_ISSUER" GH_PK_USER="$PK_USER" GH_PK_PASSWORD="$PK_PASSWORD" GH_PK_CALLBACK="$PK_CALLBACK" \
    GH_CONSOLE_USER="$CONSOLE_USER" GH_CONSOLE_PASSWORD="$CONSOLE_PASSWORD" REPORT_DIR SMTP_PORT

status=0
echo "--- node: openid-client + playwright-core (Chromium)"
(cd tests/rp && node --test --test-reporter=spec --test-concurrency=1 rp.test.mjs passkeys.test.mjs console.test.mjs) || status=1
echo "--- python: Authlib"
"$VENV/bin/python" -W ignore::DeprecationWarning tests/rp/rp_authlib.py || status=1

stop
for log in "$REPORT_DIR"/guildhall*.log; do
    if grep -q "panicked" "$log"; then
        grep -A3 "panicked" "$log" | head -40
        echo "guildhall panicked during the run ($log)"
        status=1
    fi
done
echo "--- relying parties: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - started)) s (log: $REPORT_DIR/guildhall.log)"
exit $status
