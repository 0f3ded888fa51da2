#!/usr/bin/env python3
"""threads: workers with num.threads > 1 give exactly the replay's outputs,
through a SIGKILL mid-stream and a rebalance: a worker with 2 threads is
killed after some commits, a worker with the same worker.id and 3 threads
(more lanes than it gets partitions, fewer than the topic's 6) takes over,
and a second member with 2 threads joins while it works, so partitions move
between lanes of different workers with their state rebuilt from the
changelog."""
import common
from common import check, log

FAST_GROUP = {"commit.interval.ms": 100, "commit.max.records": 500,
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
KILL_AFTER = 10


def test(h):
    p = h.pipeline()
    cfg1 = h.write_config("w1.properties", p, worker_id="w1",
                          extra=dict(FAST_GROUP, **{"num.threads": 2, "log.level": "debug"}))
    cfg1b = h.write_config("w1b.properties", p, worker_id="w1",
                           extra=dict(FAST_GROUP, **{"num.threads": 3}))
    cfg2 = h.write_config("w2.properties", p, worker_id="w2",
                          extra=dict(FAST_GROUP, **{"num.threads": 2}))
    events = h.generate(seed=2468, orders=6000)
    replay = h.replay(cfg1, events)
    expected = common.replay_counts(replay)
    n = h.produce(cfg1, p["topic.input"], events, partitions=6)
    log(f"produced {n} events to 6 partitions, replay expects {expected}")

    w1 = h.start_worker(cfg1, "w1")
    h.wait_until(lambda: len(w1.events("transaction_commit")) >= KILL_AFTER, 90,
                 f"{KILL_AFTER} committed transactions of w1", interval=0.02)
    w1.kill()
    partial = h.count(cfg1, p["topic.decisions"])
    log(f"w1 (2 threads) killed after {KILL_AFTER}+ commits: {partial} committed decisions")
    check(0 < partial < 0.8 * expected["Decision"],
          f"the kill must come mid-stream: {partial} of {expected['Decision']} decisions")

    w1b = h.start_worker(cfg1b, "w1-restarted")
    h.wait_until(lambda: any(int(e.get("count", 0)) > 0
                             for e in w1b.events("partitions_assigned")), 60,
                 "the restarted worker to be assigned partitions")
    w2 = h.start_worker(cfg2, "w2")
    h.wait_counts(cfg1, {p["topic.decisions"]: expected["Decision"],
                         p["topic.refund_records"]: expected["RefundRecord"]}, timeout=180)
    s1 = w1b.stop_ok()
    s2 = w2.stop_ok()
    log(f"consumed: w1 restarted (3 threads) {s1['consumed']}, w2 (2 threads) {s2['consumed']}")
    restored = [int(e.get("restored_orders", 0)) for e in w1b.events("partitions_assigned")]
    check(sum(restored) > 0, "the restarted worker must rebuild order states from the changelog")

    dec = h.consume(cfg1, p["topic.decisions"])
    rec = h.consume(cfg1, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg1, p["topic.dlq"]) == 0, "the DLQ must be empty")


if __name__ == "__main__":
    common.main("threads", test)
