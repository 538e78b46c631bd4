// check.mjs drives the playground in Debian's headless Chromium against a
// running server (BASE_URL, default http://127.0.0.1:8080) with every other
// host unreachable, as a person would use it: sign up, put the access token
// in the headers pane, run `me`, reload. It fails on a console error, a
// Content-Security-Policy violation, a request to any other origin, or a
// token left in localStorage, and saves screenshots to OUT_DIR.
//
// Run it with run.sh, which builds and starts the server.
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
