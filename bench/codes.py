"""The authorization-code exchange at /oauth2/token (issue 20, item 7): a first-party public
application (PKCE, no consent prompt) of the organisation bench-0, members of bench-0 signed in
through the hosted login page, and a pool of one-time codes minted with wrk against
/oauth2/authorize (bench/lua/authorize.lua) right before code_exchange.lua spends each once."""
import base64
import glob
import hashlib
import http.client
import os
import re
import subprocess
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from harness import http as api
from harness import wrk_command

CALLBACK = "http://127.0.0.1:9/callback"
# One verifier for every code (each code is still bound to its challenge and works once).
VERIFIER = base64.urlsafe_b64encode(b"guildhall bench pkce verifier, 43+ chars").rstrip(b"=").decode()
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
# Codes kept per user: each exchange starts a session, and guildhall ends a user's oldest past
# AUTH_MAX_SESSIONS_PER_USER (100), which would add statements to the exchange.
PER_USER = 80


def org_id(base, admin, slug):
    cursor = None
    while True:
        page = api("GET", f"{base}/orgs?limit=100" + (f"&cursor={cursor}" if cursor else ""), token=admin)
        for org in page["items"]:
            if org["slug"] == slug:
                return org["id"]
        cursor = page.get("next_cursor")
        if not cursor:
            raise SystemExit(f"no organisation {slug}")


def register_app(base, admin):
    """A first-party public client of bench-0: its users get codes without a consent prompt."""
    org = org_id(base, admin, "bench-0")
    app = api("POST", f"{base}/orgs/{org}/clients", {"name": "Bench SPA", "kind": "public", "redirect_uris": [CALLBACK], "first_party": True}, token=admin)
    return app["client_id"]


def authorize_path(client_id):
    query = urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid email",
        "nonce": "n", "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    return f"/oauth2/authorize?{query}"


def _cookies(response, jar):
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, value = header.split(";")[0].partition("=")
        jar[name.strip()] = value.strip()
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _sign_in(port, client_id, email, password):
    """The hosted login for one user: the authorize page, then its form; the browser session's
    cookies (a Cookie header)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    jar = {}
    conn.request("GET", authorize_path(client_id) + "&state=login")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = _cookies(page, jar)
    fields = {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1) for name in ("handle", "csrf")}
    form = urllib.parse.urlencode({**fields, "login": email, "password": password})
    conn.request("POST", "/oauth2/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    done = conn.getresponse()
    done.read()
    cookie = _cookies(done, jar)
    conn.close()
    if done.status != 302 or "code=" not in (done.getheader("Location") or ""):
        raise SystemExit(f"the hosted login of {email} answered {done.status}, not a redirect with a code")
    return cookie


def sign_in(base, client_id, emails, password):
    port = int(base.rsplit(":", 1)[1])
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda e: _sign_in(port, client_id, e, password), emails))


def mint(base, data, client_id, cookies, duration, connections):
    """Codes from wrk against /oauth2/authorize for `duration` s, at most PER_USER a user."""
    cookie_file = os.path.join(data, "cookies.txt")
    with open(cookie_file, "w") as f:
        f.write("\n".join(cookies) + "\n")
    prefix = os.path.join(data, "codes")
    for old in glob.glob(prefix + ".*"):
        os.remove(old)
    env = {**os.environ, "COOKIES": cookie_file, "AUTHORIZE": authorize_path(client_id), "CODES": prefix, "THREADS": "2"}
    subprocess.run(wrk_command(f"{base}/oauth2/authorize", "authorize.lua", duration, connections, latency=False),
                   env=env, check=True, capture_output=True, timeout=duration + 60)
    per_user, codes = {}, []
    for name in sorted(glob.glob(prefix + ".*")):
        with open(name) as f:
            for line in f:
                user, _, code = line.strip().partition(" ")
                if code and per_user.get(user, 0) < PER_USER:
                    per_user[user] = per_user.get(user, 0) + 1
                    codes.append(code)
    out = os.path.join(data, "codes.txt")
    with open(out, "w") as f:
        f.write("\n".join(codes) + "\n")
    return out, len(codes)


def exchange_env(codes_file, client_id):
    return {"CODES": codes_file, "CLIENT_ID": client_id, "VERIFIER": VERIFIER, "REDIRECT": urllib.parse.quote(CALLBACK, safe="")}
