#!/usr/bin/env python3
"""two_workers: two workers in one consumer group share the 4 input partitions
(a rebalance while they work, state rebuilt from the changelog by whichever
takes a partition over) and together give exactly the replay's outputs."""
import common
from common import check, log


def assigned(w):
    return [int(e.get("count", 0)) for e in w.events("partitions_assigned")]


def test(h):
    p = h.pipeline()
    cfg1 = h.write_config("w1.properties", p, worker_id="w1")
    cfg2 = h.write_config("w2.properties", p, worker_id="w2")
    events = h.generate(seed=777, orders=2000)
    replay = h.replay(cfg1, events)
    expected = common.replay_counts(replay)
    n = h.produce(cfg1, p["topic.input"], events, partitions=4)
    log(f"produced {n} events, replay expects {expected}")

    w1 = h.start_worker(cfg1, "w1")
    w2 = h.start_worker(cfg2, "w2")
    h.wait_counts(cfg1, {p["topic.decisions"]: expected["Decision"],
                         p["topic.refund_records"]: expected["RefundRecord"]}, timeout=150)
    # Both must have been given partitions (they were started together; the
    # group settles with two members even if one of them did most of the work).
    h.wait_until(lambda: any(c > 0 for c in assigned(w1)) and any(c > 0 for c in assigned(w2)),
                 60, "both workers to log event=partitions_assigned with count>0")
    log(f"partitions_assigned counts: w1 {assigned(w1)}, w2 {assigned(w2)}")
    s1 = w1.stop_ok()
    s2 = w2.stop_ok()
    consumed = int(s1["consumed"]) + int(s2["consumed"])
    log(f"consumed: w1 {s1['consumed']}, w2 {s2['consumed']}")
    # Re-processing after an abort counts again, so >= n, never less.
    check(consumed >= n, f"the workers consumed {consumed} records in all, fewer than {n}")

    dec = h.consume(cfg1, p["topic.decisions"])
    rec = h.consume(cfg1, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg1, p["topic.dlq"]) == 0, "the DLQ must be empty")


if __name__ == "__main__":
    common.main("two_workers", test)
