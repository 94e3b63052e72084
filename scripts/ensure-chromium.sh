#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (playwright-core drives it; never `npx playwright install`).
# Idempotent: does nothing when the browser is already there. CI (.ci/run) calls this before the tests.
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

fail() {
  echo "ensure-chromium: $1" >&2
  echo "ensure-chromium: install it by hand with: apt-get update && apt-get install -y chromium" >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
  command -v sudo >/dev/null 2>&1 || fail "$CHROMIUM is missing and this is not root (no sudo either)"
else
  SUDO=
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "ensure-chromium: installing chromium (apt-get)..." >&2
if ! $SUDO apt-get update -qq >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get update failed"
fi
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get install chromium failed"
fi
[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is still missing (set CHROMIUM_PATH?)"
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed" >&2
