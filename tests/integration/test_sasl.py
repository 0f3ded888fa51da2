#!/usr/bin/env python3
"""sasl: the worker through a SASL_SSL listener (SPEC 7: an authentication
failure is fatal, with a clear message and a non-zero exit).

The test starts a broker of its own (deploy/local/kafka.sh with
ASW_KAFKA_SASL_PORT: a CA and broker certificate made by the script,
SCRAM-SHA-512 and PLAIN, one user with a random password), and stops it at
the end whatever happens. Then:

- `produce`, the worker (security.protocol=SASL_SSL, ssl.ca.location, the
  user and password) and `consume` work through it: the outputs equal the
  offline replay.
- With a wrong password (in the file, or overriding the right one through
  ASW_CFG_SASL_PASSWORD) the worker exits 1 within 30 s with one line that
  names the authentication failure, and writes nothing: its output topics
  and changelog are never created.
- SCRAM-SHA-512 with the right password: the broker accepts it (Kafka's
  own Java client lists the topics), and librdkafka before 2.6.1 (Debian 12
  has 2.0.2) fails it against Kafka 4 (its nonce bug, librdkafka#4895) --
  which the worker must report the same way, quickly and in one line. With
  librdkafka 2.6.1 or newer the worker must get through instead.
- The password appears nowhere in what the tools print: the worker's logs
  (log.level=debug with librdkafka's debug=all), --print-config (which
  masks it), and the messages of failed runs.
"""
import ctypes
import json
import time

import common
from common import check, log

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
AUTH_EXIT_WITHIN = 30.0


def librdkafka_version():
    """(major, minor, patch) of the librdkafka the worker loads."""
    try:
        lib = ctypes.CDLL("librdkafka.so.1")
    except OSError as e:
        raise common.TestFailure(f"cannot load librdkafka.so.1 to read its version: {e}")
    lib.rd_kafka_version.restype = ctypes.c_int
    v = lib.rd_kafka_version()
    return (v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF


def sasl_settings(client, **override):
    """The worker's librdkafka keys for the listener (client.properties)."""
    s = {k: v for k, v in client.items() if k != "bootstrap.servers"}
    s.update(override)
    return {k: v for k, v in s.items() if v is not None}


def expect_auth_failure(h, cfg, label, outputs_cfg, pipeline, env=None):
    """The worker must exit 1 within AUTH_EXIT_WITHIN seconds with one reason
    line naming the authentication failure, and write nothing."""
    t0 = time.monotonic()
    w = h.start_worker(cfg, label, env=env)
    rc = w.wait_exit(timeout=AUTH_EXIT_WITHIN + 30)
    took = time.monotonic() - t0
    out = w.log_text()
    reasons = common.reason_lines(out)
    log(f"{label}: exit {rc} after {took:.1f}s: {reasons}")
    check(rc == 1, f"{label}: exit status {rc}, expected 1")
    check(took < AUTH_EXIT_WITHIN, f"{label}: took {took:.1f}s to exit, at most "
          f"{AUTH_EXIT_WITHIN:.0f}s allowed")
    check(len(reasons) == 1, f"{label}: expected one 'aftersale-worker ...' reason line, got "
          f"{reasons}")
    check("_AUTHENTICATION" in reasons[0] and "uthentication failed" in reasons[0],
          f"{label}: the reason must name the authentication failure: {reasons[0]!r}")
    check(not w.events("worker_started"), f"{label}: the worker must not report worker_started")
    for topic in (pipeline["topic.decisions"], pipeline["topic.refund_records"],
                  pipeline["topic.dlq"], pipeline["application.id"] + "-changelog"):
        check(h.count(outputs_cfg, topic) == 0, f"{label}: {topic} must stay empty")
    return out


def test(h):
    broker = common.OwnBroker(h, "sasl", sasl=True)
    client = broker.client
    password = client["sasl.password"]
    wrong = "wrong-" + password[::-1]
    sasl_at = client["bootstrap.servers"]
    captured = []  # every output a secret must not appear in

    p = h.pipeline()
    cfg = h.write_config("sasl.properties", p, worker_id="w1", bootstrap=sasl_at,
                         extra=dict(sasl_settings(client), **FAST_GROUP))
    # The same pipeline through the PLAINTEXT listener, to look without logging in.
    plain = h.write_config("plain.properties", p, bootstrap=broker.bootstrap)

    # --print-config masks the password, from the file and from the environment.
    r = h.tool(["run", "-c", cfg, "--print-config"], what="--print-config")
    text = r.stdout.decode()
    captured.append(("--print-config", text + r.stderr.decode()))
    check("sasl.password=********" in text.splitlines(),
          f"--print-config must print sasl.password=********:\n{text}")
    nopw = h.write_config("sasl-nopw.properties", p, worker_id="w1", bootstrap=sasl_at,
                          extra=sasl_settings(client, **{"sasl.password": None}))
    r = h.tool(["run", "-c", nopw, "--print-config"], env={"ASW_CFG_SASL_PASSWORD": password},
               what="--print-config with ASW_CFG_SASL_PASSWORD")
    captured.append(("--print-config (environment)", (r.stdout + r.stderr).decode()))
    check("sasl.password=********" in r.stdout.decode().splitlines(),
          "--print-config must mask a password from ASW_CFG_SASL_PASSWORD")
    # A configuration error in a file that holds the password.
    bad = h.write_config("sasl-badkey.properties", p, bootstrap=sasl_at,
                         extra=dict(sasl_settings(client), **{"sasl.pasword": password}))
    r = h.tool(["run", "-c", bad], expect_rc=2, timeout=30, what="run with a misspelt key")
    captured.append(("misspelt key", (r.stdout + r.stderr).decode()))

    # 1. The right password: produce, decide, consume through SASL_SSL.
    events = h.generate(seed=7, orders=300)
    replay = h.replay(cfg, events)
    expected = common.replay_counts(replay)
    r = h.tool(["produce", "--topic", p["topic.input"], "-c", cfg, "--partitions", 2, events],
               what="produce through SASL_SSL")
    captured.append(("produce", r.stderr.decode()))
    check(r.stderr.decode().strip().splitlines()[-1].startswith("produced "),
          f"produce: {r.stderr.decode()[-500:]}")
    debug = h.write_config("sasl-debug.properties", p, worker_id="w1", bootstrap=sasl_at,
                           extra=dict(sasl_settings(client), **FAST_GROUP,
                                      **{"log.level": "debug", "debug": "all"}))
    w = h.start_worker(debug, "sasl")
    h.wait_counts(plain, {p["topic.decisions"]: expected["Decision"],
                          p["topic.refund_records"]: expected["RefundRecord"]}, timeout=90)
    w.stop_ok()
    consumed = []
    for topic in (p["topic.decisions"], p["topic.refund_records"]):
        r = h.tool(["consume", "--topic", topic, "-c", cfg, "--from-beginning", "--idle-exit", 0],
                   what=f"consume {topic} through SASL_SSL")
        captured.append((f"consume {topic}", r.stderr.decode()))
        consumed.append([json.loads(line) for line in r.stdout.splitlines() if line])
    common.compare(replay, consumed, input_topic=p["topic.input"])
    check(h.count(plain, p["topic.dlq"]) == 0, "the DLQ must be empty")
    check("sasl.password = [redacted]" in w.log_text(),
          "the debug log should show librdkafka's redacted configuration dump (is debug=all on?)")

    # 2. A wrong password, in the file and through the environment.
    for label, override, env in (("wrong-password", wrong, None),
                                 ("wrong-password-env", password,
                                  {"ASW_CFG_SASL_PASSWORD": wrong})):
        q = h.pipeline(label)
        q["topic.input"] = p["topic.input"]
        c = h.write_config(f"{label}.properties", q, worker_id="w1", bootstrap=sasl_at,
                           extra=dict(sasl_settings(client, **{"sasl.password": override}),
                                      **{"log.level": "debug", "debug": "all"}))
        expect_auth_failure(h, c, label, h.write_config(f"{label}-plain.properties", q,
                                                        bootstrap=broker.bootstrap), q, env)

    # 3. SCRAM-SHA-512 with the right password.
    r = broker.tool("topics", "--bootstrap-server", sasl_at, "--command-config",
                    broker.java_client, "--list")
    check(p["topic.input"] in r.stdout.split(),
          f"Kafka's Java client logged in with SCRAM-SHA-512 but did not list "
          f"{p['topic.input']}:\n{r.stdout}")
    version = librdkafka_version()
    q = h.pipeline("scram")
    q["topic.input"] = p["topic.input"]
    c = h.write_config("scram.properties", q, worker_id="w1", bootstrap=sasl_at,
                       extra=dict(sasl_settings(client, **{"sasl.mechanisms": "SCRAM-SHA-512"}),
                                  **FAST_GROUP))
    if version < (2, 6, 1):
        log(f"librdkafka {'.'.join(map(str, version))} < 2.6.1: SCRAM must fail cleanly")
        expect_auth_failure(h, c, "scram", h.write_config("scram-plain.properties", q,
                                                           bootstrap=broker.bootstrap), q)
    else:
        w = h.start_worker(c, "scram")
        h.wait_until(lambda: w.events("worker_started"), 30, "the worker to start over SCRAM")
        w.stop_ok()

    # 4. No secret anywhere.
    for w in h.workers:
        captured.append((f"worker {w.label} log", w.log_text()))
    for what, text in captured:
        for secret in (password, wrong):
            check(secret not in text, f"a password appears in the output of {what}")
    log(f"neither password appears in {len(captured)} outputs "
        f"({sum(len(t) for _, t in captured) // 1024} KiB)")


if __name__ == "__main__":
    common.main("sasl", test)
