#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test, from Debian's `chromium` package.
#
#   scripts/chromium.sh          install it when missing, then print its path on stdout
#
# Tries the install from the current package lists first and runs `apt-get update` only
# when that fails (the lists may be stale or empty). Exits non-zero when it cannot install:
# the browser test fails on that rather than being skipped.
set -euo pipefail

say() { echo "chromium: $*" >&2; }

find_chromium() {
  local c
  for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

if path="$(find_chromium)"; then
  echo "$path"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { say "not root and no sudo: install Debian's chromium package yourself"; exit 1; }
  SUDO=sudo
else
  SUDO=
fi

apt_install() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

say "chromium is missing: installing Debian's package"
if ! apt_install; then
  say "install failed: refreshing the package lists and trying again"
  $SUDO apt-get update -qq
  apt_install || { say "installing chromium failed"; exit 1; }
fi

path="$(find_chromium)" || { say "chromium was installed but is not on PATH"; exit 1; }
echo "$path"
