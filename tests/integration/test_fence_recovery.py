#!/usr/bin/env python3
"""fence_recovery: the coordinator fences a worker's producer for two
reasons, and the worker tells them apart.

1. Its transaction outlived transaction.timeout.ms: here the worker is
   frozen with SIGSTOP past that timeout and past its group session, so the
   coordinator aborts the open transaction (and bumps the producer epoch)
   and the group drops the member. After SIGCONT the worker goes on without
   a supervisor -- renewing its producer (producer_renewed) when the
   coordinator fenced it first, or aborting with librdkafka's own epoch bump
   when it did not -- stays alive, and the outputs equal the replay exactly.
2. Another worker started with the same worker.id: the older one is fenced
   as a producer and as a group member (static membership,
   group.instance.id); it exits non-zero with a one-line reason naming the
   worker.id, and does not fence the newer one back, which finishes the
   stream. The outputs again equal the replay exactly.
"""
import signal
import time

import common
from common import check, log

GROUP = {"commit.interval.ms": 100, "commit.max.records": 200,
         "transaction.timeout.ms": 6000, "session.timeout.ms": 6000,
         "heartbeat.interval.ms": 1000, "log.level": "debug"}


def started(h, tag, seed, orders, label):
    """A stream of its own, its replay, and a worker (worker.id w1) that has
    committed 10 transactions of it."""
    p = h.pipeline(tag)
    cfg = h.write_config(f"{tag}.properties", p, worker_id="w1", extra=GROUP)
    events = h.generate(seed=seed, orders=orders)
    replay = h.replay(cfg, events)
    h.produce(cfg, p["topic.input"], events, partitions=4)
    w = h.start_worker(cfg, label)
    h.wait_until(lambda: len(w.events("transaction_commit")) >= 10, 90, "10 commits",
                 interval=0.02)
    return p, cfg, replay, common.replay_counts(replay), w


def frozen_past_the_timeouts(h):
    p, cfg, replay, expected, w = started(h, "frozen", 4242, 4000, "frozen")
    w.proc.send_signal(signal.SIGSTOP)
    # The coordinator looks for timed-out transactions every 10 s
    # (transaction.abort.timed.out.transaction.cleanup.interval.ms): 20 s
    # past the 6 s timeout, it has aborted ours and bumped the epoch.
    log("worker frozen (SIGSTOP) for 20 s: past transaction.timeout.ms and session.timeout.ms")
    time.sleep(20)
    w.proc.send_signal(signal.SIGCONT)
    t0 = time.monotonic()
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=120)
    log(f"SIGCONT to complete output: {time.monotonic() - t0:.1f}s")
    w.check_alive()
    renewed = w.events("producer_renewed")
    fenced = w.events("producer_fenced")
    aborted = w.events("transaction_abort")
    log(f"producer_fenced {len(fenced)}, producer_renewed {len(renewed)}, "
        f"transaction_abort {len(aborted)}")
    # Which way it recovers depends on when the coordinator's cleanup (every
    # 10 s) ran: before SIGCONT it has fenced the producer, and the worker
    # renews it; after, librdkafka bumps the epoch itself when it aborts
    # (KIP-360). Both must leave the worker alive with exact outputs;
    # test_worker_mock covers the renewal deterministically.
    check(len(renewed) == len(fenced), "every fenced producer must have been renewed")
    check(renewed or aborted, "the frozen worker's transaction must have been aborted")
    w.stop_ok()
    dec = h.consume(cfg, p["topic.decisions"])
    rec = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must be empty")


def two_workers_one_id(h):
    p, cfg, replay, expected, older = started(h, "twins", 777, 6000, "older")
    newer = h.start_worker(cfg, "newer")
    rc = older.wait_exit(timeout=30)
    reasons = [line for line in older.log_text().splitlines()
               if line.startswith("aftersale-worker")]
    log(f"older worker: exit {rc}, {reasons}")
    check(rc not in (0, None), f"the older worker must exit non-zero, got {rc}")
    check(len(reasons) == 1 and "worker.id" in reasons[0] and "w1" in reasons[0],
          f"one reason line naming the shared worker.id expected: {reasons}")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=120)
    newer.check_alive()
    check(not newer.events("producer_renewed"),
          "the newer worker must not have been fenced back by the older one")
    newer.stop_ok()
    dec = h.consume(cfg, p["topic.decisions"])
    rec = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])


def test(h):
    frozen_past_the_timeouts(h)
    two_workers_one_id(h)


if __name__ == "__main__":
    common.main("fence_recovery", test)
