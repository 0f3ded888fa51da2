#!/usr/bin/env python3
"""schema_registry: the worker, produce and consume with schema.registry.url.

Against the registry deploy/local/registry.sh starts (its own, on a free
port, with its state in the test's temp dir, so the test can stop and start
it): it fails, never skips, when that registry cannot start.

  1. A registry that is down at start-up: `run` exits non-zero with one line
     naming the URL.
  2. `produce` registers the six event schemas under <input>-value and
     frames events with the registry's ids; the worker registers its output
     schemas and frames its outputs with their ids; `consume` decodes them
     through the registry; the outputs equal the offline replay.
  3. An AfterSaleApplied written with an older registered schema (without
     the defaulted order.aftersale_deadline), produced while the registry is
     stopped: the worker waits (no dead letter), and decides it once the
     registry is back; the DLQ stays empty.
  4. A record framed with an id the registry does not have: a dead letter
     UNKNOWN_SCHEMA_ID.
"""
import io
import json
import os
import struct
import subprocess
import time
import urllib.request

import fastavro

import common
from common import check, log

REGISTRY_SH = os.path.join(common.SOURCE_DIR, "deploy", "local", "registry.sh")


class OwnRegistry:
    def __init__(self, h):
        self.port = common.free_ports(1)[0]
        self.env = dict(os.environ, ASW_REGISTRY_PORT=str(self.port),
                        ASW_REGISTRY_STATE=h.path("registry"))
        self.url = f"http://127.0.0.1:{self.port}"
        h.add_cleanup(self.stop, "stopping the registry")

    def _run(self, cmd):
        r = subprocess.run([REGISTRY_SH, cmd], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 0, f"registry.sh {cmd} failed (exit {r.returncode}): "
              f"{r.stderr.decode(errors='replace')[-2000:]}")
        return r.stdout.decode().strip()

    def start(self):
        out = self._run("start")
        check(out.splitlines()[-1] == self.url, f"registry.sh start printed {out!r}")
        log(f"registry running on {self.url}")

    def stop(self):
        self._run("stop")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type":
                                              "application/vnd.schemaregistry.v1+json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


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
    cfg = h.write_config("worker.properties", p, worker_id="w1",
                         extra={"schema.registry.url": reg.url})
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

    # 2. produce with the registry; the worker with it.
    n = h.produce(cfg, p["topic.input"], events, partitions=4)
    subject = p["topic.input"] + "-value"
    versions = reg.call("GET", f"/subjects/{subject}/versions")
    check(len(versions) == 6, f"produce must register 6 event schemas under {subject}, "
          f"the registry has {versions}")
    old_schema = old_applied_schema()
    old_id = reg.call("POST", f"/subjects/{subject}/versions",
                      {"schema": json.dumps(old_schema)})["id"]
    log(f"produced {n} events; older AfterSaleApplied registered as id {old_id}; "
        f"replay expects {expected}")

    w = h.start_worker(cfg, "w1")
    first = common.replay_counts(h.replay(cfg_plain, events, filename="replay-first.jsonl"))
    h.wait_counts(cfg_plain, {p["topic.decisions"]: first["Decision"],
                              p["topic.refund_records"]: first["RefundRecord"]}, timeout=120)

    # 3. The registry goes away; a record of an id the worker has not seen
    # arrives; the worker must wait for the registry, not dead-letter it.
    reg.stop()
    record = dict(old, order=dict(old["order"]))
    record.pop("type")
    body = frame(old_id, old_schema, record)
    common.kcat_produce_raw(h.bootstrap, p["topic.input"], [(old["order_id"].encode(), body)])
    h.wait_until(lambda: len(w.events("schema_registry_unavailable")) >= 2, 60,
                 "the worker to report the registry unavailable twice")
    check(h.count(cfg_plain, p["topic.dlq"]) == 0, "no dead letter while the registry is away")
    check(h.count(cfg_plain, p["topic.decisions"]) == first["Decision"],
          "the record must not be decided before its schema is known")
    t_back = time.monotonic()
    reg.start()
    h.wait_counts(cfg_plain, {p["topic.decisions"]: expected["Decision"],
                              p["topic.refund_records"]: expected["RefundRecord"]}, timeout=60)
    log(f"decided {time.monotonic() - t_back:.1f}s after the registry came back; "
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

    # 4. An id the registry does not have: a dead letter that says so.
    w2 = h.start_worker(cfg, "w2")
    missing = old_id + 1000
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
