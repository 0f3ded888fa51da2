#!/usr/bin/env python3
"""rules_topic: a shop enabled on the ruleset control topic while two workers
run (the second joins after the change: a rebalance) flips that shop's
decisions from MULTI_REFUND_NOT_ENABLED exactly from the change's effective
time, with no restart; the outputs equal `replay --rules` of the topic's
changes (`rules show --format jsonl`); and a fresh application id over the
same input and control topic gives byte-identical decisions."""
import json
import time
import urllib.error
import urllib.request

import common
from common import check, log

SHOP = "s3"
LEAD_MS = 2000


def now_ms():
    return int(time.time() * 1000)


def shift(events_path, out_path, lo, hi):
    """The generated stream with every time (event_time, aftersale_deadline)
    mapped by one increasing affine map onto [lo, hi]: the same stream, in
    the present."""
    events = [json.loads(line) for line in open(events_path, encoding="utf-8") if line.strip()]
    times = [e["event_time"] for e in events]
    tmin, tmax = min(times), max(times)

    def f(t):
        return lo + (t - tmin) * (hi - lo) // max(tmax - tmin, 1)

    for e in events:
        e["event_time"] = f(e["event_time"])
        order = e.get("order")
        if order and order.get("aftersale_deadline") is not None:
            order["aftersale_deadline"] = f(order["aftersale_deadline"])
    return events


def write_events(h, name, events):
    return common.write_lines(h.path(name), [json.dumps(e, separators=(",", ":")) for e in events])


def mrne_by_time(replay_path, events, effective):
    """MULTI_REFUND_NOT_ENABLED decisions of SHOP before and at/after `effective`."""
    times = {e["aftersale_id"]: e["event_time"] for e in events if e["type"] == "AfterSaleApplied"}
    before = after = 0
    for d in common.read_jsonl(replay_path):
        if d.get("type") != "Decision" or d["shop_id"] != SHOP or d["duplicate"]:
            continue
        if "MULTI_REFUND_NOT_ENABLED" in d["reasons"]:
            if times[d["aftersale_id"]] < effective:
                before += 1
            else:
                after += 1
    return before, after


def metrics(w):
    port = int(w.events("http_listening")[0]["port"])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def raw_by_partition(h, topic):
    out = {}
    for r in common.kcat_read_raw(h.bootstrap, topic):
        out.setdefault(r["partition"], []).append((r["key"], r["value"]))
    return out


def test(h):
    p = h.pipeline()
    rules_topic = h.unique("rules")
    extra = {"rules.topic": rules_topic, "rules.topic.lead.ms": LEAD_MS,
             # Only s0 has multi-refund at first.
             "rules.multi_refund.shops": "s0",
             "commit.interval.ms": 200}
    cfg1 = h.write_config("w1.properties", p, worker_id="w1",
                          extra=dict(extra, **{"http.listen": "127.0.0.1:0"}))
    cfg2 = h.write_config("w2.properties", p, worker_id="w2", extra=extra)

    t0 = now_ms()
    generated = h.generate(seed=4242, orders=1500)
    events = shift(generated, None, t0 - 40000, t0 + 25000)
    early = [e for e in events if e["event_time"] < t0]
    late = [e for e in events if e["event_time"] >= t0]
    all_path = write_events(h, "events.jsonl", events)
    early_path = write_events(h, "early.jsonl", early)
    late_path = write_events(h, "late.jsonl", late)
    log(f"{len(events)} events from {t0 - 40000} to {t0 + 25000}: {len(early)} before t0, "
        f"{len(late)} after")

    h.produce(cfg1, p["topic.input"], early_path, partitions=4)
    w1 = h.start_worker(cfg1, "w1")
    h.wait_until(lambda: w1.events("worker_started"), 60, "w1 to start")
    check(any(e.get("topic") == rules_topic for e in w1.events("rules_topic_read")),
          "w1 must log event=rules_topic_read for the control topic at start-up")

    # The change, while w1 runs: at least the lead ahead, and well inside
    # the stream's second part.
    effective = now_ms() + LEAD_MS + 3000
    check(effective < t0 + 20000, f"too slow to write the change in time ({effective - t0} ms)")
    r = h.tool(["rules", "enable-shop", SHOP, "--effective-time", effective, "-c", cfg1],
               what="rules enable-shop")
    log(r.stdout.decode().strip())
    key = r.stdout.decode().split()[1]
    # Idempotent: the same command writes nothing the second time.
    r = h.tool(["rules", "enable-shop", SHOP, "--effective-time", effective, "-c", cfg1])
    check("nothing written" in r.stdout.decode(), f"a second write must be refused: {r.stdout!r}")
    # A change inside the lead is refused (exit 2) with the reason.
    r = h.tool(["rules", "disable-shop", "s0", "--effective-time", now_ms(), "-c", cfg1],
               expect_rc=2)
    check(b"rules.topic.lead.ms" in r.stderr, f"refusal must name the lead: {r.stderr!r}")

    h.wait_until(lambda: any(e.get("key") == key for e in w1.events("rules_change")), 30,
                 f"w1 to log event=rules_change key={key} (no restart)")
    w2 = h.start_worker(cfg2, "w2")  # a rebalance after the change

    wait = t0 + 26000 - now_ms()
    if wait > 0:
        time.sleep(wait / 1000)
    h.produce(cfg1, p["topic.input"], late_path)

    rules_file = h.path("rules.jsonl")
    r = h.tool(["rules", "show", "--format", "jsonl", "-c", cfg1])
    with open(rules_file, "wb") as f:
        f.write(r.stdout)
    entries = [json.loads(x) for x in r.stdout.decode().splitlines() if x.strip()]
    check(len(entries) == 1 and entries[0]["applies_from"] == effective,
          f"rules show must list the one change applying from {effective}: {entries}")

    base = h.replay(cfg1, all_path, "replay-base.jsonl")
    replay = h.tool(["replay", "-c", cfg1, "-q", "-r", rules_file, "-o",
                     h.path("replay.jsonl"), all_path], what="replay --rules")
    replay = h.path("replay.jsonl")
    b_before, b_after = mrne_by_time(base, events, effective)
    r_before, r_after = mrne_by_time(replay, events, effective)
    log(f"{SHOP} MULTI_REFUND_NOT_ENABLED before/after the effective time: "
        f"without the change {b_before}/{b_after}, with it {r_before}/{r_after}")
    check(b_after > 0, "the stream must have decisions the change flips (pick another seed)")
    check(r_before == b_before and r_after == 0,
          "with the change, exactly the decisions from the effective time on flip")

    expected = common.replay_counts(replay)
    h.wait_counts(cfg1, {p["topic.decisions"]: expected["Decision"],
                         p["topic.refund_records"]: expected["RefundRecord"]}, timeout=150)
    h.wait_until(lambda: any(int(e.get("count", 0)) > 0 for e in w2.events("partitions_assigned")),
                 60, "w2 to get partitions")
    # A ledger query to w1 for an order of w2's partitions: 404 naming the
    # partition and the member that owns it (w2: static member "<app>-w2").
    port = int(w1.events("http_listening")[0]["port"])
    owner = None
    for oid in sorted({e["order_id"] for e in events}):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/orders/{oid}", timeout=10)
        except urllib.error.HTTPError as e:
            body = json.loads(e.read())
            if e.code == 404 and body["partition"] not in body["assigned"]:
                owner = body
                break
    check(owner is not None, "w1 must answer 404 for an order on w2's partitions")
    log(f"404 for {owner['order_id']}: partition {owner['partition']}, owner {owner['owner']}")
    check(owner["owner"] and owner["owner"]["member_id"].startswith(p["application.id"] + "-w2-"),
          f"the 404 must name w2 as the owner: {owner}")
    m = metrics(w1)
    check(m.get("asw_rules_changes_total") == 1 and m.get("asw_rules_invalid_total") == 0 and
          m.get("asw_rules_wait_expired_total") == 0 and
          m.get("asw_rules_complete_through_ms", 0) >= t0 + 25000,
          "w1's /metrics must show one change, none invalid or expired, and the topic "
          f"complete past the stream: { {k: v for k, v in m.items() if 'rules' in k} }")
    w1.stop_ok()
    w2.stop_ok()
    dec = h.consume(cfg1, p["topic.decisions"])
    rec = h.consume(cfg1, p["topic.refund_records"])
    common.compare(replay, [dec, rec], input_topic=p["topic.input"])
    check(h.count(cfg1, p["topic.dlq"]) == 0, "the DLQ must be empty")
    versions = {d["ruleset_version"] for d in common.read_jsonl(dec)}
    check(len(versions) == 2, f"decisions must carry two ruleset versions, not {versions}")
    for w in (w1, w2):
        expired = w.events("rules_wait_expired")
        check(not expired, f"{w.label}: no event may be decided past the wait: {expired[:2]}")

    # The same input and control topic under a fresh application id: the
    # same decisions, byte for byte, partition by partition.
    q = h.pipeline("q")
    q["topic.input"] = p["topic.input"]
    cfg3 = h.write_config("w3.properties", q, worker_id="w3", extra=extra)
    w3 = h.start_worker(cfg3, "w3")
    h.wait_counts(cfg3, {q["topic.decisions"]: expected["Decision"],
                         q["topic.refund_records"]: expected["RefundRecord"]}, timeout=150)
    w3.stop_ok()
    first = raw_by_partition(h, p["topic.decisions"])
    again = raw_by_partition(h, q["topic.decisions"])
    check(first == again, "a fresh application id must give byte-identical decisions "
          f"({sum(map(len, first.values()))} vs {sum(map(len, again.values()))} records)")
    log(f"fresh application id: {sum(map(len, again.values()))} decisions, byte-identical")

    # An event stamped later than the control topic is known complete
    # (its last read + lead/2) waits for it: one a little ahead is decided
    # once the worker has read the topic again, one an hour ahead after
    # rules.topic.wait.max.ms, counted and logged.
    r = h.pipeline("r")
    cfg4 = h.write_config("w4.properties", r, worker_id="w4",
                          extra=dict(extra, **{"http.listen": "127.0.0.1:0",
                                               "rules.topic.wait.max.ms": 1500}))
    applied = [e for e in events if e["type"] == "AfterSaleApplied"][:2]
    soon, far = now_ms() + 1800, now_ms() + 3600 * 1000
    applied[0]["event_time"], applied[1]["event_time"] = soon, far
    ahead_path = write_events(h, "ahead.jsonl", applied)
    h.produce(cfg4, r["topic.input"], ahead_path, partitions=1)
    w4 = h.start_worker(cfg4, "w4")
    h.wait_counts(cfg4, {r["topic.decisions"]: 2}, timeout=60)
    h.wait_until(lambda: metrics(w4).get("asw_rules_waits_total", 0) >= 2, 30,
                 "w4 to count both waits")
    m = metrics(w4)
    expired = w4.events("rules_wait_expired")
    w4.stop_ok()
    log(f"ahead: waits {m['asw_rules_waits_total']:.0f}, expired "
        f"{m['asw_rules_wait_expired_total']:.0f}, waited {m['asw_rules_wait_seconds_total']} s")
    check(m["asw_rules_wait_expired_total"] == 1 and len(expired) == 1 and
          int(expired[0]["event_time"]) == far,
          f"exactly the event an hour ahead must be decided past the wait: {expired}")
    check(1.0 <= m["asw_rules_wait_seconds_total"] <= 10.0,
          f"the waits took {m['asw_rules_wait_seconds_total']} s")


if __name__ == "__main__":
    common.main("rules_topic", test)
