// links.js runs the three pages a frontend hosts for bitgate's mailed
// links, PUBLIC_URL + /verify-email, /reset-password and
// /confirm-email-change, each opened with ?token=…. Each page names its
// flow in <body data-flow="…">; this module takes the token out of the
// address bar, and spends it with one GraphQL call when the user asks.

// API is bitgate's GraphQL endpoint. On another origin than these pages,
// the pages' origin must be in the server's CORS_ORIGINS.
export const API = 'http://localhost:8080/graphql';

const flows = {
  'verify-email': {
    query: 'mutation($token: String!) { verifyEmail(token: $token) { email emailVerified } }',
    done: (data) => `${data.verifyEmail.email} is verified. You can close this page.`,
  },
  'reset-password': {
    query: `mutation($token: String!, $newPassword: String!) {
      resetPassword(token: $token, newPassword: $newPassword) { accessToken refreshToken expiresIn mfaRequired user { email } }
    }`,
    // resetPassword answers a new session: a real frontend hands it to
    // wherever it keeps its session, and with mfaRequired asks for the
    // second factor (verifySecondFactor with this session's token) before
    // anything else. This page only says so.
    done: ({ resetPassword: p }) => p.mfaRequired
      ? `Your password is changed. Every other session has ended; sign in with your second factor to go on as ${p.user.email}.`
      : `Your password is changed, and you are signed in as ${p.user.email}. Every other session has ended.`,
  },
  'confirm-email-change': {
    query: 'mutation($token: String!) { confirmEmailChange(token: $token) { email emailVerified } }',
    done: (data) => `Your email is now ${data.confirmEmailChange.email}.`,
  },
};

// takeToken returns the link's token and removes it from the address bar,
// so that it stays out of the history, bookmarks and screenshots.
function takeToken() {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  history.replaceState(null, '', location.pathname);
  return token;
}

// call sends one GraphQL operation and returns its data, or throws an
// Error whose message a person can read.
async function call(query, variables) {
  let body;
  try {
    const res = await fetch(API, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    body = await res.json(); // bitgate answers JSON whatever the status
  } catch {
    throw new Error('The server cannot be reached. Try again in a moment.');
  }
  if (!body.errors?.length) return body.data;
  const e = body.errors[0];
  const ext = e.extensions ?? {};
  const err = new Error(explain(e.message, ext));
  err.field = ext.field;
  throw err;
}

// explain turns an error's code (never its message, which may change,
// except for a new password the rules refuse) into what the user can do.
function explain(message, ext) {
  switch (ext.code) {
    case 'BAD_USER_INPUT':
      return ext.field === 'token'
        ? 'This link does not work any more: it was used, replaced by a newer one, or has expired. Ask for a new one.'
        : message;
    case 'CONFLICT':
      return 'Another account has this email now, so it cannot be yours.';
    case 'RATE_LIMITED':
      return `Too many tries from here. Wait ${ext.retryAfter ?? 1} seconds and try again.`;
    default:
      return 'Something went wrong on our side. Try again later.';
  }
}

const flow = flows[document.body.dataset.flow];
const form = document.querySelector('form');
const result = document.querySelector('#result');
const token = takeToken();

function say(text, ok) {
  result.textContent = text;
  result.className = ok ? 'ok' : 'error';
}

if (!token) {
  form.hidden = true;
  say('This page opens from the link in your mail.', false);
} else {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const variables = { token };
    if (form.elements.newPassword) {
      variables.newPassword = form.elements.newPassword.value;
      if (variables.newPassword !== form.elements.repeat.value) {
        say('The two passwords differ.', false);
        return;
      }
    }
    form.elements.send.disabled = true;
    try {
      say(flow.done(await call(flow.query, variables)), true);
      form.hidden = true;
    } catch (err) {
      say(err.message, false);
      // A refused new password leaves the token good: try another.
      form.elements.send.disabled = err.field === 'token';
    }
  });
}
