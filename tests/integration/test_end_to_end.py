#!/usr/bin/env python3
"""end_to_end: one worker on a 4-partition topic gives exactly the replay's outputs."""
import common
from common import check, log


def test(h):
    p = h.pipeline()
    cfg = h.write_config("worker.properties", p, worker_id="w1")
    events = h.generate(seed=4242, orders=2000)
    replay = h.replay(cfg, events)
    expected = common.replay_counts(replay)
    n = h.produce(cfg, p["topic.input"], events, partitions=4)
    log(f"produced {n} events, replay expects {expected}")

    w = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=120)
    stopped = w.stop_ok()
    check(int(stopped["consumed"]) == n, f"worker consumed {stopped['consumed']}, expected {n}")
    check(int(stopped["dead_letters"]) == 0, "no dead letters expected")

    dec = h.consume(cfg, p["topic.decisions"])
    rec = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg, p["topic.dlq"]) == 0, "the DLQ must be empty")


if __name__ == "__main__":
    common.main("end_to_end", test)
