#!/usr/bin/env bash
# Installs what building and testing aftersale-worker needs on Debian 12:
# compilers and CMake, librdkafka, avro-c, jansson, Criterion, clang-format.
# --with-broker adds what deploy/local/kafka.sh needs to fetch and run a real
# Kafka broker (a Java runtime, Maven, and openssl for its SASL_SSL listener)
# and python3 for the integration tests. Idempotent: packages already present
# are not fetched again.
set -euo pipefail

packages=(build-essential cmake pkg-config git
          librdkafka-dev libavro-dev libjansson-dev libcriterion-dev
          clang-format kcat)
if [ "${1:-}" = "--with-broker" ]; then
  packages+=(default-jre-headless maven python3 openssl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bootstrap: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
