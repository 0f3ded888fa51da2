#!/usr/bin/env python3
"""schema_registry: the worker, produce and consume with schema.registry.url,
against a real Confluent-compatible registry.

The registry is Apicurio Registry 2.4.2.Final (deploy/local/apicurio.sh, built
by scripts/bootstrap.sh --with-broker), its own for this test: on a free port,
its pid and log in the test's temp dir, its ccompat API as schema.registry.url.
The test fails, never skips, when it is not built or cannot start. Its storage
is in memory (a stop forgets every schema), so the outage in the middle is a
freeze (SIGSTOP: connections are accepted, nothing answers), not a stop.

  1. A registry that is down at start-up (nothing listens): `run` exits 1
     with one line naming the URL and the connection error.
  2. With a global BACKWARD rule (Confluent's default), `produce` is refused
     the second of the six event types under the one subject <input>-value
     (HTTP 409): it exits 1 with one line and produces nothing. Apicurio's
     ccompat `PUT /config/<subject>` cannot lift that (NONE there deletes the
     subject's rule, and the global one applies), so the subject gets its own
     COMPATIBILITY=NONE rule through Apicurio's own API (docs/OPERATIONS.md).
  3. Then `produce` registers the six event schemas under <input>-value and
     frames events with the registry's ids; the worker registers its output
     schemas and frames its outputs with their ids; `consume` decodes them
     through the registry; the outputs equal the offline replay.
  4. An AfterSaleApplied written with an older registered schema (without
     the defaulted order.aftersale_deadline), produced while the registry is
     frozen: the worker's requests time out and it waits (no dead letter, no
     decision), and decides it once the registry answers again; the DLQ stays
     empty.
  5. A record framed with an id the registry does not have (404): a dead
     letter UNKNOWN_SCHEMA_ID.
"""
import io
import json
import os
import struct
import subprocess
import time
import urllib.error
import urllib.request

import fastavro

import common
from common import check, log

APICURIO_SH = os.path.join(common.SOURCE_DIR, "deploy", "local", "apicurio.sh")


class OwnRegistry:
    """An Apicurio Registry of this test's own (deploy/local/apicurio.sh)."""

    def __init__(self, h):
        self.port, self.tls_port = common.free_ports(2)
        ca, cert, key = make_tls(h)
        self.ca = ca
        # Quarkus serves HTTPS beside HTTP when given a certificate (its
        # configuration from the environment).
        self.env = dict(os.environ, ASW_APICURIO_PORT=str(self.port),
                        ASW_APICURIO_STATE=h.path("apicurio"),
                        QUARKUS_HTTP_SSL_PORT=str(self.tls_port),
                        QUARKUS_HTTP_SSL_CERTIFICATE_FILES=cert,
                        QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES=key)
        self.url = f"http://127.0.0.1:{self.port}/apis/ccompat/v7"
        self.tls_url = f"https://127.0.0.1:{self.tls_port}/apis/ccompat/v7"
        # Apicurio's own API (v2): what ccompat cannot do (a subject's rules).
        self.native = f"http://127.0.0.1:{self.port}/apis/registry/v2"
        h.add_cleanup(self.stop, "stopping the registry")

    def _run(self, cmd):
        r = subprocess.run([APICURIO_SH, cmd], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=180)
        check(r.returncode == 0, f"apicurio.sh {cmd} failed (exit {r.returncode}): "
              f"{r.stderr.decode(errors='replace')[-2000:]}")
        return r.stdout.decode().strip()

    def start(self):
        t0 = time.monotonic()
        out = self._run("start")
        check(out.splitlines()[-1] == self.url, f"apicurio.sh start printed {out!r}")
        log(f"Apicurio Registry running on {self.url} after {time.monotonic() - t0:.1f}s")

    def stop(self):
        self._run("stop")

    def freeze(self):
        self._run("freeze")

    def thaw(self):
        self._run("thaw")

    def request(self, method, path, body=None, base=None):
        """(HTTP status, parsed body) of one call; path is under self.url by default."""
        data = json.dumps(body).encode() if body is not None else None
        ctype = ("application/json" if base == self.native
                 else "application/vnd.schemaregistry.v1+json")
        req = urllib.request.Request((base or self.url) + path, data=data, method=method,
                                     headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None

    def call(self, method, path, body=None, base=None):
        status, got = self.request(method, path, body, base)
        check(200 <= status < 300, f"{method} {path}: HTTP {status} {got}")
        return got


def make_tls(h):
    """A CA of the test's own and a certificate it signed for 127.0.0.1."""
    d = h.path("tls")
    os.makedirs(d, exist_ok=True)
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key, csr = (os.path.join(d, n) for n in ("server.pem", "server.key", "server.csr"))
    ext = os.path.join(d, "ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for cmd in (["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey,
                 "-out", ca, "-days", "2", "-subj", "/CN=asw-test-ca"],
                ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", "/CN=127.0.0.1"],
                ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
                 "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]):
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 0, f"{' '.join(cmd[:2])}: {r.stderr.decode(errors='replace')}")
    return ca, cert, key


def old_applied_schema():
    """AfterSaleApplied as it was before order.aftersale_deadline (which has
    a default, so records of this version must decode into today's)."""
    with open(os.path.join(common.SOURCE_DIR, "schemas", "AfterSaleApplied.avsc")) as f:
        s = json.load(f)
    for field in s["fields"]:
        t = field["type"]
        if isinstance(t, dict) and t.get("type") == "record":
            t["fields"] = [g for g in t["fields"] if g["name"] != "aftersale_deadline"]
    return s


def frame(schema_id, schema, record):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return b"\0" + struct.pack(">I", schema_id) + buf.getvalue()


def test(h):
    reg = OwnRegistry(h)
    p = h.pipeline()
    fast = {"schema.registry.max.retries": 1, "schema.registry.retries.wait.ms": 100}

    # 1. Down at start-up (nothing listens there yet): one line, the URL, why.
    cfg_down = h.write_config("down.properties", p, worker_id="w0",
                              extra=dict(fast, **{"schema.registry.url": reg.url}))
    r = h.tool(["run", "-c", cfg_down], expect_rc=None, timeout=60, what="run (registry down)")
    err = r.stderr.decode(errors="replace")
    lines = common.reason_lines(err)
    check(r.returncode == 1, f"run with the registry down must exit 1, got {r.returncode}: {err}")
    check(len(lines) == 1 and reg.url in lines[0] and "connect" in lines[0].lower(),
          f"expected one line naming {reg.url} and the connection error, got {lines}")
    log(f"registry down at start-up: exit {r.returncode}: {lines[0]}")

    reg.start()
    # produce and consume with the client's defaults; the worker with short
    # timeouts, so that the frozen registry shows as pauses within seconds.
    cfg = h.write_config("client.properties", p, extra={"schema.registry.url": reg.url})
    cfg_worker = h.write_config("worker.properties", p, worker_id="w1", extra=dict(
        fast, **{"schema.registry.url": reg.url, "schema.registry.request.timeout.ms": 1000,
                 "schema.registry.connect.timeout.ms": 1000}))
    cfg_plain = h.write_config("plain.properties", p)  # counting only: needs no registry

    events = h.generate(seed=77, orders=300)
    with open(events, encoding="utf-8") as f:
        lines_in = [json.loads(x) for x in f if x.strip()]
    # The event an older writer sends: a new order, no deadline, late in time.
    base = next(e for e in lines_in if e["type"] == "AfterSaleApplied")
    old = json.loads(json.dumps(base))
    old.update(event_id="ev-old-schema", order_id="OLDSCHEMA1", aftersale_id="OLDSCHEMA1-A0",
               sku_order_id="OLDSCHEMA1-1",
               event_time=max(e["event_time"] for e in lines_in))
    old["order"].pop("aftersale_deadline", None)
    all_events = common.write_lines(h.path("all.jsonl"),
                                    [json.dumps(e) for e in lines_in] + [json.dumps(old)])
    replay = h.replay(cfg_plain, all_events)
    expected = common.replay_counts(replay)

    # 2. Six record types in one subject, under a registry-wide BACKWARD
    # rule: the second is refused, and produce stops before producing.
    subject = p["topic.input"] + "-value"
    reg.call("PUT", "/config", {"compatibility": "BACKWARD"})
    r = h.tool(["produce", "--topic", p["topic.input"], "--partitions", 4, "-c", cfg, events],
               expect_rc=None, what="produce (BACKWARD)")
    err = r.stderr.decode(errors="replace")
    lines = common.reason_lines(err)
    check(r.returncode == 1 and len(lines) == 1 and subject in lines[0] and "409" in lines[0],
          f"produce under BACKWARD: expected exit 1 and one line naming {subject} and HTTP 409, "
          f"got exit {r.returncode}: {err[-2000:]}")
    check(h.count(cfg_plain, p["topic.input"]) == 0, "a refused produce must produce nothing")
    check(reg.call("GET", f"/subjects/{subject}/versions") == [1],
          "only the first event type is registered under BACKWARD")
    log(f"global BACKWARD: {lines[0]}")
    # The subject's own rule (it exists now): COMPATIBILITY=NONE.
    reg.call("POST", f"/groups/default/artifacts/{subject}/rules",
             {"type": "COMPATIBILITY", "config": "NONE"}, base=reg.native)
    check(reg.call("GET", f"/config/{subject}") == {"compatibilityLevel": "NONE"},
          f"{subject} must report NONE")

    # 3. produce with the registry; the worker with it.
    n = h.produce(cfg, p["topic.input"], events, partitions=4)
    versions = reg.call("GET", f"/subjects/{subject}/versions")
    check(len(versions) == 6, f"produce must register 6 event schemas under {subject}, "
          f"the registry has {versions}")
    old_schema = old_applied_schema()
    old_id = reg.call("POST", f"/subjects/{subject}/versions",
                      {"schema": json.dumps(old_schema)})["id"]
    log(f"produced {n} events; older AfterSaleApplied registered as id {old_id}; "
        f"replay expects {expected}")

    w = h.start_worker(cfg_worker, "w1")
    first = common.replay_counts(h.replay(cfg_plain, events, filename="replay-first.jsonl"))
    h.wait_counts(cfg_plain, {p["topic.decisions"]: first["Decision"],
                              p["topic.refund_records"]: first["RefundRecord"]}, timeout=120)

    # 4. The registry hangs; a record of an id the worker has not seen
    # arrives; the worker must wait for the registry, not dead-letter it.
    reg.freeze()
    record = dict(old, order=dict(old["order"]))
    record.pop("type")
    body = frame(old_id, old_schema, record)
    common.kcat_produce_raw(h.bootstrap, p["topic.input"], [(old["order_id"].encode(), body)])
    h.wait_until(lambda: len(w.events("schema_registry_unavailable")) >= 2, 60,
                 "the worker to report the registry unavailable twice")
    pause = w.events("schema_registry_unavailable")[0]
    check("timeout" in pause.get("error", "").lower(),
          f"a frozen registry must show as a timeout, got {pause}")
    check(h.count(cfg_plain, p["topic.dlq"]) == 0, "no dead letter while the registry hangs")
    check(h.count(cfg_plain, p["topic.decisions"]) == first["Decision"],
          "the record must not be decided before its schema is known")
    log(f"registry frozen: {pause.get('error')}")
    t_back = time.monotonic()
    reg.thaw()
    h.wait_counts(cfg_plain, {p["topic.decisions"]: expected["Decision"],
                              p["topic.refund_records"]: expected["RefundRecord"]}, timeout=60)
    log(f"decided {time.monotonic() - t_back:.1f}s after the registry answered again; "
        f"{len(w.events('schema_registry_unavailable'))} pauses logged")
    stopped = w.stop_ok()
    check(int(stopped["dead_letters"]) == 0, "no dead letters expected")
    check(h.count(cfg_plain, p["topic.dlq"]) == 0, "the DLQ must be empty")

    # The outputs carry the registry's ids, and consume decodes them with it.
    ids = {}
    for topic in (p["topic.decisions"], p["topic.refund_records"]):
        want = reg.call("GET", f"/subjects/{topic}-value/versions/latest")["id"]
        got = {struct.unpack(">I", m["value"][1:5])[0]
               for m in common.kcat_read_raw(h.bootstrap, topic)}
        check(got == {want}, f"{topic}: framed with ids {got}, the registry has {want}")
        ids[topic] = want
    log(f"outputs framed with the registry's ids {ids}")
    dec = h.consume(cfg, p["topic.decisions"])
    rec = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    with open(dec, encoding="utf-8") as f:
        check(any(json.loads(x).get("order_id") == "OLDSCHEMA1" for x in f if x.strip()),
              "the event of the older schema must be decided")

    # TLS: the same registry over HTTPS, its certificate signed by the
    # test's CA. With schema.registry.ssl.ca.location, consume looks the ids
    # up over TLS and prints the same; without, it exits 1 naming the
    # certificate problem, and prints no record it could not decode.
    cfg_tls = h.write_config("tls.properties", p, extra={
        "schema.registry.url": reg.tls_url, "schema.registry.ssl.ca.location": reg.ca})
    cfg_tls_noca = h.write_config("tls-noca.properties", p,
                                  extra={"schema.registry.url": reg.tls_url})
    dec_tls = h.consume(cfg_tls, p["topic.decisions"], filename="decisions-tls.jsonl")
    # (Partitions interleave in any order; each line names its partition
    # and offset, so the sorted lines must be equal.)
    with open(dec, "rb") as a, open(dec_tls, "rb") as b:
        check(sorted(a) == sorted(b), "consume over TLS must print what it printed over HTTP")
    r = h.tool(["consume", "--topic", p["topic.decisions"], "-c", cfg_tls_noca,
                "--from-beginning", "--idle-exit", 0], expect_rc=1)
    err = r.stderr.decode(errors="replace")
    check("ssl" in err.lower() and "certificate" in err.lower(),
          f"without the CA, consume must say the certificate is not trusted: {err[-500:]}")
    log(f"TLS: consume through {reg.tls_url} equals HTTP; without the CA: "
        f"{[x for x in err.splitlines() if 'SSL' in x][:1]}")

    # 5. An id the registry does not have: a dead letter that says so.
    missing = old_id + 1000
    status, _ = reg.request("GET", f"/schemas/ids/{missing}")
    check(status == 404, f"id {missing} must be unknown to the registry, got HTTP {status}")
    w2 = h.start_worker(cfg_worker, "w2")
    common.kcat_produce_raw(h.bootstrap, p["topic.input"],
                            [(b"NOSUCHID1", b"\0" + struct.pack(">I", missing) + b"\x02")])
    h.wait_until(lambda: h.count(cfg_plain, p["topic.dlq"]) == 1, 60, "one dead letter")
    dl = common.kcat_read_raw(h.bootstrap, p["topic.dlq"])
    check(dl[0]["headers"].get("asw.error") == "UNKNOWN_SCHEMA_ID" and
          str(missing) in dl[0]["headers"].get("asw.error.message", ""),
          f"dead letter headers {dl[0]['headers']}")
    log(f"unknown id {missing}: {dl[0]['headers']['asw.error.message']}")
    w2.stop_ok()


if __name__ == "__main__":
    common.main("schema_registry", test)
