#!/usr/bin/env python3
"""chaos: the worker under faults on a real broker, checked for exactly-once.

    python3 tests/chaos/chaos.py --seed 7        # the full run (docs/RELIABILITY.md)

It starts a single-node broker of its own (deploy/local/kafka.sh with its own
state dir and ports, 127.0.0.1:29092 by default: it kills that broker, so it
never uses a shared one), `--workers` workers in one consumer group, and feeds
a generated stream (`aftersale-worker generate`) into the input topic at a
steady rate while it injects the faults the seed schedules:

  kill      SIGKILL a worker; its replacement keeps the worker.id (half of
            the kills) or gets a new one (the other half)
  restart   SIGTERM a worker, wait for exit 0, start it again
  stop      SIGSTOP a worker for longer than the session and transaction
            timeouts, then SIGCONT (a fenced worker then exits 1: expected)
  broker    SIGKILL the broker, relaunch it on its data (start --keep-data)

Acting as the supervisor, it restarts (same worker.id) any worker that exits
on its own and notes why. It tails the consumer group's committed offsets of
every input partition (a small Kafka client below, no JVM per poll) to measure
the stall after each fault: per partition with pending input, the time from
the fault until its committed offset moves. A fault is fired only once the
previous one's partitions all moved again, so stalls are not mixed up.

At the end it waits until every input record is committed, stops the
workers, and verifies:
  - the outputs, read read_committed, equal per order the offline replay of
    the input topic as actually written (read back read_committed, each
    partition replayed on its own, as a worker processes it), with
    tests/integration/common.py's compare(): nothing missing, nothing twice;
  - SPEC section 4's invariant (common.check_invariant);
  - the dead-letter topic is empty;
  - no transaction of the application is left open or hanging (Kafka's own
    kafka-transactions tool: list, find-hanging).
It prints the schedule first (so a run can be reproduced from the seed), then
progress, then the fault counts, the stalls per kind of fault (p50/p99/max),
how every worker process ended, and the verdict. Exit status: 0 pass, 1 a
check failed (or the harness itself did), 2 usage error. A failed run keeps
its directory (configs, worker logs, the consumed topics, the broker's data
and logs); --keep keeps it after a pass too.
"""

import argparse
import collections
import itertools
import json
import math
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

# The integration tests' helpers read ASW_TEST_BOOTSTRAP when imported;
# main() sets it to this harness's own broker before importing them.
common = None

# The worker's own defaults for its consumer's session.timeout.ms and its
# producer's transaction.timeout.ms (src/kafka.c); a `--set` or a value
# `run --print-config` shows wins.
DEFAULT_SESSION_MS = 10000
DEFAULT_TXN_MS = 10000

KIND_ROWS = (("kill-same", "kill, same worker.id"), ("kill-new", "kill, new worker.id"),
             ("restart", "clean restart (SIGTERM)"), ("stop", "SIGSTOP (from the stop)"),
             ("cont", "SIGCONT (from the cont)"), ("broker", "broker kill + restart"))


def log(msg):
    common.log(msg)


# ---------------------------------------------------------------------------
# The broker of this run: deploy/local/kafka.sh with its own state and ports.


class Broker:
    def __init__(self, state, port, cport, logfile):
        self.script = os.path.join(common.SOURCE_DIR, "deploy", "local", "kafka.sh")
        self.env = dict(os.environ, ASW_KAFKA_STATE=state, ASW_KAFKA_PORT=str(port),
                        ASW_KAFKA_CONTROLLER_PORT=str(cport))
        self.state = state
        self.bootstrap = f"127.0.0.1:{port}"
        self.logfile = logfile

    def popen(self, *args):
        with open(self.logfile, "ab") as logf:
            return subprocess.Popen([self.script] + list(args), env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=logf)

    def run(self, *args, timeout=240):
        p = self.popen(*args)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise common.TestFailure(f"kafka.sh {' '.join(args)} timed out after {timeout}s "
                                     f"(see {self.logfile})")
        if p.returncode != 0:
            raise common.TestFailure(f"kafka.sh {' '.join(args)} exited {p.returncode}: "
                                     f"{tail(self.logfile, 15)}")
        return out.decode(errors="replace")

    def tool(self, name, *args, timeout=120):
        return self.run("tool", name, "--bootstrap-server", self.bootstrap, *args,
                        timeout=timeout)


def tail(path, n):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "\n".join(f.read().splitlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


# ---------------------------------------------------------------------------
# Committed offsets and log-end offsets over Kafka's wire protocol: ListOffsets
# v1 and OffsetFetch v1 (both still served by Kafka 4), one request each per
# poll on one connection. OffsetFetch without require_stable answers the last
# committed offsets, never a pending transaction's.


class _Reader:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos

    def _take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0]

    def i16(self):
        return self._take(">h")

    def i32(self):
        return self._take(">i")

    def i64(self):
        return self._take(">q")

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.buf[self.pos:self.pos + n].decode()
        self.pos += n
        return s


def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Probe:
    LIST_OFFSETS, OFFSET_FETCH = 2, 9

    def __init__(self, bootstrap, timeout=2.0):
        host, _, port = bootstrap.rpartition(":")
        self.addr = (host, int(port))
        self.timeout = timeout
        self.sock = None
        self.corr = 0

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise OSError("connection closed")
            out += chunk
        return out

    def _call(self, api_key, version, body):
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=self.timeout)
        self.corr += 1
        msg = struct.pack(">hhi", api_key, version, self.corr) + _str("asw-chaos") + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        n = struct.unpack(">i", self._recv(4))[0]
        r = _Reader(self._recv(n), 0)
        if r.i32() != self.corr:
            raise OSError("correlation id mismatch")
        return r

    def list_offsets(self, topics, n, read_committed):
        """{topic: [offset of each partition]}: the high watermarks, or with
        read_committed the last stable offsets (ListOffsets v2); a topic with
        a partition that does not answer is left out."""
        parts = b"".join(struct.pack(">iq", p, -1) for p in range(n))
        body = struct.pack(">ib", -1, 1 if read_committed else 0) + struct.pack(">i", len(topics))
        body += b"".join(_str(t) + struct.pack(">i", n) + parts for t in topics)
        r = self._call(self.LIST_OFFSETS, 2, body)
        r.i32()  # throttle_time_ms
        out = {}
        for _ in range(r.i32()):
            name, offs = r.string(), [None] * n
            for _ in range(r.i32()):
                p, err, _ts, off = r.i32(), r.i16(), r.i64(), r.i64()
                if err == 0 and 0 <= p < n:
                    offs[p] = off
            if None not in offs:
                out[name] = offs
        return out

    def committed(self, group, topic, n):
        body = _str(group) + struct.pack(">i", 1) + _str(topic) + struct.pack(">i", n) + \
            b"".join(struct.pack(">i", p) for p in range(n))
        r = self._call(self.OFFSET_FETCH, 1, body)
        out = [None] * n
        for _ in range(r.i32()):
            r.string()
            for _ in range(r.i32()):
                p, off = r.i32(), r.i64()
                r.string()
                err = r.i16()
                if err == 0 and 0 <= p < n:
                    out[p] = max(off, 0)  # -1: nothing committed yet
        return None if None in out else out


class Sample:
    """One poll: per input partition the group's committed offset and the
    end offset; per output topic and partition the high watermark and the
    last stable offset (below it read_committed readers see everything)."""

    __slots__ = ("t", "com", "leo", "hw", "lso")

    def __init__(self, t, com, leo, hw, lso):
        self.t, self.com, self.leo, self.hw, self.lso = t, com, leo, hw, lso


class Monitor(threading.Thread):
    """Polls the offsets every `interval` seconds while the broker answers."""

    def __init__(self, bootstrap, group, topic, outputs, n, interval):
        super().__init__(daemon=True, name="monitor")
        self.probe = Probe(bootstrap)
        self.group, self.topic, self.outputs = group, topic, list(outputs)
        self.n, self.interval = n, interval
        self.samples = []
        self.lock = threading.Lock()        # the samples
        self.probe_lock = threading.Lock()  # the connection
        self.stopping = threading.Event()

    def _poll(self):
        try:
            hw = self.probe.list_offsets([self.topic] + self.outputs, self.n, False)
            lso = self.probe.list_offsets(self.outputs, self.n, True)
            com = self.probe.committed(self.group, self.topic, self.n)
        except (OSError, struct.error, UnicodeDecodeError):
            self.probe.close()
            return None
        if com is None or len(hw) != len(self.outputs) + 1 or len(lso) != len(self.outputs):
            return None
        return Sample(time.monotonic(), com, hw[self.topic], [hw[t] for t in self.outputs],
                      [lso[t] for t in self.outputs])

    def sample_now(self):
        """A fresh sample and its index, or None while the broker does not answer."""
        with self.probe_lock:
            s = self._poll()
            if s is None:
                return None
            with self.lock:
                self.samples.append(s)
                return s, len(self.samples) - 1

    def last(self):
        with self.lock:
            return self.samples[-1] if self.samples else None

    def after(self, t, start_hint=0):
        with self.lock:
            return [s for s in self.samples[start_hint:] if s.t > t]

    def run(self):
        while not self.stopping.is_set():
            self.sample_now()
            self.stopping.wait(self.interval)


# ---------------------------------------------------------------------------
# The feeder: the stream, in chunks, each through one `aftersale-worker
# produce` process (idempotent, keyed and partitioned as the worker expects),
# written to its stdin at the pace rate_fn() asks for. A chunk whose process
# fails is produced again whole: some of its records may then be in the topic
# twice, which the verifier accounts for (it replays the topic as written).


class Feeder(threading.Thread):
    def __init__(self, h, config, topic, events_path, total, chunk, rate_fn):
        super().__init__(daemon=True, name="feeder")
        self.h, self.config, self.topic = h, config, topic
        self.events_path, self.total, self.chunk = events_path, total, chunk
        self.rate_fn = rate_fn
        self.logpath = h.path("feeder.log")
        self.written = 0   # lines handed to a producer (first attempt)
        self.acked = 0     # lines of chunks fully acknowledged
        self.chunks = 0
        self.resent_chunks = 0
        self.resent_lines = 0
        self.failures = []
        self.error = None
        self.done = False
        self.stopping = threading.Event()
        self.proc = None
        self.started = None
        self.finished = None

    def run(self):
        self.started = time.monotonic()
        try:
            read = 0
            with open(self.events_path, encoding="utf-8") as f:
                while read < self.total and not self.stopping.is_set():
                    lines = []
                    while len(lines) < self.chunk and read < self.total:
                        line = f.readline()
                        if not line:
                            break
                        lines.append(line)
                        read += 1
                    if not lines:
                        break
                    self._send(lines)
            self.done = self.acked == read and not self.stopping.is_set()
            self.finished = time.monotonic()
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            self.error = e

    def _send(self, lines):
        self.chunks += 1
        for attempt in range(1, 21):
            ok, why = self._produce(lines, paced=attempt == 1)
            if ok:
                self.acked += len(lines)
                return
            if self.stopping.is_set():
                return
            self.failures.append(f"chunk {self.chunks} attempt {attempt}: {why}")
            log(f"feeder: chunk {self.chunks} failed ({why}); producing it again whole")
            self.resent_chunks += 1
            self.resent_lines += len(lines)
            self.stopping.wait(min(2 * attempt, 10))
        raise common.TestFailure(f"feeder: chunk {self.chunks} failed 20 times: "
                                 f"{self.failures[-1]}")

    def _due(self, credit, last, most):
        """Wait until at least one line is due at the current rate; returns
        (lines to write now, credit, last)."""
        while not self.stopping.is_set():
            now = time.monotonic()
            rate = self.rate_fn()
            credit = min(credit + rate * (now - last), max(rate * 2, 1.0))
            last = now
            if credit >= 1:
                k = min(int(credit), most)
                return k, credit - k, last
            time.sleep(0.05)
        return 0, credit, last

    def _produce(self, lines, paced):
        with open(self.logpath, "ab") as logf:
            start = logf.tell()
            self.proc = proc = subprocess.Popen(
                [common.BIN, "produce", "--topic", self.topic, "-c", self.config, "-"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=logf)
        i, credit, last = 0, 0.0, time.monotonic()
        try:
            while i < len(lines) and not self.stopping.is_set():
                k = len(lines) - i
                if paced:
                    k, credit, last = self._due(credit, last, k)
                if k:
                    proc.stdin.write("".join(lines[i:i + k]).encode())
                    proc.stdin.flush()
                    i += k
                    if paced:
                        self.written += k
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            # Delivery is retried up to message.timeout.ms (300 s).
            rc = proc.wait(timeout=400)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        with open(self.logpath, "rb") as f:
            f.seek(start)
            err = f.read().decode(errors="replace").strip().splitlines()
        lastline = err[-1] if err else "(no output)"
        words = lastline.split()
        n = int(words[1]) if len(words) > 2 and words[0] == "produced" else -1
        if rc == 0 and n == len(lines):
            return True, ""
        return False, f"exit {rc}, {n} of {len(lines)} acknowledged: {lastline[:200]}"

    def stop(self):
        self.stopping.set()
        p = self.proc
        if p and p.poll() is None:
            p.kill()


# ---------------------------------------------------------------------------
# The workers: slots w1..wN, each running one process at a time.


class Slot:
    def __init__(self, index):
        self.index = index
        self.wid = f"w{index + 1}"
        self.generation = 0
        self.worker = None
        self.restart_at = None
        self.backoff = 1.0


class Fleet:
    def __init__(self, chaos, n):
        self.chaos = chaos
        self.h = chaos.h
        self.slots = [Slot(i) for i in range(n)]
        self.started = 0
        self.ends = []  # how each process ended, in order
        self.meta = {}  # worker -> {"slot", "wid", "t0"}

    def config(self, wid):
        path = self.h.path(f"{wid}.properties")
        if not os.path.exists(path):
            self.h.write_config(f"{wid}.properties", self.chaos.pipeline, worker_id=wid,
                                extra=self.chaos.worker_settings)
        return path

    def start(self, slot):
        self.started += 1
        w = self.h.start_worker(self.config(slot.wid), f"{slot.wid}.{self.started}")
        self.meta[w] = {"slot": slot.index, "wid": slot.wid, "t0": time.monotonic()}
        slot.worker = w
        slot.restart_at = None
        return w

    def ended(self, w, how, category, expected=True, reason=""):
        self.ends.append({"label": w.label, "pid": w.pid, "how": how, "category": category,
                          "expected": expected, "reason": reason,
                          "t": self.chaos.rel(time.monotonic())})

    def alive_slots(self):
        return [s for s in self.slots if s.worker is not None and s.worker.alive()]

    def supervise(self):
        now = time.monotonic()
        for s in self.slots:
            w = s.worker
            if w is not None and not w.alive() and w.expected_exit is None:
                rc = w.wait_exit(5)
                reason = exit_reason(w)
                ran = now - self.meta[w]["t0"]
                if rc < 0:
                    try:
                        name = signal.Signals(-rc).name
                    except ValueError:
                        name = f"signal {-rc}"
                    self.ended(w, f"died of {name}", f"CRASH ({name})", expected=False,
                               reason=reason)
                    self.chaos.failures.append(f"worker {w.label} died of signal {name}: "
                                               f"{reason}")
                    log(f"worker {w.label} CRASHED ({name}) after {ran:.1f}s: {reason}")
                else:
                    why = self.chaos.exit_window(now, w)
                    cat = f"exit {rc} by itself, {why or 'UNEXPECTED'}"
                    self.ended(w, f"exit {rc}", cat, expected=bool(why), reason=reason)
                    log(f"worker {w.label} exited {rc} after {ran:.1f}s "
                        f"({why or 'UNEXPECTED'}): {reason}")
                s.worker = None
                s.backoff = 1.0 if ran > 30 else min(s.backoff * 2, 8.0)
                s.restart_at = now + s.backoff
            if s.worker is None and s.restart_at is not None and now >= s.restart_at:
                log(f"supervisor: restarting {s.wid}")
                self.start(s)
                self.chaos.supervisor_restarts += 1


def owned(w):
    """How many partitions the worker holds, from its log (the assignments are
    incremental: cooperative-sticky)."""
    n = 0
    for line in w.log_text().splitlines():
        if "event=partitions_assigned " in line or "event=partitions_revoked " in line:
            d = common.parse_log_line(line)
            n += int(d.get("count", 0)) * (1 if d["event"] == "partitions_assigned" else -1)
    return n


def exit_reason(w):
    """The reason a worker gave for stopping: its worker_fatal line, else its
    last line."""
    try:
        lines = w.log_text().splitlines()
    except OSError:
        return "(no log)"
    for line in reversed(lines):
        if "event=worker_fatal" in line:
            return common.parse_log_line(line).get("reason", line)[:300]
    for line in reversed(lines):
        if line.startswith("aftersale-worker"):
            return line[:300]
    return lines[-1][:300] if lines else "(empty log)"


# ---------------------------------------------------------------------------
# The fault schedule, all drawn from the seed before the run starts.


class Fault:
    def __init__(self, n, kind):
        self.n, self.kind = n, kind
        self.victim = None      # slot index
        self.new_id = False
        self.delay = 0.0        # kill: seconds before the replacement starts
        self.hold = 0.0         # stop: seconds frozen
        self.pause = 0.0        # broker: seconds down before the relaunch
        self.settle = 0.0       # seconds after the previous fault's recovery
        # filled in while running
        self.t = None
        self.base = None        # (committed, end offsets) just before the fault
        self.detail = ""
        self.stalls = None      # {partition: seconds or None}
        self.recovered_at = None
        self.window_end = None  # for stop / broker: worker exits until then are expected
        self.cont = None        # stop: the SIGCONT, measured as a fault of its own
        self.hint = 0           # index of the baseline sample
        self.held = None        # partitions the victim held

    @property
    def row(self):
        if self.kind == "kill":
            return "kill-new" if self.new_id else "kill-same"
        return self.kind

    def describe(self):
        v = f"w{self.victim + 1}" if self.victim is not None else ""
        if self.kind == "kill":
            return (f"SIGKILL slot {v}, replacement with "
                    f"{'a NEW' if self.new_id else 'the same'} worker.id after {self.delay:.1f}s")
        if self.kind == "restart":
            return f"SIGTERM slot {v}, start it again"
        if self.kind == "stop":
            return f"SIGSTOP slot {v} for {self.hold:.1f}s, then SIGCONT"
        if self.kind == "broker":
            return f"SIGKILL the broker, relaunch with --keep-data after {self.pause:.1f}s"
        return self.kind


def make_plan(args, session_ms, txn_ms):
    """The faults, in order, with everything random about them drawn here
    from the seed: the same seed and counts give the same schedule."""
    rng = random.Random(args.seed)
    kinds = (["kill"] * args.kills + ["restart"] * args.restarts + ["stop"] * args.stops +
             ["broker"] * args.broker_restarts)
    rng.shuffle(kinds)
    new_ids = [True] * (args.kills // 2) + [False] * (args.kills - args.kills // 2)
    rng.shuffle(new_ids)
    plan = []
    lo, hi = args.settle
    for i, kind in enumerate(kinds):
        f = Fault(i + 1, kind)
        f.settle = rng.uniform(lo, hi)
        if kind in ("kill", "restart", "stop"):
            f.victim = rng.randrange(args.workers)
        if kind == "kill":
            f.new_id = new_ids.pop()
            f.delay = rng.uniform(0.0, 2.0)
        elif kind == "stop":
            f.hold = max(session_ms, txn_ms) / 1000.0 + rng.uniform(3.0, 8.0)
        elif kind == "broker":
            f.pause = rng.uniform(2.0, 8.0)
        plan.append(f)
    return plan


def estimate(f, session_s, txn_s):
    """Rough seconds a fault takes until its partitions moved again, for the
    feed rate only (the faults themselves wait for the real recovery)."""
    slow = max(session_s, txn_s)
    e = {"kill": (slow if f.new_id else session_s) + 8, "restart": 8,
         "stop": f.hold + 15, "broker": f.pause + 15 + session_s / 2}[f.kind]
    return e + f.settle


# ---------------------------------------------------------------------------
# The run.


class Chaos:
    """One run: the stream, the workers, the faults, the checks."""

    def __init__(self, args, h, broker, session_ms, txn_ms):
        self.args, self.h, self.broker = args, h, broker
        self.session_s, self.txn_s = session_ms / 1000.0, txn_ms / 1000.0
        self.pipeline = h.pipeline("chaos")
        self.group = self.pipeline["application.id"]
        self.topic = self.pipeline["topic.input"]
        self.worker_settings = dict(args.set)
        self.tools_config = h.write_config("tools.properties", self.pipeline)
        self.plan = make_plan(args, session_ms, txn_ms)
        self.fleet = None
        self.monitor = None
        self.feeder = None
        self.t0 = time.monotonic()
        self.feed_t0 = None
        self.current = 0            # faults fired so far
        self.faults_done = False
        self.tail_rate = None
        self.failures = []
        self.supervisor_restarts = 0
        self._last_progress = 0.0
        self.cycle_obs = {}         # kind -> [seconds from fault to the next fault]

    def rel(self, t):
        return t - self.t0

    # ---- pacing ----

    def est_remaining(self):
        """Seconds the faults not yet over will take, as far as one can tell:
        the mean of the kind's faults so far, else estimate()."""
        now = time.monotonic()
        total = 0.0
        for i in range(max(self.current - 1, 0), len(self.plan)):
            f = self.plan[i]
            obs = self.cycle_obs.get(f.kind)
            e = (sum(obs) / len(obs)) if obs else estimate(f, self.session_s, self.txn_s)
            if f.t is not None:  # the fault in progress
                total += max(e - (now - f.t), 3.0)
            else:
                total += e
        if self.current == 0 and self.feed_t0 is not None:
            total += max(self.args.warmup - (now - self.feed_t0), 0.0)
        return total + 10.0

    def feed_rate(self):
        fd = self.feeder
        left = self.args.events - fd.written
        if self.faults_done:
            if self.tail_rate is None:  # the rest in about 20 s
                self.tail_rate = max(self.args.min_rate, left / 20.0)
            return self.tail_rate
        reserve = max(int(0.03 * self.args.events), self.args.min_rate * 10)
        spare = left - reserve
        if spare <= 0:
            return self.args.min_rate
        return min(max(spare / self.est_remaining(), self.args.min_rate), self.args.max_rate)

    # ---- waiting while supervising ----

    def idle(self, seconds=None, until=None, timeout=None):
        """Sleep, supervising the workers and printing progress, for `seconds`
        or until until() is true (False after `timeout`)."""
        end = time.monotonic() + (seconds if seconds is not None else (timeout or 1e9))
        while True:
            self.fleet.supervise()
            if self.feeder and self.feeder.error:
                raise self.feeder.error
            self.progress()
            if until is not None and until():
                return True
            if time.monotonic() >= end:
                return until is None
            time.sleep(0.1)

    def progress(self):
        """A line of progress every 15 s."""
        now = time.monotonic()
        if now - self._last_progress < 15:
            return
        self._last_progress = now
        s = self.monitor.last() if self.monitor else None
        com = sum(s.com) if s else 0
        leo = sum(s.leo) if s else 0
        fd = self.feeder
        fed = f"fed {fd.written}/{self.args.events}" if fd else "feed not started"
        alive = len(self.fleet.alive_slots())
        log(f"t=+{self.rel(now):.0f}s {fed} at {self.feed_rate() if fd else 0:.0f}/s; "
            f"committed {com}/{leo} (lag {leo - com}); faults {self.current}/{len(self.plan)}; "
            f"workers up {alive}/{len(self.fleet.slots)}")

    # ---- stalls ----

    def measure(self, f):
        """{partition: (commit stall, readable stall)} after fault f, for the
        partitions with pending input at the fault or within a second of it
        (after a broker restart every partition: the feed went on into the
        producer's buffer while the broker was down); a stall is None while
        it lasts.

        The commit stall ends at the first sample where the group's committed
        offset of the partition has moved (f.base is a sample taken once the
        faulty worker can no longer commit). The readable stall ends when
        read_committed readers can also see that commit's outputs: the last
        stable offset of the partition in every output topic has reached the
        high watermark of that sample, so no transaction left open (a killed
        worker's, say) holds them back any more. Input partition p writes to
        output partition p (same count, same partitioner)."""
        b, t = f.base, f.t
        after = self.monitor.after(t, start_hint=f.hint)
        out = {}
        for p in range(self.args.partitions):
            pending = f.kind == "broker" or b.leo[p] > b.com[p] or any(
                s.t <= t + 1.0 and s.leo[p] > b.com[p] for s in after)
            if not pending:
                continue
            i = next((i for i, s in enumerate(after) if s.com[p] > b.com[p]), None)
            if i is None:
                out[p] = (None, None)
                continue
            m = after[i]
            clear = next((s.t for s in after[i:]
                          if all(s.lso[k][p] >= m.hw[k][p] for k in range(len(s.lso)))), None)
            out[p] = (m.t - t, None if clear is None else clear - t)
        return out

    def recovered(self, f):
        if time.monotonic() < f.t + 1.2:
            return False
        return all(r is not None for _, r in self.measure(f).values())

    def baseline(self):
        """The sample just before a fault, and its index (where the search
        for the partitions' next moves starts)."""
        r = self.monitor.sample_now()
        if r is None:
            with self.monitor.lock:
                if not self.monitor.samples:
                    raise common.TestFailure("no committed offsets can be read from the broker")
                r = self.monitor.samples[-1], len(self.monitor.samples) - 1
        return r

    def exit_window(self, now, w):
        """Why an exit at `now` is expected (a stop or broker fault nearby), or ''."""
        for f in self.plan[:self.current]:
            if f.kind not in ("stop", "broker") or f.t is None:
                continue
            end = f.window_end if f.window_end is not None else float("inf")
            if f.t <= now <= end:
                if f.kind == "stop":
                    victim = self.fleet.meta.get(w, {}).get("slot") == f.victim
                    return ("the stopped worker, after SIGCONT" if victim
                            else "another worker, around a SIGSTOP")
                return "around a broker kill and restart"
        return ""

    # ---- faults ----

    def victim(self, f):
        alive = self.fleet.alive_slots()
        if not alive:
            self.idle(until=lambda: self.fleet.alive_slots(), timeout=60)
            alive = self.fleet.alive_slots()
            if not alive:
                raise common.TestFailure(f"fault #{f.n}: no worker is running")
        want = [s for s in alive if s.index == f.victim]
        slot = want[0] if want else alive[0]
        # A worker just (re)started may not hold partitions yet: killing it
        # then would stall nothing. Give the group up to a minute.
        self.idle(until=lambda: slot.worker is None or owned(slot.worker) > 0, timeout=60)
        if slot.worker is None:
            return self.victim(f)
        f.held = owned(slot.worker)
        return slot

    def fire(self, f):
        """Inject fault f. f.t is when it struck; f.base the offsets once the
        faulty worker can commit no more (so its last commit is not taken for
        a successor's)."""
        f.t = time.monotonic()
        if self.current >= 2:  # how long the previous kind of fault really took
            prev = self.plan[self.current - 2]
            self.cycle_obs.setdefault(prev.kind, []).append(f.t - prev.t)
        if f.kind == "broker":
            self.fire_broker(f)
            return
        slot = self.victim(f)
        f.victim = slot.index
        {"kill": self.fire_kill, "restart": self.fire_restart,
         "stop": self.fire_stop}[f.kind](f, slot, slot.worker)

    def fire_kill(self, f, slot, w):
        f.t = time.monotonic()
        w.kill()
        f.base, f.hint = self.baseline()
        self.fleet.ended(w, f"SIGKILL (fault #{f.n})", "SIGKILL by the harness (kill)")
        slot.worker = None
        old = slot.wid
        if f.new_id:
            slot.generation += 1
            slot.wid = f"w{slot.index + 1}-{slot.generation}"
        self.idle(seconds=f.delay)
        if slot.worker is None:
            self.fleet.start(slot)
        f.detail = f"{w.label} (holding {f.held} partitions) killed; replacement {old}->{slot.wid}"

    def fire_restart(self, f, slot, w):
        f.t = time.monotonic()
        how = "SIGTERM by the harness (clean restart)"
        try:
            rc = w.stop(timeout=60)
            self.fleet.ended(w, f"SIGTERM (fault #{f.n}), exit {rc}", f"{how}, exit {rc}",
                             expected=rc == 0, reason="" if rc == 0 else exit_reason(w))
        except common.TestFailure as e:
            rc = None
            self.fleet.ended(w, f"SIGTERM (fault #{f.n}), then SIGKILL",
                             f"{how}, no exit within 60s", expected=False, reason=str(e))
        f.base, f.hint = self.baseline()
        slot.worker = None
        self.fleet.start(slot)
        f.detail = (f"{w.label} (holding {f.held} partitions) stopped in "
                    f"{time.monotonic() - f.t:.1f}s (exit {rc}); restarted")

    def fire_stop(self, f, slot, w):
        f.t = time.monotonic()
        os.kill(w.pid, signal.SIGSTOP)
        f.base, f.hint = self.baseline()
        log(f"worker {w.label} SIGSTOPped for {f.hold:.1f}s")
        self.idle(seconds=f.hold)
        c = f.cont = Fault(f.n, "cont")
        c.base, c.hint = self.baseline()
        c.t = time.monotonic()
        if w.alive():
            os.kill(w.pid, signal.SIGCONT)
        log(f"worker {w.label} SIGCONTinued")
        f.detail = f"{w.label} (holding {f.held} partitions) frozen {c.t - f.t:.1f}s"

    def fire_broker(self, f):
        f.base, f.hint = self.baseline()
        f.t = time.monotonic()
        self.broker.run("kill")
        killed = time.monotonic() - f.t
        log(f"broker killed ({killed:.1f}s); relaunching in {f.pause:.1f}s")
        self.idle(seconds=f.pause)
        t = time.monotonic()
        p = self.broker.popen("start", "--keep-data")
        self.idle(until=lambda: p.poll() is not None, timeout=300)
        if p.poll() is None:
            p.kill()
            raise common.TestFailure("the broker did not restart within 300s")
        if p.returncode != 0:
            raise common.TestFailure(f"kafka.sh start --keep-data exited {p.returncode}: "
                                     f"{tail(self.broker.logfile, 15)}")
        down = time.monotonic() - f.t
        f.detail = (f"down {down:.1f}s (kill {killed:.1f}s, pause {f.pause:.1f}s, relaunch "
                    f"{time.monotonic() - t:.1f}s)")
        log(f"broker back after {down:.1f}s")

    def wait_recovery(self, f):
        """Wait until the partitions stalled by f (and its SIGCONT) moved again
        and their outputs are readable, at most --recovery-timeout."""
        cap = self.args.recovery_timeout
        parts = [f, f.cont] if f.cont else [f]
        for g in parts:
            left = max(cap - (time.monotonic() - g.t), 0.1)
            self.idle(until=lambda g=g: self.recovered(g), timeout=left)
            g.stalls = self.measure(g)
            g.recovered_at = time.monotonic()
        if f.kind in ("stop", "broker"):
            f.window_end = time.monotonic() + 30
        msg = f"fault #{f.n} {f.row}: {f.detail}; longest stall {fmt_max(f.stalls)}"
        if f.cont:
            msg += f", after the SIGCONT {fmt_max(f.cont.stalls)}"
        stuck = sorted({p for g in parts for p, (_, r) in g.stalls.items() if r is None})
        if stuck:
            msg += f"; partitions {stuck} NOT recovered within {cap:.0f}s"
        log(msg)

    def run(self):
        a = self.args
        events = self.h.path("events.jsonl")
        orders = a.events // 7 + 64
        r = self.h.tool(["generate", "--seed", a.seed, "--orders", orders], timeout=300)
        with open(events, "wb") as f:
            f.write(r.stdout)
        n_lines = r.stdout.count(b"\n")
        common.check(n_lines >= a.events, f"generate gave {n_lines} events, fewer than "
                     f"{a.events}")
        self.broker.tool("topics", "--create", "--topic", self.topic, "--partitions",
                         str(a.partitions), "--replication-factor", "1")

        self.fleet = Fleet(self, a.workers)
        for s in self.fleet.slots:
            self.fleet.start(s)
        self.monitor = Monitor(self.broker.bootstrap, self.group, self.topic,
                               (self.pipeline["topic.decisions"],
                                self.pipeline["topic.refund_records"]), a.partitions, a.poll)
        self.monitor.start()
        # Let the group form before anything is fed.
        self.idle(until=lambda: all(s.worker and s.worker.events("partitions_assigned")
                                    for s in self.fleet.slots), timeout=60)

        self.feeder = Feeder(self.h, self.tools_config, self.topic, events, a.events, a.chunk,
                             self.feed_rate)
        self.feed_t0 = time.monotonic()
        self.feeder.start()
        log(f"feeding {a.events} events at about {self.feed_rate():.0f}/s; first fault in "
            f"{a.warmup:.0f}s")
        self.idle(seconds=a.warmup)

        for i, f in enumerate(self.plan):
            self.idle(seconds=f.settle)
            self.current = i + 1
            log(f"fault #{f.n}/{len(self.plan)} {f.row}: {f.describe()}")
            self.fire(f)
            self.wait_recovery(f)
        self.faults_done = True
        log("all faults done; feeding the rest")

        self.idle(until=lambda: self.feeder.done, timeout=1800)
        common.check(self.feeder.done, "the feeder did not finish")
        feed_s = self.feeder.finished - self.feeder.started
        log(f"fed {self.feeder.acked} events in {feed_s:.0f}s "
            f"({self.feeder.chunks} chunks, {self.feeder.resent_chunks} produced again)")

        def drained():
            s = self.monitor.last()
            return s is not None and s.com == s.leo and sum(s.leo) >= self.feeder.acked

        t = time.monotonic()
        if not self.idle(until=drained, timeout=a.drain_timeout):
            s = self.monitor.last()
            raise common.TestFailure(
                f"the input was not all committed within {a.drain_timeout:.0f}s: committed "
                f"{s.com if s else '?'}, end offsets {s.leo if s else '?'}")
        log(f"every input record committed ({time.monotonic() - t:.1f}s after the feed ended)")
        for s in self.fleet.slots:
            w = s.worker
            if w is None:
                continue
            try:
                rc = w.stop(timeout=60)
                self.fleet.ended(w, f"SIGTERM, exit {rc}", f"SIGTERM at the end, exit {rc}",
                                 expected=rc == 0, reason="" if rc == 0 else exit_reason(w))
                if rc != 0:
                    self.failures.append(f"worker {w.label}: SIGTERM at the end gave exit {rc}")
            except common.TestFailure as e:
                self.fleet.ended(w, "SIGTERM, then SIGKILL", "did not stop in 60s at the end",
                                 expected=False, reason=str(e))
                self.failures.append(str(e))
            s.worker = None
        self.monitor.stopping.set()
        self.dump_samples()

    def dump_samples(self):
        """The offsets polled and the faults, for a closer look at a run."""
        with open(self.h.path("samples.jsonl"), "w", encoding="utf-8") as f:
            for s in self.monitor.samples:
                f.write(json.dumps({"t": round(self.rel(s.t), 3), "committed": s.com,
                                    "end": s.leo, "out_hw": s.hw, "out_lso": s.lso}) + "\n")
        with open(self.h.path("faults.jsonl"), "w", encoding="utf-8") as f:
            for x in self.plan:
                for g in ([x, x.cont] if x.cont else [x]):
                    if g.t is not None:
                        f.write(json.dumps({"n": g.n, "kind": g.row, "t": round(self.rel(g.t), 3),
                                            "detail": x.detail, "stalls": g.stalls}) + "\n")

    # ---- verification ----

    def verify(self):
        h, cfg, a = self.h, self.tools_config, self.args
        checks = []
        inp = common.read_jsonl(h.consume(cfg, self.topic, "input.jsonl", timeout=900))
        inp.sort(key=lambda r: (r["partition"], r["offset"]))
        per = {}
        for r in inp:
            per.setdefault(r["partition"], []).append(r)
        replayed = []
        for p in sorted(per):
            path = h.path(f"input-p{p}.jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for r in per[p]:
                    ev = {k: v for k, v in r.items() if k not in ("partition", "offset")}
                    f.write(json.dumps(ev) + "\n")
            replayed.extend(common.read_jsonl(h.replay(cfg, path, f"replay-p{p}.jsonl")))
        # The topic against the stream fed: a chunk produced again may have
        # left records in it twice (the replay of the topic covers that).
        fed = collections.Counter()
        with open(self.h.path("events.jsonl"), encoding="utf-8") as f:
            for line in itertools.islice(f, a.events):
                fed[json.loads(line)["event_id"]] += 1
        got = collections.Counter(r.get("event_id") for r in inp)
        extra = sum((got - fed).values())
        missing = sum((fed - got).values())
        bad_input = [r for r in inp if r.get("type") == "DeadLetter"]
        self.input_summary = (f"input topic: {len(inp)} records, read back read_committed and "
                              f"replayed partition by partition; {extra} more than the stream "
                              f"fed, {missing} missing")
        if missing:
            checks.append(("input", False, f"{missing} events of the stream are not in the "
                           f"input topic, although every chunk was acknowledged"))
        last = self.monitor.last()
        if len(inp) < self.feeder.acked or (last and len(inp) != sum(last.leo)):
            checks.append(("input", False, f"read {len(inp)} input records back; the feeder had "
                           f"{self.feeder.acked} acknowledged, the end offsets add up to "
                           f"{sum(last.leo) if last else '?'}"))
        if bad_input:
            checks.append(("input", False, f"{len(bad_input)} input records do not decode"))

        if a.inject_duplicate:
            self.inject_duplicate()
        dec = h.consume(cfg, self.pipeline["topic.decisions"], "decisions.jsonl", timeout=900)
        rec = h.consume(cfg, self.pipeline["topic.refund_records"], "refund-records.jsonl",
                        timeout=900)
        try:
            c = common.compare(replayed, [dec, rec], input_topic=self.topic)
            orders = len({r.get("order_id") for r in replayed
                          if r.get("type") in common.OUTPUT_TYPES})
            checks.append(("exactly once", True,
                           f"outputs equal the replay of the input as written: "
                           f"{c['Decision']} decisions, {c['RefundRecord']} refund records, "
                           f"{orders} orders"))
        except common.TestFailure as e:
            checks.append(("exactly once", False, str(e)))
        try:
            n = common.check_invariant(common.read_jsonl(dec) + common.read_jsonl(rec), inp)
            checks.append(("SPEC invariant", True,
                           f"refunded + reserved <= paid on {n} committed records"))
        except common.TestFailure as e:
            checks.append(("SPEC invariant", False, str(e)))
        dlq = h.count(cfg, self.pipeline["topic.dlq"])
        checks.append(("dead letters", dlq == 0, f"{dlq} records in {self.pipeline['topic.dlq']}"))
        checks.append(self.check_transactions())
        return checks

    def inject_duplicate(self):
        """Self-test of the verifier (--inject-duplicate): write one committed
        decision a second time, byte for byte, as a plain (non-transactional)
        record that read_committed readers see. The run must then FAIL."""
        b, t = self.broker.bootstrap, self.pipeline["topic.decisions"]
        val, key = self.h.path("injected.value"), self.h.path("injected.key")
        for fmt, path in (("%s", val), ("%k", key)):
            with open(path, "wb") as f:
                subprocess.run(["kcat", "-C", "-b", b, "-t", t, "-p", "0", "-o", "0", "-c", "1",
                                "-e", "-q", "-f", fmt, "-X", "isolation.level=read_committed"],
                               stdout=f, check=True, timeout=60)
        with open(key, "rb") as f:
            k = f.read().decode()
        subprocess.run(["kcat", "-P", "-b", b, "-t", t, "-p", "0", "-k", k, val], check=True,
                       timeout=60)
        log(f"INJECTED a copy of the first decision of {t} [0] (key {k}): the verifier must fail")

    def check_transactions(self):
        prefix = self.group + "-"
        try:
            listed = self.broker.tool("transactions", "list")
            hanging = self.broker.tool("transactions", "find-hanging", "--broker-id", "1")
        except common.TestFailure as e:
            return ("transactions", False, f"kafka-transactions failed: {e}")
        states, open_ = {}, []
        for line in listed.splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 4 and cols[0].startswith(prefix):
                states[cols[3]] = states.get(cols[3], 0) + 1
                if cols[3] in ("Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"):
                    open_.append(f"{cols[0]} {cols[3]}")
        hang = [ln for ln in hanging.splitlines()[1:] if ln.strip()]
        summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        ok = not open_ and not hang
        msg = f"{sum(states.values())} transactional ids of the app ({summary}); find-hanging: "
        msg += f"{len(hang)}" if hang else "none"
        if open_:
            msg += "; OPEN: " + "; ".join(open_)
        if hang:
            msg += "; HANGING: " + "; ".join(hang[:5])
        return ("transactions", ok, msg)


# ---------------------------------------------------------------------------
# The report.


def pct(vals, q):
    s = sorted(vals)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def fmt_max(stalls):
    """'commit C s, readable R s' of the partition that waited longest."""
    if not stalls:
        return "(no partition had pending input)"

    def worst(i):
        vals = [v[i] for v in stalls.values()]
        return "never" if None in vals else f"{max(vals):.1f}s"
    return f"commit {worst(0)}, readable {worst(1)}"


def report(chaos, checks, wall):
    a, plan = chaos.args, chaos.plan
    counts = {}
    for f in plan:
        if f.t is not None:
            counts[f.row] = counts.get(f.row, 0) + 1
            if f.cont is not None:
                counts["cont"] = counts.get("cont", 0) + 1
    print("\n==== chaos result (seed %d) ====" % a.seed)
    print(f"{a.events} events on {a.partitions} partitions, {a.workers} workers "
          f"(session.timeout.ms {chaos.session_s * 1000:.0f}, transaction.timeout.ms "
          f"{chaos.txn_s * 1000:.0f}" + (f", {dict(a.set)}" if a.set else "") + ")")
    print(f"faults: {counts.get('kill-same', 0) + counts.get('kill-new', 0)} SIGKILLs "
          f"({counts.get('kill-same', 0)} replaced with the same worker.id, "
          f"{counts.get('kill-new', 0)} with a new one), {counts.get('restart', 0)} clean "
          f"restarts, {counts.get('stop', 0)} SIGSTOP+SIGCONT, {counts.get('broker', 0)} broker "
          f"kills relaunched with their data")
    print(f"worker processes: {chaos.fleet.started} started, {chaos.supervisor_restarts} of "
          f"them restarts by the supervisor after an exit of their own")
    print("\nstall per partition after each kind of fault, in seconds from the fault (partitions "
          "with pending input;\nsampled every %gs): commit = until the group's committed offset "
          "moves, readable = until read_committed\nreaders also see that commit's outputs (no "
          "transaction open at the fault holds them back)" % a.poll)
    print(f"  {'':28} {'':6} {'':7}  {'commit':^20}  {'readable':^20}")
    print(f"  {'fault kind':28} {'faults':>6} {'samples':>7}  {'p50':>6} {'p99':>6} {'max':>6}"
          f"  {'p50':>6} {'p99':>6} {'max':>6}  {'never':>5}")
    by = {}
    for f in plan:
        for g in ([f, f.cont] if f.cont else [f]):
            if g.stalls is not None:
                by.setdefault(g.row, []).append(g)

    def stats(vals):
        if not vals:
            return f"{'-':>6} {'-':>6} {'-':>6}"
        return f"{pct(vals, .5):>6.1f} {pct(vals, .99):>6.1f} {max(vals):>6.1f}"
    for k, name in KIND_ROWS:
        fs = by.get(k, [])
        pairs = [v for g in fs for v in g.stalls.values()]
        never = sum(1 for c, r in pairs if r is None)
        print(f"  {name:28} {len(fs):>6} {len(pairs):>7}  "
              f"{stats([c for c, _ in pairs if c is not None])}  "
              f"{stats([r for _, r in pairs if r is not None])}  {never:>5}")
    print("\nper fault (t = seconds since the start; the stall of the partition that waited "
          "longest):")
    for f in plan:
        if f.t is None:
            continue
        extra = f"; after the SIGCONT {fmt_max(f.cont.stalls)}" if f.cont else ""
        print(f"  #{f.n:<3} t=+{chaos.rel(f.t):6.1f}s {f.row:10} {fmt_max(f.stalls)}{extra}; "
              f"{f.detail}")
    print("\nhow each worker process ended:")
    cats = {}
    for e in chaos.fleet.ends:
        cats[e["category"]] = cats.get(e["category"], 0) + 1
    for c, n in sorted(cats.items(), key=lambda x: -x[1]):
        print(f"  {n:4}  {c}")
    for e in chaos.fleet.ends:
        if e["reason"]:
            flag = "" if e["expected"] else "UNEXPECTED "
            print(f"        {flag}{e['label']} (t=+{e['t']:.0f}s, {e['how']}): {e['reason']}")
    fd = chaos.feeder
    print(f"\nfeed: {fd.acked} events in {fd.chunks} chunks over "
          f"{fd.finished - fd.started:.0f}s; {fd.resent_chunks} chunks produced again")
    for line in fd.failures[:5]:
        print(f"  {line}")
    if getattr(chaos, "input_summary", None):
        print(chaos.input_summary)
    print("\nchecks:")
    for name, ok, msg in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {msg}")
    for msg in chaos.failures:
        print(f"  FAIL {msg}")
    passed = all(ok for _, ok, _ in checks) and not chaos.failures
    print(f"\nwall time {wall:.0f}s ({wall / 60:.1f} min)")
    print(f"VERDICT: {'PASS' if passed else 'FAIL'} (seed {a.seed})", flush=True)
    return passed


# ---------------------------------------------------------------------------


# (flag, type, default, least, help) of the numeric options.
NUMBER_OPTIONS = (
    ("--events", int, 200000, 1, "events fed"),
    ("--partitions", int, 6, 1, "input partitions"),
    ("--workers", int, 3, 1, "workers"),
    ("--kills", int, 20, 0, "SIGKILLs, half of them replaced with a new worker.id"),
    ("--restarts", int, 4, 0, "clean restarts"),
    ("--stops", int, 3, 0, "SIGSTOPs, each followed by a SIGCONT"),
    ("--broker-restarts", int, 1, 0, "broker kills, each relaunched on its data"),
    ("--warmup", float, 15.0, 0, "seconds of feed before the first fault"),
    ("--min-rate", int, 60, 1, "lowest feed rate, events/s"),
    ("--max-rate", int, 5000, 1, "highest feed rate, events/s"),
    ("--chunk", int, 2000, 1, "events per produce process"),
    ("--poll", float, 0.25, 0.05, "seconds between two reads of the offsets"),
    ("--recovery-timeout", float, 180.0, 1, "most seconds to wait for a fault's partitions "
     "to move"),
    ("--drain-timeout", float, 600.0, 1, "most seconds to wait, after the feed, for all input "
     "to be committed"),
)


def parse_args(argv):
    def keyval(s):
        k, sep, v = s.partition("=")
        if not sep or not k:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {s!r}")
        return k.strip(), v.strip()

    def span(s):
        lo, sep, hi = s.partition(":")
        try:
            lo, hi = float(lo), float(hi if sep else lo)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected MIN:MAX seconds, got {s!r}")
        if lo < 0 or hi < lo:
            raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {s!r}")
        return lo, hi

    ap = argparse.ArgumentParser(
        prog="chaos.py", description="The worker under faults on a real broker of its own, "
        "checked for exactly-once. See docs/RELIABILITY.md.")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed of the stream and the fault schedule (default: random, printed)")
    for flag, kind, default, least, what in NUMBER_OPTIONS:
        ap.add_argument(flag, type=kind, default=default, help=f"{what} (default {default})")
    ap.add_argument("--settle", type=span, default=(3.0, 8.0), metavar="MIN:MAX",
                    help="seconds between a fault's recovery and the next fault (default 3:8)")
    ap.add_argument("--set", type=keyval, action="append", default=[], metavar="KEY=VALUE",
                    help="a worker configuration key (repeatable), e.g. session.timeout.ms=6000")
    ap.add_argument("--port", type=int, default=int(os.environ.get("ASW_CHAOS_PORT", 29092)),
                    help="the harness broker's port (default 29092 or $ASW_CHAOS_PORT)")
    ap.add_argument("--controller-port", type=int,
                    default=int(os.environ.get("ASW_CHAOS_CONTROLLER_PORT", 29093)),
                    help="its KRaft controller port (default 29093 or "
                    "$ASW_CHAOS_CONTROLLER_PORT)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run's directory after a pass too (always kept on a failure)")
    ap.add_argument("--plan-only", action="store_true",
                    help="print the schedule the seed gives and exit")
    ap.add_argument("--inject-duplicate", action="store_true",
                    help="self-test of the verifier: write one committed decision twice before "
                    "verifying; the run must FAIL")
    a = ap.parse_args(argv)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 1 << 31)
    for flag, _, _, least, _ in NUMBER_OPTIONS:
        if getattr(a, flag[2:].replace("-", "_")) < least:
            ap.error(f"{flag} must be at least {least}")
    return a


def effective_timeouts(args):
    """session.timeout.ms and transaction.timeout.ms the workers will run with."""
    cfg = dict(args.set)
    r = subprocess.run([common.BIN, "run", "-c", "/dev/stdin", "--print-config"],
                       input="".join(f"{k}={v}\n" for k, v in cfg.items()).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"chaos.py: the worker refuses --set: "
                         f"{r.stderr.decode(errors='replace').strip()}")
    printed = dict(line.split("=", 1) for line in r.stdout.decode().splitlines() if "=" in line)
    return (int(printed.get("session.timeout.ms", DEFAULT_SESSION_MS)),
            int(printed.get("transaction.timeout.ms", DEFAULT_TXN_MS)))


def print_plan(args, plan, session_ms, txn_ms):
    print(f"chaos plan, seed {args.seed}: {args.events} events on {args.partitions} partitions, "
          f"{args.workers} workers; {args.kills} kills ({args.kills // 2} with a new worker.id), "
          f"{args.restarts} clean restarts, {args.stops} SIGSTOPs, {args.broker_restarts} broker "
          f"restarts")
    print(f"workers' session.timeout.ms {session_ms}, transaction.timeout.ms {txn_ms}"
          + (f"; worker settings {dict(args.set)}" if args.set else ""))
    print(f"reproduce: python3 tests/chaos/chaos.py " + " ".join(reproduce_args(args)))
    for f in plan:
        print(f"  #{f.n:<3} after {f.settle:4.1f}s  {f.row:10} {f.describe()}")
    sys.stdout.flush()


def reproduce_args(a):
    out = [f"--seed {a.seed}", f"--events {a.events}", f"--partitions {a.partitions}",
           f"--workers {a.workers}", f"--kills {a.kills}", f"--restarts {a.restarts}",
           f"--stops {a.stops}", f"--broker-restarts {a.broker_restarts}"]
    if a.settle != (3.0, 8.0):
        out.append(f"--settle {a.settle[0]:g}:{a.settle[1]:g}")
    out += [f"--set {k}={v}" for k, v in a.set]
    return out


def main(argv):
    global common
    args = parse_args(argv)
    os.environ["ASW_TEST_BOOTSTRAP"] = f"127.0.0.1:{args.port}"
    import common as _common  # noqa: E402 -- after ASW_TEST_BOOTSTRAP is set
    common = _common
    session_ms, txn_ms = effective_timeouts(args)
    plan = make_plan(args, session_ms, txn_ms)
    print_plan(args, plan, session_ms, txn_ms)
    if args.plan_only:
        return 0
    workdir = tempfile.mkdtemp(prefix=f"asw-chaos-{args.seed}-")

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    broker = Broker(os.path.join(workdir, "kafka"), args.port, args.controller_port,
                    os.path.join(workdir, "kafka.sh.log"))
    chaos, passed, h = None, False, None
    try:
        log(f"run directory {workdir}; starting the harness's broker on {broker.bootstrap}")
        broker.run("start")
        h = common.Harness("chaos")
        # The harness's own directory: configs, logs and the broker together.
        os.rmdir(h.dir)
        h.dir = workdir
        chaos = Chaos(args, h, broker, session_ms, txn_ms)
        chaos.t0 = t0
        chaos.run()
        checks = chaos.verify()
        passed = report(chaos, checks, time.monotonic() - t0)
    except BaseException as e:  # noqa: BLE001 -- report everything, incl. KeyboardInterrupt
        print(f"\nchaos harness FAILED after {time.monotonic() - t0:.0f}s: {e}", flush=True)
        traceback.print_exc(file=sys.stdout)
        if h is not None:
            h.dump_logs(lines=25)
        print(f"VERDICT: FAIL (seed {args.seed}; harness error)", flush=True)
    finally:
        if chaos is not None:
            if chaos.feeder:
                chaos.feeder.stop()
            if chaos.monitor:
                chaos.monitor.stopping.set()
        if h is not None:
            h.kill_all()
        try:
            broker.run("stop", timeout=60)
        except common.TestFailure as e:
            print(f"stopping the harness's broker: {e}")
    if passed and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"files kept in {workdir} (worker logs worker-*.log, consumed topics *.jsonl, "
              f"broker data and logs in kafka/; ASW_KAFKA_STATE={workdir}/kafka "
              f"ASW_KAFKA_PORT={args.port} ASW_KAFKA_CONTROLLER_PORT={args.controller_port} "
              f"deploy/local/kafka.sh start --keep-data brings the broker back)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
