#!/usr/bin/env bash
# A real Confluent-compatible Schema Registry on 127.0.0.1 for development and
# CI: Apicurio Registry 2.4.2.Final, built from Maven Central alone
# (deploy/local/apicurio/, see its README.md), storage in memory.
#
#   deploy/local/apicurio.sh install  build it (once; idempotent: skipped when
#                                     the build matches deploy/local/apicurio/)
#   deploy/local/apicurio.sh start    start, wait until the ccompat API answers;
#                                     prints its base URL as the last line of
#                                     stdout (http://127.0.0.1:PORT/apis/ccompat/v7)
#   deploy/local/apicurio.sh stop     SIGTERM (and SIGCONT, in case it is
#                                     frozen), up to 20 s, then SIGKILL
#   deploy/local/apicurio.sh status   "running <url>" (exit 0) or "stopped" (exit 1)
#   deploy/local/apicurio.sh freeze   SIGSTOP: the port still accepts
#                                     connections, no request is answered (for
#                                     fault tests: the registry hangs, and keeps
#                                     its schemas)
#   deploy/local/apicurio.sh thaw     SIGCONT: it answers again
#
# Every schema and id is lost at stop (in-memory H2): a stop/start is a new,
# empty registry. Use freeze/thaw for an outage that keeps the schemas.
#
# Environment: ASW_APICURIO_PORT (default 8080), ASW_APICURIO_STATE (pid, log
# and runtime config; default deploy/local/.apicurio), ASW_APICURIO_HOME (the
# build; default deploy/local/.apicurio/dist, shared by every state dir),
# ASW_APICURIO_START_TIMEOUT (seconds, default 120), ASW_APICURIO_JAVA_OPTS
# (default -Xmx512m). Java 17+ from JAVA_HOME or the PATH; install also needs
# its javac and mvn (scripts/bootstrap.sh --with-broker installs both, and runs
# install). MAVEN_OPTS=-Dmaven.repo.local=DIR builds with another local repo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/apicurio"
state="${ASW_APICURIO_STATE:-$here/.apicurio}"
dist="${ASW_APICURIO_HOME:-$here/.apicurio/dist}"
port="${ASW_APICURIO_PORT:-8080}"
start_timeout="${ASW_APICURIO_START_TIMEOUT:-120}"
java_opts="${ASW_APICURIO_JAVA_OPTS:--Xmx512m}"
pidfile="$state/registry.pid"
logfile="$state/registry.log"
url="http://127.0.0.1:$port/apis/ccompat/v7"

log() { printf 'apicurio.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

check_settings() {
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    die "ASW_APICURIO_PORT must be a number between 1 and 65535, got '$port'"
  fi
  [[ "$start_timeout" =~ ^[0-9]+$ ]] || die "ASW_APICURIO_START_TIMEOUT must be a number, got '$start_timeout'"
  port=$((10#$port))
  url="http://127.0.0.1:$port/apis/ccompat/v7"
}

java_bin=""
need_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    java_bin="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    java_bin="$(command -v java)"
  else
    die "java not found: Apicurio Registry needs Java 17 or newer (Debian: apt-get install default-jdk-headless)"
  fi
  local line major
  line="$("$java_bin" -version 2>&1 | head -n 1)"
  major="$(sed -E -n 's/.*version "([0-9]+).*/\1/p' <<<"$line")"
  if [[ -z "$major" || "$major" -lt 17 ]]; then
    die "Apicurio Registry needs Java 17 or newer, $java_bin is: $line"
  fi
}

# --- install -----------------------------------------------------------------

# What the build depends on (application.properties is read at start, not built in).
build_hash() {
  (cd "$src" && find pom.xml settings.xml config-index-deployment -path '*/target' -prune -o -type f -print |
    LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}

installed() { [[ -f "$dist/quarkus-app/quarkus-run.jar" && "$(cat "$dist/.build-hash" 2>/dev/null)" == "$(build_hash)" ]]; }

build_failed() {
  tail -n 40 "$dist/build.log" >&2 || true
  die "$1 failed (log: $dist/build.log)"
}

cmd_install() {
  need_java
  mkdir -p "$dist"
  exec 8>"$dist.lock"
  flock -w 600 8 || die "another install holds $dist.lock"
  if installed; then
    log "$dist is up to date"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Debian: apt-get install maven)"
  # Maven runs on the JDK of the java found above: the one that runs the registry.
  local jh
  jh="$(dirname "$(dirname "$(readlink -f "$java_bin")")")"
  [[ -x "$jh/bin/javac" ]] || die "$jh has no javac: the build compiles Java (Debian: apt-get install default-jdk-headless)"
  local mvnargs=(-B -q -Dstyle.color=never -s "$src/settings.xml")
  local build="$dist/build" t0=$SECONDS
  rm -rf "$build"
  cp -r "$src" "$build"
  log "building Apicurio Registry 2.4.2.Final into $dist (Maven Central; JAVA_HOME=$jh) ..."
  # 1. Our build-time half of the config-index extension, into the local
  #    Maven repository, where Quarkus looks for it (Central does not serve it).
  JAVA_HOME="$jh" mvn "${mvnargs[@]}" -f "$build/config-index-deployment/pom.xml" install \
    >"$dist/build.log" 2>&1 8>&- || build_failed "building config-index-deployment"
  # 2. The Quarkus application. The app's own application.properties asks for
  #    a legacy-jar; fast-jar gives target/quarkus-app/quarkus-run.jar.
  JAVA_HOME="$jh" mvn "${mvnargs[@]}" -f "$build/pom.xml" package -Dquarkus.package.type=fast-jar \
    >>"$dist/build.log" 2>&1 8>&- || build_failed "building the registry"
  [[ -f "$build/target/quarkus-app/quarkus-run.jar" ]] || die "the build made no quarkus-run.jar"
  rm -rf "$dist/quarkus-app"
  mv "$build/target/quarkus-app" "$dist/quarkus-app"
  rm -rf "$build"
  build_hash >"$dist/.build-hash"
  log "built in $((SECONDS - t0)) s: $dist/quarkus-app/quarkus-run.jar"
}

# --- start / stop ------------------------------------------------------------

# The pid of our registry, if the pid file names a live one.
running_pid() {
  local pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'quarkus-run\.jar' || return 1
  printf '%s\n' "$pid"
}

port_open() { (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null; }

answers() {
  python3 - "$url/subjects" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
PY
}

cmd_start() {
  local pid
  check_settings
  if pid="$(running_pid)"; then
    if [[ "$(cat "$state/registry.port" 2>/dev/null)" != "$port" ]]; then
      die "a registry from $state runs on port $(cat "$state/registry.port" 2>/dev/null) (pid $pid): stop it first"
    fi
    log "already running (pid $pid)"
    printf '%s\n' "$url"
    return 0
  fi
  rm -f "$pidfile"
  installed || die "not built, or built from another recipe, in $dist (run: $0 install)"
  command -v python3 >/dev/null || die "python3 is missing (scripts/bootstrap.sh --with-broker)"
  need_java
  port_open && die "127.0.0.1:$port is already in use (set ASW_APICURIO_PORT)"
  mkdir -p "$state/config"
  # Quarkus reads config/application.properties from its working directory,
  # over the one inside the app.
  cp "$src/application.properties" "$state/config/application.properties"
  [[ ! -f "$logfile" ]] || mv -f "$logfile" "$logfile.previous"
  local t0=$SECONDS opts
  read -r -a opts <<<"$java_opts"
  # setsid: its own session, away from the caller's signals; $! is the JVM.
  (
    cd "$state"
    exec setsid "$java_bin" "${opts[@]}" -XX:+ExitOnOutOfMemoryError \
      -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
      -jar "$dist/quarkus-app/quarkus-run.jar"
  ) </dev/null >"$logfile" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$pidfile"
  printf '%s\n' "$port" >"$state/registry.port"
  local deadline=$((SECONDS + start_timeout))
  until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logfile" >&2 || true
      rm -f "$pidfile"
      die "the registry exited during start-up (log: $logfile)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logfile" >&2 || true
      stop_pid "$pid"
      rm -f "$pidfile"
      die "no answer on $url within ${start_timeout}s (log: $logfile)"
    fi
    sleep 0.2
  done
  log "running on $url after $((SECONDS - t0))s (pid $pid, log $logfile; storage in memory)"
  printf '%s\n' "$url"
}

stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    return 0
  fi
  stop_pid "$pid"
  rm -f "$pidfile"
  log "stopped (pid $pid)"
}

cmd_signal() { # SIGNAL what
  local pid
  pid="$(running_pid)" || die "not running"
  kill -"$1" "$pid"
  log "$2 (pid $pid)"
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status)
  check_settings
  if running_pid >/dev/null; then
    echo "running http://127.0.0.1:$(cat "$state/registry.port" 2>/dev/null || echo "$port")/apis/ccompat/v7"
  else
    echo "stopped"
    exit 1
  fi
  ;;
freeze) cmd_signal STOP "frozen: connections are accepted, nothing is answered" ;;
thaw) cmd_signal CONT "thawed" ;;
*)
  echo "usage: $0 install|start|stop|status|freeze|thaw" >&2
  exit 2
  ;;
esac
