#!/usr/bin/env bash
# promtool, Prometheus's own checker, from Debian's prometheus package: deploy/validate checks
# the compose site's Prometheus configuration with it. The server is installed, never started.
#
#   deploy/promtool.sh install
NAME=promtool
. "$(dirname "$0")/lib.sh"

install_promtool() {
  command -v promtool >/dev/null && return 0
  log "installing Debian's prometheus package for promtool (first run only)"
  apt_install prometheus
}

case "${1:-}" in
  install) install_promtool ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
