#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, then build and pass
# every test -- formatting, the unit tests, Release builds with gcc and clang,
# the Debian package installed and run (scripts/test-package.sh), the deploy/
# files checked offline, the unit tests under AddressSanitizer +
# UndefinedBehaviorSanitizer, the replay golden test, the fuzz corpora
# replayed through their targets under ASan + UBSan (a regression run: it
# does not fuzz; scripts/fuzz.sh does), the integration tests against a
# real Kafka broker (deploy/local/kafka.sh), and a reduced run of the chaos
# harness (tests/chaos/chaos.py, on a broker of its own that it kills and
# restarts; docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
jobs=$(nproc)

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' \
  'fuzz/*.c' 'fuzz/*.h')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build + unit tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" -LE integration

# Release with both compilers: -O3 warns about more than -O2 does, and clang
# warns about what gcc does not. Every target builds (clang builds the tests
# too, but they run once, above); -Werror makes a warning fail the run.
echo "== Release build (gcc)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DASW_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$jobs"
echo "== Release build (clang)"
CC=clang cmake -S . -B build-clang-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-clang-release -j"$jobs"

echo "== Debian package of the gcc Release build: installed, run, removed"
scripts/test-package.sh build-release

echo "== deploy/: Kubernetes manifests, Dockerfile (offline)"
scripts/check-deploy.sh build/aftersale-worker

echo "== sanitizer build (address, undefined) + unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DASW_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# Criterion runs each test in a child process and does not fail a test whose
# child only reports a leak at exit, so the sanitizer reports are also looked
# for in the output.
asan_log=build-asan/sanitizer-test.log
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -V -j"$jobs" -LE 'integration|fuzz' >"$asan_log" 2>&1 \
  || { tail -n 200 "$asan_log"; exit 1; }
if grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$asan_log"; then
  echo "sanitizer reports in $asan_log" >&2
  exit 1
fi
grep -E "tests passed|tests failed" "$asan_log"

echo "== fuzz corpus replay (every file of fuzz/corpus/<target> through its target, ASan + UBSan)"
# A sanitizer report or a broken property aborts the replay, which fails
# its test.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L fuzz

echo "== integration tests (real Kafka broker)"
scripts/bootstrap.sh --with-broker
# Use a broker that is already running (and leave it running); otherwise
# start a fresh one and stop it when this script exits. A broker that cannot
# start fails the run: integration tests are never skipped.
if deploy/local/kafka.sh status >/dev/null 2>&1; then
  bootstrap="$(deploy/local/kafka.sh status | awk '{print $2}')"
  echo "using the running broker at $bootstrap"
else
  trap 'deploy/local/kafka.sh stop || true' EXIT
  bootstrap="$(deploy/local/kafka.sh start | tail -n 1)"
fi
[ -n "$bootstrap" ] || { echo "no Kafka broker address" >&2; exit 1; }
export ASW_TEST_BOOTSTRAP="$bootstrap"
# The Schema Registry: bootstrap --with-broker (above) built Apicurio Registry
# (deploy/local/apicurio.sh install); integration.schema_registry starts its
# own on a free port and fails, never skips, when it cannot.
ctest --test-dir build -L integration --output-on-failure -j1

echo "== chaos harness, reduced run (its own broker on 127.0.0.1:29092)"
# session.timeout.ms=6000 (as the kill integration tests) keeps it to a few
# minutes; the full run (docs/RELIABILITY.md) keeps the worker's defaults.
python3 tests/chaos/chaos.py --events 30000 --kills 5 --restarts 1 --stops 1 --broker-restarts 1 \
  --set session.timeout.ms=6000 --set heartbeat.interval.ms=1000
