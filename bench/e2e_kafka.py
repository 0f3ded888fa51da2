#!/usr/bin/env python3
"""End-to-end throughput of the worker on a real Kafka broker (a benchmark,
not a test: it prints figures and asserts nothing but that the run finished).

    deploy/local/kafka.sh start
    python3 bench/e2e_kafka.py [--orders 20000] [--partitions 4]

It generates a seeded stream, produces it to a fresh input topic, then:

  baseline  `aftersale-worker consume` reads the whole input topic from the
            same broker (read_committed fetch + Avro decode + JSON print):
            the cost of just reading the events, measured in the same run;
  worker    `aftersale-worker run` from its first assignment until every
            input record is committed (decide + encode + produce outputs and
            changelog + transactions), timed from the worker's own
            transaction_commit log lines.

Each figure is events/s and its ratio to the baseline.
"""
import argparse
import os
import subprocess
import tempfile
import time

from throughput import run_worker

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ASW_BIN") or os.path.join(SRC, "build", "aftersale-worker")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--bootstrap", default=os.environ.get("ASW_TEST_BOOTSTRAP", "127.0.0.1:9092"))
    a = ap.parse_args()
    tag = f"bench{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix="asw-bench-")
    events = os.path.join(tmp, "events.jsonl")
    with open(events, "w") as f:
        subprocess.run([BIN, "generate", "--seed", "3", "--orders", str(a.orders)], stdout=f, check=True)
    n = sum(1 for _ in open(events))
    cfg = os.path.join(tmp, "worker.properties")
    with open(cfg, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\napplication.id={tag}\n"
                f"topic.input={tag}.events\ntopic.decisions={tag}.decisions\n"
                f"topic.refund_records={tag}.records\ntopic.dlq={tag}.dlq\nlog.level=debug\n")
    subprocess.run([BIN, "produce", "-c", cfg, "--topic", f"{tag}.events", "--partitions",
                    str(a.partitions), events], check=True, stderr=subprocess.DEVNULL)

    t0 = time.monotonic()
    subprocess.run([BIN, "consume", "-c", cfg, "--topic", f"{tag}.events", "--from-beginning",
                    "--max", str(n)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    baseline = n / (time.monotonic() - t0)

    seconds, _, _ = run_worker(cfg, n)  # its log.level=debug commit lines time it
    worker = n / seconds
    print(f"events={n} partitions={a.partitions} workers=1 broker={a.bootstrap}")
    print(f"{'baseline':9} {baseline:10.0f} events/s  x1.00  (consume: fetch + decode + print)")
    print(f"{'worker':9} {worker:10.0f} events/s  x{worker / baseline:.2f}  "
          f"(run: decide + produce outputs and changelog, transactions)")


if __name__ == "__main__":
    main()
