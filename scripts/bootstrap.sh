#!/usr/bin/env bash
# Installs what building and testing aftersale-worker needs on Debian 12:
# compilers (gcc and clang) and CMake, librdkafka, avro-c, jansson, Criterion,
# libmicrohttpd,
# clang-format, groff (the unit tests check the generated manual page with
# it), what `cpack -G DEB` runs (file, dpkg-dev's dpkg-shlibdeps), and
# systemd-analyze (the package test verifies the systemd unit with it).
# --with-broker adds what deploy/local/kafka.sh needs to fetch and run a real
# Kafka broker (a Java runtime, Maven, and openssl for its SASL_SSL listener)
# and python3 for the integration tests (with the Prometheus text parser from
# PyPI). Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(build-essential clang cmake pkg-config git file dpkg-dev
          librdkafka-dev libavro-dev libjansson-dev libcriterion-dev libmicrohttpd-dev
          clang-format kcat groff-base systemd)
if [ "${1:-}" = "--with-broker" ]; then
  packages+=(default-jre-headless maven python3 openssl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The integration tests read /metrics with the Prometheus project's own text
# parser, for the python3 they run with (which may not be Debian's).
if [ "${1:-}" = "--with-broker" ] && ! python3 -c 'import prometheus_client.parser' 2>/dev/null; then
  echo "bootstrap: installing prometheus-client (PyPI) for $(command -v python3)" >&2
  python3 -m pip install -q --disable-pip-version-check prometheus-client==0.21.1 ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages prometheus-client==0.21.1
fi
