"""Shared helpers for the integration tests against a real Kafka broker.

Every test is a plain script: ``python3 test_x.py`` exits 0 when it passed and
1 (with the reason, a traceback and the tail of every worker log) when it
failed. There is no skipping: an unreachable broker is a failure.

Environment:
  ASW_TEST_BOOTSTRAP  broker address (default 127.0.0.1:9092)
  ASW_BIN             the aftersale-worker binary (default <source>/build/aftersale-worker)
  ASW_SOURCE_DIR      the source tree (default: two levels above this file)
  ASW_TEST_KEEP       set to 1 to keep the temp dir of a passing test

Checks raise TestFailure (not `assert`, so `python3 -O` cannot disable them).
"""

import difflib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE_DIR = os.environ.get("ASW_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ASW_BIN") or os.path.join(SOURCE_DIR, "build", "aftersale-worker")
KAFKA_SH = os.path.join(SOURCE_DIR, "deploy", "local", "kafka.sh")
BOOTSTRAP = os.environ.get("ASW_TEST_BOOTSTRAP") or "127.0.0.1:9092"

# Fields that legitimately differ between the offline replay and Kafka.
VOLATILE_FIELDS = ("partition", "offset", "source_partition", "source_offset")
# Where a record sits in its output topic: all that differs between two Kafka
# runs over the same input topic.
POSITION_FIELDS = ("partition", "offset")
OUTPUT_TYPES = ("Decision", "RefundRecord")


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def require_broker(bootstrap=BOOTSTRAP, timeout=5.0):
    """Fail loudly (never skip) when the broker does not accept connections."""
    errors = []
    for hostport in bootstrap.split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return bootstrap
        except (OSError, ValueError) as e:
            errors.append(f"{hostport}: {e}")
    raise TestFailure(
        f"Kafka broker {bootstrap} is unreachable ({'; '.join(errors)}). Start one with "
        f"`deploy/local/kafka.sh start` and set ASW_TEST_BOOTSTRAP; integration tests "
        f"never skip.")


def read_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise TestFailure(f"{path}:{n}: not JSON ({e}): {line[:200]!r}")
    return out


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line if line.endswith("\n") else line + "\n")
    return path


def read_properties(path):
    """A properties file of plain key=value lines (as kafka.sh writes them)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip()
    return out


def free_ports(n):
    """n TCP ports of 127.0.0.1 that nothing listens on right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def kafka_sh(args, env=None, timeout=240, what=None):
    """deploy/local/kafka.sh ARGS; the CompletedProcess (text), or TestFailure
    with its stderr when it exits non-zero."""
    cmd = [KAFKA_SH] + [str(a) for a in args]
    what = what or f"kafka.sh {' '.join(cmd[1:3])}"
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, env=env, timeout=timeout, text=True,
                           errors="replace")
    except subprocess.TimeoutExpired:
        raise TestFailure(f"{what} timed out after {timeout}s: {' '.join(cmd)}")
    if r.returncode != 0:
        raise TestFailure(f"{what} exited {r.returncode}: {' '.join(cmd)}\nstdout:\n"
                          f"{r.stdout[-2000:]}\nstderr:\n{r.stderr[-4000:]}")
    return r


class OwnBroker:
    """A broker of the test's own (deploy/local/kafka.sh with its own state
    dir and ports, for what must not touch the shared broker), stopped when
    the test ends, whether it passed or not. A broker that does not start
    fails the test."""

    def __init__(self, harness, name, sasl=False):
        ports = free_ports(3)
        self.state = os.path.join(harness.dir, f"kafka-{name}")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASW_KAFKA_")}
        self.env.update(ASW_KAFKA_STATE=self.state, ASW_KAFKA_PORT=str(ports[0]),
                        ASW_KAFKA_CONTROLLER_PORT=str(ports[1]))
        if sasl:
            self.env["ASW_KAFKA_SASL_PORT"] = str(ports[2])
        harness.add_cleanup(self.stop, f"stop broker {name}")
        t0 = time.monotonic()
        r = kafka_sh(["start"], env=self.env, what=f"start broker {name}")
        self.bootstrap = r.stdout.strip().splitlines()[-1]
        log(f"broker {name} up at {self.bootstrap} after {time.monotonic() - t0:.1f}s "
            f"(state {self.state})")
        self.client = {}
        if sasl:
            self.sasl_dir = os.path.join(self.state, "sasl")
            self.client = read_properties(os.path.join(self.sasl_dir, "client.properties"))
            self.java_client = os.path.join(self.sasl_dir, "java-client.properties")
            log(f"broker {name}: SASL_SSL at {self.client['bootstrap.servers']}, "
                f"{self.client['sasl.mechanisms']} as {self.client['sasl.username']}")

    def tool(self, name, *args, timeout=120):
        return kafka_sh(["tool", name] + list(args), env=self.env, timeout=timeout,
                        what=f"kafka.sh tool {name}")

    def stop(self):
        kafka_sh(["stop"], env=self.env, timeout=90, what=f"stop the broker in {self.state}")


# kcat, binary-safe: records are framed by delimiters that none of them may
# contain (checked), and read back with their lengths.
_KCAT_KEY_END = b"@@asw-key-end-7c1e9f@@"
_KCAT_MSG_END = b"@@asw-msg-end-0b64d2@@"
_KCAT_HDR_END = b"@@asw-hdr-end-52a8e3@@"


def kcat_produce_raw(bootstrap, topic, records, timeout=120):
    """Produce (key, value) byte pairs in order with kcat -- idempotent, and
    partitioned by murmur2 of the key like the project's `produce` (so a
    record lands where the worker expects its order). A value b"" is sent
    as a null value."""
    chunks = []
    for key, value in records:
        for part in (key, value):
            check(_KCAT_KEY_END not in part and _KCAT_MSG_END not in part,
                  "a record contains kcat's delimiter")
        chunks += [key, _KCAT_KEY_END, value, _KCAT_MSG_END]
    r = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", topic, "-Z",
                        "-K", _KCAT_KEY_END.decode(), "-D", _KCAT_MSG_END.decode(),
                        "-X", "enable.idempotence=true", "-X", "topic.partitioner=murmur2_random"],
                       input=b"".join(chunks), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    check(r.returncode == 0 and b"Delivery failed" not in r.stderr,
          f"kcat -P to {topic} failed: {r.stderr.decode(errors='replace')[-2000:]}")


def kcat_read_raw(bootstrap, topic, timeout=120):
    """Every committed record of `topic` (read_committed), as dicts with
    partition, offset, key and value (bytes, or None when null) and headers
    ({name: value} from kcat's name=value list; our header names all start
    with "asw.", which is what the list is split on)."""
    fmt = "%p:%o:%K:%S:%h" + _KCAT_HDR_END.decode() + "%k%s"
    r = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                        "-q", "-X", "isolation.level=read_committed", "-f", fmt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    check(r.returncode == 0, f"kcat -C {topic} failed: {r.stderr.decode(errors='replace')}")
    data, pos, out = r.stdout, 0, []
    while pos < len(data):
        fields = []
        for _ in range(4):
            end = data.index(b":", pos)
            fields.append(int(data[pos:end]))
            pos = end + 1
        end = data.index(_KCAT_HDR_END, pos)
        hdrs = {}
        for item in re.split(r",(?=asw\.[a-z.]+=)", data[pos:end].decode("utf-8", "replace")):
            if item:
                name, _, value = item.partition("=")
                hdrs[name] = value
        pos = end + len(_KCAT_HDR_END)
        partition, offset, klen, vlen = fields
        key = data[pos:pos + klen] if klen >= 0 else None
        pos += max(klen, 0)
        value = data[pos:pos + vlen] if vlen >= 0 else None
        pos += max(vlen, 0)
        out.append({"partition": partition, "offset": offset, "key": key, "value": value,
                    "headers": hdrs})
    return out


def reason_lines(text, prefix="aftersale-worker"):
    """The lines of a worker's output that give a reason (the log lines
    start with "level=")."""
    return [line for line in text.splitlines() if line.startswith(prefix)]


def parse_log_line(line):
    """`level=info event=x a=1 b="two words"` -> dict."""
    out, i, n = {}, 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        eq = line.find("=", i)
        if eq < 0:
            break
        key = line[i:eq]
        i = eq + 1
        if i < n and line[i] == '"':
            end = line.find('"', i + 1)
            end = n if end < 0 else end
            out[key] = line[i + 1:end]
            i = end + 1
        else:
            end = line.find(" ", i)
            end = n if end < 0 else end
            out[key] = line[i:end]
            i = end
    return out


class Worker:
    """One `aftersale-worker run` process; stdout and stderr go to a log file."""

    def __init__(self, harness, config, label, env=None):
        self.label = label
        self.config = config
        self.log_path = os.path.join(harness.dir, f"worker-{label}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN, "run", "-c", config], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=None if env is None else dict(os.environ, **env))
        self.expected_exit = None  # set once we stop it on purpose
        log(f"worker {label} started (pid {self.proc.pid}), log {self.log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def events(self, name):
        """Parsed log lines with event=name."""
        return [d for d in map(parse_log_line, self.log_text().splitlines())
                if d.get("event") == name]

    def check_alive(self):
        if not self.alive() and self.expected_exit is None:
            raise TestFailure(f"worker {self.label} (pid {self.pid}) exited unexpectedly with "
                              f"status {self.proc.returncode}")

    def stop(self, timeout=60):
        """SIGTERM (orderly stop); returns the exit status."""
        self.expected_exit = "term"
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise TestFailure(f"worker {self.label} did not stop within {timeout}s of SIGTERM")
        self._log.close()
        log(f"worker {self.label} stopped, exit status {rc}")
        return rc

    def stop_ok(self, timeout=60):
        rc = self.stop(timeout)
        check(rc == 0, f"worker {self.label}: SIGTERM must give exit 0, got {rc}")
        stopped = self.events("worker_stopped")
        check(stopped and stopped[-1].get("fatal") == "false",
              f"worker {self.label}: no 'event=worker_stopped ... fatal=false' line in its log")
        return stopped[-1]

    def kill(self):
        """SIGKILL, no chance to clean up."""
        self.expected_exit = "kill"
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()
        log(f"worker {self.label} killed with SIGKILL")

    def wait_exit(self, timeout):
        self.expected_exit = "exit"
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"worker {self.label} still running after {timeout}s")
        self._log.close()
        return rc


class Harness:
    """Per-test state: a temp dir, unique names, the workers started."""

    def __init__(self, name):
        self.name = name
        self.bootstrap = require_broker()
        check(os.access(BIN, os.X_OK), f"ASW_BIN {BIN} is not an executable (build first)")
        self.suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.dir = tempfile.mkdtemp(prefix=f"asw-it-{name}-")
        self.workers = []
        self.cleanups = []

    def add_cleanup(self, fn, what):
        """fn() runs when the test ends, passed or failed (last added first)."""
        self.cleanups.append((fn, what))

    def run_cleanups(self):
        """Run every cleanup; returns the failures as strings."""
        failures = []
        while self.cleanups:
            fn, what = self.cleanups.pop()
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 -- the others must still run
                failures.append(f"{what}: {e}")
        return failures

    # ---- names and configuration ----

    def unique(self, what):
        return f"it.{self.name}.{what}.{self.suffix}"

    def pipeline(self, tag="p"):
        """Fresh topic names and application id."""
        return {
            "application.id": self.unique(f"{tag}.app"),
            "topic.input": self.unique(f"{tag}.events"),
            "topic.decisions": self.unique(f"{tag}.decisions"),
            "topic.refund_records": self.unique(f"{tag}.refunds"),
            "topic.dlq": self.unique(f"{tag}.dlq"),
        }

    def write_config(self, filename, pipeline=None, worker_id=None, extra=None, raw_lines=None,
                     bootstrap=None):
        path = os.path.join(self.dir, filename)
        lines = [f"# {self.name}", f"bootstrap.servers={bootstrap or self.bootstrap}"]
        for k, v in (pipeline or {}).items():
            lines.append(f"{k}={v}")
        if worker_id is not None:
            lines.append(f"worker.id={worker_id}")
        for k, v in (extra or {}).items():
            lines.append(f"{k}={v}")
        lines.extend(raw_lines or [])
        write_lines(path, lines)
        return path

    def path(self, filename):
        return os.path.join(self.dir, filename)

    # ---- the tools ----

    def tool(self, args, timeout=180, expect_rc=0, what=None, env=None):
        cmd = [BIN] + [str(a) for a in args]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=timeout,
                               env=None if env is None else dict(os.environ, **env))
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{what or args[0]} timed out after {timeout}s: {' '.join(cmd)}")
        if expect_rc is not None and r.returncode != expect_rc:
            raise TestFailure(f"{what or args[0]} exited {r.returncode} (expected {expect_rc}): "
                              f"{' '.join(cmd)}\nstderr:\n"
                              f"{r.stderr.decode(errors='replace')[-3000:]}")
        return r

    def generate(self, seed, orders, filename="events.jsonl", active=None):
        args = ["generate", "--seed", seed, "--orders", orders]
        if active is not None:
            args += ["--active", active]
        r = self.tool(args)
        path = self.path(filename)
        with open(path, "wb") as f:
            f.write(r.stdout)
        return path

    def produce(self, config, topic, events_path, partitions=None, raw=False, key=None,
                expect=None):
        """Produce a file; returns the acknowledged count (checked against `expect`)."""
        args = ["produce", "--topic", topic, "-c", config]
        if partitions is not None:
            args += ["--partitions", partitions]
        if raw:
            args.append("--raw")
            if key is not None:
                args += ["--key", key]
        args.append(events_path)
        r = self.tool(args, what="produce")
        last = r.stderr.decode(errors="replace").strip().splitlines()[-1]
        words = last.split()
        check(len(words) >= 5 and words[0] == "produced" and words[2] == "records",
              f"produce: unexpected last stderr line {last!r}")
        n = int(words[1])
        if expect is None:
            with open(events_path, "rb") as f:
                expect = sum(1 for line in f if line.strip())
        check(n == expect, f"produce: {n} records acknowledged, expected {expect}")
        return n

    def consume(self, config, topic, filename=None, idle_exit=0, max_records=None, timeout=120):
        """Every committed record of `topic` (read_committed) as dicts."""
        args = ["consume", "--topic", topic, "-c", config, "--from-beginning",
                "--idle-exit", idle_exit]
        if max_records is not None:
            args += ["--max", max_records]
        r = self.tool(args, timeout=timeout, what=f"consume {topic}")
        path = self.path(filename or f"consumed-{topic}.jsonl")
        with open(path, "wb") as f:
            f.write(r.stdout)
        return path

    def count(self, config, topic):
        """Committed records in `topic`; 0 while the topic does not exist yet
        (the worker creates its output topics when it starts)."""
        r = self.tool(["consume", "--topic", topic, "-c", config, "--from-beginning",
                       "--idle-exit", 0], timeout=120, expect_rc=None, what=f"consume {topic}")
        err = r.stderr.decode(errors="replace")
        if r.returncode != 0:
            if r.returncode == 1 and f"topic {topic} does not exist" in err:
                return 0
            raise TestFailure(f"consume {topic} exited {r.returncode}: {err[-2000:]}")
        return sum(1 for line in r.stdout.splitlines() if line.strip())

    def split_in_two(self, events_path, first="first.jsonl", second="second.jsonl"):
        """The first half of an events file and the rest, as two files in the
        temp dir; returns (first path, second path, events in the first,
        events in all)."""
        with open(events_path, encoding="utf-8") as f:
            lines = f.readlines()
        cut = len(lines) // 2
        return (write_lines(self.path(first), lines[:cut]),
                write_lines(self.path(second), lines[cut:]), cut, len(lines))

    def replay(self, config, events_path, filename="replay.jsonl"):
        out = self.path(filename)
        self.tool(["replay", "-c", config, "-q", "-o", out, events_path], what="replay")
        return out

    # ---- Kafka's own tools (deploy/local/kafka.sh tool), on the shared broker ----

    def kafka_tool(self, name, *args, timeout=120):
        return kafka_sh(["tool", name, "--bootstrap-server", self.bootstrap] + list(args),
                        timeout=timeout, what=f"kafka.sh tool {name}")

    def reset_offsets(self, group, topic, *how, timeout=60):
        """consumer-groups --reset-offsets HOW --execute for every partition of
        `topic`; returns {partition: new offset}. Kafka refuses while the
        group has members (a stopped static member stays until its session
        times out), so this retries until it is empty or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.kafka_tool("consumer-groups", "--group", group, "--topic", topic,
                                "--reset-offsets", *how, "--execute")
            new = {}
            for line in r.stdout.splitlines():
                f = line.split()
                if len(f) == 4 and f[0] == group and f[1] == topic and f[2].isdigit():
                    new[int(f[2])] = int(f[3])
            if new:
                log(f"reset {group} on {topic} {' '.join(how)}: {new}")
                return new
            if time.monotonic() >= deadline:
                raise TestFailure(f"consumer-groups --reset-offsets {' '.join(how)} did not "
                                  f"reset {group} within {timeout}s:\n{r.stdout}{r.stderr}")
            time.sleep(1)

    def group_offsets(self, group):
        """consumer-groups --describe: {(topic, partition): (committed, log end)}
        (committed None when the group has none)."""
        r = self.kafka_tool("consumer-groups", "--describe", "--group", group)
        out = {}
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 5 and f[0] == group and f[2].isdigit():
                out[(f[1], int(f[2]))] = (None if f[3] == "-" else int(f[3]), int(f[4]))
        check(out, f"consumer-groups --describe --group {group} listed no partition:\n"
              f"{r.stdout}{r.stderr}")
        return out

    # ---- workers ----

    def start_worker(self, config, label, env=None):
        w = Worker(self, config, label, env=env)
        self.workers.append(w)
        return w

    def check_workers(self):
        for w in self.workers:
            w.check_alive()

    def wait_until(self, pred, timeout, what, interval=1.0):
        """Poll pred() (checking the workers stay alive) until it is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_workers()
            v = pred()
            if v:
                return v
            if time.monotonic() >= deadline:
                raise TestFailure(f"timed out after {timeout}s waiting for {what}")
            time.sleep(interval)

    def wait_counts(self, config, expected, timeout, interval=1.0):
        """Wait until every topic in `expected` ({topic: n}) holds at least n
        committed records. Returns the last counts."""
        last = {}
        t0 = time.monotonic()

        def reached():
            for topic in expected:
                last[topic] = self.count(config, topic)
            return all(last[t] >= n for t, n in expected.items())

        try:
            self.wait_until(reached, timeout, f"committed outputs {expected}", interval)
        except TestFailure as e:
            raise TestFailure(f"{e}; last counts {last}")
        log(f"outputs reached {last} after {time.monotonic() - t0:.1f}s")
        return last

    def dump_logs(self, lines=60):
        for w in self.workers:
            try:
                text = w.log_text().splitlines()
            except OSError as e:
                text = [f"(cannot read {w.log_path}: {e})"]
            status = w.proc.poll()
            print(f"----- worker {w.label} (pid {w.pid}, exit status {status}), last "
                  f"{min(lines, len(text))} of {len(text)} lines of {w.log_path}")
            for line in text[-lines:]:
                print("  " + line)
        sys.stdout.flush()

    def kill_all(self):
        for w in self.workers:
            if w.alive():
                os.kill(w.pid, signal.SIGKILL)
                w.proc.wait()


def group_outputs(records, where, volatile=VOLATILE_FIELDS):
    """{(type, order_id): [record, ...]} of Decisions and RefundRecords, in
    the given order, without the volatile fields; plus a list of problems
    (records of other types)."""
    groups, problems = {}, []
    for r in records:
        t = r.get("type")
        if t not in OUTPUT_TYPES:
            problems.append(f"{where}: unexpected record {json.dumps(r)[:300]}")
            continue
        clean = {k: v for k, v in r.items() if k not in volatile}
        groups.setdefault((t, r.get("order_id")), []).append(clean)
    return groups, problems


def _load(src):
    return read_jsonl(src) if isinstance(src, str) else list(src)


def _describe_diff(exp, act, limit=6):
    """Readable differences between two per-order lists (difflib alignment,
    so one missing or extra record does not make every later one differ)."""
    def dump(r):
        return json.dumps(r, sort_keys=True)

    a, b = [dump(r) for r in exp], [dump(r) for r in act]
    lines = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                e, r = exp[i1 + k], act[j1 + k]
                fields = [f"{f}: replay={json.dumps(e.get(f))} kafka={json.dumps(r.get(f))}"
                          for f in sorted(set(e) | set(r)) if e.get(f) != r.get(f)]
                lines.append(f"    #{i1 + k} differs ({e.get('aftersale_id') or e.get('record_id')}"
                             f"): " + "; ".join(fields))
        else:
            for k in range(i1, i2):
                lines.append(f"    #{k} missing in Kafka: {a[k]}")
            for k in range(j1, j2):
                dup = " (a DUPLICATE)" if b[k] in b[:k] or b[k] in b[k + 1:] else ""
                lines.append(f"    kafka #{k} extra{dup}: {b[k]}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"    ... ({len(lines) - limit} more lines)"]
    return lines


def compare(replay_jsonl, kafka_jsonl_files, input_topic=None, show=8,
            volatile=VOLATILE_FIELDS):
    """Assert the Kafka outputs equal the replay's, per order and in order.

    replay_jsonl: the replay's output (path or list of dicts; DeadLetter lines
    are ignored). kafka_jsonl_files: `consume` outputs (paths or lists), one
    per topic. Records of one order share a partition, so each file is sorted
    by (partition, offset) and a per-order list is in processing order.
    volatile: the fields left out of the comparison (POSITION_FIELDS to
    compare two Kafka runs over the same input topic, source_* included).
    """
    replay = [r for r in _load(replay_jsonl) if r.get("type") in OUTPUT_TYPES]
    kafka, problems = [], []
    for i, src in enumerate(kafka_jsonl_files):
        recs = _load(src)
        where = src if isinstance(src, str) else f"kafka input #{i}"
        recs.sort(key=lambda r: (r.get("partition", 0), r.get("offset", 0)))
        parts = {}
        for r in recs:
            if r.get("type") in OUTPUT_TYPES:
                parts.setdefault((r["type"], r.get("order_id")), set()).add(r.get("partition"))
            if input_topic is not None and r.get("type") in OUTPUT_TYPES and \
                    "source_topic" in r and r["source_topic"] != input_topic:
                problems.append(f"{where}: source_topic {r['source_topic']!r}, expected "
                                f"{input_topic!r}")
        for key, ps in parts.items():
            if len(ps) > 1:
                problems.append(f"{where}: {key} spread over partitions {sorted(ps)}")
        kafka.extend(recs)

    exp, p1 = group_outputs(replay, "replay", volatile)
    act, p2 = group_outputs(kafka, "kafka", volatile)
    problems += p1 + p2

    def counts(recs):
        c = {t: 0 for t in OUTPUT_TYPES}
        for r in recs:
            if r.get("type") in c:
                c[r["type"]] += 1
        return c

    ce, ca = counts(replay), counts(kafka)
    if ce != ca:
        problems.insert(0, f"counts differ: replay {ce}, kafka {ca}")
    bad = sorted(k for k in set(exp) | set(act) if exp.get(k, []) != act.get(k, []))
    for key in bad[:show]:
        e, a = exp.get(key, []), act.get(key, [])
        problems.append(f"  {key[0]} for order {key[1]}: replay has {len(e)}, kafka has {len(a)}")
        problems.extend(_describe_diff(e, a))
    if len(bad) > show:
        problems.append(f"  ... and {len(bad) - show} more orders differ")
    if problems or bad:
        raise TestFailure(f"Kafka outputs differ from the replay ({len(bad)} of "
                          f"{len(set(exp) | set(act))} (type, order) groups differ):\n"
                          + "\n".join(problems[:80]))
    log(f"compare: equal ({ce['Decision']} decisions, {ce['RefundRecord']} refund records, "
        f"{len({k[1] for k in exp})} orders)")
    return ce


def replay_counts(replay_jsonl, allow_dead_letters=False):
    """{"Decision": n, "RefundRecord": m} of a replay output; a DeadLetter
    fails unless allowed (the tests' inputs are valid events)."""
    c = {t: 0 for t in OUTPUT_TYPES}
    for r in _load(replay_jsonl):
        t = r.get("type")
        if t in c:
            c[t] += 1
        elif not (allow_dead_letters and t == "DeadLetter"):
            raise TestFailure(f"replay printed an unexpected record: {json.dumps(r)[:300]}")
    check(c["Decision"] > 0 and c["RefundRecord"] > 0, f"replay gave no outputs: {c}")
    return c


def check_invariant(outputs, events=(), show=8):
    """Assert SPEC section 4's invariant on outputs (paths or lists of dicts):
    the worker never accepts an application that would make refunded +
    reserved exceed paid, for the order or the sub-order.

    Checked on every RefundRecord: `*_remaining` is `*_paid - *_refunded -
    *_reserved`, refunded and reserved are never negative, and a PENDING
    record (an accepted application's reservation) of a positive amount
    leaves refunded + reserved <= paid on both levels. Facts may over-refund
    (then `over_refund`), so other records are not held to paid. And on every
    ACCEPTED Decision of a positive `apply_amount` (looked up in `events`, the
    input; decisions of applications not found there are not checked): a
    buyer's leaves `*_remaining` >= 0, a merchant card's check (nothing
    reserved) has `*_remaining` >= the amount. Returns the number of records
    checked."""
    amounts = {}
    for e in _load(events):
        if e.get("type") == "AfterSaleApplied":
            amounts.setdefault(e.get("aftersale_id"), e.get("apply_amount") or 0)
    problems, checked = [], 0
    for r in _load(outputs):
        t = r.get("type")
        if t == "RefundRecord":
            checked += 1
            for lvl in ("order", "sku"):
                paid, refunded, reserved, remaining = (
                    r.get(f"{lvl}_{k}") for k in ("paid", "refunded", "reserved", "remaining"))
                where = (f"RefundRecord {r.get('record_id')} ({r.get('status')}) of "
                         f"{r.get('order_id')}")
                if remaining != paid - refunded - reserved:
                    problems.append(f"{where}: {lvl}_remaining {remaining} != paid {paid} - "
                                    f"refunded {refunded} - reserved {reserved}")
                if refunded < 0 or reserved < 0:
                    problems.append(f"{where}: {lvl} refunded {refunded} / reserved {reserved} < 0")
                if r.get("status") == "PENDING" and r.get("amount", 0) > 0 and \
                        refunded + reserved > paid:
                    problems.append(f"{where}: accepting it made {lvl} refunded {refunded} + "
                                    f"reserved {reserved} > paid {paid}")
        elif t == "Decision" and r.get("outcome") == "ACCEPTED":
            checked += 1
            amount = amounts.get(r.get("aftersale_id"), 0)
            if amount <= 0:
                continue
            need = amount if r.get("initiator") == "MERCHANT_CARD" else 0
            for lvl in ("order", "sku"):
                if r.get(f"{lvl}_remaining") < need:
                    problems.append(f"accepted Decision {r.get('aftersale_id')} of "
                                    f"{r.get('order_id')} ({r.get('initiator')}, amount {amount}):"
                                    f" {lvl}_remaining {r.get(f'{lvl}_remaining')} < {need}")
    if problems:
        more = [f"  ... and {len(problems) - show} more"] if len(problems) > show else []
        raise TestFailure(f"SPEC invariant broken in {len(problems)} places:\n"
                          + "\n".join(["  " + p for p in problems[:show]] + more))
    return checked


def main(name, fn):
    """Run fn(harness); exit 0 on success, 1 (with worker logs) on failure."""
    t0 = time.monotonic()
    h = None
    try:
        h = Harness(name)
        log(f"{name}: broker {h.bootstrap}, binary {BIN}, temp dir {h.dir}")
        fn(h)
    except BaseException as e:  # noqa: BLE001 -- report everything, incl. KeyboardInterrupt
        print(f"\nFAIL {name} after {time.monotonic() - t0:.1f}s: {e}", flush=True)
        traceback.print_exc(file=sys.stdout)
        if h:
            h.dump_logs()
            h.kill_all()
            for f in h.run_cleanups():
                print(f"cleanup failed too: {f}")
            print(f"files kept in {h.dir}")
        sys.stdout.flush()
        sys.exit(1)
    still = [w for w in h.workers if w.alive()]
    h.kill_all()
    failures = h.run_cleanups()
    if still or failures:
        h.dump_logs()
        if still:
            print(f"FAIL {name}: workers left running: {[w.label for w in still]}")
        for f in failures:
            print(f"FAIL {name}: cleanup failed: {f}")
        print(f"files kept in {h.dir}")
        sys.exit(1)
    print(f"PASS {name} ({time.monotonic() - t0:.1f}s)", flush=True)
    if os.environ.get("ASW_TEST_KEEP") != "1":
        shutil.rmtree(h.dir, ignore_errors=True)
