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

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every half second.
wait_until() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      return 1
    fi
    sleep 0.5
  done
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

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# as_root CMD...: runs CMD as root, through sudo when we are not root already.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
