#!/usr/bin/env bash
# run.sh builds the server, starts it on loopback with a fresh SQLite
# database, and runs check.mjs (the playground, with TOTP) and
# passkeys.mjs (passkeys with Chromium's virtual authenticator) against it
# in Debian's headless Chromium. The server's passkeys belong to
# localhost, the page's origin http://localhost:PORT.
# Not part of CI (it needs Chromium and npm); run it after changing the
# playground:
#
#   apt-get install -y chromium        # once
#   internal/playground/browsercheck/run.sh
#
# Screenshots go to OUT_DIR (default: a folder under /tmp, printed at the end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
port=${PORT:-18080}

(cd "$repo" && go build -o "$work/bitgate" .)
(cd "$here" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund; })

DATA_DIR="$work/data" WEBAUTHN_RP_ID=localhost WEBAUTHN_ORIGINS="http://localhost:$port" \
	"$work/bitgate" -addr "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done

BASE_URL="http://127.0.0.1:$port" OUT_DIR="${OUT_DIR:-/tmp/bitgate-playground-check}" node "$here/check.mjs"
BASE_URL="http://localhost:$port" node "$here/passkeys.mjs"
