// Passkeys on guildhall's hosted pages, in a real browser: Debian's Chromium (playwright-core)
// with its virtual WebAuthn authenticator (DevTools protocol; a CTAP2 platform authenticator
// with resident keys and user verification), so every ceremony is real: Chromium makes the key
// pair and signs, guildhall (webauthn-rs) verifies. openid-client is the relying party.
//
//   (p1) a passkey registered through the API from the page (navigator.credentials.create)
//        logs in without a password from the login page's "Log in with a passkey" button
//        (a discoverable credential names the account): the tokens say amr hwk + mfa;
//   (p2) the same account's password login asks for the second factor, and the page's
//        "Use a passkey" button answers it: amr pwd + hwk + mfa;
//   (p3) the account page adds a second passkey (its "Add a passkey" button);
//   (p4) no page broke its Content-Security-Policy.
//
// WebAuthn needs a secure origin and a domain as relying-party id, so this guildhall's public
// URL is http://localhost:PORT (not 127.0.0.1, where passkeys are off). Run by tests/rp/run.sh:
//   GH_PK_ISSUER, GH_PK_USER, GH_PK_PASSWORD, GH_PK_CALLBACK, CHROMIUM.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/rp/run.sh`);
  return value;
};
const ISSUER = env('GH_PK_ISSUER');
const USER = env('GH_PK_USER');
const PASSWORD = env('GH_PK_PASSWORD');
const CLIENT = 'pk-spa';
// The redirect URI, on loopback: a tiny relying party page answers it.
const CALLBACK = env('GH_PK_CALLBACK');
const rp = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>RP</title><p>relying party');
});
// guildhall listens on 127.0.0.1; node reaches "localhost" there (the browser resolves it itself).
const loopback = (url) => String(url).replace('//localhost:', '//127.0.0.1:');
const rpOptions = {
  execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  [oidc.customFetch]: (url, options) => fetch(loopback(url), options),
};

let browser;
before(async () => {
  await new Promise((resolve, reject) => {
    rp.once('error', reject);
    rp.listen(Number(new URL(CALLBACK).port), '127.0.0.1', resolve);
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

/** A page with a virtual authenticator, recording CSP violations and page errors. */
async function pageWithAuthenticator() {
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, problems, cdp, authenticatorId };
}

async function codeRequest(config) {
  const verifier = oidc.randomPKCECodeVerifier();
  const checks = { pkceCodeVerifier: verifier, expectedState: oidc.randomState(), expectedNonce: oidc.randomNonce(), idTokenExpected: true };
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
  });
  return { url, checks };
}

/** The access token's claims (its signature is checked where it is used: /auth/validate). */
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function validate(accessToken) {
  const response = await fetch(loopback(`${ISSUER}/auth/validate`), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: accessToken }),
  });
  assert.equal(response.status, 200);
  return response.json();
}

describe('passkeys on the hosted pages (Chromium virtual authenticator)', () => {
  let config;
  let session;

  before(async () => {
    config = await oidc.discovery(new URL(ISSUER), CLIENT, undefined, oidc.None(), rpOptions);
    session = await pageWithAuthenticator();
  });
  after(async () => {
    await session?.context.close();
  });

  test('(p1) a passkey registered from the page logs in without a password', async () => {
    const { page, cdp, authenticatorId } = session;
    const login = await fetch(loopback(`${ISSUER}/auth/login`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: USER, password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    const { access_token: bearer } = await login.json();

    // On guildhall's login page (its CSP allows its own requests), the browser registers a
    // passkey through the API: navigator.credentials.create with guildhall's options.
    const first = await codeRequest(config);
    await page.goto(first.url.href);
    await page.locator('h1', { hasText: 'Log in to' }).waitFor();
    const registered = await page.evaluate(async (token) => {
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const started = await (await fetch('/auth/mfa/webauthn/register/start', { method: 'POST', headers })).json();
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options.publicKey);
      const credential = await navigator.credentials.create({ publicKey });
      const finish = await fetch('/auth/mfa/webauthn/register/finish', {
        method: 'POST',
        headers,
        body: JSON.stringify({ ceremony_id: started.ceremony_id, name: 'Chromium', credential: credential.toJSON() }),
      });
      return { status: finish.status, body: await finish.json() };
    }, bearer);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.passkey.name, 'Chromium');
    assert.equal(registered.body.recovery_codes.length, 10, 'the first factor comes with recovery codes');
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential');
    assert.equal(credentials[0].rpId, 'localhost');

    // A fresh page load: the passkey button shows (script on), and answers without a name.
    await page.reload();
    const button = page.getByRole('button', { name: 'Log in with a passkey' });
    await button.waitFor();
    await button.click();
    await page.waitForURL((u) => u.href.startsWith(CALLBACK), { waitUntil: 'commit' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), first.checks);
    const id = tokens.claims();
    assert.equal(id.email, USER);
    assert.deepEqual(id.amr, ['hwk', 'mfa']);
    assert.equal(id.acr, 'urn:guildhall:acr:mfa');
    assert.deepEqual(claimsOf(tokens.access_token).amr, ['hwk', 'mfa']);
    const validated = await validate(tokens.access_token);
    assert.equal(validated.valid, true);
    assert.deepEqual(validated.amr, ['hwk', 'mfa']);
    const { credentials: used } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used[0].signCount >= 1, 'the authenticator signed');
  });

  test('(p2) the password login asks for the second factor and the passkey answers it', async () => {
    const { context, page } = session;
    await context.clearCookies();
    const request = await codeRequest(config);
    await page.goto(request.url.href);
    await page.fill('#login', USER);
    await page.fill('#password', PASSWORD);
    await page.click('form[action="/oauth2/login"] button[type=submit]');
    await page.locator('h1', { hasText: 'Confirm it is you' }).waitFor();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL((u) => u.href.startsWith(CALLBACK), { waitUntil: 'commit' });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), request.checks);
    assert.deepEqual(tokens.claims().amr, ['pwd', 'hwk', 'mfa']);
    assert.equal(tokens.claims().acr, 'urn:guildhall:acr:mfa');
  });

  test('(p3) the account page adds a second passkey (the console signs in silently)', async () => {
    const { page, cdp } = session;
    await page.goto(`${ISSUER}/account`);
    await page.locator('h1', { hasText: 'My account' }).waitFor();
    // A second device: the first one already holds this account's passkey, which the
    // registration excludes.
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: session.authenticatorId });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.fill('#passkey-name', 'Second key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('The passkey was added.').waitFor();
    await page.getByRole('cell', { name: 'Second key', exact: true }).waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(await page.locator('table', { hasText: 'Second key' }).locator('tbody tr').count(), 2);
  });

  test('(p4) the pages kept their Content-Security-Policy', () => {
    assert.deepEqual(session.problems, []);
  });
});
