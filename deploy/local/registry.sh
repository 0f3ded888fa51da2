#!/usr/bin/env bash
# A Confluent-compatible Schema Registry on 127.0.0.1 for development and CI.
#
#   deploy/local/registry.sh start    start (state kept from the last run: ids
#                                     survive a restart), wait until it answers;
#                                     prints the URL as the last line of stdout
#   deploy/local/registry.sh stop     SIGTERM, up to 10 s, then SIGKILL
#   deploy/local/registry.sh status   "running <url>" (exit 0) or "stopped" (exit 1)
#   deploy/local/registry.sh restart  stop, then start
#   deploy/local/registry.sh reset    stop, and forget every schema and id
#
# Environment: ASW_REGISTRY_PORT (default 8081), ASW_REGISTRY_STATE (default
# deploy/local/.registry), ASW_REGISTRY_USER_INFO (user:password: require
# HTTP basic auth), ASW_REGISTRY_START_TIMEOUT (seconds, default 20).
#
# What runs is deploy/local/registry.py, our stand-in that implements the part
# of Confluent's REST API the worker uses (python3's standard library only, no
# compatibility checks), with basic auth on request. The tests run a real
# registry instead (deploy/local/apicurio.sh, Apicurio Registry); this one is
# kept for trying basic auth by hand, which that Apicurio cannot do without an
# OIDC server, and for offline work without Maven. Point schema.registry.url
# at a real one in production.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${ASW_REGISTRY_STATE:-$here/.registry}"
port="${ASW_REGISTRY_PORT:-8081}"
start_timeout="${ASW_REGISTRY_START_TIMEOUT:-20}"
pidfile="$state/registry.pid"
logfile="$state/registry.log"
url="http://127.0.0.1:$port"

log() { printf 'registry.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The pid of our registry.py, if the pid file names a live one.
running_pid() {
  local pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'registry\.py ' || return 1
  printf '%s\n' "$pid"
}

answers() {
  python3 - "$url" <<'PY' 2>/dev/null
import base64, os, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/subjects")
ui = os.environ.get("ASW_REGISTRY_USER_INFO")
if ui:
    req.add_header("Authorization", "Basic " + base64.b64encode(ui.encode()).decode())
urllib.request.urlopen(req, timeout=2).read()
PY
}

start() {
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    printf '%s\n' "$url"
    return 0
  fi
  mkdir -p "$state"
  command -v python3 >/dev/null || die "python3 is missing (scripts/bootstrap.sh --with-broker)"
  nohup python3 "$here/registry.py" "$port" "$state" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
  local deadline=$((SECONDS + start_timeout))
  until answers; do
    if ! running_pid >/dev/null; then
      tail -n 5 "$logfile" >&2 || true
      die "the registry exited during start-up (log: $logfile)"
    fi
    ((SECONDS < deadline)) || die "no answer on $url within ${start_timeout}s (log: $logfile)"
    sleep 0.2
  done
  log "running on $url (pid $(<"$pidfile"), state $state)"
  printf '%s\n' "$url"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$pidfile"
  log "stopped (pid $pid)"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
reset) stop; rm -f "$state/registry.json" ;;
status)
  if pid="$(running_pid)"; then echo "running $url"; else echo "stopped"; exit 1; fi ;;
*) die "usage: $0 start|stop|status|restart|reset" ;;
esac
