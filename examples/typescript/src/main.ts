// A walk through the API with the typed client: sign up, sign in, page
// through the books, refresh the session, sign out. Run it against a server
// (`go run .` in the repository root):
//
//   BITGATE_URL=http://localhost:8080/graphql npm start
import { ApiError, Client } from './client.js';
import type { BooksQuery, SessionFragment } from './gql/graphql.js';
import { Books, Me, Refresh, Signin, Signout, Signup } from './operations.js';

const client = new Client(process.env.BITGATE_URL ?? 'http://localhost:8080/graphql');
const email = process.env.BITGATE_EMAIL ?? `example-${Date.now()}@example.com`;
const password = process.env.BITGATE_PASSWORD ?? 'correct horse battery';

// use sends the session's access token from now on.
function use(how: string, session: SessionFragment): SessionFragment {
  client.accessToken = session.accessToken;
  const { email, permissions } = session.user;
  console.log(`${how}: ${email} (${permissions.join(', ')}), access token valid ${session.expiresIn}s`);
  return session;
}

const { signup } = await client.request(Signup, {
  input: { firstName: 'Ada', lastName: 'Lovelace', email, password },
});
use('signup', signup);

let session = use('signin', (await client.request(Signin, { email, password })).signin);
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
