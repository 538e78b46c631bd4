// passkeys.mjs registers a passkey and signs in with it in Debian's headless
// Chromium, against a running server (BASE_URL, default
// http://localhost:8080, whose WEBAUTHN_RP_ID must be localhost and whose
// WEBAUTHN_ORIGINS must be BASE_URL's origin), with Chromium's virtual
// authenticator (the DevTools protocol's WebAuthn domain: a platform
// authenticator with resident keys and user verification) standing in for
// a phone or a laptop's. The page is a blank one that this script serves
// at BASE_URL/passkey-check (the server does not ship it), so that it is
// of the server's origin, a secure context on localhost; it drives the API
// with fetch and the browser's own WebAuthn JSON methods
// (PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON, credential.toJSON()), as a frontend would:
// sign up, register a passkey, sign in with it alone (usernameless), sign
// in with the password and pass the second factor with it, then remove it:
// the authenticator still offers it, and the server refuses it.
//
// TestBrowserChecks (browser_test.go at the root) starts the server and
// runs it: `go test -run TestBrowserChecks -v .`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const started = Date.now();
const base = new URL(process.env.BASE_URL ?? 'http://localhost:8080');
const profile = mkdtempSync(join(tmpdir(), 'bitgate-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${base.hostname}`,
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
let step = 'start';

function check(ok, message) {
  if (!ok) throw new Error(message);
}

try {
  step = 'open the test page';
  await page.route(new URL('/passkey-check', base).href, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>passkey check</title>' }),
  );
  await page.goto(new URL('/passkey-check', base).href);
  check(await page.evaluate(() => window.isSecureContext), 'the page is not a secure context');

  step = 'add a virtual authenticator';
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  step = 'in the page';
  const result = await page.evaluate(async (email) => {
    const password = 'correct horse battery';
    async function answer(query, variables, token) {
      const headers = { 'Content-Type': 'application/json' };
      if (token) headers.Authorization = `Bearer ${token}`;
      const r = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      return r.json();
    }
    async function gql(query, variables, token) {
      const body = await answer(query, variables, token);
      if (body.errors) throw new Error(`${query.slice(0, 40)}: ${JSON.stringify(body.errors)}`);
      return body.data;
    }
    const session = 'accessToken mfaRequired user { email mfaEnabled }';
    const out = {};

    const up = (await gql(`mutation($in: SignupInput!) { signup(input: $in) { ${session} } }`,
      { in: { firstName: 'Ada', lastName: 'Lovelace', email, password } })).signup;

    // Register.
    const creation = (await gql('mutation($p: String!) { beginPasskeyRegistration(currentPassword: $p) }', { p: password }, up.accessToken)).beginPasskeyRegistration;
    const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(creation) });
    out.registered = (await gql('mutation($r: JSON!) { finishPasskeyRegistration(response: $r, name: "virtual") { id name } }',
      { r: credential.toJSON() }, up.accessToken)).finishPasskeyRegistration;

    // Sign in with the passkey alone: no email, no password.
    const request = (await gql('mutation { beginPasskeySignin }')).beginPasskeySignin;
    const assertion = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(request) });
    out.passkeySignin = (await gql(`mutation($r: JSON!) { finishPasskeySignin(response: $r) { ${session} } }`, { r: assertion.toJSON() })).finishPasskeySignin;
    out.booksWithPasskey = (await gql('{ books(first: 1) { totalCount } }', {}, out.passkeySignin.accessToken)).books;

    // Sign in with the password: the passkey is the second factor.
    const pending = (await gql(`mutation($e: String!, $p: String!) { signin(email: $e, password: $p) { ${session} } }`, { e: email, p: password })).signin;
    out.pendingMfaRequired = pending.mfaRequired;
    const verification = (await gql('mutation { beginPasskeyVerification }', {}, pending.accessToken)).beginPasskeyVerification;
    const second = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(verification) });
    out.verified = (await gql(`mutation($r: JSON!) { finishPasskeyVerification(response: $r) { ${session} } }`, { r: second.toJSON() }, pending.accessToken)).finishPasskeyVerification;
    out.factors = (await gql('{ me { secondFactors { passkeys { name lastUsedAt } } } }', {}, out.verified.accessToken)).me.secondFactors;

    // Remove it: the authenticator still holds it, the server refuses it.
    out.removed = (await gql('mutation($id: ID!, $p: String!) { removePasskey(id: $id, currentPassword: $p) }',
      { id: out.registered.id, p: password }, out.verified.accessToken)).removePasskey;
    const again = (await gql('mutation { beginPasskeySignin }')).beginPasskeySignin;
    const stale = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(again) });
    const refused = await answer(`mutation($r: JSON!) { finishPasskeySignin(response: $r) { ${session} } }`, { r: stale.toJSON() });
    out.afterRemoval = { data: refused.data, codes: refused.errors?.map((e) => e.extensions?.code) };
    out.mfaEnabledAfter = (await gql('{ me { mfaEnabled } }', {}, out.verified.accessToken)).me.mfaEnabled;
    return out;
  }, `passkey-${Date.now()}@example.com`);

  step = 'check';
  check(result.registered?.name === 'virtual', `registered ${JSON.stringify(result.registered)}`);
  check(result.passkeySignin.mfaRequired === false && result.passkeySignin.user.mfaEnabled, `passkey sign-in answered ${JSON.stringify(result.passkeySignin)}`);
  check(typeof result.booksWithPasskey?.totalCount === 'number', 'books after a passkey sign-in');
  check(result.pendingMfaRequired === true, 'a password sign-in did not wait for the passkey');
  check(result.verified.mfaRequired === false, `finishPasskeyVerification answered ${JSON.stringify(result.verified)}`);
  check(result.factors.passkeys.length === 1 && result.factors.passkeys[0].lastUsedAt, `secondFactors ${JSON.stringify(result.factors)}`);
  check(result.removed === true && result.mfaEnabledAfter === false, `removePasskey answered ${result.removed}, then mfaEnabled ${result.mfaEnabledAfter}`);
  check(result.afterRemoval.data === null && result.afterRemoval.codes?.[0] === 'UNAUTHENTICATED',
    `a removed passkey's sign-in answered ${JSON.stringify(result.afterRemoval)}`);
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  check(credentials.length === 1 && credentials[0].isResidentCredential && credentials[0].rpId === base.hostname,
    `the authenticator holds ${JSON.stringify(credentials.map((c) => ({ rpId: c.rpId, resident: c.isResidentCredential })))}`);
  check(credentials[0].signCount >= 3, `sign count ${credentials[0].signCount}`);
  check(problems.length === 0, `problems:\n  ${problems.join('\n  ')}`);
  console.log(`passkey check passed in ${Date.now() - started} ms: registered, signed in with it alone, as the second factor, refused once removed (sign count ${credentials[0].signCount})`);
} catch (e) {
  console.error(`passkey check FAILED at "${step}": ${e.message}`);
  if (problems.length) console.error(`also:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
