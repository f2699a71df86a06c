#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the console's browser tests: Playwright
# drives /usr/bin/chromium (`playwright install` and its CDN are never used). Installs the
# `chromium` package with apt-get when it is missing. Under CI=true a browser that cannot
# be installed is an error; otherwise a warning, and the browser tests are skipped.
# Best effort, never an error: a font with Chinese glyphs, so the screenshots of the
# console (Simplified Chinese by default) are legible rather than boxes.
set -uo pipefail

CHROMIUM=${PGW_TEST_CHROMIUM:-/usr/bin/chromium}
CJK_FONT_PACKAGE=fonts-wqy-microhei

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    echo "not root and sudo is unavailable: cannot run $*" >&2
    return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || { echo "apt-get is unavailable" >&2; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y "$@" && return 0
  echo "apt-get install $* failed; updating the package lists and retrying"
  as_root apt-get update && as_root apt-get install -y "$@"
}

has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh-cn family 2>/dev/null)" ]
}

if [ ! -x "$CHROMIUM" ]; then
  echo "Chromium is missing at $CHROMIUM; installing Debian's chromium package"
  apt_install chromium
  if [ ! -x "$CHROMIUM" ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "error: CI=true and Chromium is missing at $CHROMIUM and could not be installed" \
        "(apt-get install chromium); the console's browser tests need it." >&2
      exit 1
    fi
    echo "warning: Chromium is missing at $CHROMIUM and could not be installed;" \
      "the console's browser tests will be skipped." >&2
    exit 0
  fi
  echo "Chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
fi

if ! has_cjk_font; then
  echo "No font with Chinese glyphs; installing $CJK_FONT_PACKAGE for legible screenshots"
  apt_install "$CJK_FONT_PACKAGE" ||
    echo "warning: $CJK_FONT_PACKAGE could not be installed; Chinese text in the" \
      "console's screenshots shows as boxes (the tests do not depend on it)." >&2
fi
exit 0
