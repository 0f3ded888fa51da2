#!/usr/bin/env python3
"""The throughput harness (issue 7): one generated stream, on the real local
broker, through the worker and through a do-nothing transactional
passthrough that writes as much as the worker does, in the same run (a
benchmark, not a test: it prints figures and asserts only that the runs
finished).

    deploy/local/kafka.sh start
    python3 bench/throughput.py [--orders 30000] [--partitions 4] [--json FILE]

  worker    `aftersale-worker run`, one process, default settings but the
            topics: events/s from its first assignment to the commit of the
            last input record (its own transaction_commit log lines), CPU
            seconds (user + system, the whole process life) per event, peak
            RSS. Then its outputs are counted read_committed (kcat): records
            and bytes per input, over decisions, refund records, dead letters
            and the changelog.
  ceiling   bench/bench_ceiling.c: read_committed consume, the same number
            of output records of the same average size per input as the
            worker wrote, spread over three output topics of the same
            partition count, consumed offsets sent to each transaction, the
            same commit.interval.ms and commit.max.records: what the broker
            and librdkafka allow on this machine. Timed like the worker.
  2 threads the worker again over the same input with num.threads=2, in a
            consumer group and output topics of its own, timed the same way.
  in-process  asw-bench: decode -> decide -> encode events/s on one core.
  latency   a fresh worker on fresh topics fed a longer stream of the same
            generator (enough for --latency-seconds, 10) at half the worker's measured rate
            by bench/bench_latency.c: the time from each input record's
            append (its delivery report) to its decision being readable
            read_committed, p50 / p99 / max, over the records appended after
            the first 2 s (the worker's first transactions on new topics)
            and over the whole run.
  replay    `aftersale-worker replay -q` of the same JSON Lines: events/s.

One table on stdout; the figures as JSON (with the machine and the command)
in --json (default build/throughput.json) for history.
"""
import argparse
import json
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("ASW_BUILD") or os.path.join(SRC, "build")
BIN = os.path.join(BUILD, "aftersale-worker")
CEILING = os.path.join(BUILD, "asw-bench-ceiling")
CORE = os.path.join(BUILD, "asw-bench")
LATENCY = os.path.join(BUILD, "asw-bench-latency")


def wait_rusage(proc, timeout):
    """Wait for a child; its (exit status, CPU seconds, peak RSS bytes)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"{proc.args[0]} did not finish in {timeout} s")
        time.sleep(0.05)


def run_worker(cfg, n, timeout=900):
    """The worker over n input records: (seconds, cpu seconds, peak rss)."""
    proc = subprocess.Popen([BIN, "run", "-c", cfg], stderr=subprocess.PIPE, text=True)
    committed, first, last = 0, None, None
    commit_re = re.compile(r"event=transaction_commit records=(\d+)")
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if "event=partitions_assigned" in line and first is None:
            first = time.monotonic()
        m = commit_re.search(line)
        if m:
            committed += int(m.group(1))
            last = time.monotonic()
        if committed >= n or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    for _ in proc.stderr:  # drain until it exits
        pass
    rc, cpu, rss = wait_rusage(proc, 120)
    if committed < n or rc != 0:
        sys.exit(f"worker: {committed} of {n} records committed, exit {rc}")
    return last - first, cpu, rss


def topic_totals(bootstrap, topic):
    """(records, key + value bytes) of a topic, read_committed."""
    r = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                        "-q", "-X", "isolation.level=read_committed", "-f", "%K %S\n"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"kcat {topic}: {r.stderr.strip()}")
    n = b = 0
    for line in r.stdout.splitlines():
        k, v = line.split()
        n += 1
        b += max(int(k), 0) + max(int(v), 0)
    return n, b


def run_ceiling(a, topic, outs, n, per_in, value_bytes, commit_ms, commit_max):
    proc = subprocess.Popen([CEILING, a.bootstrap, topic, ",".join(outs), f"{topic}-ceiling", str(n),
                             f"{per_in:.6f}", str(value_bytes), str(commit_ms), str(commit_max)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    rc, cpu, rss = wait_rusage(proc, 900)
    if rc != 0:
        sys.exit(f"ceiling failed ({rc})")
    res = json.loads(out)
    return res, cpu, rss


def run_latency(a, tmp, tag, events, rate, commit_ms, commit_max):
    """A fresh worker on fresh topics, fed the stream at `rate` by
    asw-bench-latency: its append-to-visible figures (dict)."""
    t = f"{tag}l"
    cfg = os.path.join(tmp, "latency.properties")
    with open(cfg, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\napplication.id={t}\n"
                f"topic.input={t}.events\ntopic.decisions={t}.decisions\n"
                f"topic.refund_records={t}.records\ntopic.dlq={t}.dlq\nworker.id=w1\n"
                f"commit.interval.ms={commit_ms}\ncommit.max.records={commit_max}\nlog.level=debug\n")
    subprocess.run([BIN, "produce", "-c", cfg, "--topic", f"{t}.events", "--partitions",
                    str(a.partitions), os.devnull], check=True, stderr=subprocess.DEVNULL)
    log = os.path.join(tmp, "latency-worker.log")
    with open(log, "w") as out:
        proc = subprocess.Popen([BIN, "run", "-c", cfg], stderr=out)
    deadline = time.monotonic() + 120
    while "event=partitions_assigned" not in open(log).read():
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit(f"latency: the worker did not start; see {log}")
        time.sleep(0.1)
    r = subprocess.run([LATENCY, a.bootstrap, f"{t}.events", f"{t}.decisions", events,
                        f"{rate:.0f}", "2"], stdout=subprocess.PIPE, text=True, timeout=900)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    if r.returncode != 0:
        sys.exit(f"latency: not every decision was seen: {r.stdout.strip()}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=30000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--bootstrap", default=os.environ.get("ASW_TEST_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--json", default=os.path.join(BUILD, "throughput.json"))
    ap.add_argument("--latency-rate", type=float, default=0,
                    help="events/s of the latency run (default: half the worker's measured rate)")
    ap.add_argument("--latency-seconds", type=float, default=10,
                    help="how long the latency run feeds its stream (default 10)")
    a = ap.parse_args()
    tag = f"tput{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix="asw-tput-")
    events = os.path.join(tmp, "events.jsonl")
    with open(events, "w") as f:
        subprocess.run([BIN, "generate", "--seed", str(a.seed), "--orders", str(a.orders)],
                       stdout=f, check=True)
    n = sum(1 for _ in open(events))
    commit_ms, commit_max = 100, 10000  # the worker's defaults
    cfg = os.path.join(tmp, "worker.properties")
    topics = {k: f"{tag}.{k}" for k in ("events", "decisions", "records", "dlq")}
    with open(cfg, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\napplication.id={tag}\n"
                f"topic.input={topics['events']}\ntopic.decisions={topics['decisions']}\n"
                f"topic.refund_records={topics['records']}\ntopic.dlq={topics['dlq']}\n"
                f"worker.id=w1\ncommit.interval.ms={commit_ms}\ncommit.max.records={commit_max}\n"
                "log.level=debug\n")  # its transaction_commit lines time it
    subprocess.run([BIN, "produce", "-c", cfg, "--topic", topics["events"], "--partitions",
                    str(a.partitions), events], check=True, stderr=subprocess.DEVNULL)

    w_s, w_cpu, w_rss = run_worker(cfg, n)
    # The same input through a worker with num.threads=2, in its own group,
    # writing its own topics.
    cfg2 = os.path.join(tmp, "worker-2threads.properties")
    t2 = f"{tag}t2"
    with open(cfg2, "w") as f:
        f.write(f"bootstrap.servers={a.bootstrap}\napplication.id={t2}\n"
                f"topic.input={topics['events']}\ntopic.decisions={t2}.decisions\n"
                f"topic.refund_records={t2}.records\ntopic.dlq={t2}.dlq\n"
                f"worker.id=w1\ncommit.interval.ms={commit_ms}\n"
                f"commit.max.records={commit_max}\nnum.threads=2\nlog.level=debug\n")
    w2_s, w2_cpu, w2_rss = run_worker(cfg2, n)
    out_topics = [topics["decisions"], topics["records"], topics["dlq"], f"{tag}-changelog"]
    outs = {t: topic_totals(a.bootstrap, t) for t in out_topics}
    out_n = sum(v[0] for v in outs.values())
    out_b = sum(v[1] for v in outs.values())
    key_bytes = 8  # the generator's order ids, the ceiling's keys
    value_bytes = max(round(out_b / out_n) - key_bytes, 1)

    c_outs = [f"{tag}.ceiling.{k}" for k in ("decisions", "records", "changelog")]
    for t in c_outs:  # the same partition count as the worker's topics
        subprocess.run([BIN, "produce", "-c", cfg, "--topic", t, "--partitions",
                        str(a.partitions), os.devnull], check=True, stderr=subprocess.DEVNULL)
    c_res, c_cpu, c_rss = run_ceiling(a, topics["events"], c_outs, n, out_n / n, value_bytes,
                                      commit_ms, commit_max)

    lat_rate = a.latency_rate or n / w_s / 2
    # A stream long enough to feed at that rate for --latency-seconds: the
    # same generator and seed, more orders.
    lat_orders = max(a.orders, round(lat_rate * a.latency_seconds / (n / a.orders)))
    lat_events = os.path.join(tmp, "latency-events.jsonl")
    with open(lat_events, "w") as f:
        subprocess.run([BIN, "generate", "--seed", str(a.seed), "--orders", str(lat_orders)],
                       stdout=f, check=True)
    lat = run_latency(a, tmp, tag, lat_events, lat_rate, commit_ms, commit_max)

    core = subprocess.run([CORE], stdout=subprocess.PIPE, text=True, check=True).stdout
    m = re.search(r"pipeline\D*?([\d.]+) events/s", core)
    inproc = float(m.group(1)) if m else float("nan")
    t0 = time.monotonic()
    subprocess.run([BIN, "replay", "-q", "-o", os.devnull, events], check=True)
    replay = n / (time.monotonic() - t0)

    w_rate, c_rate = n / w_s, n / c_res["seconds"]
    w_us, c_us = w_cpu / n * 1e6, c_cpu / n * 1e6
    rows = [
        ("ceiling (passthrough)", c_rate, 1.0, c_us, c_rss, "baseline"),
        ("worker", w_rate, w_rate / c_rate, w_us, w_rss, "target >= x0.80, CPU <= 2x"),
        ("worker, num.threads=2", n / w2_s, n / w2_s / c_rate, w2_cpu / n * 1e6, w2_rss,
         f"x{w_s / w2_s:.2f} of one thread"),
    ]
    print(f"events={n} orders={a.orders} partitions={a.partitions} broker={a.bootstrap} "
          f"commit.interval.ms={commit_ms}")
    print(f"outputs per input {out_n / n:.2f} ({out_n} records, {out_b / out_n:.0f} bytes each): "
          + ", ".join(f"{t.split('.')[-1]} {v[0]}" for t, v in outs.items()))
    print(f"{'':24} {'events/s':>10} {'ratio':>7} {'CPU us/event':>13} {'peak RSS':>10}")
    for name, rate, ratio, us, rss, note in rows:
        print(f"{name:24} {rate:10.0f} {ratio:7.2f} {us:13.1f} {rss / 1e6:8.0f} MB  {note}")
    print(f"{'CPU per event':24} {'':10} {w_us / c_us:7.2f}  (worker / ceiling)")
    print(f"{'in-process pipeline':24} {inproc:10.0f} {'':7}  decode -> decide -> encode, "
          f"one core (target >= 1,000,000)")
    print(f"{'replay':24} {replay:10.0f} {'':7}  JSON Lines in and out (target >= 300,000)")
    print(f"{'latency at half load':24} {lat['rate']:10.0f} {'':7}  append -> decision visible "
          f"read_committed, after the first {lat['warmup_s']:.0f} s: p50 "
          f"{lat['steady_p50_ms']:.0f} ms, p99 {lat['steady_p99_ms']:.0f} ms, max "
          f"{lat['steady_max_ms']:.0f} ms over {lat['steady_decisions']} decisions "
          f"(target p99 <= {2 * commit_ms} ms)")
    print(f"{'':24} {'':10} {'':7}  the whole run: p50 {lat['p50_ms']:.0f} ms, p99 "
          f"{lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms over {lat['decisions']} decisions")
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "machine": {"host": platform.node(), "cpus": os.cpu_count(),
                    "kernel": platform.release()},
        "events": n, "partitions": a.partitions, "commit_interval_ms": commit_ms,
        "outputs_per_input": out_n / n, "output_bytes": out_b / out_n,
        "ceiling": {"events_per_s": c_rate, "cpu_us_per_event": c_us, "peak_rss": c_rss,
                    "commits": c_res["commits"]},
        "worker": {"events_per_s": w_rate, "cpu_us_per_event": w_us, "peak_rss": w_rss,
                   "ratio": w_rate / c_rate, "cpu_ratio": w_us / c_us},
        "worker_2_threads": {"events_per_s": n / w2_s, "cpu_us_per_event": w2_cpu / n * 1e6,
                             "peak_rss": w2_rss, "ratio": n / w2_s / c_rate},
        "in_process_events_per_s": inproc,
        "replay_events_per_s": replay,
        "latency_half_load": lat,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"json: {a.json}")


if __name__ == "__main__":
    main()
