#!/usr/bin/env python3
"""replay_from_offsets: SPEC 7 "Replayable", with Kafka's own tool.

The input is produced in two batches a few seconds apart; one worker
decides it all (outputs equal the offline replay). Then, with the worker
stopped (the group empty), `kafka-consumer-groups --reset-offsets`:

- `--to-earliest`: the worker reads everything again. Every application is
  re-emitted once more, as its first decision with `duplicate = true` (every
  other field as first emitted, source_* included), per order in the same
  order; no refund record is written, nothing goes to the dead letters.
- `--to-datetime` between the batches: only batch 2 is read again (the tool
  resets each partition to batch 2's first offset): its applications are
  re-emitted the same way, batch 1's are not, no refund record is written.

Finally a fresh application.id (its own group, changelog and output topics)
over the same input topic gives outputs equal to the first run's, source_*
included: only where each record sits in its output topic may differ.
"""
import time

import common
from common import check, log

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def applied_per_order(path):
    """{order_id: number of AfterSaleApplied events} of a JSON Lines file."""
    n = {}
    for e in common.read_jsonl(path):
        if e["type"] == "AfterSaleApplied":
            n[e["order_id"]] = n.get(e["order_id"], 0) + 1
    return n


def by_position(recs):
    return sorted(recs, key=lambda r: (r["partition"], r["offset"]))


def new_records(before, after):
    """The records of `after` (a later read of the same topic) not in `before`."""
    seen = {(r["partition"], r["offset"]) for r in before}
    return [r for r in after if (r["partition"], r["offset"]) not in seen]


def as_duplicates(decisions):
    return [dict(d, duplicate=True) for d in decisions]


def check_no_new_effects(h, cfg, p, stopped, refunds_before, consumed, re_emitted):
    check(int(stopped["consumed"]) == consumed,
          f"the rerun consumed {stopped['consumed']} records, expected {consumed}")
    check(int(stopped["decisions"]) == re_emitted,
          f"the rerun emitted {stopped['decisions']} decisions, expected {re_emitted}")
    check(stopped["records"] == "0" and stopped["dead_letters"] == "0",
          f"the rerun wrote refund records or dead letters: {stopped}")
    refunds = common.read_jsonl(h.consume(cfg, p["topic.refund_records"]))
    check(len(refunds) == len(refunds_before),
          f"the refund-record topic went from {len(refunds_before)} to {len(refunds)} "
          f"committed records: a replay must not change the ledger")
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must stay empty")


def rerun(h, cfg, p, label, decisions_before, re_emitted):
    """Run the worker until `re_emitted` more decisions are committed and
    stop it; returns (its worker_stopped line, the decisions it added)."""
    w = h.start_worker(cfg, label)
    h.wait_counts(cfg, {p["topic.decisions"]: len(decisions_before) + re_emitted}, timeout=90)
    stopped = w.stop_ok()
    after = common.read_jsonl(h.consume(cfg, p["topic.decisions"], f"decisions-{label}.jsonl"))
    added = new_records(decisions_before, after)
    check(len(added) == re_emitted,
          f"{label}: {len(added)} decisions added, expected {re_emitted}")
    return stopped, after, added


def test(h):
    p = h.pipeline()
    cfg = h.write_config("worker.properties", p, worker_id="w1", extra=FAST_GROUP)
    events = h.generate(seed=777, orders=1200)
    batch1, batch2, cut, total = h.split_in_two(events, "batch1.jsonl", "batch2.jsonl")
    replay = h.replay(cfg, events)
    expected = common.replay_counts(replay)
    applied2 = applied_per_order(batch2)
    n_applied2 = sum(applied2.values())

    # Record timestamps are the producer's clock: the reset time falls
    # strictly between the batches' records.
    h.produce(cfg, p["topic.input"], batch1, partitions=3)
    time.sleep(1.5)
    between = time.time()
    time.sleep(1.5)
    h.produce(cfg, p["topic.input"], batch2)
    log(f"batch 1: {cut} events, batch 2: {total - cut} events ({n_applied2} "
        f"applications), 3 s apart; replay expects {expected}")

    # Where batch 2 starts in each partition: what --to-datetime must give.
    batch2_ids = {e["event_id"] for e in common.read_jsonl(batch2)}
    inputs = common.read_jsonl(h.consume(cfg, p["topic.input"], "input.jsonl"))
    starts, ends = {}, {}
    for r in inputs:
        part = r["partition"]
        ends[part] = max(ends.get(part, 0), r["offset"] + 1)
        if r["event_id"] in batch2_ids:
            starts[part] = min(starts.get(part, r["offset"]), r["offset"])
    check(sorted(ends) == [0, 1, 2] and sorted(starts) == [0, 1, 2],
          f"each of the 3 partitions should hold both batches: starts {starts}, ends {ends}")

    # 1. The first run: the outputs equal the replay.
    w = h.start_worker(cfg, "first")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=90)
    w.stop_ok()
    first_dec = by_position(common.read_jsonl(h.consume(cfg, p["topic.decisions"],
                                                        "decisions-first.jsonl")))
    first_rec = by_position(common.read_jsonl(h.consume(cfg, p["topic.refund_records"],
                                                        "refunds-first.jsonl")))
    common.compare(replay, [first_dec, first_rec], input_topic=p["topic.input"])
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must be empty")
    group = p["application.id"]  # the worker's consumer group (src/kafka.c)
    committed = h.group_offsets(group)
    check(all(c == e for c, e in committed.values()),
          f"after the first run the group should be at the end of every partition: {committed}")

    # 2. --to-earliest: every application again, as a duplicate of its first decision.
    reset = h.reset_offsets(group, p["topic.input"], "--to-earliest")
    check(reset == {0: 0, 1: 0, 2: 0}, f"--to-earliest gave {reset}")
    stopped, dec2, added = rerun(h, cfg, p, "earliest", first_dec, len(first_dec))
    check_no_new_effects(h, cfg, p, stopped, first_rec, total, len(first_dec))
    common.compare(as_duplicates(first_dec), [added], input_topic=p["topic.input"],
                   volatile=common.POSITION_FIELDS)
    log(f"--to-earliest: {len(added)} decisions re-emitted as duplicates of the first ones")

    # 3. --to-datetime between the batches: batch 2's applications only.
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(between)) + \
        f".{int(between * 1000) % 1000:03d}Z"
    reset = h.reset_offsets(group, p["topic.input"], "--to-datetime", stamp)
    check(reset == starts, f"--to-datetime {stamp} gave {reset}, batch 2 starts at {starts}")
    stopped, _, added = rerun(h, cfg, p, "datetime", dec2, n_applied2)
    check_no_new_effects(h, cfg, p, stopped, first_rec, total - cut, n_applied2)
    # An order's decisions are in processing order, so those of its batch-2
    # applications are its last ones.
    per_order = {}
    for d in first_dec:
        per_order.setdefault(d["order_id"], []).append(d)
    want = [d for o, ds in per_order.items() for d in ds[len(ds) - applied2.get(o, 0):]]
    common.compare(as_duplicates(want), [added], input_topic=p["topic.input"],
                   volatile=common.POSITION_FIELDS)
    log(f"--to-datetime {stamp}: the {len(added)} decisions of batch 2 re-emitted, "
        f"none of batch 1's {len(first_dec) - len(added)}")

    # 4. A fresh application.id recomputes everything: the first run's outputs.
    fresh = h.pipeline("fresh")
    fresh["topic.input"] = p["topic.input"]
    cfg2 = h.write_config("fresh.properties", fresh, worker_id="w1", extra=FAST_GROUP)
    w = h.start_worker(cfg2, "fresh")
    h.wait_counts(cfg2, {fresh["topic.decisions"]: len(first_dec),
                         fresh["topic.refund_records"]: len(first_rec)}, timeout=90)
    w.stop_ok()
    common.compare(first_dec + first_rec,
                   [h.consume(cfg2, fresh["topic.decisions"]),
                    h.consume(cfg2, fresh["topic.refund_records"])],
                   input_topic=p["topic.input"], volatile=common.POSITION_FIELDS)
    check(h.count(cfg2, fresh["topic.dlq"]) == 0, "the fresh run's DLQ must be empty")


if __name__ == "__main__":
    common.main("replay_from_offsets", test)
