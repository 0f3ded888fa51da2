#!/usr/bin/env bash
# Fuzz the targets of fuzz/ with libFuzzer (docs/fuzzing.md):
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; the targets default to all five
# (fuzz_event_decode fuzz_state_decode fuzz_processor fuzz_jsonl fuzz_config).
# Installs clang and its sanitizer runtimes if missing, builds build-fuzz/
# (clang, -fsanitize=fuzzer,address,undefined), then runs each target from
# its checked-in seeds, fuzz/corpus/<target>, writing what it finds to
# build-fuzz/corpus/<target> (the repository's corpus is not touched) and
# crashing inputs to build-fuzz/findings/<target>-crash-*. Exits 1 when any
# target found something.
#
# Environment: ASW_FUZZ_PARALLEL=N runs N targets at a time (default 1);
# ASW_FUZZ_MERGE=1 afterwards merges the inputs that reach new edges into
# fuzz/corpus/<target> (libFuzzer -merge=1 -use_counters=0, which keeps it
# small: edges only, not hit counts).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
case "$seconds" in
'' | *[!0-9]*)
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
  ;;
esac
all=(fuzz_event_decode fuzz_state_decode fuzz_processor fuzz_jsonl fuzz_config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "$0: no such target: $t" >&2; exit 2; }
done

scripts/bootstrap.sh
# clang, and the runtimes -fsanitize=fuzzer links (Debian ships them apart).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return (int)(d && n < 0); }' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
  echo "fuzz: installing clang" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi

CC=clang cmake -S . -B build-fuzz -DASW_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for t in "${targets[@]}"; do
  cmake --build build-fuzz -j"$(nproc)" --target "$t" >build-fuzz/build.log 2>&1 || {
    tail -n 40 build-fuzz/build.log >&2
    exit 1
  }
done

# The longest input worth trying: a Kafka value, a config file, an
# operation stream (a couple of hundred operations), a changelog value, an
# events file.
max_len() {
  case "$1" in
  fuzz_event_decode) echo 1024 ;;
  fuzz_config | fuzz_processor) echo 2048 ;;
  *) echo 4096 ;;
  esac
}

findings=build-fuzz/findings
mkdir -p "$findings"
run_one() {
  local t=$1 work=build-fuzz/corpus/$1 log=build-fuzz/$1.log
  mkdir -p "$work"
  local rc=0
  build-fuzz/fuzz/"$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/$t-" \
    "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  local execs
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  if [ "$rc" -eq 0 ]; then
    echo "$t: ${execs:-?} executions in ${seconds} s, no finding"
  else
    echo "$t: FINDING after ${execs:-?} executions (exit $rc); see $log and $findings/" >&2
    grep -E "^==[0-9]+==ERROR|runtime error|fuzz: property broken|SUMMARY" "$log" | head -n 5 >&2
  fi
  return "$rc"
}

parallel=${ASW_FUZZ_PARALLEL:-1}
failed=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$parallel" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || failed=1
done

if [ "${ASW_FUZZ_MERGE:-0}" = 1 ]; then
  for t in "${targets[@]}"; do
    build-fuzz/fuzz/"$t" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" "fuzz/corpus/$t" \
      "build-fuzz/corpus/$t" >"build-fuzz/$t.merge.log" 2>&1
    echo "$t: fuzz/corpus/$t now holds $(find "fuzz/corpus/$t" -type f | wc -l) files"
  done
fi
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings in $findings (reproduce: build-fuzz/fuzz/<target> <file>)" >&2
  exit 1
fi
