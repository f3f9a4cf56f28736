#!/usr/bin/env bash
# Real SMTP clients for the trap's tests and benchmarks, from Debian's packages: swaks (protocol
# cases) and Postfix's smtp-source and smtp-sink (volume, and the do-nothing ceiling). Postfix
# itself is installed unconfigured and never started.
#
#   deploy/smtp-tools.sh install
NAME=smtp-tools
. "$(dirname "$0")/lib.sh"

install_tools() {
  if command -v swaks >/dev/null && perl -MNet::SSLeay -e1 2>/dev/null && [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/smtp-sink ]; then
    return 0
  fi
  log "installing swaks and postfix (for smtp-source and smtp-sink; first run only)"
  echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
  apt_install swaks libnet-ssleay-perl postfix
}

case "${1:-}" in
  install) install_tools ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
