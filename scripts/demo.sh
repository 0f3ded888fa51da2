#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job on the
# bundled sample. Until the Kafka demo exists this is the offline replay:
# the decisions and refund records go to stdout, a summary to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/aftersale-worker replay -c tests/data/sample.properties tests/data/sample.jsonl
