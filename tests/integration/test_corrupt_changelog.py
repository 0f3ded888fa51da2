#!/usr/bin/env python3
"""corrupt_changelog: corrupt records injected into the changelog on the real
broker (SPEC 5, docs/rules.md "Corrupt changelog records").

- A corrupt record that a later record of the same key supersedes (here a
  tombstone) is harmless: its partition is restored and processed.
- One that nothing supersedes quarantines only its partition: the worker
  stays up, the other partition is decided in full, the quarantined one
  decides nothing after the restore (no half state ever decides), and the
  worker logs partition_quarantined naming the key.
- Once an operator supersedes the record (a tombstone for the stray key), a
  restarted worker finishes the partition: the outputs equal the replay of
  the whole input, nothing lost or doubled.
"""
import subprocess

import common
from common import check, log

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def kcat_produce(bootstrap, topic, partition, lines):
    """Produce key|value lines (an empty value is a tombstone) with kcat;
    values are text or bytes (without a newline)."""
    data = b"".join(k.encode() + b"|" + (v if isinstance(v, bytes) else v.encode()) + b"\n"
                    for k, v in lines)
    r = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", topic, "-p", str(partition),
                        "-K", "|", "-Z"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(r.returncode == 0, f"kcat -P failed: {r.stderr.decode(errors='replace')}")


def outputs_of(paths, orders):
    recs = []
    for path in paths:
        recs += [r for r in common.read_jsonl(path) if r.get("order_id") in orders]
    return recs


def test(h):
    p = h.pipeline()
    cfg = h.write_config("w.properties", p, worker_id="w1", extra=FAST_GROUP)
    changelog = f"{p['application.id']}-changelog"
    events = h.generate(seed=4242, orders=600)
    first, second, _, _ = h.split_in_two(events)
    replay_first = h.replay(cfg, first, "replay-first.jsonl")
    replay_all = h.replay(cfg, events, "replay-all.jsonl")

    h.produce(cfg, p["topic.input"], first, partitions=2)
    exp = common.replay_counts(replay_first)
    w1 = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: exp["Decision"],
                        p["topic.refund_records"]: exp["RefundRecord"]}, timeout=120)
    w1.stop_ok()

    # Partition 0: a corrupt record superseded by a tombstone of its key.
    # Partition 1: a corrupt record nothing supersedes: a whole-order record
    # (0xA5 'W', version 1) whose body ends inside a number.
    kcat_produce(h.bootstrap, changelog, 0, [("O-CORRUPT-A", "not-avro"), ("O-CORRUPT-A", "")])
    kcat_produce(h.bootstrap, changelog, 1, [("O-CORRUPT-B", b"\xa5W\x01\x00\xff\xff")])
    h.produce(cfg, p["topic.input"], second)

    # Which orders live on which input partition.
    part_of = {r["order_id"]: r["partition"]
               for r in common.read_jsonl(h.consume(cfg, p["topic.input"], "input.jsonl"))}
    orders = {q: {o for o, pp in part_of.items() if pp == q} for q in (0, 1)}
    check(orders[0] and orders[1], f"both partitions must hold orders: {len(part_of)} orders")

    w2 = h.start_worker(cfg, "w2")
    q = h.wait_until(lambda: w2.events("partition_quarantined"), 60, "partition_quarantined")
    log(f"quarantined: {q}")
    check(len(q) == 1 and q[0].get("partition") == "1",
          f"only partition 1 must be quarantined: {q}")
    check("O-CORRUPT-B" in q[0].get("reason", ""), f"the reason must name the key: {q[0]}")
    check("CORRUPT_RECORD" in q[0].get("reason", ""), f"the reason must say why: {q[0]}")

    # Partition 0 is decided in full, partition 1 only up to the corruption.
    want = ([r for r in common.read_jsonl(replay_all) if r.get("order_id") in orders[0]] +
            [r for r in common.read_jsonl(replay_first) if r.get("order_id") in orders[1]])
    want_dec = sum(1 for r in want if r.get("type") == "Decision")
    want_rec = sum(1 for r in want if r.get("type") == "RefundRecord")
    h.wait_counts(cfg, {p["topic.decisions"]: want_dec, p["topic.refund_records"]: want_rec},
                  timeout=120)
    stopped = w2.stop_ok()  # alive all along: wait_until checks it
    log(f"w2 stopped: {stopped}")
    dec = h.consume(cfg, p["topic.decisions"], "dec-2.jsonl")
    rec = h.consume(cfg, p["topic.refund_records"], "rec-2.jsonl")
    common.compare(want, [dec, rec], input_topic=p["topic.input"])

    # The operator's remedy: supersede the stray key. Then everything.
    kcat_produce(h.bootstrap, changelog, 1, [("O-CORRUPT-B", "")])
    w3 = h.start_worker(cfg, "w3")
    exp_all = common.replay_counts(replay_all)
    h.wait_counts(cfg, {p["topic.decisions"]: exp_all["Decision"],
                        p["topic.refund_records"]: exp_all["RefundRecord"]}, timeout=120)
    w3.stop_ok()
    check(not w3.events("partition_quarantined"), "nothing is quarantined after the remedy")
    dec = h.consume(cfg, p["topic.decisions"], "dec-3.jsonl")
    rec = h.consume(cfg, p["topic.refund_records"], "rec-3.jsonl")
    common.compare(replay_all, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must be empty")


if __name__ == "__main__":
    common.main("corrupt_changelog", test)
