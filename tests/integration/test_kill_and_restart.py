#!/usr/bin/env python3
"""kill_and_restart: a worker killed with SIGKILL in the middle of the stream
(an open transaction, outputs half written) is replaced by a new worker with
the SAME worker.id, which fences the dead producer at once, rebuilds state
from the changelog and finishes: the committed outputs equal the replay
exactly -- nothing lost, nothing twice.

test_kill_and_restart_new_id.py runs the same with a DIFFERENT worker.id:
then nothing fences the dead transaction, which blocks the partitions until
the broker aborts it after transaction.timeout.ms (10 s by default here).
"""
import time

import common
from common import check, log

# Short session timeout (the broker's minimum is 6 s) so the dead worker's
# group membership expires quickly instead of after librdkafka's 45 s.
# Small transactions (commit.max.records): many commit points.
FAST_GROUP = {"commit.interval.ms": 100, "commit.max.records": 200,
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
KILL_AFTER = 20  # commits of ~200 records: ~4000 of ~45000 events


def kill_and_restart(h, new_id):
    p = h.pipeline()
    cfg1 = h.write_config("w1.properties", p, worker_id="w1",
                          extra=dict(FAST_GROUP, **{"log.level": "debug"}))
    cfg2 = h.write_config("w2.properties", p, worker_id="w2" if new_id else "w1",
                          extra=FAST_GROUP)
    events = h.generate(seed=31337, orders=6000)  # ~45000 events, ~225 transactions
    replay = h.replay(cfg1, events)
    expected = common.replay_counts(replay)
    n = h.produce(cfg1, p["topic.input"], events, partitions=4)
    log(f"produced {n} events, replay expects {expected}")

    # The first worker logs each commit (log.level=debug); after KILL_AFTER
    # commits it is killed at once, in the middle of the stream, almost
    # surely with a transaction open.
    w1 = h.start_worker(cfg1, "w1")
    h.wait_until(lambda: len(w1.events("transaction_commit")) >= KILL_AFTER, 90,
                 f"{KILL_AFTER} committed transactions of w1", interval=0.02)
    w1.kill()
    commits = len(w1.events("transaction_commit"))

    # A committed but partial output: the kill really was mid-stream.
    partial = h.count(cfg1, p["topic.decisions"])
    frac = partial / expected["Decision"]
    log(f"after the kill ({commits} commits): {partial} committed decisions "
        f"({frac:.0%} of {expected['Decision']})")
    check(0 < partial < 0.8 * expected["Decision"],
          f"the kill must come mid-stream: {partial} of {expected['Decision']} decisions were "
          f"committed (a test setup problem, not a product result)")

    t0 = time.monotonic()
    w2 = h.start_worker(cfg2, "w2" if new_id else "w1-restarted")
    h.wait_counts(cfg1, {p["topic.decisions"]: expected["Decision"],
                         p["topic.refund_records"]: expected["RefundRecord"]},
                  timeout=180 if new_id else 120)
    log(f"restart to complete output: {time.monotonic() - t0:.1f}s")
    w2.stop_ok()
    restored = [int(e.get("restored_orders", 0)) for e in w2.events("partitions_assigned")]
    log(f"restarted worker: partitions_assigned restored_orders={restored}")
    check(sum(restored) > 0, "the restarted worker must rebuild order states from the changelog "
          "(restored_orders > 0): outputs had already been committed before the kill")

    dec = h.consume(cfg1, p["topic.decisions"])
    rec = h.consume(cfg1, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg1, p["topic.dlq"]) == 0, "the DLQ must be empty")


if __name__ == "__main__":
    common.main("kill_and_restart", lambda h: kill_and_restart(h, new_id=False))
