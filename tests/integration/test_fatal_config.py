#!/usr/bin/env python3
"""fatal_config: a worker that cannot work says why in one line and exits
non-zero -- a missing input topic (exit 1, the reason names the topic, and the
topic is not created behind the operator's back), an unknown configuration
key (exit 2 with file:line), a bad value (exit 2 with file:line), and keys
that disagree (exit 2 with file:line, for `run` and `--print-config` alike,
before any client starts)."""
import common
from common import check, log


def test(h):
    # 1. The input topic does not exist.
    p = h.pipeline()
    cfg = h.write_config("missing-input.properties", p, worker_id="w1")
    w = h.start_worker(cfg, "missing-input")
    rc = w.wait_exit(timeout=90)
    out = w.log_text()
    log(f"missing input topic: exit {rc}, output:\n{out}")
    check(rc == 1, f"a missing input topic must exit 1, got {rc}")
    reasons = common.reason_lines(out)
    check(len(reasons) == 1, f"expected exactly one 'aftersale-worker ...' reason line, got "
          f"{reasons}")
    check(p["topic.input"] in reasons[0] and "does not exist" in reasons[0],
          f"the reason must name the missing topic {p['topic.input']}: {reasons[0]!r}")
    check(not w.events("worker_started"), "the worker must not report worker_started")
    # The broker allows auto-creation: the worker must not have created the topic.
    r = h.tool(["produce", "--topic", p["topic.input"], "-c", cfg, "/dev/null"], expect_rc=1,
               what="produce to the missing topic")
    check(f"topic {p['topic.input']} does not exist" in r.stderr.decode(errors="replace"),
          f"the input topic must still not exist: {r.stderr.decode(errors='replace')!r}")

    # 2. An unknown key, on line 3.
    bad = h.path("unknown-key.properties")
    common.write_lines(bad, ["# line 1", f"bootstrap.servers={h.bootstrap}",
                             "bogus.key=1", f"application.id={p['application.id']}"])
    r = h.tool(["run", "-c", bad], expect_rc=2, timeout=30, what="run with an unknown key")
    err = r.stderr.decode(errors="replace")
    log(f"unknown key: exit 2, stderr: {err.strip()!r}")
    check(len(err.strip().splitlines()) == 1, f"expected a one-line message, got {err!r}")
    check(f"{bad}:3:" in err and "unknown key" in err and "bogus.key" in err,
          f"the message must be '{bad}:3: unknown key 'bogus.key'', got {err!r}")

    # 3. A bad value of a worker key, on line 2.
    bad2 = h.path("bad-value.properties")
    common.write_lines(bad2, [f"bootstrap.servers={h.bootstrap}", "commit.interval.ms=soon"])
    r = h.tool(["run", "-c", bad2], expect_rc=2, timeout=30, what="run with a bad value")
    err = r.stderr.decode(errors="replace")
    log(f"bad value: exit 2, stderr: {err.strip()!r}")
    check(f"{bad2}:2:" in err and "commit.interval.ms" in err,
          f"the message must name {bad2}:2 and the key, got {err!r}")


    # 4. Keys that disagree: a commit interval the transaction timeout
    #    (the worker's default, 10 s) would abort, on line 3.
    bad3 = h.path("cross-key.properties")
    common.write_lines(bad3, [f"bootstrap.servers={h.bootstrap}",
                              f"application.id={p['application.id']}", "commit.interval.ms=15000"])
    for args, what in ((["run", "-c", bad3], "run"),
                       (["run", "-c", bad3, "--print-config"], "run --print-config")):
        r = h.tool(args, expect_rc=2, timeout=30, what=f"{what} with keys that disagree")
        err = r.stderr.decode(errors="replace")
        log(f"{what}, keys that disagree: exit 2, stderr: {err.strip()!r}")
        check(len(err.strip().splitlines()) == 1, f"expected a one-line message, got {err!r}")
        check(f"{bad3}:3: commit.interval.ms (15000) must be below transaction.timeout.ms" in err,
              f"the message must name {bad3}:3 and both keys, got {err!r}")
        check(not r.stdout, f"{what} must print no configuration: {r.stdout!r}")


if __name__ == "__main__":
    common.main("fatal_config", test)
