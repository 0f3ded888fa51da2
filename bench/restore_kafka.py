#!/usr/bin/env python3
"""Changelog restore on a real Kafka broker (a benchmark, not a test: it
prints figures and asserts nothing but that the run finished).

    deploy/local/kafka.sh start
    python3 bench/restore_kafka.py [--orders 1000000]

  fill      asw-bench-state writes the changelog of N orders of the generate
            mix to one partition, as compaction leaves it;
  baseline  kcat reads that partition to its end (read_committed, no
            decoding): the broker's and the client's share, in the same run;
  empty     a worker assigned a partition whose changelog is empty: its
            restore_ms (target < 100 ms);
  restore   a worker assigned the filled partition: restored_orders and
            restore_ms from its own log line, as orders/s (target >= 500,000)
            and its ratio to the baseline's records/s.
"""
import argparse
import os
import re
import signal
import subprocess
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ASW_BIN") or os.path.join(SRC, "build", "aftersale-worker")
BENCH = os.path.join(os.path.dirname(BIN), "asw-bench-state")


def worker_restore(bootstrap, app, input_topic, tmp, label):
    """Run a worker until it logs partitions_assigned; its figures."""
    cfg = os.path.join(tmp, f"{label}.properties")
    with open(cfg, "w") as f:
        f.write(f"bootstrap.servers={bootstrap}\napplication.id={app}\n"
                f"topic.input={input_topic}\nworker.id={label}\n"
                f"topic.decisions={app}.dec\ntopic.refund_records={app}.rec\n"
                f"topic.dlq={app}.dlq\n")
    log = os.path.join(tmp, f"{label}.log")
    with open(log, "wb") as out:
        p = subprocess.Popen([BIN, "run", "-c", cfg], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    line = None
    while time.monotonic() < deadline and p.poll() is None:
        with open(log, errors="replace") as f:
            m = [x for x in f if "event=partitions_assigned" in x]
        if m:
            line = m[-1]
            break
        time.sleep(0.2)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(60)
    if not line:
        raise SystemExit(f"{label}: no partitions_assigned line; see {log}")
    orders = int(re.search(r"restored_orders=(\d+)", line).group(1))
    ms = int(re.search(r"restore_ms=(\d+)", line).group(1))
    return orders, ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=1000000)
    ap.add_argument("--bootstrap", default=os.environ.get("ASW_TEST_BOOTSTRAP", "127.0.0.1:9092"))
    a = ap.parse_args()
    tag = f"rbench{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix="asw-restore-")

    # empty: a fresh application, nothing in its changelog
    subprocess.run([BENCH, "fill", a.bootstrap, f"{tag}.empty.in", f"{tag}.empty-changelog", "0"],
                   check=True, stdout=subprocess.DEVNULL)
    orders0, ms0 = worker_restore(a.bootstrap, f"{tag}.empty", f"{tag}.empty.in", tmp, "empty")

    app = f"{tag}.full"
    out = subprocess.run([BENCH, "fill", a.bootstrap, f"{app}.in", f"{app}-changelog",
                          str(a.orders)], check=True, capture_output=True, text=True).stdout
    print(out.strip())
    n_records = int(re.search(r"(\d+) changelog records", out).group(1))

    t0 = time.monotonic()
    r = subprocess.run(["kcat", "-b", a.bootstrap, "-C", "-t", f"{app}-changelog", "-p", "0",
                        "-o", "beginning", "-e", "-q", "-f", "\n",
                        "-X", "isolation.level=read_committed",
                        "-X", "fetch.wait.max.ms=10"],
                       check=True, capture_output=True)
    base_s = time.monotonic() - t0
    read = r.stdout.count(b"\n")

    orders, ms = worker_restore(a.bootstrap, app, f"{app}.in", tmp, "full")
    print(f"baseline  kcat reads the {read} records to the end in {base_s:.2f} s: "
          f"{read / base_s:,.0f} records/s")
    print(f"empty     a worker restores an empty changelog partition in {ms0} ms "
          f"({orders0} orders; target < 100 ms)")
    rate = orders / (ms / 1000) if ms else float("inf")
    print(f"restore   a worker restores {orders} orders ({n_records} records) in {ms} ms: "
          f"{rate:,.0f} orders/s (target >= 500,000); {n_records / (ms / 1000):,.0f} records/s, "
          f"x{(n_records / (ms / 1000)) / (read / base_s):.2f} of the baseline's records/s")


if __name__ == "__main__":
    main()
