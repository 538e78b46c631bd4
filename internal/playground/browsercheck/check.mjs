// check.mjs drives the playground in Debian's headless Chromium against a
// running server (BASE_URL, default http://127.0.0.1:8080) with every other
// host unreachable, as a person would use it: sign up, put the access token
// in the headers pane, run `me`, reload. It fails on a console error, a
// Content-Security-Policy violation, a request to any other origin, or a
// token left in localStorage, and saves screenshots to OUT_DIR. Then it
// turns on TOTP and signs in with it, as the page's default document shows:
// enrollTotp, confirmTotp, signin answering mfaRequired, a field refused
// with MFA_REQUIRED, verifySecondFactor, and the field again. (The codes
// are computed here, as the authenticator app would.)
//
// TestBrowserChecks (browser_test.go at the root) starts the server and
// runs it: `go test -run TestBrowserChecks -v .`
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = new URL(process.env.BASE_URL ?? 'http://127.0.0.1:8080');
const out = process.env.OUT_DIR ?? join(tmpdir(), 'bitgate-playground-check');
mkdirSync(out, { recursive: true });

const profile = mkdtempSync(join(tmpdir(), 'bitgate-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // No other host resolves: the page must work from this server alone.
    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${base.hostname}`,
  ],
});

const problems = [];
let step = 'start';
const requests = [];
const page = context.pages()[0] ?? (await context.newPage());
await page.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
  });
});
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  if (m.type() === 'warning') console.log(`(console warning: ${m.text()})`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
page.on('request', (r) => {
  requests.push(r.url());
  const u = new URL(r.url());
  if (u.protocol !== 'data:' && u.origin !== base.origin) problems.push(`request to another origin: ${r.url()}`);
});

const HEADERS = '.graphiql-editor-tool > .graphiql-editor:nth-child(2)';

function check(ok, message) {
  if (!ok) throw new Error(message);
}

// editorValue returns the text of a GraphiQL pane.
async function editorValue(selector) {
  return page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());
}

// typeInto replaces the text of a pane, entering it as keyboard input.
async function typeInto(selector, text) {
  await page.click(`${selector} .CodeMirror`);
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  check((await editorValue(selector)) === text, `${selector} holds ${await editorValue(selector)}`);
}

// run executes the query pane and returns the decoded answer.
async function run(query) {
  step = `run ${query.slice(0, 40)}`;
  await typeInto('.graphiql-query-editor', query);
  const before = await editorValue('.result-window');
  // A click that lands while GraphiQL re-renders after the edit is lost:
  // click again until the request leaves (never twice once it has).
  for (let attempt = 1; ; attempt++) {
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/graphql', {
      timeout: 3000,
    });
    await page.click('.graphiql-execute-button');
    try {
      await sent;
      break;
    } catch (e) {
      if (attempt === 3) throw e;
    }
  }
  await page.waitForFunction(
    (prev) => {
      const v = document.querySelector('.result-window .CodeMirror').CodeMirror.getValue();
      return v !== '' && v !== prev;
    },
    before,
    { timeout: 15000 },
  );
  return JSON.parse(await editorValue('.result-window'));
}

async function open() {
  step = 'open the page';
  await page.goto(base.href);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 15000 });
  // The schema has loaded when the documentation explorer can list Query.
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer-root-type', { timeout: 15000 });
}

// totpCode returns the RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32
// secret at time ms, as an authenticator app shows it.
function totpCode(secret, ms) {
  let bits = '';
  for (const c of secret) bits += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const n = mac.readUInt32BE(mac[19] & 0x0f) & 0x7fffffff;
  return String(n % 1000000).padStart(6, '0');
}

async function storedTokenKeys(token) {
  const all = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  return { keys: Object.keys(all), withToken: Object.keys(all).filter((k) => all[k].includes(token)) };
}

try {
  await open();
  await page.screenshot({ path: join(out, '1-loaded.png') });

  const email = `browser-${Date.now()}@example.com`;
  const signup = await run(
    `mutation { signup(input: {firstName: "Ada", lastName: "Lovelace", email: "${email}", password: "correct horse battery"}) { accessToken } }`,
  );
  const token = signup.data?.signup?.accessToken;
  check(token, `signup failed: ${JSON.stringify(signup)}`);

  await page.click('button[data-name="headers"]');
  await typeInto(HEADERS, `{"Authorization": "Bearer ${token}"}`);
  const me = await run('{ me { email permissions } }');
  check(me.data?.me?.email === email, `me answered ${JSON.stringify(me)}`);
  await page.screenshot({ path: join(out, '2-me.png') });

  // The settings dialog inserts the scroll-lock <style> that needs the nonce.
  await page.click('[aria-label="Open settings dialog"]');
  await page.waitForSelector('#enable-persist-headers');
  await page.screenshot({ path: join(out, '3-settings.png') });
  await page.keyboard.press('Escape');

  let stored = await storedTokenKeys(token);
  check(stored.withToken.length === 0, `token stored before reload in ${stored.withToken}`);
  await open();
  stored = await storedTokenKeys(token);
  check(stored.withToken.length === 0, `token stored after reload in ${stored.withToken}`);
  check(!(await editorValue(HEADERS)).includes(token), 'the headers pane kept the token after reload');
  console.log(`localStorage after reload: ${stored.keys.join(', ')} (no token)`);

  // Opting in keeps the headers across a reload (which shows that the
  // checks above can see them); opting out again removes them everywhere.
  await page.click('[aria-label="Open settings dialog"]');
  await page.click('#enable-persist-headers');
  await page.keyboard.press('Escape');
  await page.click('button[data-name="headers"]');
  await typeInto(HEADERS, `{"Authorization": "Bearer ${token}"}`);
  check((await run('{ me { email } }')).data?.me?.email === email, 'me failed after opting in');
  // GraphiQL stores an edited pane half a second after the last keystroke.
  step = 'wait for the headers to be stored';
  await page.waitForFunction((t) => (localStorage.getItem('graphiql:headers') ?? '').includes(t), token);
  await open();
  stored = await storedTokenKeys(token);
  check(stored.withToken.length > 0, 'the token is not stored even after opting in');
  check((await editorValue(HEADERS)).includes(token), 'the headers pane lost the token after opting in');
  console.log(`opted in: after reload the token is in ${stored.withToken.join(', ')} and the headers pane`);
  await page.screenshot({ path: join(out, '4-opted-in.png') });

  await page.click('[aria-label="Open settings dialog"]');
  await page.click('#disable-persist-headers');
  await page.keyboard.press('Escape');
  stored = await storedTokenKeys(token);
  check(stored.withToken.length === 0, `token still stored after opting out in ${stored.withToken}`);
  console.log('opted out: the token is no longer stored');

  step = 'TOTP';
  await page.click('button[data-name="headers"]');
  await typeInto(HEADERS, `{"Authorization": "Bearer ${token}"}`);
  const enrolled = (await run('mutation { enrollTotp(currentPassword: "correct horse battery") { secret uri qrCodeSvg } }'))
    .data?.enrollTotp;
  check(enrolled?.uri?.startsWith('otpauth://totp/') && enrolled.qrCodeSvg.startsWith('<svg'), `enrollTotp answered ${JSON.stringify(enrolled)}`);
  const codes = (await run(`mutation { confirmTotp(code: "${totpCode(enrolled.secret, Date.now())}") }`)).data?.confirmTotp;
  check(codes?.length === 10, `confirmTotp answered ${JSON.stringify(codes)}`);
  const signin = (await run(
    `mutation { signin(email: "${email}", password: "correct horse battery") { accessToken mfaRequired } }`,
  )).data?.signin;
  check(signin?.mfaRequired === true, `signin after TOTP answered ${JSON.stringify(signin)}`);
  await typeInto(HEADERS, `{"Authorization": "Bearer ${signin.accessToken}"}`);
  const waiting = await run('{ me { email mfaEnabled } }');
  check(waiting.data?.me?.mfaEnabled === true, `me while waiting answered ${JSON.stringify(waiting)}`);
  const gated = await run('{ books(first: 1) { totalCount } }');
  check(gated.errors?.[0]?.extensions?.reason === 'MFA_REQUIRED', `books while waiting answered ${JSON.stringify(gated)}`);
  // The next step's code: the one confirmTotp used is spent.
  const verified = (await run(
    `mutation { verifySecondFactor(code: "${totpCode(enrolled.secret, Date.now() + 30000)}") { accessToken mfaRequired } }`,
  )).data?.verifySecondFactor;
  check(verified?.mfaRequired === false, `verifySecondFactor answered ${JSON.stringify(verified)}`);
  await typeInto(HEADERS, `{"Authorization": "Bearer ${verified.accessToken}"}`);
  const books = await run('{ books(first: 1) { totalCount } }');
  check(books.data?.books && !books.errors, `books after the second factor answered ${JSON.stringify(books)}`);
  await page.screenshot({ path: join(out, '5-totp.png') });
  console.log('TOTP: enrolled, confirmed (10 recovery codes), signin waited (MFA_REQUIRED), verifySecondFactor passed it');

  const origins = [...new Set(requests.map((u) => new URL(u).origin))];
  console.log(`${requests.length} requests, origins: ${origins.join(', ')}`);
  check(problems.length === 0, `problems:\n  ${problems.join('\n  ')}`);
  console.log(`playground check passed; screenshots in ${out}`);
} catch (e) {
  await page.screenshot({ path: join(out, 'failure.png') }).catch(() => {});
  console.error(`playground check FAILED at "${step}": ${e.message}`);
  if (problems.length) console.error(`also:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
