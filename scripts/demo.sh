#!/usr/bin/env bash
# The README's first command: set up, build, and run the demo -- the whole
# pipeline on an in-process mock Kafka cluster, no broker needed. It
# produces a deterministic sample stream, runs the worker on it, reads the
# decisions and refund records back, and prints a report (stdout) that ends
# with a self-check against the offline replay; log lines go to stderr.
# Extra arguments go to the demo (--orders N, --seed S, --partitions P,
# --verbose); see docs/demo.md. The offline replay of tests/data/sample.jsonl
# is documented in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/aftersale-worker demo "$@"
