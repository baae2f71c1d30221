#!/usr/bin/env python3
"""guildhall as an OpenID Provider, used by a stock Authlib relying party.

Authlib's requests integration (OAuth2Session) does the protocol: authorization URL with PKCE
S256, the code exchange, refresh, introspection and revocation, with client_secret_basic and
with private_key_jwt (authlib.oauth2.rfc7523.PrivateKeyJWT). ID tokens are validated with
authlib.jose against guildhall's JWKS and authlib.oidc.core.CodeIDToken (iss, aud, azp, nonce,
exp, iat, at_hash). The hosted login and consent pages are driven with `requests` the way a
browser would: the hidden CSRF field plus its cookie, the login form, the consent form, every
redirect followed by hand up to (not into) the client's redirect URI.

Run by tests/rp/run.sh, which starts guildhall, declares the organisation, the user and the
client_secret_basic client `rp-authlib` and the client_secret_post client `rp-post` in a seed
document, and passes GH_ISSUER, GH_USER, GH_PASSWORD, PY_SECRET, POST_SECRET and
GH_ADMIN_PASSWORD. The private_key_jwt client is registered here,
through the admin API, with a key made here.
"""

import html.parser
import os
import secrets
import sys
import time
import unittest
import urllib.parse
import warnings

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken

with warnings.catch_warnings():
    # authlib.jose is deprecated in favour of joserfc but is what authlib.oidc.core builds on.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import InvalidClaimError as JoseInvalidClaim
# Authlib 1.9's authlib.oidc.core claims raise joserfc's errors (joserfc comes with Authlib).
from joserfc.errors import InvalidClaimError

ISSUER = os.environ["GH_ISSUER"]
USER = os.environ["GH_USER"]
PASSWORD = os.environ["GH_PASSWORD"]
PY_SECRET = os.environ["PY_SECRET"]
POST_SECRET = os.environ["POST_SECRET"]
ADMIN_PASSWORD = os.environ["GH_ADMIN_PASSWORD"]
# Nothing listens here: the final redirect to the client is read, never followed.
CALLBACK = "http://127.0.0.1:9/authlib/callback"
JWT_CALLBACK = "http://127.0.0.1:9/authlib/jwt/callback"
TIMEOUT = 10


class Forms(html.parser.HTMLParser):
    """The forms of a page: action and input values (hidden ones included)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def form(page, action):
    parser = Forms()
    parser.feed(page.text)
    for f in parser.forms:
        if f["action"] == action:
            return f["fields"]
    raise AssertionError(f"no form posting to {action} on {page.url} ({page.status_code}):\n{page.text[:2000]}")


class Browser:
    """A cookie-keeping user agent that follows redirects on guildhall only."""

    def __init__(self):
        self.http = requests.Session()

    def _until_client(self, response, redirect_uri):
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307):
                return response, None
            location = urllib.parse.urljoin(response.url, response.headers["location"])
            if location.startswith(redirect_uri):
                return response, location
            assert location.startswith(ISSUER + "/"), f"sent somewhere else: {location}"
            response = self.http.get(location, allow_redirects=False, timeout=TIMEOUT)
        raise AssertionError("too many redirects")

    def get(self, url, redirect_uri):
        return self._until_client(self.http.get(url, allow_redirects=False, timeout=TIMEOUT), redirect_uri)

    def post(self, path, fields, redirect_uri):
        response = self.http.post(ISSUER + path, data=fields, allow_redirects=False, timeout=TIMEOUT)
        return self._until_client(response, redirect_uri)

    def sign_in(self, url, redirect_uri, consent=False):
        """Goes through the hosted pages; answers where guildhall sent the browser back."""
        page, location = self.get(url, redirect_uri)
        if location is None:
            assert page.status_code == 200, page.text[:2000]
            fields = form(page, "/oauth2/login")
            assert fields.get("csrf") and fields.get("handle"), "the login form's hidden CSRF field and handle"
            assert any(c.name for c in self.http.cookies), "and a cookie to match"
            fields.update(login=USER, password=PASSWORD)
            page, location = self.post("/oauth2/login", fields, redirect_uri)
        if consent:
            assert location is None, f"no consent page: {location}"
            assert "wants to access your account" in page.text, page.text[:2000]
            fields = form(page, "/oauth2/consent")
            fields["decision"] = "allow"
            page, location = self.post("/oauth2/consent", fields, redirect_uri)
        assert location, f"not sent back to the client ({page.status_code}):\n{page.text[:2000]}"
        return location


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


class AuthlibAgainstGuildhall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        meta = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT).json()
        assert meta["issuer"] == ISSUER, (meta["issuer"], ISSUER)
        cls.meta = meta
        cls.jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=TIMEOUT).json())

    def id_claims(self, id_token, client_id, nonce, access_token):
        """Validates an ID token the way OpenID Connect Core §3.1.3.7 says, with Authlib."""
        claims = jwt.decode(
            id_token,
            self.jwks,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": ISSUER},
                "aud": {"essential": True, "value": client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "iat": {"essential": True},
                "nonce": {"essential": True},
            },
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(leeway=5)
        self.assertEqual(claims["iss"], ISSUER)
        self.assertEqual(claims["nonce"], nonce)
        self.assertGreater(claims["exp"], time.time())
        self.assertEqual(claims["email"], USER)
        return claims

    def code_flow(self, session, redirect_uri, consent):
        """Authorization URL (PKCE S256, state, nonce), hosted pages, code exchange."""
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        url, state = session.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        self.assertEqual(query(url)["code_challenge_method"], "S256")
        back = Browser().sign_in(url, redirect_uri, consent=consent)
        params = query(back)
        self.assertEqual(params.get("state"), state)
        self.assertEqual(params.get("iss"), ISSUER, "RFC 9207")
        token = session.fetch_token(
            self.meta["token_endpoint"], authorization_response=back, code_verifier=verifier, state=state
        )
        self.assertEqual(token["token_type"].lower(), "bearer")
        claims = self.id_claims(token["id_token"], session.client_id, nonce, token["access_token"])
        return token, claims, nonce

    def test_a_confidential_client_secret_basic_code_flow_with_pkce(self):
        session = OAuth2Session(
            "rp-authlib",
            PY_SECRET,
            token_endpoint_auth_method="client_secret_basic",
            scope="openid email profile",
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )
        # A third-party application: the consent page comes after the login.
        token, claims, nonce = self.code_flow(session, CALLBACK, consent=True)
        # The validation is real: another nonce, audience or issuer is refused.
        for params, options in [
            ({"nonce": "another", "client_id": "rp-authlib"}, {}),
            ({"nonce": nonce, "client_id": "rp-authlib"}, {"aud": {"essential": True, "value": "someone-else"}}),
            ({"nonce": nonce, "client_id": "rp-authlib"}, {"iss": {"essential": True, "value": ISSUER + "/"}}),
        ]:
            with self.assertRaises((InvalidClaimError, JoseInvalidClaim)):
                jwt.decode(token["id_token"], self.jwks, claims_cls=CodeIDToken, claims_options=options, claims_params=params).validate()

        info = session.get(self.meta["userinfo_endpoint"], timeout=TIMEOUT)
        self.assertEqual(info.status_code, 200, info.text)
        self.assertEqual(info.json()["sub"], claims["sub"])
        self.assertEqual(info.json()["email"], USER)

        old_refresh = token["refresh_token"]
        refreshed = session.refresh_token(self.meta["token_endpoint"])
        self.assertNotEqual(refreshed["refresh_token"], old_refresh)
        self.assertNotEqual(refreshed["access_token"], token["access_token"])

        # Introspection and revocation with client_secret_basic.
        endpoint = self.meta["introspection_endpoint"]
        answer = session.introspect_token(endpoint, token=refreshed["access_token"])
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertTrue(answer.json()["active"])
        self.assertEqual(answer.json()["sub"], claims["sub"])
        revoked = session.revoke_token(
            self.meta["revocation_endpoint"], token=refreshed["refresh_token"], token_type_hint="refresh_token"
        )
        self.assertEqual(revoked.status_code, 200, revoked.text)
        self.assertFalse(session.introspect_token(endpoint, token=refreshed["access_token"]).json()["active"])
        with self.assertRaises(AuthlibBaseError) as refused:
            session.refresh_token(self.meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
        self.assertEqual(refused.exception.error, "invalid_grant")

        # A wrong secret: invalid_client.
        impostor = OAuth2Session("rp-authlib", "not-the-secret", timeout=TIMEOUT)
        with self.assertRaises(AuthlibBaseError) as refused:
            impostor.fetch_token(self.meta["token_endpoint"], grant_type="client_credentials")
        self.assertEqual(refused.exception.error, "invalid_client")

    def test_b_private_key_jwt_client_credentials_code_exchange_introspection_revocation(self):
        # The client's own key; only its public half goes to guildhall.
        key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
        kid = "authlib-" + secrets.token_hex(4)
        public = dict(key.as_dict(is_private=False), kid=kid, alg="RS256", use="sig")
        pem = key.as_pem(is_private=True)

        admin = requests.post(
            f"{ISSUER}/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=TIMEOUT
        )
        self.assertEqual(admin.status_code, 200, admin.text)
        bearer = {"authorization": f"Bearer {admin.json()['access_token']}"}
        orgs = requests.get(f"{ISSUER}/orgs", headers=bearer, timeout=TIMEOUT).json()["items"]
        acme = next(o for o in orgs if o["slug"] == "acme")
        created = requests.post(
            f"{ISSUER}/orgs/{acme['id']}/clients",
            headers=bearer,
            json={
                "name": "Authlib Batch",
                "kind": "confidential",
                "first_party": True,
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [public]},
                "redirect_uris": [JWT_CALLBACK],
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            },
            timeout=TIMEOUT,
        )
        self.assertEqual(created.status_code, 201, created.text)
        self.assertNotIn("client_secret", created.json())
        client_id = created.json()["client_id"]

        token_endpoint = self.meta["token_endpoint"]
        session = OAuth2Session(
            client_id,
            pem,
            token_endpoint_auth_method="private_key_jwt",
            revocation_endpoint_auth_method="private_key_jwt",
            scope="openid email",
            redirect_uri=JWT_CALLBACK,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )
        session.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers={"kid": kid}))

        # client_credentials.
        machine = OAuth2Session(client_id, pem, token_endpoint_auth_method="private_key_jwt", timeout=TIMEOUT)
        machine.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers={"kid": kid}))
        granted = machine.fetch_token(token_endpoint, grant_type="client_credentials")
        self.assertNotIn("refresh_token", granted)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            access = jwt.decode(granted["access_token"], self.jwks)
        access.validate()
        self.assertEqual(access["client_id"], client_id)
        self.assertEqual(access["iss"], ISSUER)
        again = machine.fetch_token(token_endpoint, grant_type="client_credentials")
        self.assertNotEqual(again["access_token"], granted["access_token"], "a fresh assertion each time")

        # Another key is refused.
        stranger = OAuth2Session(
            client_id,
            JsonWebKey.generate_key("RSA", 2048, is_private=True).as_pem(is_private=True),
            token_endpoint_auth_method="private_key_jwt",
            timeout=TIMEOUT,
        )
        stranger.register_client_auth_method(PrivateKeyJWT(token_endpoint, headers={"kid": kid}))
        with self.assertRaises(AuthlibBaseError) as refused:
            stranger.fetch_token(token_endpoint, grant_type="client_credentials")
        self.assertEqual(refused.exception.error, "invalid_client")

        # The code exchange, authenticated with an assertion.
        token, claims, _ = self.code_flow(session, JWT_CALLBACK, consent=False)
        self.assertEqual(claims["aud"], client_id)
        refreshed = session.refresh_token(token_endpoint)
        self.assertNotEqual(refreshed["refresh_token"], token["refresh_token"])

        # Introspection and revocation, authenticated with assertions.
        endpoint = self.meta["introspection_endpoint"]
        answer = session.introspect_token(endpoint, token=refreshed["access_token"])
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertTrue(answer.json()["active"])
        self.assertEqual(answer.json()["sub"], claims["sub"])
        machine_answer = session.introspect_token(endpoint, token=granted["access_token"]).json()
        self.assertTrue(machine_answer["active"])
        self.assertEqual(machine_answer["client_id"], client_id)

        revoked = session.revoke_token(self.meta["revocation_endpoint"], token=refreshed["access_token"])
        self.assertEqual(revoked.status_code, 200, revoked.text)
        self.assertFalse(session.introspect_token(endpoint, token=refreshed["access_token"]).json()["active"])
        with self.assertRaises(AuthlibBaseError) as refused:
            session.refresh_token(token_endpoint)
        self.assertEqual(refused.exception.error, "invalid_grant")
        userinfo = requests.get(
            self.meta["userinfo_endpoint"],
            headers={"authorization": f"Bearer {refreshed['access_token']}"},
            timeout=TIMEOUT,
        )
        self.assertEqual(userinfo.status_code, 401)
        self.assertIn("invalid_token", userinfo.headers.get("www-authenticate", ""))

    def test_c_client_secret_post_client_credentials(self):
        token_endpoint = self.meta["token_endpoint"]
        session = OAuth2Session("rp-post", POST_SECRET, token_endpoint_auth_method="client_secret_post", timeout=TIMEOUT)
        granted = session.fetch_token(token_endpoint, grant_type="client_credentials")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            access = jwt.decode(granted["access_token"], self.jwks)
        access.validate()
        self.assertEqual(access["client_id"], "rp-post")
        self.assertEqual(access["iss"], ISSUER)
        # Only the registered method authenticates the client (the same secret over Basic: no).
        basic = OAuth2Session("rp-post", POST_SECRET, token_endpoint_auth_method="client_secret_basic", timeout=TIMEOUT)
        with self.assertRaises(AuthlibBaseError) as refused:
            basic.fetch_token(token_endpoint, grant_type="client_credentials")
        self.assertEqual(refused.exception.error, "invalid_client")


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    run, failed = result.testsRun, len(result.failures) + len(result.errors)
    print(f"authlib: {run - failed} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() and run > 0 else 1)
