#!/usr/bin/env python3
"""dead_letter: a record that is not a framed Avro event goes to the DLQ
unchanged, with headers naming the codec error and its source
topic/partition/offset; the partition is not stopped (the events after it
are decided) and the outputs equal the replay of the valid events."""
import common
from common import check, log

# Not UTF-8 (so it also proves the bytes are kept exactly) and not Avro.
GARBAGE = b"garbage \xff\xfe{not an event} \x00\x01 end"
GARBAGE_KEY = "O-GARBAGE"


def dlq_value_bytes(rec):
    if "value_hex" in rec:
        return bytes.fromhex(rec["value_hex"])
    check("value" in rec, f"the DLQ record has neither value nor value_hex: {rec}")
    return rec["value"].encode("utf-8")


def test(h):
    p = h.pipeline()
    cfg = h.write_config("worker.properties", p, worker_id="w1")
    events = h.generate(seed=99, orders=200)
    before, after, cut, total = h.split_in_two(events, "before.jsonl", "after.jsonl")
    garbage = h.path("garbage.bin")
    with open(garbage, "wb") as f:
        f.write(GARBAGE + b"\n")
    replay = h.replay(cfg, events)  # the valid events only, in the same order
    expected = common.replay_counts(replay)

    # One partition: offsets are 0.. in production order, so the garbage is
    # at offset `cut`.
    h.produce(cfg, p["topic.input"], before, partitions=1)
    h.produce(cfg, p["topic.input"], garbage, raw=True, key=GARBAGE_KEY, expect=1)
    h.produce(cfg, p["topic.input"], after)
    log(f"produced {cut} events, the garbage record (offset {cut}), {total - cut} events; "
        f"replay expects {expected}")

    w = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"],
                        p["topic.dlq"]: 1}, timeout=120)
    stopped = w.stop_ok()
    check(stopped.get("dead_letters") == "1",
          f"worker_stopped says dead_letters={stopped.get('dead_letters')}, expected 1")
    dl_logs = w.events("dead_letter")
    check(len(dl_logs) == 1, f"expected one event=dead_letter log line, got {dl_logs}")

    dlq = common.read_jsonl(h.consume(cfg, p["topic.dlq"]))
    check(len(dlq) == 1, f"the DLQ must hold exactly one record, it holds {len(dlq)}: {dlq}")
    rec = dlq[0]
    log(f"DLQ record: {rec}")
    # consume cannot decode the garbage either, so it prints it as a DeadLetter.
    check(rec.get("type") == "DeadLetter", f"DLQ record printed as {rec.get('type')}")
    check(dlq_value_bytes(rec) == GARBAGE,
          f"the DLQ value must be the garbage bytes unchanged: got {dlq_value_bytes(rec)!r}, "
          f"expected {GARBAGE!r}")
    hd = rec.get("headers") or {}
    for name in ("asw.error", "asw.source.topic", "asw.source.partition", "asw.source.offset"):
        check(isinstance(hd.get(name), str) and hd[name] != "",
              f"DLQ header {name} missing or empty: headers {hd}")
    log(f"asw.error={hd['asw.error']!r} asw.error.message={hd.get('asw.error.message')!r}")
    check(hd["asw.error"].replace("_", "").isalnum() and hd["asw.error"].isupper(),
          f"asw.error should be a codec error name like BAD_MAGIC, got {hd['asw.error']!r}")
    check(hd["asw.source.topic"] == p["topic.input"],
          f"asw.source.topic {hd['asw.source.topic']!r}, expected {p['topic.input']!r}")
    check(hd["asw.source.partition"] == "0",
          f"asw.source.partition {hd['asw.source.partition']!r}, expected '0'")
    check(hd["asw.source.offset"] == str(cut),
          f"asw.source.offset {hd['asw.source.offset']!r}, expected '{cut}' (where the garbage is)")
    check(dl_logs[0].get("error") == hd["asw.error"] and dl_logs[0].get("offset") == str(cut),
          f"the dead_letter log line {dl_logs[0]} disagrees with the headers {hd}")

    # Events after the garbage were decided: the outputs equal the replay of
    # every valid event (compare checks each order, so also those after it).
    dec = h.consume(cfg, p["topic.decisions"])
    recs = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, recs], input_topic=p["topic.input"])
    after_ids = {r["order_id"] for r in common.read_jsonl(dec) if r.get("source_offset", -1) > cut}
    check(after_ids, "no decision came from an input record after the garbage")
    log(f"{len(after_ids)} orders decided from records after the garbage")


if __name__ == "__main__":
    common.main("dead_letter", test)
