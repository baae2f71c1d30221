#!/usr/bin/env python3
"""What a new user does on a fresh machine, against the real binary.

Starts `guildhall` with nothing configured but a data directory and a port, reads the generated
admin password it prints once, registers, logs in, refreshes, logs out, reads /auth/me, and
verifies the access token with PyJWT's PyJWKClient against our JWKS, using the issuer from our
discovery document -- for ES256, EdDSA and RS256. Also checks that bad configuration stops
start-up with one line and a non-zero exit code.

Usage: pyjwt_check.py PATH_TO_GUILDHALL_BINARY
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jwt
from jwt import PyJWKClient

BINARY = sys.argv[1]


def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, (json.loads(raw) if raw else None)


def start(data_dir, port, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not (k.startswith("AUTH_") or k in ("DATABASE_URL", "PORT", "JWT_SECRET"))}
    env.update({"AUTH_DATA_DIR": data_dir, "AUTH_PORT": str(port), "AUTH_HOST": "127.0.0.1", "AUTH_LOG_FORMAT": "json"})
    env.update(extra_env or {})
    stderr = open(os.path.join(data_dir, f"stderr-{port}.log"), "w+")
    proc = subprocess.Popen([BINARY], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if call("GET", f"{base}/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit(f"guildhall did not start on {port}")
    stderr.seek(0)
    return proc, base, stderr.read()


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def flow(alg, port):
    with tempfile.TemporaryDirectory() as data_dir:
        proc, base, log = start(data_dir, port, {"AUTH_JWT_ALGORITHM": alg})
        try:
            match = re.search(r"generated password: (\S+)", log)
            check(match is not None, f"{alg}: the generated admin password is printed once")
            status, admin = call("POST", f"{base}/auth/login", {"email": "admin@localhost", "password": match.group(1)})
            check(status == 200 and admin["user"]["is_superuser"], f"{alg}: the bootstrap admin logs in")
            check(call("POST", f"{base}/auth/login", {"username": "admin", "password": "admin"})[0] == 401, f"{alg}: admin/admin is refused")

            status, reg = call("POST", f"{base}/auth/register", {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"})
            check(status == 201, f"{alg}: register")
            status, login = call("POST", f"{base}/auth/login", {"email": "ada@example.com", "password": "correct horse battery"})
            check(status == 200 and login["token_type"] == "bearer", f"{alg}: login")
            status, refreshed = call("POST", f"{base}/auth/refresh", {"refresh_token": login["refresh_token"]})
            check(status == 200 and refreshed["refresh_token"] != login["refresh_token"], f"{alg}: refresh rotates")
            status, me = call("GET", f"{base}/auth/me", token=refreshed["access_token"])
            check(status == 200 and me["email"] == "ada@example.com", f"{alg}: /auth/me")

            _, discovery = call("GET", f"{base}/.well-known/openid-configuration")
            issuer = discovery["issuer"]
            jwks_uri = discovery["jwks_uri"].replace(issuer, base)
            token = refreshed["access_token"]
            key = PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=[alg], audience="guildhall", issuer=issuer)
            check(claims["email"] == "ada@example.com" and claims["type"] == "access", f"{alg}: PyJWKClient verifies the token with our JWKS and issuer")
            check(jwt.get_unverified_header(token)["typ"] == "at+jwt", f"{alg}: typ is at+jwt")
            _, pem = call("GET", f"{base}/auth/public-key")
            jwt.decode(token, pem["public_key"], algorithms=[alg], audience="guildhall", issuer=issuer)
            check(pem["algorithm"] == alg, f"{alg}: /auth/public-key PEM verifies the token")

            status, _ = call("POST", f"{base}/auth/logout", token=token)
            check(status == 204, f"{alg}: logout")
            check(call("GET", f"{base}/auth/me", token=token)[0] == 401, f"{alg}: the token is dead after logout")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
        env.update({"AUTH_DATA_DIR": data_dir, "AUTH_JWT_ALGORITHM": alg})
        rotated = subprocess.run([BINARY, "keys", "rotate"], env=env, capture_output=True, text=True, timeout=60)
        new_kid = rotated.stdout.strip()
        check(rotated.returncode == 0 and new_kid.startswith(alg.lower()), f"{alg}: guildhall keys rotate prints the new kid {new_kid}")
        proc, base, log = start(data_dir, port, {"AUTH_JWT_ALGORITHM": alg})
        try:
            _, jwks = call("GET", f"{base}/.well-known/jwks.json")
            kids = [k["kid"] for k in jwks["keys"]]
            check(new_kid in kids and jwt.get_unverified_header(token)["kid"] in kids, f"{alg}: after rotation the JWKS has the new key and still the old one")
            check("generated password" not in log, f"{alg}: a restart bootstraps nothing again")
            check(call("GET", f"{base}/auth/me", token=token)[0] == 401, f"{alg}: logout survives the restart")
            status, again = call("POST", f"{base}/auth/login", {"email": "ada@example.com", "password": "correct horse battery"})
            check(status == 200, f"{alg}: accounts survive the restart")
            check(jwt.get_unverified_header(again["access_token"])["kid"] == new_kid, f"{alg}: the rotated key signs")
            key = PyJWKClient(jwks_uri.replace(str(port), str(port))).get_signing_key_from_jwt(again["access_token"])
            jwt.decode(again["access_token"], key.key, algorithms=[alg], audience="guildhall", issuer=issuer)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def bad_configuration():
    cases = [
        ({"AUTH_JWT_ALGORITHM": "none"}, "unknown AUTH_JWT_ALGORITHM"),
        ({"AUTH_JWT_ALGORITHM": "HS256"}, "needs AUTH_JWT_SECRET"),
        ({"AUTH_JWT_ALGORITHM": "HS256", "AUTH_JWT_SECRET": "short"}, "at least 32"),
        ({"AUTH_ALLOW_DEV_HEADERS": "true"}, "AUTH_ENV=development"),
        ({"AUTH_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, "cannot connect to the database"),
    ]
    with tempfile.TemporaryDirectory() as data_dir:
        for env, expected in cases:
            full = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
            full.update({"AUTH_DATA_DIR": data_dir, "AUTH_PORT": "0", "AUTH_LOG_FORMAT": "json"}, **env)
            done = subprocess.run([BINARY], env=full, capture_output=True, text=True, timeout=60)
            lines = [l for l in done.stderr.splitlines() if l.startswith("guildhall:")]
            check(done.returncode != 0 and len(lines) == 1 and expected in lines[0], f"bad configuration {env} stops start-up: {lines}")


if __name__ == "__main__":
    for i, alg in enumerate(["ES256", "EdDSA", "RS256"]):
        flow(alg, 18700 + i)
    bad_configuration()
    print("interop: all checks passed")
