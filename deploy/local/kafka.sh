#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, broker+controller in one JVM) on
# 127.0.0.1 for development and CI.
#
#   deploy/local/kafka.sh start    fetch jars if needed, format a fresh data
#                                  dir, start, wait until clients get metadata;
#                                  prints the bootstrap address as the last
#                                  line of stdout
#   deploy/local/kafka.sh stop     SIGTERM, up to 30 s, then SIGKILL
#   deploy/local/kafka.sh status   "running <bootstrap>" (exit 0) or
#                                  "stopped" (exit 1)
#   deploy/local/kafka.sh restart  stop, then start
#   deploy/local/kafka.sh start --keep-data
#                                  start on the data of the last run (same
#                                  cluster id, topics, offsets, transactions)
#   deploy/local/kafka.sh restart --keep-data
#   deploy/local/kafka.sh kill     SIGKILL the broker (a crash: for fault tests)
#   deploy/local/kafka.sh tool NAME [ARGS...]
#                                  run one of Kafka's command-line tools from
#                                  the fetched jars: topics, consumer-groups,
#                                  transactions, configs, console-consumer,
#                                  console-producer, get-offsets
#
# With ASW_KAFKA_SASL_PORT set, start also opens a SASL_SSL listener there
# (SCRAM-SHA-512 and PLAIN, a CA and broker certificate made with openssl) and
# writes the client settings to <state>/sasl/.
#
# The jars come from Maven Central through deploy/local/pom.xml.  Jars, data,
# config and logs all live in deploy/local/.kafka/ (git-ignored).  See
# deploy/local/README.md for the environment variables.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# One broker per state dir (data, config, logs, pid); the jars are shared.
state="${ASW_KAFKA_STATE:-$here/.kafka}"
libs="$here/.kafka/libs"
data="$state/data"
logs="$state/logs"
conf="$state/server.properties"
pidfile="$state/kafka.pid"
addrfile="$state/bootstrap"
stamp="$libs/.fetched"

host=127.0.0.1
port="${ASW_KAFKA_PORT:-9092}"
cport="${ASW_KAFKA_CONTROLLER_PORT:-9093}"
version="${ASW_KAFKA_VERSION:-4.1.1}"
start_timeout="${ASW_KAFKA_START_TIMEOUT:-90}"
heap_opts="${ASW_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
stop_timeout=30
bootstrap="$host:$port"
# The SASL_SSL listener (opt-in): SCRAM and PLAIN over TLS, for testing
# authentication.
sasl_port="${ASW_KAFKA_SASL_PORT:-}"
sasl_user="${ASW_KAFKA_SASL_USER:-aftersale}"
sasl_mechs="${ASW_KAFKA_SASL_MECHANISMS:-SCRAM-SHA-512,PLAIN}"
sasl_dir="$state/sasl"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  echo "usage: $0 start|restart [--keep-data] | stop | kill | status | tool NAME [ARGS...]" >&2
  exit 2
}

check_number() { # name value max
  if ! [[ "$2" =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > $3)); then
    die "$1 must be a number between 1 and $3, got '$2'"
  fi
}

check_settings() {
  check_number ASW_KAFKA_PORT "$port" 65535
  check_number ASW_KAFKA_CONTROLLER_PORT "$cport" 65535
  check_number ASW_KAFKA_START_TIMEOUT "$start_timeout" 3600
  port=$((10#$port)) cport=$((10#$cport)) start_timeout=$((10#$start_timeout))
  bootstrap="$host:$port"
  [[ "$port" != "$cport" ]] ||
    die "ASW_KAFKA_PORT and ASW_KAFKA_CONTROLLER_PORT are both $port"
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "ASW_KAFKA_VERSION must look like 4.1.1, got '$version'"
  if [[ -n "$sasl_port" ]]; then
    check_number ASW_KAFKA_SASL_PORT "$sasl_port" 65535
    sasl_port=$((10#$sasl_port))
    [[ "$sasl_port" != "$port" && "$sasl_port" != "$cport" ]] ||
      die "ASW_KAFKA_SASL_PORT $sasl_port is also the client or controller port"
    [[ "$sasl_mechs" =~ ^(SCRAM-SHA-256|SCRAM-SHA-512|PLAIN)(,(SCRAM-SHA-256|SCRAM-SHA-512|PLAIN))*$ ]] ||
      die "ASW_KAFKA_SASL_MECHANISMS must be a comma-separated list of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, got '$sasl_mechs'"
    [[ "$sasl_user" =~ ^[A-Za-z0-9._-]{1,64}$ ]] ||
      die "ASW_KAFKA_SASL_USER must be 1..64 characters of [A-Za-z0-9._-], got '$sasl_user'"
  fi
}

# --- tools -------------------------------------------------------------------

java_bin=""
need_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    java_bin="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    java_bin="$(command -v java)"
  else
    die "java not found: Kafka needs Java 17 or newer (Debian: apt-get install default-jre-headless)"
  fi
  local line major
  line="$("$java_bin" -version 2>&1 | head -n 1)"
  major="$(sed -E -n 's/.*version "([0-9]+).*/\1/p' <<<"$line")"
  if [[ -z "$major" || "$major" -lt 17 ]]; then
    die "Kafka needs Java 17 or newer, $java_bin is: $line"
  fi
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found: it fetches the Kafka jars from Maven Central (Debian: apt-get install maven)"
}

have_kcat() { command -v kcat >/dev/null 2>&1; }

need_openssl() {
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found: the SASL_SSL listener needs it for its certificates (Debian: apt-get install openssl)"
}

# Serialises start/stop/restart of concurrent callers.  The lock's descriptor
# is closed for the broker (9>&-) so that it does not outlive this script.
take_lock() {
  mkdir -p "$state"
  exec 9>"$state/lock"
  if ! flock -w 300 9; then
    die "another kafka.sh start/stop holds $state/lock"
  fi
}

# --- fetch -------------------------------------------------------------------

fetch() {
  local want
  want="kafka=$version pom=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    return 0
  fi
  need_mvn
  mkdir -p "$logs"
  rm -rf "$libs.tmp"
  log "fetching Apache Kafka $version jars from Maven Central (once; cached in $libs) ..."
  if ! mvn -B -q -f "$here/pom.xml" -Dkafka.version="$version" \
    dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs.tmp" >"$logs/fetch.log" 2>&1 9>&-; then
    tail -n 30 "$logs/fetch.log" >&2 || true
    die "maven could not fetch Kafka $version (full output: $logs/fetch.log)"
  fi
  [[ -f "$libs.tmp/kafka_2.13-$version.jar" ]] ||
    die "fetch finished but $libs.tmp/kafka_2.13-$version.jar is missing"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  printf '%s\n' "$want" >"$stamp"
  log "fetched $(find "$libs" -name '*.jar' | wc -l) jars ($(du -sh "$libs" | cut -f1))"
}

# --- process and readiness ---------------------------------------------------

# Prints the broker's pid if the pid file names a live Kafka process.
running_pid() {
  local pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka ' || return 1
  printf '%s\n' "$pid"
}

port_open() {
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# True when the broker at $1 answers clients.  With kcat: a metadata request
# lists broker 1 (the broker opens its client listener only after it has caught
# up with the metadata log).  Without kcat: the port accepts connections and
# the server log says the server started.
ready() {
  local addr="$1" out
  port_open "${addr%:*}" "${addr##*:}" || return 1
  if have_kcat; then
    out="$(timeout 15 kcat -b "$addr" -L -m 3 2>/dev/null 9>&-)" || return 1
    grep -q 'broker 1 at' <<<"$out"
  else
    grep -q 'Kafka Server started' "$logs/server.log" 2>/dev/null
  fi
}

show_log_tail() {
  local f
  for f in "$logs/server.log" "$logs/kafka.out"; do
    if [[ -s "$f" ]]; then
      printf -- '--- last 30 lines of %s ---\n' "$f" >&2
      tail -n 30 "$f" >&2
    fi
  done
}

# Sends SIGTERM, waits up to $stop_timeout s, then SIGKILL.
terminate() {
  local pid="$1" waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= stop_timeout * 10)); then
      log "broker (pid $pid) still running after ${stop_timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# --- SASL_SSL listener (ASW_KAFKA_SASL_PORT) ---------------------------------

# The CA, the broker's key and certificate, and the SASL password, made once
# per state dir and kept (so that clients configured earlier keep working).
# The certificate names 127.0.0.1 and localhost: librdkafka checks the host.
sasl_material() {
  need_openssl
  mkdir -p "$sasl_dir"
  chmod 700 "$sasl_dir"
  if [[ ! -s "$sasl_dir/ca.pem" || ! -s "$sasl_dir/broker.pem" ]]; then
    log "making a CA and a broker certificate in $sasl_dir"
    local tmp="$sasl_dir/tmp" serial
    rm -rf "$tmp"
    mkdir -p "$tmp"
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:127.0.0.1' >"$tmp/ext"
    serial="0x$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    if ! {
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=aftersale-worker local CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$tmp/ca.key" -out "$tmp/ca.pem" &&
        openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=127.0.0.1" \
          -keyout "$tmp/broker.key" -out "$tmp/broker.csr" &&
        openssl x509 -req -sha256 -days 3650 -in "$tmp/broker.csr" -CA "$tmp/ca.pem" \
          -CAkey "$tmp/ca.key" -set_serial "$serial" -extfile "$tmp/ext" -out "$tmp/broker.crt"
    } >"$tmp/openssl.log" 2>&1; then
      cat "$tmp/openssl.log" >&2
      die "openssl could not make the certificates"
    fi
    # Kafka's PEM key store: the private key (PKCS#8), then the chain.
    cat "$tmp/broker.key" "$tmp/broker.crt" "$tmp/ca.pem" >"$tmp/broker.pem"
    mv -f "$tmp/ca.pem" "$tmp/broker.pem" "$sasl_dir/"
    rm -rf "$tmp"
  fi
  if [[ ! -s "$sasl_dir/password" ]]; then
    # Letters and digits only: safe in properties, JAAS and SCRAM syntax.
    local pw
    pw="$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')"
    (
      umask 077
      printf '%s\n' "${pw:0:24}" >"$sasl_dir/password"
    )
  fi
}

sasl_password() { cat "$sasl_dir/password"; }

# The enabled mechanisms, one a line; the SCRAM ones.
sasl_mech_list() { tr ',' '\n' <<<"$sasl_mechs" | sort -u; }
scram_mechs() { sasl_mech_list | grep '^SCRAM-' || true; }

# The mechanism client.properties names: PLAIN when enabled, because
# librdkafka before 2.6.1 (Debian 12 has 2.0.2) sends a SCRAM nonce that
# Kafka 4 refuses (librdkafka#4895); else the first one listed.
client_mech() {
  if sasl_mech_list | grep -qx PLAIN; then
    echo PLAIN
  else
    echo "${sasl_mechs%%,*}"
  fi
}

# What a client needs: librdkafka's terms (kcat -F, the worker's -c) and,
# for Kafka's own tools (--command-config), a SCRAM login when SCRAM is on.
write_sasl_client_config() {
  local scram
  scram="$(scram_mechs | tail -n 1)"
  (
    umask 077
    cat >"$sasl_dir/client.properties" <<EOF
# Written by deploy/local/kafka.sh on every start: librdkafka settings for
# the SASL_SSL listener of the broker in $state.
bootstrap.servers=$host:$sasl_port
security.protocol=SASL_SSL
sasl.mechanisms=$(client_mech)
sasl.username=$sasl_user
sasl.password=$(sasl_password)
ssl.ca.location=$sasl_dir/ca.pem
EOF
    cat >"$sasl_dir/java-client.properties" <<EOF
# Written by deploy/local/kafka.sh on every start: Kafka's Java client
# settings for the SASL_SSL listener (kafka.sh tool NAME --command-config).
security.protocol=SASL_SSL
sasl.mechanism=${scram:-PLAIN}
sasl.jaas.config=org.apache.kafka.common.security.$([[ -n "$scram" ]] && echo scram.ScramLoginModule || echo plain.PlainLoginModule) required username="$sasl_user" password="$(sasl_password)";
ssl.truststore.type=PEM
ssl.truststore.location=$sasl_dir/ca.pem
EOF
  )
  printf '%s\n' "$host:$sasl_port" >"$sasl_dir/bootstrap"
}

# The broker's SCRAM credentials for format: --add-scram
# "SCRAM-SHA-512=[name=u,password=p]" for each SCRAM mechanism.
scram_format_args() {
  local m
  for m in $(scram_mechs); do
    printf -- '--add-scram\n%s=[name=%s,password=%s]\n' "$m" "$sasl_user" "$(sasl_password)"
  done
}

# Which data dir holds the current credentials: "<cluster id> <mechanisms>
# <user> <password hash>". Formatting adds them; a kept data dir formatted
# without them (or with others) gets them from kafka-configs.
scram_stamp() { printf '%s %s %s %s\n' "$1" "$(scram_mechs | paste -sd, -)" "$sasl_user" "$(sasl_password | sha256sum | cut -d' ' -f1)"; }

register_scram() {
  local cluster_id="$1" m creds=""
  [[ -n "$(scram_mechs)" ]] || return 0
  [[ "$(cat "$sasl_dir/registered" 2>/dev/null)" != "$(scram_stamp "$cluster_id")" ]] || return 0
  log "adding the SCRAM credentials of $sasl_user to the kept data"
  for m in $(scram_mechs); do
    creds+="${creds:+,}$m=[password=$(sasl_password)]"
  done
  # (kafka-configs' --add-config-file refuses SCRAM credentials.)
  "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$here/log4j2-tools.properties" -cp "$libs/*" \
    kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" --alter --entity-type users \
    --entity-name "$sasl_user" --add-config "$creds" >"$logs/scram.out" 2>&1 9>&- || return 1
  scram_stamp "$cluster_id" >"$sasl_dir/registered"
}

# True when a client authenticates on the SASL_SSL listener and gets
# metadata (kcat with client.properties); without kcat, or when
# client.properties names SCRAM (which this kcat's librdkafka may not get
# through, see client_mech): the port is open.
ready_sasl() {
  port_open "$host" "$sasl_port" || return 1
  have_kcat && [[ "$(client_mech)" == PLAIN ]] || return 0
  timeout 15 kcat -F "$sasl_dir/client.properties" -b "$host:$sasl_port" -L -m 5 2>/dev/null 9>&- |
    grep -q 'broker 1 at'
}

# --- start -------------------------------------------------------------------

write_config() {
  local sasl_listener="" sasl_map=""
  # With SASL on, it holds the PLAIN user's password.
  rm -f "$conf"
  (umask 077 && : >"$conf")
  if [[ -n "$sasl_port" ]]; then
    sasl_listener=",SASL_SSL://$host:$sasl_port"
    sasl_map=",SASL_SSL:SASL_SSL"
  fi
  cat >"$conf" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$host:$cport
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport$sasl_listener
advertised.listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport$sasl_listener
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT$sasl_map
log.dirs=$data

# small machine (2 cores): few threads, small buffers
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216

# single node: every replication factor is 1
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0

# throwaway data: small segments, short retention
log.segment.bytes=16777216
log.retention.hours=24
log.retention.check.interval.ms=60000
EOF
  if [[ -n "$sasl_port" ]]; then
    local m
    {
      printf '\n%s\n' "# SASL_SSL listener (ASW_KAFKA_SASL_PORT): SCRAM users in the metadata, the"
      echo "# PLAIN user here, the broker's key and certificate as a PEM key store;"
      echo "# brokers and controller stay on PLAINTEXT"
      echo "listener.name.sasl_ssl.sasl.enabled.mechanisms=$sasl_mechs"
      for m in $(scram_mechs); do
        echo "listener.name.sasl_ssl.${m,,}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      done
      if sasl_mech_list | grep -qx PLAIN; then
        echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user=\"$(sasl_password)\";"
      fi
      echo "listener.name.sasl_ssl.ssl.keystore.type=PEM"
      echo "listener.name.sasl_ssl.ssl.keystore.location=$sasl_dir/broker.pem"
      echo "listener.name.sasl_ssl.ssl.client.auth=none"
    } >>"$conf"
  fi
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.  One
# starting with '-' would be read as an option, so draw again.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
    [[ "$id" == -* ]] || break
  done
  printf '%s\n' "$id"
}

# Waits until the command "$@" succeeds; stops the broker and fails when it
# exits or the start deadline passes ($pid and $deadline are the caller's).
wait_ready() {
  local what="$1"
  shift
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      rm -f "$pidfile"
      die "the broker exited during startup (logs: $logs)"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail
      log "stopping the broker that did not come up"
      terminate "$pid"
      rm -f "$pidfile"
      die "the broker did not answer on $what within ${start_timeout}s (logs: $logs)"
    fi
    sleep 0.5
  done
}

cmd_start() {
  local keep="${1:-}" pid addr cluster_id t0 deadline heap
  check_settings
  need_java
  take_lock
  fetch

  if pid="$(running_pid)"; then
    addr="$(cat "$addrfile" 2>/dev/null || echo "$bootstrap")"
    [[ "$addr" == "$bootstrap" ]] ||
      log "warning: the running broker listens on $addr, not $bootstrap (stop it to change ports)"
    if ! ready "$addr"; then
      log "broker (pid $pid) is running but not answering yet; waiting ..."
      deadline=$((SECONDS + start_timeout))
      until ready "$addr"; do
        ((SECONDS < deadline)) || {
          show_log_tail
          die "broker (pid $pid) runs but does not answer on $addr"
        }
        sleep 0.5
      done
    fi
    log "already running (pid $pid)"
    printf '%s\n' "$addr"
    return 0
  fi
  rm -f "$pidfile"

  for p in "$port" "$cport" $sasl_port; do
    if port_open "$host" "$p"; then
      die "$host:$p is already in use by another process (set ASW_KAFKA_PORT / ASW_KAFKA_CONTROLLER_PORT / ASW_KAFKA_SASL_PORT)"
    fi
  done
  if [[ -n "$sasl_port" ]]; then
    sasl_material
    write_sasl_client_config
  else
    # No SASL listener this run: no client settings that point at one.
    rm -f "$sasl_dir/client.properties" "$sasl_dir/bootstrap"
  fi

  t0=$SECONDS
  mkdir -p "$logs"
  # Keep the previous run's log for post-mortems, start this run's afresh.
  if [[ -f "$logs/server.log" ]]; then
    mv -f "$logs/server.log" "$logs/server.log.previous"
  fi
  rm -f "$logs"/server.log.[0-9]* "$logs"/format.* "$logs/kafka.out"

  if [[ "$keep" == keep && -f "$data/meta.properties" ]]; then
    cluster_id="$(sed -n 's/^cluster.id=//p' "$data/meta.properties")"
    log "starting on the data of the last run in $data"
    write_config
  else
    [[ "$keep" != keep ]] || log "no data to keep in $data: formatting afresh"
    log "formatting a fresh data dir $data"
    rm -rf "$data"
    mkdir -p "$data"
    write_config
    cluster_id="$(new_cluster_id)"
    local scram=()
    [[ -z "$sasl_port" ]] || mapfile -t scram < <(scram_format_args)
    if ! "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
      -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$logs" \
      -Dkafka.log.file=format.log \
      -cp "$libs/*" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$conf" "${scram[@]}" >"$logs/format.out" 2>&1 9>&-; then
      tail -n 30 "$logs/format.out" "$logs/format.log" >&2 2>/dev/null || true
      die "formatting the storage failed"
    fi
    [[ -z "$sasl_port" ]] || scram_stamp "$cluster_id" >"$sasl_dir/registered"
  fi

  read -r -a heap <<<"$heap_opts"
  log "starting Kafka $version on $bootstrap (controller $host:$cport${sasl_port:+, SASL_SSL $host:$sasl_port})"
  # The subshell execs nohup, nohup execs setsid, setsid execs java (this
  # shell has no job control, so setsid needs no fork): $! is the JVM's pid.
  # setsid puts the broker in its own session, away from the caller's signals.
  (
    cd "$state"
    exec nohup setsid "$java_bin" "${heap[@]}" \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$here/log4j2.properties" \
      -Dkafka.logs.dir="$logs" \
      -cp "$libs/*" kafka.Kafka "$conf"
  ) </dev/null >"$logs/kafka.out" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$pidfile"
  printf '%s\n' "$bootstrap" >"$addrfile"

  deadline=$((t0 + start_timeout))
  wait_ready "$bootstrap" ready "$bootstrap"
  if [[ -n "$sasl_port" ]]; then
    if ! register_scram "$cluster_id"; then
      terminate "$pid"
      rm -f "$pidfile"
      die "could not add the SCRAM credentials (output: $logs/scram.out)"
    fi
    wait_ready "$host:$sasl_port (SASL_SSL, $(client_mech) as $sasl_user)" ready_sasl
    log "SASL_SSL listener on $host:$sasl_port; client settings in $sasl_dir/client.properties"
  fi
  log "ready after $((SECONDS - t0))s (pid $pid, cluster id $cluster_id, logs in $logs)"
  printf '%s\n' "$bootstrap"
}

# --- stop / status -----------------------------------------------------------

cmd_stop() {
  local pid
  take_lock
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid) ..."
  terminate "$pid"
  if kill -0 "$pid" 2>/dev/null; then
    die "could not stop the broker (pid $pid)"
  fi
  rm -f "$pidfile"
  log "stopped"
}

# SIGKILL, as a crash: no clean shutdown, open transactions and the log's
# tail as they are.  `start --keep-data` brings it back on the same data.
cmd_kill() {
  local pid
  take_lock
  if ! pid="$(running_pid)"; then
    rm -f "$pidfile"
    log "not running"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$pidfile"
  log "killed broker (pid $pid)"
}

# Kafka's own command-line tools, by their script names without "kafka-" and
# ".sh".  A tool that needs --bootstrap-server gets it from the caller.
cmd_tool() {
  local name="${1:-}" class
  [[ -n "$name" ]] || usage
  shift
  case "$name" in
    topics) class=org.apache.kafka.tools.TopicCommand ;;
    consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    transactions) class=org.apache.kafka.tools.TransactionsCommand ;;
    configs) class=kafka.admin.ConfigCommand ;;
    console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
    get-offsets) class=org.apache.kafka.tools.GetOffsetShell ;;
    *) die "unknown tool '$name' (topics, consumer-groups, transactions, configs, console-consumer, console-producer, get-offsets)" ;;
  esac
  need_java
  take_lock
  fetch
  exec 9>&-
  # ASW_KAFKA_TOOL_CLASSPATH: more jars for the tool (a console-consumer
  # --formatter, say), after Kafka's own.
  exec "$java_bin" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$here/log4j2-tools.properties" \
    -cp "$libs/*${ASW_KAFKA_TOOL_CLASSPATH:+:$ASW_KAFKA_TOOL_CLASSPATH}" "$class" "$@"
}

cmd_status() {
  local addr
  if running_pid >/dev/null; then
    addr="$(cat "$addrfile" 2>/dev/null || echo "$bootstrap")"
    if ready "$addr"; then
      echo "running $addr"
      return 0
    fi
  fi
  echo "stopped"
  return 1
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
keep=
if [[ "$cmd" == start || "$cmd" == restart ]]; then
  case "${1:-}" in
    "") ;;
    --keep-data) keep=keep && shift ;;
    *) usage ;;
  esac
fi
[[ "$cmd" == tool || $# -eq 0 ]] || usage
case "$cmd" in
  start) cmd_start "$keep" ;;
  stop) cmd_stop ;;
  kill) cmd_kill ;;
  status) cmd_status ;;
  restart)
    cmd_stop
    cmd_start "$keep"
    ;;
  tool) cmd_tool "$@" ;;
  *) usage ;;
esac
