#!/usr/bin/env bash
# Debian's Chromium, for the headless browser test of the built-in dashboard (console/serve/).
#
#   deploy/chromium.sh install
NAME=chromium
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  install)
    command -v chromium >/dev/null && exit 0
    log "installing Debian's chromium (first run only)"
    apt_install chromium
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
