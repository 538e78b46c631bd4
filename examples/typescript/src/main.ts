// A walk through the API with the typed client: sign up, turn on TOTP, sign
// in with the second factor, page through the books, refresh the session,
// sign out. Run it against a server
// (`go run .` in the repository root):
//
//   BITGATE_URL=http://localhost:8080/graphql npm start
import { ApiError, Client } from './client.js';
import type { BooksQuery, SessionFragment } from './gql/graphql.js';
import {
  Books,
  ConfirmTotp,
  EnrollTotp,
  Me,
  Refresh,
  SecondFactors,
  Signin,
  Signout,
  Signup,
  VerifySecondFactor,
} from './operations.js';
import { totpCode } from './totp.js';

const client = new Client(process.env.BITGATE_URL ?? 'http://localhost:8080/graphql');
const email = process.env.BITGATE_EMAIL ?? `example-${Date.now()}@example.com`;
const password = process.env.BITGATE_PASSWORD ?? 'correct horse battery';

// use sends the session's access token from now on.
function use(how: string, session: SessionFragment): SessionFragment {
  client.accessToken = session.accessToken;
  const { email, permissions } = session.user;
  const waiting = session.mfaRequired ? ', waiting for its second factor' : '';
  console.log(`${how}: ${email} (${permissions.join(', ')}), access token valid ${session.expiresIn}s${waiting}`);
  return session;
}

const { signup } = await client.request(Signup, {
  input: { firstName: 'Ada', lastName: 'Lovelace', email, password },
});
use('signup', signup);

// Turn on TOTP: the secret goes into an authenticator app (by its QR code,
// qrCodeSvg, or typed in), and a code of it confirms it.
const { enrollTotp } = await client.request(EnrollTotp, { currentPassword: password });
console.log(`enrollTotp: ${enrollTotp.uri.replace(/secret=[^&]+/, 'secret=…')}, QR code of ${enrollTotp.qrCodeSvg.length} bytes of SVG`);
const { confirmTotp: recoveryCodes } = await client.request(ConfirmTotp, { code: totpCode(enrollTotp.secret) });
console.log(`confirmTotp: ${recoveryCodes.length} recovery codes, shown once`);

// A sign-in now waits for the second factor: with mfaRequired, only me,
// signout and verifySecondFactor answer; the rest say MFA_REQUIRED.
let session = use('signin', (await client.request(Signin, { email, password })).signin);
if (session.mfaRequired) {
  try {
    await client.request(Books, { first: 1, after: null });
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    console.log(`books before the second factor: ${e.code} (${e.errors[0]?.extensions?.reason})`);
  }
  // The code of the next step: the one enrolling used is spent.
  const code = totpCode(enrollTotp.secret, Date.now() + 30_000);
  session = use('verifySecondFactor', (await client.request(VerifySecondFactor, { code })).verifySecondFactor);
}
const { me: factors } = await client.request(SecondFactors);
console.log(`second factors: TOTP ${factors.secondFactors.totp}, ${factors.secondFactors.recoveryCodesLeft} recovery codes left`);
const { me } = await client.request(Me);
console.log(`me: ${me.firstName} ${me.lastName} <${me.email}>`);

// Pages of 10: pass each page's endCursor back as `after`.
let after: string | null = null;
for (let page = 1; ; page++) {
  const { books }: BooksQuery = await client.request(Books, { first: 10, after });
  const titles = (books.edges ?? []).flatMap((edge) => (edge?.node ? [`${edge.node.title} (${edge.node.author})`] : []));
  console.log(`books page ${page} of ${Math.max(1, Math.ceil(books.totalCount / 10))}: ${titles.join('; ') || 'none'}`);
  if (!books.pageInfo.hasNextPage || books.pageInfo.endCursor == null) break;
  after = books.pageInfo.endCursor;
}

// A refresh spends the refresh token and returns a new pair.
const spent = session.refreshToken;
session = use('refresh', (await client.request(Refresh, { refreshToken: session.refreshToken })).refresh);

console.log(`signed out: ${(await client.request(Signout, { allSessions: false })).signout}`);
client.accessToken = undefined;

// After signing out, the session's refresh tokens are refused.
for (const refreshToken of [session.refreshToken, spent]) {
  try {
    await client.request(Refresh, { refreshToken });
    throw new Error('a refresh token outlived its session');
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    console.log(`refresh after signout: ${e.code}: ${e.message}`);
  }
}
