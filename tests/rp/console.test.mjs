// The web console and the account page in a real browser (Debian's Chromium through
// playwright-core): an organisation admin logs in through guildhall's own hosted login (the
// console is guildhall's first-party client, code + PKCE), invites someone (who accepts from the
// mail, read off the wire by an SMTP listener here), builds a team and a domain subtree (moved,
// assigned, and /auth/validate shows it), looks at the members, enrols an authenticator app on
// the account page, signs out another session, and logs in again with the app's code. Every page is checked by axe-core (no serious
// or critical violations) and kept as a screenshot in $REPORT_DIR/screenshots, and no page may
// break its Content-Security-Policy.
//
// Run by tests/rp/run.sh: GH_ISSUER, GH_CONSOLE_USER, GH_CONSOLE_PASSWORD, REPORT_DIR, CHROMIUM,
// SMTP_PORT (guildhall's AUTH_SMTP_URL points there).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/rp/run.sh`);
  return value;
};
const ISSUER = env('GH_ISSUER');
const USER = env('GH_CONSOLE_USER');
const PASSWORD = env('GH_CONSOLE_PASSWORD');
const SHOTS = path.join(env('REPORT_DIR'), 'screenshots');
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** RFC 6238 (SHA-1, 6 digits, 30 s) from a base32 secret: what an authenticator app shows. */
function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, '0');
}

let browser;
/** The authenticator app's secret, once enrolled. */
let enrolled;
/** Mail guildhall sent, as parsed off the wire: `{ to, subject, text }`. */
const mails = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, done) {
    simpleParser(stream).then((mail) => {
      mails.push({ to: session.envelope.rcptTo.map((r) => r.address), subject: mail.subject, text: mail.text });
      done();
    }, done);
  },
});

/** The next mail to `to` (waits up to 10 s). */
async function mailTo(to) {
  for (let i = 0; i < 100; i += 1) {
    const at = mails.findIndex((m) => m.to.includes(to));
    if (at >= 0) return mails.splice(at, 1)[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to}`);
}

before(async () => {
  await new Promise((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(Number(env('SMTP_PORT')), '127.0.0.1', resolve);
  });
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => smtp.close(resolve));
});

/**
 * axe-core on the page as it is (run through the DevTools protocol, so the page's CSP, which
 * allows no script, stays as it is): the serious and critical violations, and a screenshot.
 */
async function check(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const results = await page.evaluate(`${AXE}\n;axe.run(document, { resultTypes: ['violations'] })`);
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `accessibility of ${name}`,
  );
}

describe('the console and the account page in Chromium', () => {
  let context;
  let page;
  const problems = [];

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
  });
  after(async () => {
    await context?.close();
  });

  test('an admin logs in through the hosted login and sees the members', async () => {
    await page.goto(`${ISSUER}/console`);
    await page.locator('h1', { hasText: 'Log in to guildhall console' }).waitFor();
    await check(page, '01-hosted-login');
    await page.fill('#login', USER);
    await page.fill('#password', PASSWORD);
    await page.click('form[action="/oauth2/login"] button[type=submit]');
    await page.locator('h1', { hasText: 'Members' }).waitFor();
    assert.ok(page.url().startsWith(`${ISSUER}/console/members`), page.url());
    await assert.doesNotReject(page.getByRole('cell', { name: USER, exact: true }).waitFor());
    await check(page, '02-members');
    // Typing searches in place (htmx swaps the list, the page stays: no reload).
    await page.evaluate(() => { window.sameDocument = true; });
    await page.fill('#q', 'nobody-matches-this');
    await page.getByText('No members match').waitFor();
    assert.equal(await page.evaluate(() => window.sameDocument), true, 'the list was swapped, not the page');
    await page.waitForURL(/q=nobody-matches-this/);
    await page.fill('#q', '');
    await page.getByRole('cell', { name: USER, exact: true }).waitFor();
  });

  test('an invitation is sent, and a bad address is shown beside its field', async () => {
    await page.getByRole('link', { name: 'Invitations' }).click();
    await page.locator('h1', { hasText: 'Invitations' }).waitFor();
    await page.fill('#invite-email', 'not-an-address');
    await page.click('text=Send invitation');
    await page.locator('#invite-email-error').waitFor();
    assert.equal(await page.inputValue('#invite-email'), 'not-an-address', 'what was typed is kept');
    await check(page, '03-invitation-refused');
    await page.fill('#invite-email', 'newhire@acme.test');
    await page.click('text=Send invitation');
    await page.getByText('The invitation was sent.').waitFor();
    await page.getByRole('cell', { name: 'newhire@acme.test', exact: true }).waitFor();
    await check(page, '04-invitations');
  });

  test('the invitee accepts from the mail and is a member', async () => {
    const mail = await mailTo('newhire@acme.test');
    const link = mail.text.match(/https?:\/\/\S+\/account\/invitation\?token=[\w-]+/)?.[0];
    assert.ok(link && link.startsWith(ISSUER), `the mail links to the account page: ${mail.text}`);
    // Someone else's browser: no session of the admin's.
    const invitee = await browser.newContext({ viewport: { width: 420, height: 800 } });
    try {
      const p = await invitee.newPage();
      await p.goto(link);
      await p.locator('h1', { hasText: 'Join Acme' }).waitFor();
      await check(p, '04-invitation-accept');
      await p.fill('#name', 'New Hire');
      await p.fill('#password', 'a brand new passphrase 42');
      await p.click('button:text("Create account and join")');
      await p.locator('h1', { hasText: 'Welcome' }).waitFor();
    } finally {
      await invitee.close();
    }
    const login = await fetch(`${ISSUER}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'newhire@acme.test', password: 'a brand new passphrase 42', organization: 'acme' }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    const { access_token: token } = await login.json();
    const me = await (await fetch(`${ISSUER}/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(me.email, 'newhire@acme.test');
    await page.reload();
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('cell', { name: 'newhire@acme.test', exact: true }).waitFor();
  });

  test('a team is created, renamed and given a member', async () => {
    await page.getByRole('link', { name: 'Teams', exact: true }).click();
    await page.fill('#team-slug', 'platform');
    await page.fill('#team-name', 'Platform');
    await page.click('text=Create team');
    await page.locator('h1', { hasText: 'Platform' }).waitFor();
    await page.fill('#team-name', 'Platform team');
    await page.click('button:text("Rename")');
    await page.locator('h1', { hasText: 'Platform team' }).waitFor();
    await page.fill('#member-email', USER);
    await page.selectOption('#member-role', 'maintainer');
    await page.click('text=Add to team');
    await page.getByRole('cell', { name: 'maintainer', exact: true }).waitFor();
    await check(page, '05-team');
    await page.getByRole('link', { name: 'Teams', exact: true }).first().click();
    await page.getByRole('link', { name: 'Platform team' }).waitFor();
    await check(page, '06-teams');
  });

  test('a domain subtree is built, moved and assigned; the token shows it', async () => {
    await page.getByRole('link', { name: 'Domains', exact: true }).click();
    const add = async (key, name, under) => {
      await page.fill('#domain-key', key);
      await page.fill('#domain-name', name);
      await page.selectOption('#domain-parent', under ? { label: under } : { value: '' });
      await page.click('text=Add domain');
      await page.getByRole('link', { name, exact: true }).waitFor();
    };
    await add('sales', 'Sales');
    await add('emea', 'EMEA', 'sales');
    await add('support', 'Support');
    await page.getByRole('link', { name: 'EMEA', exact: true }).click();
    await page.selectOption('#domain-parent', { label: 'support' });
    await page.click('button:text("Move")');
    await page.getByText('support/emea').waitFor();
    await check(page, '07-domain');
    await page.fill('#assign-email', USER);
    await page.click('button:text("Assign")');
    await page.getByText('The member was assigned.').waitFor();
    await page.getByRole('link', { name: 'Domains', exact: true }).first().click();
    await check(page, '08-domains');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.fill('#f-action', 'domain');
    await page.click('button:text("Filter")');
    await page.getByRole('cell', { name: 'domain.create' }).first().waitFor();
    await check(page, '08-audit');
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.fill('#app-name', 'Wiki');
    await page.fill('#app-redirects', 'https://wiki.acme.test/callback');
    await page.click('button:text("Register")');
    await page.locator('code.client-secret').waitFor();
    await check(page, '08-application-secret');
    await page.getByRole('link', { name: 'Email domains' }).click();
    await page.fill('#claim-domain', 'acme.example');
    await page.click('button:text("Claim")');
    await page.getByText('_guildhall-challenge.acme.example').waitFor();
    await check(page, '08-email-domains');
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.locator('h1', { hasText: 'Events' }).waitFor();
    await check(page, '08-events');
    await page.getByRole('link', { name: 'Sign-in providers' }).click();
    await page.locator('h1', { hasText: 'Identity providers' }).waitFor();
    await check(page, '08-providers');
    await page.fill('#p-slug', 'corp');
    await page.fill('#p-name', 'Corp SSO');
    await page.fill('#p-issuer', 'https://sso.acme.example');
    await page.fill('#p-client', 'guildhall');
    await page.click('button:text("Add provider")');
    await page.locator('h1', { hasText: 'Corp SSO' }).waitFor();
    await page.fill('#m-value', 'engineers');
    await page.fill('#m-roles', 'member');
    await page.click('button:text("Add mapping")');
    await page.getByRole('cell', { name: 'engineers', exact: true }).waitFor();
    await check(page, '08-provider');
    await page.getByRole('link', { name: 'Identity providers' }).click();
    await page.getByRole('link', { name: 'Roles', exact: true }).click();
    await page.locator('h1', { hasText: 'Roles and permissions' }).waitFor();
    await check(page, '08-roles');
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.locator('h1', { hasText: 'Organisation settings' }).waitFor();
    await check(page, '08-settings');
    const login = await fetch(`${ISSUER}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: USER, password: PASSWORD }),
    });
    const { access_token: token } = await login.json();
    const validated = await (await fetch(`${ISSUER}/auth/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    })).json();
    assert.deepEqual(validated.user.domains.map((d) => d.key).sort(), ['emea']);
    await fetch(`${ISSUER}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  });

  test('the account page: another session signed out, an authenticator app enrolled', async () => {
    // A session elsewhere (the API), to sign out from the page.
    const login = await fetch(`${ISSUER}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: USER, password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    const { access_token: elsewhere } = await login.json();
    await page.getByRole('link', { name: 'My account' }).click();
    await page.locator('h1', { hasText: 'My account' }).waitFor();
    await check(page, '09-account');
    const rows = page.locator('tr', { hasText: 'guildhall API' });
    const before = await rows.count();
    assert.ok(before >= 1, 'the API session is listed');
    // Newest first: the session just started through the API.
    await rows.first().getByRole('button', { name: /Sign out/ }).click();
    await page.locator('h1', { hasText: 'My account' }).waitFor();
    const me = await fetch(`${ISSUER}/auth/me`, { headers: { authorization: `Bearer ${elsewhere}` } });
    assert.equal(me.status, 401, 'the signed-out session is over');

    await page.click('text=Set up an authenticator app');
    await page.locator('img.qr').waitFor();
    const secret = (await page.locator('code.secret').textContent()).trim();
    await check(page, '10-totp-enrolment');
    await page.fill('#totp-code', totp(secret));
    await page.click('button:text("Confirm")');
    await page.getByText('The authenticator app is set up').waitFor();
    assert.equal(await page.locator('ul.codes li').count(), 10);
    await check(page, '11-recovery-codes');
    enrolled = secret;
  });

  test('the next login asks for the app code', async () => {
    await page.click('header button:text("Log out")');
    // RP-initiated logout from the console: guildhall asks, the user confirms.
    await page.locator('h1', { hasText: 'Log out?' }).waitFor();
    await page.click('form[action="/oauth2/logout"] button');
    await page.waitForLoadState();
    await page.goto(`${ISSUER}/console/members`);
    await page.fill('#login', USER);
    await page.fill('#password', PASSWORD);
    await page.click('form[action="/oauth2/login"] button[type=submit]');
    await page.locator('h1', { hasText: 'Confirm it is you' }).waitFor();
    await check(page, '12-second-factor');
    // The next 30-second step's code (accepted within one step of skew): the enrolment spent
    // the current one, and a code works once.
    await page.fill('#code', totp(enrolled, Date.now() + 30_000));
    await page.click('form[action="/oauth2/mfa"] button[type=submit]');
    await page.locator('h1', { hasText: 'Members' }).waitFor();
  });

  test('no page broke its Content-Security-Policy', () => {
    assert.deepEqual(problems, []);
  });
});
