// guildhall as an OpenID Provider, used by a stock relying party: openid-client (v6) does every
// protocol step and validation, a real browser (Debian's Chromium through playwright-core) goes
// through guildhall's hosted login, consent and device pages, and a small HTTP server on
// loopback is the relying party: its pages start each flow (a link or a form the browser
// follows, so navigations come from the application's site as they do in production), and it
// serves the redirect, post-logout and back-channel logout URIs. guildhall is at 127.0.0.1 and
// the relying party at localhost (RP_BASE): two sites, so the browser applies its cross-site
// cookie rules (SameSite) as it would between app.example and auth.example.
//
// Run by tests/rp/run.sh, which starts guildhall and declares the clients; it passes:
//   GH_ISSUER, RP_PORT, RP_BASE, GH_USER, GH_PASSWORD, WEB_SECRET, CHROMIUM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/rp/run.sh`);
  return value;
};
const ISSUER = env('GH_ISSUER');
const RP = env('RP_BASE');
const USER = env('GH_USER');
const PASSWORD = env('GH_PASSWORD');
const WEB_SECRET = env('WEB_SECRET');
const ADMIN_PASSWORD = env('GH_ADMIN_PASSWORD');
const SPA = { id: 'rp-spa', callback: `${RP}/spa/callback`, bye: `${RP}/spa/bye` };
const WEB = { id: 'rp-web', callback: `${RP}/web/callback` };
const DEVICE = { id: 'rp-device' };
// Plain http is fine here: everything is on loopback. enableNonRepudiationChecks makes the
// library verify every ID token's signature against the JWKS too (over TLS it may skip that,
// OpenID Connect Core §3.1.3.7 step 6).
const insecure = { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] };

// ---- the relying party's own endpoints ------------------------------------------------------

/** Logout tokens POSTed to /spa/backchannel (OpenID Connect Back-Channel Logout 1.0 §2.5). */
const logoutTokens = [];
/** Authorization responses POSTed to a callback (response_mode=form_post), by path. */
const formPosts = new Map();

const escape = (v) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The application's page that starts a flow: a link to `to` (GET), or a form posting the
 * parameters of `to` to its path (POST), which the test clicks like a person would.
 */
function launchPage(to, method) {
  const target = new URL(to);
  if (method === 'post') {
    const inputs = [...target.searchParams].map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`).join('');
    return `<!doctype html><title>RP</title><form method="post" action="${escape(target.origin + target.pathname)}">${inputs}<button id="go">Go</button></form>`;
  }
  return `<!doctype html><title>RP</title><a id="go" href="${escape(target.href)}">Go</a>`;
}

const rp = http.createServer((req, res) => {
  const url = new URL(req.url, RP);
  if (req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const type = req.headers['content-type'] ?? '';
      if (url.pathname === '/spa/backchannel') {
        logoutTokens.push({ type, token: new URLSearchParams(body).get('logout_token') });
        res.writeHead(200, { 'cache-control': 'no-store' }).end();
      } else {
        formPosts.set(url.pathname, { type, body });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>RP</title><p>relying party');
      }
    });
    return;
  }
  if (url.pathname === '/launch') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(launchPage(url.searchParams.get('to'), url.searchParams.get('method')));
    return;
  }
  // Redirect targets: the browser lands here; the test reads the URL from the browser.
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>RP</title><p>relying party');
});

let browser;
before(async () => {
  await new Promise((resolve, reject) => {
    rp.once('error', reject);
    rp.listen(Number(env('RP_PORT')), '127.0.0.1', resolve);
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => rp.close(resolve));
});

// ---- helpers ---------------------------------------------------------------------------------

/** A fresh browser (its own cookie jar) whose pages record CSP violations and page errors. */
async function freshBrowser() {
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return { context, page, problems };
}

/** Sends the browser from the application's page to `to`: a link (GET) or a form (POST). */
async function fromApp(page, to, method = 'get') {
  await page.goto(`${RP}/launch?${new URLSearchParams({ to: to.href ?? to, method })}`);
  await page.click('#go');
}

/** A URL on the relying party (where guildhall sent the browser back), as the browser has it. */
const landedOn = (prefix) => (url) => url.href.startsWith(prefix);

/**
 * Opens an authorization URL in the browser and goes through the hosted pages like a person:
 * the login form (when `login`), the consent page (when `consent`), until the browser is back
 * on `redirect`. Answers the URL the browser landed on.
 */
async function signIn(page, url, redirect, { login = true, consent = false, client }) {
  await fromApp(page, url);
  if (login) {
    await assert.doesNotReject(page.locator('h1', { hasText: `Log in to ${client}` }).waitFor(), 'the hosted login page');
    await page.fill('#login', USER);
    await page.fill('#password', PASSWORD);
    await page.click('form[action="/oauth2/login"] button[type=submit]');
  }
  if (consent) {
    await page.locator('h1', { hasText: `${client} wants to access your account` }).waitFor();
    await page.click('button[name=decision][value=allow]');
  }
  await page.waitForURL(landedOn(redirect), { waitUntil: 'commit' });
  return new URL(page.url());
}

/** A code request's secrets and its URL (code + PKCE S256 + state + nonce). */
async function codeRequest(config, redirect, extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce(), idTokenExpected: true };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

const isOAuthError = (code) => (e) => {
  assert.ok(e instanceof oidc.ResponseBodyError || e instanceof oidc.AuthorizationResponseError, `${e?.name}: ${e?.message}`);
  assert.equal(e.error, code, `${e.error}: ${e.error_description}`);
  return true;
};

/** The claims guildhall's ID tokens must carry for `client` (OpenID Connect Core §2, §3.1.3.7). */
function checkIdClaims(claims, client, nonce) {
  assert.equal(claims.iss, ISSUER, 'iss is the issuer, byte for byte');
  assert.deepEqual([claims.aud].flat(), [client]);
  if (nonce !== undefined) assert.equal(claims.nonce, nonce);
  assert.equal(typeof claims.sub, 'string');
  assert.ok(claims.exp > Date.now() / 1000 && claims.iat <= Date.now() / 1000 + 5);
  assert.equal(claims.email, USER);
  assert.equal(typeof claims.sid, 'string', 'a sid (Back-Channel Logout §2.1)');
}

// ---- the tests -------------------------------------------------------------------------------

/** A user's access token issued to rp-web, from test (b). */
let webUserToken;

describe('openid-client against guildhall', () => {
  test('discovery: the issuer matches byte for byte and the endpoints are there', async () => {
    const config = await oidc.discovery(new URL(ISSUER), SPA.id, undefined, oidc.None(), insecure);
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, ISSUER);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      assert.ok(meta[key]?.startsWith(`${ISSUER}/`), key);
    }
    assert.ok(meta.code_challenge_methods_supported.includes('S256'));
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.ok(meta.supportsPKCE());
  });

  test('(a) public SPA client: code + PKCE through the hosted login, ID token, userinfo, refresh, RP-initiated and back-channel logout', async () => {
    const config = await oidc.discovery(new URL(ISSUER), SPA.id, undefined, oidc.None(), insecure);
    const { context, page, problems } = await freshBrowser();
    try {
      const { url, checks } = await codeRequest(config, SPA.callback);
      const back = await signIn(page, url, SPA.callback, { client: 'Node SPA' });
      assert.equal(back.searchParams.get('iss'), ISSUER, 'RFC 9207 iss in the authorization response');
      assert.equal(back.searchParams.get('state'), checks.expectedState);

      // The library checks state and iss of the response, exchanges the code (PKCE), and
      // validates the ID token: signature against the JWKS, iss, aud, azp, exp, iat, nonce.
      const tokens = await oidc.authorizationCodeGrant(config, back, checks);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.expiresIn() > 0);
      assert.ok(tokens.refresh_token, 'a refresh token: the client has the refresh_token grant');
      const claims = tokens.claims();
      checkIdClaims(claims, SPA.id, checks.expectedNonce);

      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.sub, claims.sub);
      assert.equal(info.email, USER);

      // Refresh: rotated, with a fresh access token and an ID token about the same user.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.access_token && refreshed.access_token !== tokens.access_token);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotation');
      if (refreshed.id_token) {
        const again = refreshed.claims();
        assert.equal(again.sub, claims.sub);
        assert.equal(again.iss, ISSUER);
      }
      const info2 = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
      assert.equal(info2.email, USER);

      // Single sign-on: the browser session answers prompt=none with a code, no page.
      const silent = await codeRequest(config, SPA.callback, { prompt: 'none' });
      const silentBack = await signIn(page, silent.url, SPA.callback, { login: false, client: 'Node SPA' });
      const silentTokens = await oidc.authorizationCodeGrant(config, silentBack, silent.checks);
      assert.equal(silentTokens.claims().sub, claims.sub);
      assert.equal(silentTokens.claims().sid, claims.sid, 'the same OP session');

      // RP-initiated logout with id_token_hint + post_logout_redirect_uri + state.
      const logoutState = oidc.randomState();
      const endSession = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: SPA.bye,
        state: logoutState,
      });
      await fromApp(page, endSession);
      await page.waitForURL(landedOn(SPA.bye), { waitUntil: 'commit' });
      assert.equal(new URL(page.url()).searchParams.get('state'), logoutState);

      // The browser session is gone: prompt=none now answers login_required, which the library
      // reports as the authorization error it is.
      const after = await codeRequest(config, SPA.callback, { prompt: 'none' });
      const refused = await signIn(page, after.url, SPA.callback, { login: false, client: 'Node SPA' });
      assert.equal(refused.searchParams.get('error'), 'login_required');
      assert.equal(refused.searchParams.get('state'), after.checks.expectedState);
      await assert.rejects(oidc.authorizationCodeGrant(config, refused, after.checks), isOAuthError('login_required'));

      // The application's tokens ended with it.
      await assert.rejects(
        oidc.fetchUserInfo(config, refreshed.access_token, claims.sub),
        (e) => e instanceof oidc.WWWAuthenticateChallengeError && e.status === 401,
      );
      await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), isOAuthError('invalid_grant'));

      // Back-channel logout: a logout token for this client, signed with a published key.
      for (let i = 0; i < 50 && logoutTokens.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(logoutTokens.length, 1, 'one logout token for the one client that registered a back-channel URI');
      assert.ok(logoutTokens[0].type.startsWith('application/x-www-form-urlencoded'));
      const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
      const { payload, protectedHeader } = await jose.jwtVerify(logoutTokens[0].token, jwks, {
        issuer: ISSUER,
        audience: SPA.id,
      });
      assert.equal(payload.sub, claims.sub);
      assert.equal(payload.sid, claims.sid);
      assert.ok(payload.events?.['http://schemas.openid.net/event/backchannel-logout'], 'the logout event');
      assert.equal(payload.nonce, undefined, 'a logout token has no nonce (§2.4)');
      assert.ok(payload.jti && payload.iat, 'jti and iat (§2.4)');
      if (protectedHeader.typ) assert.equal(protectedHeader.typ, 'logout+jwt');

      assert.deepEqual(problems, [], 'no CSP violation or script error on the hosted pages');
    } finally {
      await context.close();
    }
  });

  test('(b) confidential client, client_secret_basic: code flow through the consent page, refresh reuse, client_credentials', async () => {
    const config = await oidc.discovery(new URL(ISSUER), WEB.id, undefined, oidc.ClientSecretBasic(WEB_SECRET), insecure);
    const { context, page, problems } = await freshBrowser();
    try {
      const { url, checks } = await codeRequest(config, WEB.callback);
      // A third-party application: the user is asked first.
      const back = await signIn(page, url, WEB.callback, { client: 'Node Web', consent: true });
      const tokens = await oidc.authorizationCodeGrant(config, back, checks);
      const claims = tokens.claims();
      checkIdClaims(claims, WEB.id, checks.expectedNonce);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, USER);

      // The consent is remembered: the next authorization comes straight back, and its code
      // starts a session of its own.
      const next = await codeRequest(config, WEB.callback);
      const nextBack = await signIn(page, next.url, WEB.callback, { login: false, client: 'Node Web' });
      const second = await oidc.authorizationCodeGrant(config, nextBack, next.checks);
      assert.equal(second.claims().sub, claims.sub);

      // Rotation with reuse detection (RFC 9700 §4.14): replaying the spent refresh token is
      // invalid_grant and ends that session, so the rotated token is no longer active either.
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
      const active = await oidc.tokenIntrospection(config, refreshed.access_token);
      assert.equal(active.active, true);
      assert.equal(active.sub, claims.sub);
      assert.equal(active.iss, ISSUER);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), isOAuthError('invalid_grant'));
      assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);
      assert.equal((await oidc.tokenIntrospection(config, second.access_token)).active, true, 'the other session is untouched');

      // Revocation (RFC 7009) of a refresh token through the library ends its session.
      await oidc.tokenRevocation(config, second.refresh_token, { token_type_hint: 'refresh_token' });
      assert.equal((await oidc.tokenIntrospection(config, second.access_token)).active, false);
      await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), isOAuthError('invalid_grant'));

      // client_credentials: a token for the client itself, with the scope it asked for.
      const machine = await oidc.clientCredentialsGrant(config, { scope: 'reports:read' });
      assert.ok(machine.access_token);
      assert.equal(machine.refresh_token, undefined, 'no refresh token for client_credentials (RFC 6749 §4.4.3)');
      const machineClaims = jose.decodeJwt(machine.access_token);
      assert.equal(machineClaims.client_id, WEB.id);
      assert.equal(machineClaims.iss, ISSUER);
      assert.ok(machineClaims.scope.split(' ').includes('reports:read'));
      assert.equal((await oidc.tokenIntrospection(config, machine.access_token)).active, true);

      // A user's token kept for the known-deviation check below.
      const kept = await codeRequest(config, WEB.callback, { prompt: 'none' });
      const keptBack = await signIn(page, kept.url, WEB.callback, { login: false, client: 'Node Web' });
      webUserToken = (await oidc.authorizationCodeGrant(config, keptBack, kept.checks)).access_token;

      // A wrong secret is invalid_client.
      const impostor = await oidc.discovery(new URL(ISSUER), WEB.id, undefined, oidc.ClientSecretBasic('not-the-secret'), insecure);
      // RFC 6749 §5.2: 401 with a WWW-Authenticate for the Basic scheme the client used, which
      // openid-client reports as a challenge; the body is the invalid_client error.
      const challenge = await oidc.clientCredentialsGrant(impostor, { scope: 'reports:read' }).then(
        () => assert.fail('a wrong secret was accepted'),
        (e) => e,
      );
      assert.ok(challenge instanceof oidc.WWWAuthenticateChallengeError, `${challenge?.name}: ${challenge?.message}`);
      assert.equal(challenge.status, 401);
      assert.equal(challenge.cause[0].scheme, 'basic');
      assert.equal((await challenge.response.json()).error, 'invalid_client');

      assert.deepEqual(problems, [], 'no CSP violation or script error on the hosted pages');
    } finally {
      await context.close();
    }
  });

  test('(c) a wrong PKCE verifier is refused with invalid_grant', async () => {
    const config = await oidc.discovery(new URL(ISSUER), SPA.id, undefined, oidc.None(), insecure);
    const { context, page } = await freshBrowser();
    try {
      const { url, checks } = await codeRequest(config, SPA.callback);
      const back = await signIn(page, url, SPA.callback, { client: 'Node SPA' });
      const wrong = { ...checks, pkceCodeVerifier: oidc.randomPKCECodeVerifier() };
      await assert.rejects(oidc.authorizationCodeGrant(config, back, wrong), isOAuthError('invalid_grant'));
      // Without any verifier (a public client must use PKCE): refused too.
      const { pkceCodeVerifier: _, ...none } = checks;
      await assert.rejects(oidc.authorizationCodeGrant(config, back, none), isOAuthError('invalid_grant'));
    } finally {
      await context.close();
    }
  });

  test('(d) response_mode=form_post: the auto-submitting page works under its CSP in a real browser', async () => {
    const config = await oidc.discovery(new URL(ISSUER), SPA.id, undefined, oidc.None(), insecure);
    const { context, page, problems } = await freshBrowser();
    try {
      formPosts.delete('/spa/callback');
      const { url, checks } = await codeRequest(config, SPA.callback, { response_mode: 'form_post' });
      await signIn(page, url, SPA.callback, { client: 'Node SPA' });
      const posted = formPosts.get('/spa/callback');
      assert.ok(posted, 'the browser POSTed the authorization response to the redirect URI');
      assert.ok(posted.type.startsWith('application/x-www-form-urlencoded'));
      assert.equal(new URLSearchParams(posted.body).get('iss'), ISSUER);
      // openid-client reads a form_post response from the Request the callback received.
      const request = new Request(SPA.callback, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: posted.body,
      });
      const tokens = await oidc.authorizationCodeGrant(config, request, checks);
      checkIdClaims(tokens.claims(), SPA.id, checks.expectedNonce);
      assert.deepEqual(problems, [], 'no CSP violation: the nonce\'d script submitted the form');
    } finally {
      await context.close();
    }
  });

  test('(f) a multi-organisation application: the user picks the organisation on the hosted picker', async () => {
    // Only a superuser registers a multi_org application.
    const json = async (method, path, token, body) => {
      const res = await fetch(`${ISSUER}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body && JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
      return res.json();
    };
    const admin = (await json('POST', '/auth/login', null, { username: 'admin', password: ADMIN_PASSWORD })).access_token;
    const acme = (await json('GET', '/orgs', admin)).items.find((o) => o.slug === 'acme');
    const hub = await json('POST', `/orgs/${acme.id}/clients`, admin, {
      name: 'Node Hub', kind: 'public', first_party: true, multi_org: true, redirect_uris: [SPA.callback],
    });
    const config = await oidc.discovery(new URL(ISSUER), hub.client_id, undefined, oidc.None(), insecure);
    const { context, page, problems } = await freshBrowser();
    try {
      const { url, checks } = await codeRequest(config, SPA.callback);
      await fromApp(page, url);
      await page.locator('h1', { hasText: 'Log in to Node Hub' }).waitFor();
      await page.fill('#login', USER);
      await page.fill('#password', PASSWORD);
      await page.click('form[action="/oauth2/login"] button[type=submit]');
      await page.locator('h1', { hasText: 'Which organisation?' }).waitFor();
      await page.check('#org-beta');
      await page.click('form[action="/oauth2/organization"] button[type=submit]');
      await page.waitForURL(landedOn(SPA.callback), { waitUntil: 'commit' });
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), checks);
      const access = jose.decodeJwt(tokens.access_token);
      assert.equal(access.org.slug, 'beta', 'the access token is for the organisation picked');
      assert.deepEqual(access.roles, ['admin'], "and carries the user's roles there");
      assert.equal(tokens.claims().org.slug, 'beta', 'so is the ID token');
      assert.deepEqual(problems, [], 'no CSP violation or page error');
    } finally {
      await context.close();
    }
  });

  test('(e) device authorization grant: the user enters the code in a browser, the library polls', async () => {
    const config = await oidc.discovery(new URL(ISSUER), DEVICE.id, undefined, oidc.None(), insecure);
    const { context, page, problems } = await freshBrowser();
    try {
      const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' });
      assert.ok(started.user_code && started.device_code && started.verification_uri.startsWith(`${ISSUER}/`));
      const polling = oidc.pollDeviceAuthorizationGrant(config, started);
      await page.goto(started.verification_uri_complete);
      assert.equal(await page.inputValue('#user_code'), started.user_code, 'verification_uri_complete fills the code in');
      await page.click('form[action="/device"] button[type=submit]');
      await page.fill('#login', USER);
      await page.fill('#password', PASSWORD);
      await page.click('form[action="/oauth2/login"] button[type=submit]');
      await page.locator('h1', { hasText: 'Connect a device to Node CLI' }).waitFor();
      assert.ok((await page.textContent('main')).includes(started.user_code), 'the confirmation shows the code');
      await page.click('button[name=decision][value=allow]');
      await page.getByText('Device connected').waitFor();
      const tokens = await polling;
      const claims = tokens.claims();
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, DEVICE.id);
      assert.equal(claims.email, USER);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, USER);
      assert.ok(tokens.refresh_token);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  // Once deviations of guildhall from the specifications (tests/rp/README.md), fixed since.
  test('RFC 7662 §2.2: introspection answers the token\'s own scope and client_id', async () => {
    const config = await oidc.discovery(new URL(ISSUER), WEB.id, undefined, oidc.ClientSecretBasic(WEB_SECRET), insecure);
    const machine = await oidc.clientCredentialsGrant(config, { scope: 'reports:read' });
    const tokens = [machine.access_token, webUserToken].filter(Boolean);
    assert.equal(tokens.length, 2, 'test (b) kept a user token');
    for (const token of tokens) {
      const claims = jose.decodeJwt(token);
      const answer = await oidc.tokenIntrospection(config, token);
      assert.equal(answer.active, true);
      assert.equal(answer.scope, claims.scope, `scope of a token whose scope claim is "${claims.scope}"`);
      assert.equal(answer.client_id, WEB.id, 'client_id of the client that requested the token');
    }
  });

  test('RFC 7009 §2.2: a revoked client_credentials access token is no longer active (or revocation says unsupported_token_type)', async () => {
    const config = await oidc.discovery(new URL(ISSUER), WEB.id, undefined, oidc.ClientSecretBasic(WEB_SECRET), insecure);
    const machine = await oidc.clientCredentialsGrant(config, { scope: 'reports:read' });
    try {
      await oidc.tokenRevocation(config, machine.access_token, { token_type_hint: 'access_token' });
    } catch (e) {
      // §2.2.1: a server that cannot revoke access tokens says so.
      return isOAuthError('unsupported_token_type')(e);
    }
    assert.equal((await oidc.tokenIntrospection(config, machine.access_token)).active, false, 'revoked with 200, still active');
  });

  test('RP-Initiated Logout 1.0 §2-3: a logout POSTed from the application\'s page (another site) logs the user out', async () => {
    const config = await oidc.discovery(new URL(ISSUER), SPA.id, undefined, oidc.None(), insecure);
    const { context, page } = await freshBrowser();
    try {
      const { url, checks } = await codeRequest(config, SPA.callback);
      const tokens = await oidc.authorizationCodeGrant(config, await signIn(page, url, SPA.callback, { client: 'Node SPA' }), checks);
      const logoutState = oidc.randomState();
      const endSession = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: SPA.bye,
        state: logoutState,
      });
      const notified = logoutTokens.length;
      await fromApp(page, endSession, 'post');
      // Either logged out at once, or asked to confirm (the cookie of a cross-site POST may not
      // reach guildhall); a confirmation is answered like a person would.
      await page.waitForURL((u) => landedOn(SPA.bye)(u) || u.href.startsWith(`${ISSUER}/oauth2/logout`), { waitUntil: 'commit' });
      if (!landedOn(SPA.bye)(new URL(page.url()))) {
        await page.locator('h1', { hasText: 'Log out?' }).waitFor();
        await page.click('form[action="/oauth2/logout"] button[type=submit]');
        await page.waitForURL(landedOn(SPA.bye), { waitUntil: 'commit' });
      }
      assert.equal(new URL(page.url()).searchParams.get('state'), logoutState);
      // Whatever the way, the browser is logged out when it is back at the application.
      const after = await codeRequest(config, SPA.callback, { prompt: 'none' });
      const back = await signIn(page, after.url, SPA.callback, { login: false, client: 'Node SPA' });
      assert.equal(back.searchParams.get('error'), 'login_required', 'the browser is still logged in after a logout the OP confirmed with a redirect');
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), isOAuthError('invalid_grant'), 'the application\'s refresh token still works');
      for (let i = 0; i < 20 && logoutTokens.length === notified; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(logoutTokens.length, notified + 1, 'a back-channel logout token');
    } finally {
      await context.close();
    }
  });
});
