#!/usr/bin/env python3
"""http: the worker's HTTP endpoint (http.listen). While a worker processes
a stream, /healthz and /readyz answer 200, and /metrics -- read with the
Prometheus project's own text parser -- counts exactly what the worker
committed: events by type, decisions by outcome and by reason, duplicates,
refund records by status, over-refunds, dead letters (none), all equal to
the offline replay of the same input; committed transactions and a commit
latency histogram whose count matches them; zero lag on every assigned
partition once the input is consumed; an unknown path is a 404. And
/v1/orders/{id} answers an order's ledger from the worker's committed state
(equal to the replay's last refund record of the order), a 404 naming the
partition for an order not in state, a 400 for an id over 128 bytes."""
import collections
import json
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import common
from common import check, log


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def scrape(port):
    status, ctype, text = get(port, "/metrics")
    check(status == 200, f"/metrics answered {status}")
    check(ctype.startswith("text/plain; version=0.0.4"), f"/metrics content type {ctype!r}")
    samples = collections.defaultdict(float)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name):
    return sum(v for (n, _), v in samples.items() if n == name)


def test(h):
    p = h.pipeline()
    cfg = h.write_config("w.properties", p, worker_id="w1",
                         extra={"http.listen": "127.0.0.1:0", "commit.max.records": 500,
                                "statistics.interval.ms": 1000})
    events = h.generate(seed=99, orders=3000)
    replay = h.replay(cfg, events)
    expected = common.replay_counts(replay)
    want = collections.Counter()
    for r in common._load(replay):
        if r["type"] == "Decision":
            want[("outcome", r["outcome"])] += 1
            want[("duplicate",)] += bool(r["duplicate"])
            for reason in r["reasons"]:
                want[("reason", reason)] += 1
        elif r["type"] == "RefundRecord":
            want[("status", r["status"])] += 1
            want[("over_refund",)] += bool(r["over_refund"])
    by_type = collections.Counter(r["type"] for r in common._load(events))
    n = h.produce(cfg, p["topic.input"], events, partitions=4)

    w = h.start_worker(cfg, "w1")
    h.wait_until(lambda: w.events("http_listening"), 30, "the http_listening log line",
                 interval=0.1)
    port = int(w.events("http_listening")[0]["port"])
    log(f"worker listens on port {port}")
    h.wait_counts(cfg, {p["topic.decisions"]: expected["Decision"],
                        p["topic.refund_records"]: expected["RefundRecord"]}, timeout=120)
    for path in ("/healthz", "/readyz"):
        status, _, body = get(port, path)
        log(f"{path}: {status} {body.strip()}")
        check(status == 200, f"{path} answered {status}: {body}")
    status, _, body = get(port, "/nope")
    check(status == 404, f"an unknown path answered {status}")

    # The view is published at each commit: the last one may follow the
    # outputs becoming readable by a moment.
    h.wait_until(lambda: total(scrape(port), "asw_decisions_total") == expected["Decision"], 30,
                 "asw_decisions_total to reach the committed decisions", interval=0.5)
    s = scrape(port)
    checks = []
    for outcome in ("ACCEPTED", "REJECTED"):
        checks.append((f"decisions {outcome}", value(s, "asw_decisions_total", outcome=outcome),
                       want[("outcome", outcome)]))
    for key, count in want.items():
        if key[0] == "reason":
            checks.append((f"reason {key[1]}",
                           value(s, "asw_decision_reasons_total", reason=key[1]), count))
        if key[0] == "status":
            checks.append((f"records {key[1]}",
                           value(s, "asw_refund_records_total", status=key[1]), count))
    checks.append(("duplicates", value(s, "asw_decisions_duplicate_total"), want[("duplicate",)]))
    checks.append(("over-refunds", value(s, "asw_over_refunds_total"), want[("over_refund",)]))
    checks.append(("refund records", total(s, "asw_refund_records_total"),
                   expected["RefundRecord"]))
    checks.append(("events", total(s, "asw_events_total"), n))
    for t, count in by_type.items():
        checks.append((f"events {t}", value(s, "asw_events_total", type=t), count))
    checks.append(("dead letters", total(s, "asw_dead_letters_total"), 0))
    bad = [(what, got, exp) for what, got, exp in checks if got != exp]
    for what, got, exp in checks:
        log(f"  {what}: /metrics {got:g}, expected {exp}")
    check(not bad, f"/metrics differs from the outputs: {bad}")

    commits = value(s, "asw_transactions_total", result="committed")
    check(commits >= n / 500, f"{commits:g} committed transactions for {n} records of 500 at most")
    check(value(s, "asw_commit_duration_seconds_count") == commits,
          "the commit histogram counts every commit")
    check(value(s, "asw_commit_duration_seconds_bucket", le="+Inf") == commits,
          "the +Inf bucket holds every commit")
    check(value(s, "asw_assigned_partitions") == 4, "all 4 partitions are assigned")
    h.wait_until(lambda: total(scrape(port), "asw_partition_lag") == 0, 15,
                 "zero lag on every partition", interval=0.5)
    s = scrape(port)
    lags = [k for k in s if k[0] == "asw_partition_lag"]
    check(len(lags) == 4, f"a lag for each of the 4 partitions: {lags}")
    check(value(s, "asw_up") == 1, "asw_up is 1")

    # librdkafka's statistics (every second here): both clients report, see
    # the broker UP with a round-trip time, and the producer is in a
    # transaction state; the consumer took part in a rebalance.
    h.wait_until(lambda: all(value(scrape(port), "asw_kafka_stats_reports_total", client=c) >= 2
                             for c in ("consumer", "producer")), 15,
                 "two statistics reports of each client", interval=0.5)
    s = scrape(port)
    ups = {k: v for k, v in s.items() if k[0] == "asw_kafka_broker_up"}
    check(all(dict(k[1])["broker"].endswith("/1") for k in ups),
          f"only real brokers (host:port/id), not bootstrap or coordinator handles: {ups}")
    log(f"librdkafka statistics: brokers {ups}, txn state "
        f"{[dict(k[1]) for k in s if k[0] == 'asw_kafka_txn_state_info']}")
    for c in ("consumer", "producer"):
        up = [v for k, v in ups.items() if dict(k[1])["client"] == c]
        check(up and all(v == 1 for v in up), f"{c}: every broker UP in the statistics: {ups}")
        check(value(s, "asw_kafka_requests_sent_total", client=c) > 0, f"{c}: requests sent")
        rtts = [v for k, v in s.items() if k[0] == "asw_kafka_broker_rtt_seconds" and
                dict(k[1])["client"] == c and dict(k[1])["quantile"] == "avg"]
        # Over the last window: 0 for a client idle in it (the producer,
        # once the input is done); the consumer's includes its fetches'
        # long poll (fetch.wait.max.ms), so it is never idle.
        check(rtts and all(0 <= v < 5 for v in rtts) and (c == "producer" or min(rtts) > 0),
              f"{c}: a broker round-trip time: {rtts}")
    check(any(k[0] == "asw_kafka_txn_state_info" for k in s), "the producer's txn state")
    check(value(s, "asw_kafka_group_rebalances_total") >= 1, "the consumer's rebalances")

    # The ledger of an order, from the worker's own committed state: equal
    # to the ledger after its last refund record in the replay.
    last = {}
    for r in common._load(replay):
        if r["type"] == "RefundRecord":
            last[r["order_id"]] = r
    for oid in sorted(last)[:20]:
        status, ctype, body = get(port, f"/v1/orders/{urllib.parse.quote(oid)}")
        check(status == 200 and ctype == "application/json", f"/v1/orders/{oid}: {status} {body}")
        got = json.loads(body)
        st, rec = got["state"], last[oid]
        check(got["order_id"] == oid and st["type"] == "OrderState" and st["order_id"] == oid,
              f"/v1/orders/{oid} names another order: {body[:300]}")
        for field in ("paid", "refunded", "reserved", "remaining"):
            check(st[field] == rec[f"order_{field}"],
                  f"/v1/orders/{oid}: {field} {st[field]}, the replay's last refund record says "
                  f"{rec[f'order_' + field]}")
        check(got["committed_offset"] >= 0, f"/v1/orders/{oid}: no committed offset")
    log(f"/v1/orders: {min(20, len(last))} ledgers equal to the replay's")
    status, _, body = get(port, "/v1/orders/NO-SUCH-ORDER")
    missing = json.loads(body)
    log(f"/v1/orders/NO-SUCH-ORDER: {status} {body.strip()}")
    check(status == 404 and missing["assigned"] == [0, 1, 2, 3]
          and 0 <= missing["partition"] < 4 and "not in the state" in missing["error"],
          "a missing order is a 404 naming its partition and the assigned ones")
    status, _, _ = get(port, "/v1/orders/" + "x" * 129)
    check(status == 400, f"an order id over 128 bytes answered {status}")
    w.stop_ok()


if __name__ == "__main__":
    common.main("http", test)
