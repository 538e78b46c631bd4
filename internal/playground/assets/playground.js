// Starts GraphiQL on the page that internal/playground serves. It is a file
// rather than an inline script so that the page's Content-Security-Policy
// allows scripts from this server only.
(function () {
  'use strict';

  // GraphiQL's dialogs lock scrolling with a <style> element
  // (react-remove-scroll-bar), which takes its nonce from this global; the
  // page's policy allows inline styles with that nonce only.
  window.__webpack_nonce__ = document.querySelector('meta[name="style-nonce"]').content;

  // Headers are not stored unless the user turns on Settings > Persist
  // headers, which GraphiQL records under OPT_IN. GraphiQL means to leave
  // them out otherwise, but its history plugin stores every run's headers,
  // Authorization included, whatever the setting, and it writes tabs and
  // the headers pane half a second late, with the setting of half a second
  // before. So whenever the setting is off, the storage below writes the
  // headers pane nowhere and every stored "headers" as null, and cleans
  // what is already stored.
  var OPT_IN = 'graphiql:shouldPersistHeaders';
  var HEADERS = 'graphiql:headers';
  var WITH_HEADERS = ['graphiql:tabState', 'graphiql:queries', 'graphiql:favorites'];

  function optedIn() {
    return localStorage.getItem(OPT_IN) === 'true';
  }

  // withoutHeaders returns what to store under key, or null for nothing.
  function withoutHeaders(key, value) {
    if (optedIn() || (key !== HEADERS && WITH_HEADERS.indexOf(key) < 0)) {
      return value;
    }
    if (key === HEADERS) {
      return null;
    }
    try {
      return JSON.stringify(JSON.parse(value), function (k, v) {
        return k === 'headers' ? null : v;
      });
    } catch (e) {
      return null; // never keep what could not be cleaned
    }
  }

  function cleanStored() {
    [HEADERS].concat(WITH_HEADERS).forEach(function (key) {
      var value = localStorage.getItem(key);
      if (value !== null) {
        storage.setItem(key, value);
      }
    });
  }

  function inNamespace(key) {
    return key.indexOf('graphiql:') === 0;
  }

  var storage = {
    getItem: function (key) {
      return localStorage.getItem(key);
    },
    setItem: function (key, value) {
      var clean = withoutHeaders(key, value);
      if (clean === null) {
        localStorage.removeItem(key);
      } else {
        localStorage.setItem(key, clean);
      }
      if (key === OPT_IN && value !== 'true') {
        cleanStored();
      }
    },
    removeItem: function (key) {
      localStorage.removeItem(key);
    },
    clear: function () {
      Object.keys(localStorage).filter(inNamespace).forEach(function (key) {
        localStorage.removeItem(key);
      });
    },
    get length() {
      return Object.keys(localStorage).filter(inNamespace).length;
    },
  };

  cleanStored();

  var defaultQuery = [
    '# Welcome to the bitgate playground.',
    '#',
    '# To call the API as a user, run Signup (or',
    '# Signin), copy accessToken from the answer, and',
    '# put it in the Headers pane below:',
    '#',
    '#   {"Authorization": "Bearer <accessToken>"}',
    '#',
    '# then run Me. Headers are not stored in this',
    '# browser unless you turn on Settings > Persist',
    '# headers.',
    '#',
    '# A second factor: run EnrollTotp, add the secret',
    '# (or the URI) to an authenticator app, and run',
    '# ConfirmTotp with its code; keep the recovery',
    '# codes. Signin then answers mfaRequired: true:',
    '# put that accessToken in the headers, run',
    '# VerifySecondFactor with a code, and use the',
    '# accessToken it answers.',
    '',
    'mutation Signup {',
    '  signup(input: {',
    '    firstName: "Ada"',
    '    lastName: "Lovelace"',
    '    email: "ada@example.com"',
    '    password: "correct horse battery"',
    '  }) {',
    '    accessToken',
    '    expiresIn',
    '  }',
    '}',
    '',
    'mutation Signin {',
    '  signin(',
    '    email: "ada@example.com"',
    '    password: "correct horse battery"',
    '  ) {',
    '    accessToken',
    '    expiresIn',
    '    mfaRequired',
    '  }',
    '}',
    '',
    'query Me {',
    '  me {',
    '    id',
    '    email',
    '    permissions',
    '    mfaEnabled',
    '  }',
    '}',
    '',
    'mutation EnrollTotp {',
    '  enrollTotp(currentPassword: "correct horse battery") {',
    '    secret',
    '    uri',
    '  }',
    '}',
    '',
    'mutation ConfirmTotp {',
    '  confirmTotp(code: "123456")',
    '}',
    '',
    'mutation VerifySecondFactor {',
    '  verifySecondFactor(code: "123456") {',
    '    accessToken',
    '    mfaRequired',
    '  }',
    '}',
  ].join('\n');

  var root = document.getElementById('graphiql');
  var fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: storage,
      // GraphiQL 4 resets the setting to off on every load unless this
      // prop is true; false would hide the setting.
      shouldPersistHeaders: optedIn() || undefined,
      defaultQuery: defaultQuery,
    })
  );
})();
