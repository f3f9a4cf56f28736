# Shared helpers for the local-server scripts in deploy/. Sourced, not run.
# Every server keeps all of its state under $SPAMGEO_LOCAL/<name>/ and records its PID there,
# so `stop` only ever signals the process this project started.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPAMGEO_LOCAL=${SPAMGEO_LOCAL:-$ROOT/.local}

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() { log "$*"; exit 1; }

# running PIDFILE: true when the PID recorded in PIDFILE is alive.
running() {
  local pidfile=$1
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# wait_started SECONDS PIDFILE LOG... -- CMD...: polls CMD every half second until it succeeds.
# When the recorded process exits or SECONDS pass first, prints the end of each LOG, stops the
# process and fails the script.
wait_started() {
  local seconds=$1 pidfile=$2; shift 2
  local logs=()
  while [ "$1" != "--" ]; do logs+=("$1"); shift; done
  shift
  local deadline=$((SECONDS + seconds)) why=""
  until "$@" >/dev/null 2>&1; do
    if ! running "$pidfile"; then
      why="exited during start"; break
    fi
    if [ $SECONDS -ge $deadline ]; then
      why="did not answer within $seconds s"; break
    fi
    sleep 0.5
  done
  [ -z "$why" ] && return 0
  tail -n 20 "${logs[@]}" >&2 2>/dev/null || true
  stop_pid "$pidfile"
  die "server $why; logs in $(dirname "${logs[0]}")"
}

# stop_pid PIDFILE: TERM, wait up to 30 s, then KILL; removes the PID file.
stop_pid() {
  local pidfile=$1
  if ! running "$pidfile"; then
    log "not running"
    rm -f "$pidfile"
    return 0
  fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; log "stopped (pid $pid)"; return 0; }
    sleep 0.5
  done
  log "pid $pid did not stop after 30 s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# apt_install PACKAGE...: installs Debian packages. A fresh machine has empty package lists, so
# they are refreshed first when the first package has no candidate version.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    as_root apt-get update -q >&2
  fi
  as_root apt-get install -y -q --no-install-recommends "$@" >&2
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# as_root CMD...: runs CMD as root, through sudo when we are not root already.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_certs: a private authority and a server certificate for 127.0.0.1 and localhost, made
# once under $SPAMGEO_LOCAL/certs/ and shared by the servers started in secure mode. Clients
# trust ca.pem.
CERTS=$SPAMGEO_LOCAL/certs
ensure_certs() {
  [ -f "$CERTS/server.pem" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed for secure mode"
  mkdir -p "$CERTS"
  local tmp; tmp=$(mktemp -d)
  openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ca.key"
  openssl req -x509 -new -key "$tmp/ca.key" -days 3650 -subj "/CN=spamgeo local CA" -out "$tmp/ca.pem"
  openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/server.key"
  openssl req -new -key "$tmp/server.key" -subj "/CN=localhost" -out "$tmp/server.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$tmp/ext"
  openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext" -out "$tmp/server.pem" 2>/dev/null
  chmod 600 "$tmp"/*.key
  mv "$tmp"/ca.pem "$tmp"/ca.key "$tmp"/server.key "$tmp"/server.pem "$CERTS/"
  rm -rf "$tmp"
  log "made a local CA and server certificate in $CERTS"
}

# ensure_secret NAME: prints the path of a random password kept in $SPAMGEO_LOCAL/secrets/NAME.
ensure_secret() {
  local file=$SPAMGEO_LOCAL/secrets/$1
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    (umask 077; openssl rand -hex 16 > "$file")
  fi
  echo "$file"
}
