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
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
