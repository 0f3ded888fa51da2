#!/usr/bin/env python3
"""malformed_input: 1% malformed records in a stream of 20,000 events on 4
partitions (SPEC 5 dead letters, SPEC 7 "Safe with bad input").

Interleaved with the events, each after a random event and keyed by its
order id (so it lands in that order's partition, between its records):

  random     random bytes                                 SHORT_FRAME / BAD_MAGIC / ...
  magic      a valid frame, magic byte not 0              BAD_MAGIC
  schema     a valid frame, an unknown schema id          UNKNOWN_SCHEMA_ID
  truncated  a valid frame cut short                      CORRUPT_BODY (SHORT_FRAME < 5 bytes)
  wrong      a Decision, RefundRecord or PartitionState   WRONG_RECORD
             frame, as the worker itself wrote it
  length     a valid frame whose first string claims      CORRUPT_BODY
             2^40 bytes (or a negative length)
  long_fact  a fact with an id or text of 129 B to 64 KB  INVALID_EVENT
  key        a valid frame under another order's key      KEY_MISMATCH
  empty      a null value                                 EMPTY_VALUE
  long_app   an application with an id or text of 129 B   decided: INVALID_REQUEST (SPEC 4
             to 64 KB                                     rule 1), so not a dead letter

Every frame is made by the project's own tools: `produce` encodes the events
(the over-long ones too), a small worker run writes the Decision,
RefundRecord and PartitionState frames; the test only mutates copies.

Asserts: every malformed record is in the DLQ exactly once, its key and
value unchanged, with the headers asw.error (the kind's error name),
asw.error.message, asw.source.topic, asw.source.partition and
asw.source.offset (pointing at it); nothing else is there; every
well-formed record is decided (decisions and refund records equal the
offline replay of the well-formed events, which dead-letters the same
over-long facts); and the group's committed offset of every partition is
its end (no partition stalls).
"""
import json
import random

import common
from common import check, log

PARTITIONS = 4
SEED = 6061
WRONG_IDS = (10, 11, 21)
UNKNOWN_IDS = (0, 7, 8, 9, 12, 19, 22, 99, 1000, 0x7FFFFFFF)
LONG = (129, 300, 4096, 65536)

EXPECTED = {
    "magic": {"BAD_MAGIC"},
    "schema": {"UNKNOWN_SCHEMA_ID"},
    "wrong": {"WRONG_RECORD"},
    "length": {"CORRUPT_BODY"},
    "long_fact": {"INVALID_EVENT"},
    "key": {"KEY_MISMATCH"},
    "empty": {"EMPTY_VALUE"},
}
KINDS = ("random", "magic", "schema", "truncated", "wrong", "length", "long_fact", "key",
         "empty", "long_app")


def zigzag_varint(n):
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint_len(buf, pos):
    n = 0
    while buf[pos + n] & 0x80:
        n += 1
    return n + 1


def expected_for_random(value):
    if len(value) < 5:
        return {"SHORT_FRAME"}
    if value[0] != 0:
        return {"BAD_MAGIC"}
    sid = int.from_bytes(value[1:5], "big")
    if sid in WRONG_IDS or sid == 20:
        return {"WRONG_RECORD"}
    if 1 <= sid <= 6:
        return {"CORRUPT_BODY", "ENUM_OUT_OF_RANGE", "MISSING_FIELD"}
    return {"UNKNOWN_SCHEMA_ID"}


def long_text(rng, tag):
    n = rng.choice(LONG)
    return (tag + "-" + "x" * n)[:n]


def long_fact(rng, ev, serial):
    """A fact about ev's order with one over-long id or text field."""
    base = {"event_id": f"long-fact-{serial}", "order_id": ev["order_id"],
            "event_time": ev["event_time"], "sku_order_id": f"{ev['order_id']}-1"}
    kind = serial % 4
    if kind == 0:
        e = dict(base, type="AfterSaleWithdrawn", aftersale_id=long_text(rng, "A"))
    elif kind == 1:
        e = dict(base, type="ExternalRefundRecorded", refund_id=f"long-R{serial}",
                 shop_id=long_text(rng, "shop"), kind="OFFLINE", amount=100,
                 order_paid_amount=10000, sku_paid_amount=10000)
    elif kind == 2:
        e = dict(base, type="RefundClawedBack", refund_id=f"long-R{serial}", amount=1,
                 sku_order_id=long_text(rng, "sku"))
    else:
        e = dict(base, type="AfterSaleSucceeded", aftersale_id=f"long-A{serial}",
                 refund_amount=1, order_paid_amount=10000, sku_paid_amount=10000,
                 order_id=long_text(rng, "O"))
    return e


def long_app(rng, ev, serial):
    """An application on ev's order with one over-long field (or order id)."""
    e = {"type": "AfterSaleApplied", "event_id": f"long-app-{serial}",
         "order_id": ev["order_id"], "event_time": ev["event_time"],
         "aftersale_id": f"long-A{serial}", "sku_order_id": f"{ev['order_id']}-1",
         "shop_id": "s1", "initiator": "BUYER", "aftersale_type": "REFUND_ONLY_SHIPPED",
         "apply_amount": 100,
         "order": {"order_status": "SHIPPED", "goods_type": "PHYSICAL", "cross_border": False,
                   "order_paid_amount": 10000, "sku_paid_amount": 10000,
                   "aftersale_deadline": None}}
    field = ("aftersale_id", "sku_order_id", "shop_id", "event_id", "order_id")[serial % 5]
    e[field] = long_text(rng, field)
    return e


def by_kind_count(bad, kind):
    return sum(1 for b in bad if b[1] == kind)


def harvest_output_frames(h):
    """Decision, RefundRecord and PartitionState frames as a worker writes
    them: a small stream through a scratch pipeline."""
    p = h.pipeline("scratch")
    cfg = h.write_config("scratch.properties", p, worker_id="w1")
    events = h.generate(seed=5, orders=40, filename="scratch.jsonl")
    expected = common.replay_counts(h.replay(cfg, events, "scratch-replay.jsonl"))
    h.produce(cfg, p["topic.input"], events, partitions=1)
    w = h.start_worker(cfg, "scratch")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=90)
    w.stop_ok()
    frames = {}
    for topic in (p["topic.decisions"], p["topic.refund_records"],
                  p["application.id"] + "-changelog"):
        for r in common.kcat_read_raw(h.bootstrap, topic):
            v = r["value"]
            if v and len(v) > 5 and v[0] == 0:
                frames.setdefault(int.from_bytes(v[1:5], "big"), []).append(v)
    check(all(frames.get(i) for i in WRONG_IDS),
          f"the scratch run wrote no frame of some of the ids {WRONG_IDS}: {sorted(frames)}")
    return frames


def test(h):
    rng = random.Random(SEED)
    p = h.pipeline()
    cfg = h.write_config("worker.properties", p, worker_id="w1")
    valid = common.read_jsonl(h.generate(seed=61, orders=2700))
    out_frames = harvest_output_frames(h)

    # 1. The well-formed events, in the final order (the over-long ones too),
    #    and where each malformed record goes: after which event, which kind.
    n_bad = len(valid) // 100
    after = sorted(rng.sample(range(len(valid)), n_bad))
    plan = {i: KINDS[k % len(KINDS)] for k, i in enumerate(after)}
    # slots: ("event", i in wellformed), ("long", kind, i in wellformed) or
    # ("bad", kind, i in valid); wf_of[i in valid] = i in wellformed
    wellformed, slots, wf_of = [], [], []
    for i, ev in enumerate(valid):
        wellformed.append(ev)
        wf_of.append(len(wellformed) - 1)
        slots.append(("event", len(wellformed) - 1))
        kind = plan.get(i)
        if kind in ("long_fact", "long_app"):
            e = (long_fact if kind == "long_fact" else long_app)(rng, ev, i)
            wellformed.append(e)
            slots.append(("long", kind, len(wellformed) - 1))
        elif kind:
            slots.append(("bad", kind, i))
    wf_path = h.path("wellformed.jsonl")
    with open(wf_path, "w", encoding="utf-8") as f:
        for e in wellformed:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    replay = common.read_jsonl(h.replay(cfg, wf_path))
    expected = common.replay_counts(replay, allow_dead_letters=True)
    n_long_facts = sum(1 for k in plan.values() if k == "long_fact")
    replay_dl = [r for r in replay if r.get("type") == "DeadLetter"]
    check(len(replay_dl) == n_long_facts and
          all("longer than 128 bytes" in r["error"] for r in replay_dl),
          f"the replay should dead-letter exactly the {n_long_facts} over-long facts: "
          f"{[r['error'][:80] for r in replay_dl][:5]}")

    # 2. Their frames, encoded by `produce` (one partition: offset = line).
    scratch = h.unique("frames")
    h.produce(cfg, scratch, wf_path, partitions=1)
    frames = common.kcat_read_raw(h.bootstrap, scratch)
    check([r["offset"] for r in frames] == list(range(len(wellformed))),
          f"{len(frames)} frames read back for {len(wellformed)} events")
    frame_of = [r["value"] for r in frames]

    # 3. The input: the frames with the malformed records between them.
    records, bad = [], []  # bad: (index in records, kind, expected errors)
    for slot in slots:
        if slot[0] == "event" or slot[0] == "long":
            e = wellformed[slot[-1]]
            records.append((e["order_id"].encode(), frame_of[slot[-1]]))
            if slot[0] == "long" and slot[1] == "long_fact":
                bad.append((len(records) - 1, "long_fact", EXPECTED["long_fact"]))
            continue
        _, kind, i = slot
        ev = valid[i]
        key = ev["order_id"].encode()
        frame = frame_of[wf_of[i]]
        want = EXPECTED.get(kind)
        if kind == "random":
            # Some short, some after a 0 magic byte, some after a real id.
            value = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            shape = by_kind_count(bad, kind) % 4
            if shape == 0:
                value = value[:rng.randrange(1, 5)]
            elif shape == 1:
                value = b"\0" + value
            elif shape == 2:
                value = b"\0" + rng.randrange(1, 7).to_bytes(4, "big") + value
            want = expected_for_random(value)
        elif kind == "magic":
            value = bytes([rng.randrange(1, 256)]) + frame[1:]
        elif kind == "schema":
            value = frame[:1] + rng.choice(UNKNOWN_IDS).to_bytes(4, "big") + frame[5:]
        elif kind == "truncated":
            cut = rng.randrange(1, 5) if by_kind_count(bad, kind) % 5 == 0 else \
                rng.randrange(5, len(frame))
            value = frame[:cut]
            want = {"SHORT_FRAME"} if cut < 5 else {"CORRUPT_BODY"}
        elif kind == "wrong":
            value = rng.choice(out_frames[WRONG_IDS[len(bad) % len(WRONG_IDS)]])
        elif kind == "length":
            n = 1 << 40 if len(bad) % 2 else -5
            value = frame[:5] + zigzag_varint(n) + frame[5 + varint_len(frame, 5):]
        elif kind == "key":
            other = valid[(i + 1) % len(valid)]
            while other["order_id"] == ev["order_id"]:
                other = valid[rng.randrange(len(valid))]
            value, key = frame, other["order_id"].encode()
        elif kind == "empty":
            value = b""
        records.append((key, value))
        bad.append((len(records) - 1, kind, want))
    by_kind = {}
    for _, kind, _ in bad:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    log(f"{len(valid)} events, {n_bad} malformed ({n_bad * 100 / len(valid):.1f}%): {by_kind} "
        f"(+{sum(1 for k in plan.values() if k == 'long_app')} over-long applications, "
        f"decided); replay expects {expected}")
    h.produce(cfg, p["topic.input"], "/dev/null", partitions=PARTITIONS, expect=0)
    common.kcat_produce_raw(h.bootstrap, p["topic.input"], records)

    # Where each record landed: a key's records are in one partition, in the
    # order produced.
    landed = common.kcat_read_raw(h.bootstrap, p["topic.input"])
    check(len(landed) == len(records), f"{len(landed)} input records, produced {len(records)}")
    produced_by_key, landed_by_key = {}, {}
    for k, (key, _) in enumerate(records):
        produced_by_key.setdefault(key, []).append(k)
    for r in sorted(landed, key=lambda r: (r["partition"], r["offset"])):
        landed_by_key.setdefault(r["key"], []).append(r)
    where = {}
    for key, ks in produced_by_key.items():
        rs = landed_by_key.get(key, [])
        check(len(rs) == len(ks) and len({r["partition"] for r in rs}) == 1,
              f"key {key[:40]!r}: produced {len(ks)} records, {len(rs)} landed, on partitions "
              f"{sorted({r['partition'] for r in rs})}")
        for k, r in zip(ks, rs):
            check((r["value"] or b"") == records[k][1], f"key {key[:40]!r}: records out of order")
            where[k] = (r["partition"], r["offset"])
    bad_at = {where[k]: (kind, want, records[k]) for k, kind, want in bad}
    ends = {}
    for r in landed:
        ends[r["partition"]] = max(ends.get(r["partition"], 0), r["offset"] + 1)
    check(sorted(ends) == list(range(PARTITIONS)), f"records on partitions {sorted(ends)} only")

    # 4. The worker.
    w = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"],
                        p["topic.dlq"]: len(bad)}, timeout=120)
    stopped = w.stop_ok()
    check(int(stopped["consumed"]) == len(records),
          f"worker consumed {stopped['consumed']} records, expected {len(records)}")
    check(int(stopped["dead_letters"]) == len(bad),
          f"worker_stopped says dead_letters={stopped['dead_letters']}, expected {len(bad)}")

    # Every malformed record in the DLQ once, unchanged, with its headers.
    dlq = common.kcat_read_raw(h.bootstrap, p["topic.dlq"])
    problems, seen = [], set()
    for d in dlq:
        hd = d["headers"]
        try:
            src = (int(hd["asw.source.partition"]), int(hd["asw.source.offset"]))
        except (KeyError, ValueError):
            problems.append(f"DLQ record without source headers: {hd}")
            continue
        if src in seen:
            problems.append(f"input {src} dead-lettered twice")
        seen.add(src)
        if src not in bad_at:
            problems.append(f"a well-formed input {src} was dead-lettered: {hd}")
            continue
        kind, want, (key, value) = bad_at[src]
        if hd.get("asw.error") not in want:
            problems.append(f"{kind} at {src}: asw.error={hd.get('asw.error')!r}, "
                            f"expected one of {sorted(want)} ({hd.get('asw.error.message')})")
        if not hd.get("asw.error.message"):
            problems.append(f"{kind} at {src}: no asw.error.message")
        if hd.get("asw.source.topic") != p["topic.input"]:
            problems.append(f"{kind} at {src}: asw.source.topic={hd.get('asw.source.topic')!r}")
        if d["key"] != key or (d["value"] or b"") != value:
            problems.append(f"{kind} at {src}: key or value changed in the DLQ")
    missing = sorted(set(bad_at) - seen)
    for src in missing[:10]:
        problems.append(f"{bad_at[src][0]} at {src} is not in the DLQ")
    check(not problems, f"{len(problems)} DLQ problems ({len(missing)} missing):\n"
          + "\n".join(problems[:40]))
    errors = {}
    for d in dlq:
        errors[d["headers"]["asw.error"]] = errors.get(d["headers"]["asw.error"], 0) + 1
    log(f"DLQ: all {len(dlq)} malformed records, unchanged, with their headers: {errors}")

    # Every other record decided: the outputs equal the replay.
    common.compare(replay, [h.consume(cfg, p["topic.decisions"]),
                            h.consume(cfg, p["topic.refund_records"])],
                   input_topic=p["topic.input"])

    # The over-long applications: rejected as INVALID_REQUEST (SPEC 4, rule 1).
    decided = {}
    for d in common.read_jsonl(h.path(f"consumed-{p['topic.decisions']}.jsonl")):
        for f in ("aftersale_id", "sku_order_id", "shop_id", "order_id"):
            if len(d.get(f) or "") > 128:
                decided[d[f]] = d
    long_apps = [wellformed[s[2]] for s in slots if s[0] == "long" and s[1] == "long_app"]
    for e in long_apps:
        field = next((f for f in ("aftersale_id", "sku_order_id", "shop_id", "order_id")
                      if len(e[f]) > 128), None)
        if field is None:
            continue  # the over-long event_id is not on the decision
        d = decided.get(e[field])
        check(d is not None and d["outcome"] == "REJECTED" and
              d["reasons"] == ["INVALID_REQUEST"],
              f"the application with a {len(e[field])}-byte {field} got {d and d['reasons']}")

    # No partition stalls: the group committed every partition to its end.
    committed = h.group_offsets(p["application.id"])
    for part, end in ends.items():
        got = committed.get((p["topic.input"], part))
        check(got is not None and got[0] == end == got[1],
              f"partition {part}: committed {got}, its end is {end}")
    log(f"committed offsets at the end of every partition: {ends}")


if __name__ == "__main__":
    common.main("malformed_input", test)
