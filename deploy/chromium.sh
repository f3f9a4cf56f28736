#!/usr/bin/env bash
# Debian's Chromium, for the headless browser test of the built-in dashboard (serve/).
#
#   deploy/chromium.sh install
NAME=chromium
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
  install)
    command -v chromium >/dev/null && exit 0
    log "installing Debian's chromium (first run only)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      as_root apt-get update -q >&2
    fi
    as_root apt-get install -y -q --no-install-recommends chromium >&2
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
