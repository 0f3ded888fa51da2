#!/usr/bin/env python3
"""busy_order: no input stops a partition (issue 6, item 2), on the real broker.

- One order receives 100,000 events: card checks (each decision remembered),
  withdrawals of applications never seen (each one counted), external
  refunds and claw-backs. Its state is far larger than any record the broker
  accepts; the changelog holds it entity by entity.
- Input records of nearly 1 MB: an application whose aftersale_id is that
  long (INVALID_REQUEST, decided, nothing kept) and an external refund whose
  refund_id is (a dead letter).
- Other orders' events come before, between and after, on the same
  partition.

Everything is processed or rejected, the partition goes on, and the outputs
equal the offline replay; a restarted worker rebuilds the busy order from the
changelog (its redelivered card checks come back as duplicates).
"""
import json

import common
from common import check, log

BUSY = "O-BUSY"
T0 = 1_700_000_000_000
N_BUSY = 100_000
HUGE = 990_000  # bytes of one id: the record stays under the 1,000,000 default


def order_snapshot(deadline):
    return {"order_status": "SHIPPED", "goods_type": "PHYSICAL", "cross_border": False,
            "order_paid_amount": 10_000_000, "sku_paid_amount": 10_000_000,
            "aftersale_deadline": deadline}


def busy_events():
    """N_BUSY events of one order, in a fixed interleaving."""
    out = []
    deadline = T0 + 400 * 86_400_000
    for i in range(N_BUSY):
        t = T0 + i * 1000
        k = i % 10
        base = {"event_id": f"busy-ev-{i}", "order_id": BUSY, "event_time": t}
        if k < 4:
            out.append(dict(base, type="AfterSaleApplied", aftersale_id=f"C{i:07d}",
                            sku_order_id=f"{BUSY}-{i % 3}", shop_id="s1",
                            initiator="MERCHANT_CARD", aftersale_type="REFUND_ONLY_SHIPPED",
                            apply_amount=100, order=order_snapshot(deadline)))
        elif k < 7:
            # descending ids: the worst case for sorted arrays
            out.append(dict(base, type="AfterSaleWithdrawn", aftersale_id=f"U{N_BUSY - i:07d}",
                            sku_order_id=f"{BUSY}-{i % 3}"))
        elif k < 9:
            out.append(dict(base, type="ExternalRefundRecorded", refund_id=f"R{i:07d}",
                            sku_order_id=f"{BUSY}-{i % 3}", shop_id="s1", kind="SMALL_PAYMENT",
                            amount=1, order_paid_amount=10_000_000, sku_paid_amount=10_000_000))
        else:
            out.append(dict(base, type="RefundClawedBack", refund_id=f"R{i - 1:07d}",
                            sku_order_id=f"{BUSY}-{i % 3}", amount=1))
    return out


def huge_events():
    deadline = T0 + 400 * 86_400_000
    return [
        {"type": "AfterSaleApplied", "event_id": "huge-1", "order_id": "O-HUGE",
         "event_time": T0 + 5, "aftersale_id": "x" * HUGE, "sku_order_id": "O-HUGE-1",
         "shop_id": "s1", "initiator": "BUYER", "aftersale_type": "REFUND_ONLY_SHIPPED",
         "apply_amount": 100, "order": order_snapshot(deadline)},
        {"type": "ExternalRefundRecorded", "event_id": "huge-2", "order_id": "O-HUGE",
         "event_time": T0 + 6, "refund_id": "y" * HUGE, "sku_order_id": "O-HUGE-1",
         "shop_id": "s1", "kind": "OFFLINE", "amount": 5, "order_paid_amount": 1000,
         "sku_paid_amount": 1000},
    ]


def write_events(path, events):
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    return path


def test(h):
    p = h.pipeline()
    cfg = h.write_config("w.properties", p, worker_id="w1",
                         extra={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000})
    with open(h.generate(seed=606, orders=300), encoding="utf-8") as f:
        others = [json.loads(line) for line in f if line.strip()]
    busy = busy_events()
    third = len(others) // 3
    first = others[:third] + busy[:N_BUSY // 2] + huge_events() + others[third:2 * third]
    # the tail: the rest of the busy order, redeliveries of its card checks
    # from the first half, and the other orders' last events
    redelivered = [e for e in busy[:2000] if e["type"] == "AfterSaleApplied"][:50]
    second = busy[N_BUSY // 2:] + redelivered + others[2 * third:]
    f1 = write_events(h.path("first.jsonl"), first)
    f2 = write_events(h.path("second.jsonl"), second)
    allf = write_events(h.path("all.jsonl"), first + second)
    replay = h.replay(cfg, allf)
    dead = [r for r in common.read_jsonl(replay) if r.get("type") == "DeadLetter"]
    check(len(dead) == 1 and "longer than 128 bytes" in dead[0].get("error", ""),
          f"the replay dead-letters the huge fact only: {[d.get('error') for d in dead]}")
    exp = common.replay_counts(replay, allow_dead_letters=True)
    replay_first = h.replay(cfg, f1, "replay-first.jsonl")
    exp1 = common.replay_counts(replay_first, allow_dead_letters=True)

    # One partition: everything on the busy order's partition.
    h.produce(cfg, p["topic.input"], f1, partitions=1)
    w1 = h.start_worker(cfg, "w1")
    h.wait_counts(cfg, {p["topic.decisions"]: exp1["Decision"],
                        p["topic.refund_records"]: exp1["RefundRecord"],
                        p["topic.dlq"]: 1}, timeout=240)
    w1.stop_ok()

    h.produce(cfg, p["topic.input"], f2)
    w2 = h.start_worker(cfg, "w2")
    h.wait_counts(cfg, {p["topic.decisions"]: exp["Decision"],
                        p["topic.refund_records"]: exp["RefundRecord"]}, timeout=240)
    stopped = w2.stop_ok()
    restored = sum(int(e.get("restored_orders", 0)) for e in w2.events("partitions_assigned"))
    log(f"w2 restored {restored} orders; stopped: {stopped}")
    check(restored > 0, "the second worker rebuilds the states from the changelog")

    dec = h.consume(cfg, p["topic.decisions"])
    rec = h.consume(cfg, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    dups = [r for r in common.read_jsonl(dec)
            if r.get("order_id") == BUSY and r.get("duplicate")]
    check(len(dups) == len(redelivered),
          f"{len(redelivered)} redelivered card checks must come back as duplicates, "
          f"got {len(dups)}")
    dlq = common.read_jsonl(h.consume(cfg, p["topic.dlq"]))
    check(len(dlq) == 1, f"one dead letter (the huge fact), got {len(dlq)}")
    hd = dlq[0].get("headers") or {}
    log(f"dead letter: error={hd.get('asw.error')} message={hd.get('asw.error.message')!r} "
        f"value dropped={hd.get('asw.value.dropped.bytes')}")
    check(hd.get("asw.error") == "INVALID_EVENT", f"dead letter headers: {hd}")


if __name__ == "__main__":
    common.main("busy_order", test)
