#!/usr/bin/env bash
# update.sh refreshes the playground's vendored files in assets/vendor from
# the npm registry: the browser builds of GraphiQL, React and ReactDOM at the
# versions pinned below, each beside its package's LICENSE.
#
# Each tarball is fetched with `npm pack` and checked against the integrity
# pinned here before anything is unpacked, so a changed or substituted
# tarball stops the script. To move to another version, change its line,
# run `npm view NAME@VERSION dist.integrity`, paste the value, run this
# script, update the paths in assets/index.html, and run `go test ./...`
# (it fails on any asset the page names that the binary does not serve).
#
# Usage: internal/playground/update.sh   (needs npm, tar, openssl)
set -euo pipefail

# name version integrity file... (files are paths inside the tarball)
PINNED=(
	"graphiql 4.1.2 sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg== graphiql.min.js graphiql.min.css"
	"react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== umd/react.production.min.js"
	"react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== umd/react-dom.production.min.js"
)

here=$(cd "$(dirname "$0")" && pwd)
vendor="$here/assets/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

next="$work/vendor"
mkdir -p "$next"
for line in "${PINNED[@]}"; do
	read -r name version integrity files <<<"$line"
	echo "$name@$version"
	tgz=$(npm pack "$name@$version" --pack-destination "$work" --silent)
	got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
	if [[ "$got" != "$integrity" ]]; then
		echo "$name@$version: integrity $got, want $integrity" >&2
		exit 1
	fi
	dir="$next/$name@$version"
	mkdir -p "$dir" "$work/$name"
	tar -xzf "$work/$tgz" -C "$work/$name"
	for f in LICENSE $files; do
		cp "$work/$name/package/$f" "$dir/"
	done
done

rm -rf "$vendor"
mv "$next" "$vendor"
echo "updated $vendor:"
(cd "$vendor" && find . -type f | sort | xargs ls -l)
