#!/usr/bin/env python3
"""interop: other clients write the worker's input and read its outputs.

- A Python client, confluent-kafka (its own librdkafka) with fastavro,
  produces the events of `generate` (all six types) from the .avsc files
  alone: Confluent framing with the built-in schema ids of
  docs/wire-format.md, keyed by order_id, idempotent, partitioner
  murmur2_random (each key lands where Kafka's Java client puts it: checked
  against Kafka's murmur2 here).
- The worker decides them: it consumed every event, nothing went to the DLQ.
- The same Python client reads the decisions and refund records
  (read_committed) and decodes them with fastavro: magic byte 0, the
  record's schema id, no byte left after the record, the key is the
  record's order_id, and fastavro encodes the decoded record back to the
  very bytes the worker wrote. Every field of every record equals the
  offline replay of the same events, per order and in order; the replay's
  source_partition / source_offset (its line number) are mapped to where
  the producer's delivery report put that event, so only where an output
  record sits in its topic is left out.
- Kafka's own console consumer (read_committed), with the MessageFormatter
  of tests/interop/java (Avro's GenericDatumReader; built with Maven here),
  reads the input topic, the decisions and the refund records in one run:
  every record it prints equals, field by field, what the Python client
  wrote (input) or decoded (outputs), with topic, partition, offset, key and
  schema id.

The JSON Lines records have exactly the fields of their .avsc (checked), so
comparing whole records compares every field; and the stream has each
nullable field both null and not, each boolean both ways and each enum
symbol (checked, but for one the default ruleset never gives), so every
branch of the encoding is crossed.
"""
import datetime
import io
import json
import os
import subprocess
import time

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import common
from common import check, log

PARTITIONS = 4
SEED, ORDERS = 4711, 300
# docs/wire-format.md, "Schemas and the built-in id table".
SCHEMA_IDS = {"AfterSaleApplied": 1, "AfterSaleWithdrawn": 2, "AfterSaleClosed": 3,
              "AfterSaleSucceeded": 4, "RefundClawedBack": 5, "ExternalRefundRecorded": 6,
              "Decision": 10, "RefundRecord": 11}
EVENT_TYPES = [n for n, i in SCHEMA_IDS.items() if i <= 6]
# MULTI_REFUND_NOT_ENABLED needs a ruleset without multi-refund; the
# default one has it (test_ruleset covers the rule).
NEVER_SEEN = {("Decision", "reasons", "MULTI_REFUND_NOT_ENABLED")}
SCHEMAS_DIR = os.path.join(common.SOURCE_DIR, "schemas")
JAVA_MODULE = os.path.join(common.SOURCE_DIR, "tests", "interop", "java")
FORMATTER = "com.aftersale.worker.interop.AvroFormatter"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


# ---- the .avsc files, with fastavro ----

def load_schemas():
    """{record name: (the .avsc as JSON, fastavro's parsed schema)}."""
    out = {}
    for name in SCHEMA_IDS:
        with open(os.path.join(SCHEMAS_DIR, name + ".avsc"), encoding="utf-8") as f:
            avsc = json.load(f)
        check(avsc["name"] == name, f"{name}.avsc defines {avsc['name']}")
        out[name] = (avsc, fastavro.parse_schema(avsc))  # each file stands alone
    return out


def survey(t, values, key, seen):
    """Check that each record among `values` (of Avro type t) has exactly
    its .avsc's fields, nested records too; return what there is to see of
    such values -- null and not for a union, true and false for a boolean,
    each symbol of an enum, by (record, field) -- and add what `values`
    show to `seen`."""
    if isinstance(t, list):
        seen.update(key + ("null" if v is None else "value",) for v in values)
        want = {key + ("null",), key + ("value",)}
        for branch in t:
            if branch != "null":
                want |= survey(branch, [v for v in values if v is not None], key, seen)
        return want
    kind = t.get("type") if isinstance(t, dict) else t
    if kind == "array":
        return survey(t["items"], [x for v in values for x in v], key, seen)
    if kind == "record":
        names = sorted(f["name"] for f in t["fields"])
        for v in values:
            check(sorted(v) == names, f"a {t['name']} with the fields {sorted(v)}, its .avsc "
                  f"has {names}: {json.dumps(v)[:300]}")
        return set().union(*(survey(f["type"], [v[f["name"]] for v in values],
                                    (t["name"], f["name"]), seen) for f in t["fields"]))
    if kind == "boolean" or kind == "enum":
        seen.update(key + (v,) for v in values)
        return {key + (v,) for v in ((True, False) if kind == "boolean" else t["symbols"])}
    return set()


def avro_record(r):
    """A JSON Lines record without its "type": the Avro record."""
    return {k: v for k, v in r.items() if k != "type"}


def encode(schemas, name, record):
    """A Confluent frame: magic byte 0, the schema id (big-endian), the Avro body."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schemas[name][1], record)
    return b"\0" + SCHEMA_IDS[name].to_bytes(4, "big") + body.getvalue()


def plain(v):
    """fastavro's values as JSON Lines has them: timestamp-millis as epoch ms."""
    if isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def decode(schemas, name, msg):
    """A consumed output record, checked and decoded by fastavro; as the
    Java formatter prints it."""
    where = f"{msg.topic()}/{msg.partition()}@{msg.offset()}"
    frame = msg.value()
    check(frame is not None and len(frame) > 5, f"{where}: no room for the 5-byte header")
    check(frame[0] == 0, f"{where}: magic byte {frame[0]}, expected 0")
    sid = int.from_bytes(frame[1:5], "big")
    check(sid == SCHEMA_IDS[name], f"{where}: schema id {sid}, expected {SCHEMA_IDS[name]} "
          f"({name})")
    body = io.BytesIO(frame[5:])
    value = fastavro.schemaless_reader(body, schemas[name][1], None)
    check(body.tell() == len(frame) - 5,
          f"{where}: {len(frame) - 5 - body.tell()} bytes left after the {name}")
    check(encode(schemas, name, value) == frame,
          f"{where}: fastavro encodes the {name} it decoded to other bytes than the worker's")
    value = plain(value)
    key = msg.key().decode() if msg.key() is not None else None
    check(key == value["order_id"], f"{where}: key {key!r}, order_id {value['order_id']!r}")
    return {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
            "key": key, "schema_id": sid, "record": name, "value": value}


def flat(line):
    """A formatter line as common.compare() takes it."""
    return dict(line["value"], type=line["record"], partition=line["partition"],
                offset=line["offset"])


# ---- Kafka, with confluent-kafka ----

def murmur2_partition(key, partitions):
    """Kafka's Java client: Utils.toPositive(Utils.murmur2(key)) % partitions."""
    m, h = 0x5BD1E995, (0x9747B28C ^ len(key)) & 0xFFFFFFFF
    n4 = len(key) // 4 * 4
    for i in range(0, n4, 4):
        k = int.from_bytes(key[i:i + 4], "little") * m & 0xFFFFFFFF
        k = (k ^ k >> 24) * m & 0xFFFFFFFF
        h = (h * m & 0xFFFFFFFF) ^ k
    tail = key[n4:]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = h * m & 0xFFFFFFFF
    h = (h ^ h >> 13) * m & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def produce_events(bootstrap, topic, schemas, events):
    """The events as framed Avro, keyed by order_id, in order; returns
    [(partition, offset)] of each, from the delivery reports."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=60)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "partitioner": "murmur2_random", "linger.ms": 20})
    where, errors = [None] * len(events), []

    def delivered(i):
        def report(err, msg):
            if err is not None:
                errors.append(f"event {i}: {err}")
            else:
                where[i] = (msg.partition(), msg.offset())
        return report

    for i, e in enumerate(events):
        value = encode(schemas, e["type"], avro_record(e))
        while True:
            try:
                producer.produce(topic, value, e["order_id"].encode(), on_delivery=delivered(i))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    check(left == 0 and not errors and None not in where,
          f"produce: {left} undelivered, errors {errors[:5]}")
    return where


def read_topic(bootstrap, topic, group, timeout=60):
    """Every committed message of `topic` (read_committed), to the end of
    every partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        meta = c.list_topics(topic, timeout=30).topics[topic]
        check(meta.error is None, f"{topic}: {meta.error}")
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        out, at_end, deadline = [], set(), time.monotonic() + timeout
        while len(at_end) < len(meta.partitions):
            check(time.monotonic() < deadline, f"{topic}: not at the end after {timeout}s")
            for msg in c.consume(1000, 0.2):
                if msg.error() is None:
                    out.append(msg)
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                else:
                    raise common.TestFailure(f"{topic}: {msg.error()}")
        return out
    finally:
        c.close()


# ---- Kafka's console consumer, with the formatter ----

def build_formatter(h):
    """Start `mvn package` of tests/interop/java (offline once
    scripts/bootstrap.sh has built it); returns (process, output dir)."""
    out = h.path("java")
    log_file = open(h.path("mvn.log"), "wb")
    proc = subprocess.Popen(["mvn", "-B", "-q", "-Dstyle.color=never", "-f",
                             os.path.join(JAVA_MODULE, "pom.xml"), f"-Dasw.build.dir={out}",
                             "package"], stdout=log_file, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)

    def stop():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log_file.close()

    h.add_cleanup(stop, "stop mvn")
    return proc, out


def console_consumer(h, mvn, out, topics, expect):
    """The `expect` records of `topics`, as Kafka's console consumer prints
    them through the formatter (it stops after `expect`; fewer fail)."""
    rc = mvn.wait(timeout=180)
    check(rc == 0, f"mvn package of {JAVA_MODULE} exited {rc}: {open(h.path('mvn.log')).read()}")
    env = dict(os.environ, ASW_KAFKA_TOOL_CLASSPATH=f"{out}/asw-avro-formatter.jar:{out}/lib/*")
    ids = ",".join(f"{i}:{n}" for n, i in SCHEMA_IDS.items())
    t0 = time.monotonic()
    r = common.kafka_sh(["tool", "console-consumer", "--bootstrap-server", h.bootstrap,
                         "--include", "|".join(t.replace(".", r"\.") for t in topics),
                         "--from-beginning", "--isolation-level", "read_committed",
                         "--group", h.unique("java"), "--max-messages", expect,
                         "--timeout-ms", 20000, "--formatter", FORMATTER,
                         "--property", f"schemas.dir={SCHEMAS_DIR}",
                         "--property", f"schema.ids={ids}"],
                        env=env, timeout=120, what="Kafka's console consumer")
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    check(f"Processed a total of {len(lines)} messages" in r.stderr,
          f"console consumer: {len(lines)} lines printed; its stderr:\n{r.stderr[-2000:]}")
    log(f"Kafka's console consumer printed {len(lines)} records in "
        f"{time.monotonic() - t0:.1f}s")
    return lines


def differences(py, java):
    """Where two formatter lines differ, field by field."""
    def fields(line):
        return dict({k: v for k, v in line.items() if k != "value"},
                    **{"value." + k: v for k, v in line.get("value", {}).items()})

    a, b = fields(py), fields(java)
    return (f"  {py['topic']}/{py['partition']}@{py['offset']}: " +
            "; ".join(f"{k}: python={json.dumps(a.get(k))} java={json.dumps(b.get(k))}"
                      for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)))


def by_position(lines):
    return sorted(lines, key=lambda r: (r["topic"], r["partition"], r["offset"]))


def test(h):
    schemas = load_schemas()
    p = h.pipeline()
    cfg = h.write_config("worker.properties", p, worker_id="w1")
    mvn, java_out = build_formatter(h)  # meanwhile
    events_path = h.generate(seed=SEED, orders=ORDERS)
    events = common.read_jsonl(events_path)
    replay = common.read_jsonl(h.replay(cfg, events_path))
    expected = common.replay_counts(replay)
    seen, want = set(), set()
    for name in SCHEMA_IDS:
        recs = [avro_record(r) for r in events + replay if r["type"] == name]
        check(recs, f"no {name} in the events or the replay")
        want |= survey(schemas[name][0], recs, None, seen)
    check(want - seen <= NEVER_SEEN, f"the stream lacks {sorted(want - seen - NEVER_SEEN)}")
    check(not seen & NEVER_SEEN, f"the stream has {sorted(seen & NEVER_SEEN)}: not NEVER_SEEN")

    # 1. Python writes the input.
    where = produce_events(h.bootstrap, p["topic.input"], schemas, events)
    for e, (part, _) in zip(events, where):
        check(part == murmur2_partition(e["order_id"].encode(), PARTITIONS),
              f"{e['order_id']} landed on partition {part}, not where Kafka's Java client "
              f"puts it")
    log(f"python produced {len(events)} events ({len(EVENT_TYPES)} types) on {PARTITIONS} "
        f"partitions; the replay expects {expected}")

    # 2. The worker decides them.
    w = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=120)
    stopped = w.stop_ok()
    check(int(stopped["consumed"]) == len(events),
          f"worker consumed {stopped['consumed']}, expected {len(events)}")
    check(int(stopped["dead_letters"]) == 0, "no dead letters expected")
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must be empty")

    # 3. Python reads the outputs: every field equals the replay's.
    py = []
    for topic, name in ((p["topic.decisions"], "Decision"),
                        (p["topic.refund_records"], "RefundRecord")):
        py += [decode(schemas, name, m) for m in read_topic(h.bootstrap, topic, h.unique("py"))]
    for r in replay:
        if r["type"] == "Decision":
            check(r["source_partition"] == 0 and 0 <= r["source_offset"] < len(events),
                  f"replay: source_* of {r['aftersale_id']} is not a line of the events")
            r["source_partition"], r["source_offset"] = where[r["source_offset"]]
    common.compare(replay, [[flat(line) for line in py]], input_topic=p["topic.input"],
                   volatile=common.POSITION_FIELDS)

    # 4. Kafka's console consumer reads all three topics: what Python wrote
    #    and what Python read, every field.
    written = [{"topic": p["topic.input"], "partition": part, "offset": off,
                "key": e["order_id"], "schema_id": SCHEMA_IDS[e["type"]], "record": e["type"],
                "value": avro_record(e)}
               for e, (part, off) in zip(events, where)]
    mine = by_position(written + py)
    java = by_position(console_consumer(h, mvn, java_out, [p["topic.input"], p["topic.decisions"],
                                                           p["topic.refund_records"]],
                                        len(mine)))
    check(len(java) == len(mine), f"console consumer: {len(java)} records, expected {len(mine)}")
    diff = [differences(a, b) for a, b in zip(mine, java) if a != b]
    check(not diff, f"{len(diff)} records differ between Python and Kafka's console consumer:\n"
          + "\n".join(diff[:6]))
    log(f"Kafka's console consumer and Python agree on all {len(java)} records "
        f"({len(events)} events, {expected['Decision']} decisions, "
        f"{expected['RefundRecord']} refund records)")


if __name__ == "__main__":
    common.main("interop", test)
