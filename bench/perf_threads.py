#!/usr/bin/env python3
"""Where a process's CPU goes, thread by thread, from a `perf record -g` file.

    perf record -F 1499 --call-graph dwarf,16384 -o worker.data -- <command>
    python3 bench/perf_threads.py worker.data [--top 12] [--inclusive FUNC ...]

Prints each thread's share of the samples (with its name), then for the
busiest threads their top functions by self samples; --inclusive FUNC adds,
per thread, the share of samples with FUNC anywhere on the stack. It reads
`perf script` output, so the call graph perf recorded is what it sees.
docs/PERFORMANCE.md has the figures it gave for the worker and the ceiling.
"""
import argparse
import collections
import subprocess
import sys


def samples(path):
    """(tid, comm, [frames, innermost first]) per sample."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,tid,ip,sym"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout
    head, frames = None, []
    for line in out.splitlines() + [""]:
        if not line.strip():
            if head:
                yield head[0], head[1], frames
            head, frames = None, []
        elif line.startswith("\t"):
            parts = line.split(None, 1)  # address, symbol
            frames.append(parts[1].strip() if len(parts) > 1 else parts[0])
        else:
            comm, _, tid = line.strip().rpartition(" ")
            head = (tid, comm.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--threads", type=int, default=4, help="busiest threads to detail")
    ap.add_argument("--inclusive", nargs="*", default=[])
    a = ap.parse_args()
    per_tid = collections.Counter()
    names = {}
    self_of = collections.defaultdict(collections.Counter)
    incl_of = collections.defaultdict(collections.Counter)
    for tid, comm, frames in samples(a.data):
        per_tid[tid] += 1
        names.setdefault(tid, comm)
        if frames:
            self_of[tid][frames[0]] += 1
        for f in set(frames) & set(a.inclusive):
            incl_of[tid][f] += 1
    total = sum(per_tid.values())
    if not total:
        sys.exit("no samples")
    print(f"{total} samples")
    for tid, n in per_tid.most_common():
        if n * 200 >= total:  # threads with at least 0.5%
            print(f"  {n * 100 / total:5.1f}%  {n:6d}  {names[tid]} ({tid})")
    for tid, n in per_tid.most_common(a.threads):
        print(f"\n{names[tid]} ({tid}): {n} samples")
        for f in a.inclusive:
            print(f"  {incl_of[tid][f] * 100 / n:5.1f}% inclusive  {f}")
        for sym, k in self_of[tid].most_common(a.top):
            print(f"  {k * 100 / n:5.1f}% self       {sym}")


if __name__ == "__main__":
    main()
