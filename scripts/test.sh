#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, then build and pass
# every test -- formatting, the unit tests, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the replay golden test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
jobs=$(nproc)

echo "== format check (clang-format)"
mapfile -t sources < <(git ls-files 'src/*.c' 'include/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c')
clang-format --dry-run --Werror "${sources[@]}"

echo "== build + unit tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== sanitizer build (address, undefined) + unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DASW_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# Criterion runs each test in a child process and does not fail a test whose
# child only reports a leak at exit, so the sanitizer reports are also looked
# for in the output.
asan_log=build-asan/sanitizer-test.log
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -V -j"$jobs" >"$asan_log" 2>&1 \
  || { tail -n 200 "$asan_log"; exit 1; }
if grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$asan_log"; then
  echo "sanitizer reports in $asan_log" >&2
  exit 1
fi
grep -E "tests passed|tests failed" "$asan_log"
