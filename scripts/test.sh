#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, then build and pass
# every test -- formatting, the unit tests, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, the replay golden test, the
# integration tests against a real Kafka broker (deploy/local/kafka.sh), and
# a reduced run of the chaos harness (tests/chaos/chaos.py, on a broker of its
# own that it kills and restarts; docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
jobs=$(nproc)

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build + unit tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs" -LE integration

echo "== Release build (gcc -O3 warns about more than -O2 does)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DASW_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$jobs"

echo "== sanitizer build (address, undefined) + unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DASW_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# Criterion runs each test in a child process and does not fail a test whose
# child only reports a leak at exit, so the sanitizer reports are also looked
# for in the output.
asan_log=build-asan/sanitizer-test.log
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -V -j"$jobs" -LE integration >"$asan_log" 2>&1 \
  || { tail -n 200 "$asan_log"; exit 1; }
if grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$asan_log"; then
  echo "sanitizer reports in $asan_log" >&2
  exit 1
fi
grep -E "tests passed|tests failed" "$asan_log"

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
ctest --test-dir build -L integration --output-on-failure -j1

echo "== chaos harness, reduced run (its own broker on 127.0.0.1:29092)"
# session.timeout.ms=6000 (as the kill integration tests) keeps it to a few
# minutes; the full run (docs/RELIABILITY.md) keeps the worker's defaults.
python3 tests/chaos/chaos.py --events 30000 --kills 5 --restarts 1 --stops 1 --broker-restarts 1 \
  --set session.timeout.ms=6000 --set heartbeat.interval.ms=1000
