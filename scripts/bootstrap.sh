#!/usr/bin/env bash
# Installs what building and testing aftersale-worker needs on Debian 12:
# compilers (gcc and clang) and CMake, librdkafka, avro-c, jansson, Criterion,
# libmicrohttpd, libcurl (the Schema Registry client),
# clang-format, groff (the unit tests check the generated manual page with
# it), what `cpack -G DEB` runs (file, dpkg-dev's dpkg-shlibdeps), and
# systemd-analyze (the package test verifies the systemd unit with it).
# --with-broker adds what deploy/local/kafka.sh needs to fetch and run a real
# Kafka broker (a Java runtime, Maven, and openssl for its SASL_SSL listener),
# a JDK's javac (tests/interop/java and the Schema Registry below compile
# Java), and python3 for the integration tests (with the Prometheus text
# parser, confluent-kafka and fastavro from PyPI, and the jars
# tests/interop/java builds with); then it builds the Schema Registry the
# integration tests run, Apicurio Registry 2.4.2.Final, from Maven Central
# (deploy/local/apicurio.sh install, deploy/local/apicurio/README.md: ~30 s
# the first time). Idempotent: packages already present are not fetched
# again, and a registry built from the same recipe is not built again.
set -euo pipefail

packages=(build-essential clang cmake pkg-config git file dpkg-dev
          librdkafka-dev libavro-dev libjansson-dev libcriterion-dev libmicrohttpd-dev
          libcurl4-openssl-dev
          clang-format kcat groff-base systemd)
if [ "${1:-}" = "--with-broker" ]; then
  packages+=(default-jre-headless default-jdk-headless maven python3 openssl)
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

# The rest is for --with-broker only.
[ "${1:-}" = "--with-broker" ] || exit 0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# PyPI packages for the python3 the integration tests run with (which may
# not be Debian's): the Prometheus project's own text parser (test_http), and
# a Kafka client with its own librdkafka plus an Avro library (test_interop).
pip_install() { # module spec
  python3 -c "import $1" 2>/dev/null && return 0
  echo "bootstrap: installing $2 (PyPI) for $(command -v python3)" >&2
  python3 -m pip install -q --disable-pip-version-check "$2" ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$2"
}
pip_install prometheus_client.parser prometheus-client==0.21.1
pip_install confluent_kafka confluent-kafka==2.16.1
pip_install fastavro fastavro==1.13.1

# test_interop builds Kafka's console-consumer formatter with Maven: build it
# once here, so that its plugins and Avro come from Maven Central now and the
# test's own build needs only ~/.m2.
interop_out="$(mktemp -d)"
if ! mvn -B -q -o -Dstyle.color=never -f "$root/tests/interop/java/pom.xml" \
  -Dasw.build.dir="$interop_out" package >/dev/null 2>&1; then
  echo "bootstrap: fetching what tests/interop/java needs (Maven Central)" >&2
  mvn -B -q -Dstyle.color=never -f "$root/tests/interop/java/pom.xml" \
    -Dasw.build.dir="$interop_out" package
fi
rm -rf "$interop_out"

# The Schema Registry integration.schema_registry runs (a real one): built
# here once, so that a test run only starts it (~4 s).
"$root/deploy/local/apicurio.sh" install
