#!/usr/bin/env python3
"""bench/ab.py: is one build (or setting) faster than another, on these VMs?

Their speed drifts by tens of percent within minutes, so two builds measured
one after the other compare the minutes, not the builds. This alternates the
variants round by round (a fresh daemon and store for every run) and reports
each one's median, its runs, and in how many rounds it beat the first
variant: a change is worth keeping only if that holds over many rounds.

  bench/ab.py [--rounds=8] [--mode=submit|e2e] [--store=file|:memory:]
              NAME=BINARY[,FLAG...] ...

  bench/ab.py --mode=e2e base=/tmp/actorq.old new=build/bin/actorq
  bench/ab.py one=build/bin/actorq,--scheduler.max-threads=1 two=build/bin/actorq

Each run: `bench_load submit --conns=50` for 3 s after a 1 s warm-up, or
`bench_load e2e --conns=50 --tasks=30000`; figures in submissions/s or
tasks/s. bench_load comes from build/bin (ACTORQ_BENCH_BIN to change it).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

from netutil import bench_load, start_daemon

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH_BIN = os.environ.get("ACTORQ_BENCH_BIN", os.path.join(ROOT, "build", "bin"))


def one_run(binary, flags, mode, store):
    work = tempfile.mkdtemp(prefix="actorq-ab.")
    path = os.path.join(work, "t.db") if store == "file" else store
    try:
        daemon, base = start_daemon(
            binary, "--config-file=" + os.path.join(ROOT, "configs", "default.ini"),
            "--store.path=" + path, *flags)
    except RuntimeError as e:
        shutil.rmtree(work, ignore_errors=True)
        sys.exit("ab.py: %s" % e)
    try:
        url = "--url=" + base
        if mode == "submit":
            bench_load(BENCH_BIN, "submit", url, "--conns=50", "--duration=1")
            j = bench_load(BENCH_BIN, "submit", url, "--conns=50", "--duration=3")
        else:
            j = bench_load(BENCH_BIN, "e2e", url, "--conns=50", "--tasks=30000", "--timeout=61")
        figure = "req_per_s" if mode == "submit" else "tasks_per_s"
        if figure not in j:
            sys.exit("ab.py: %s: %s" % (binary, j.get("first_error", "no %s" % figure)))
        return j[figure]
    finally:
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--mode", choices=["submit", "e2e"], default="submit")
    p.add_argument("--store", default="file", help='"file" (a fresh one per run) or ":memory:"')
    p.add_argument("variants", nargs="+", metavar="NAME=BINARY[,FLAG...]")
    a = p.parse_args()
    variants = []
    for v in a.variants:
        name, _, rest = v.partition("=")
        binary, *flags = rest.split(",")
        if not name or not os.access(binary, os.X_OK):
            p.error("%r: want NAME=BINARY[,FLAG...] with an executable BINARY" % v)
        variants.append((name, binary, flags))
    runs = {name: [] for name, _, _ in variants}
    for r in range(a.rounds):
        for name, binary, flags in variants:
            runs[name].append(one_run(binary, flags, a.mode, a.store))
        print("round %d: %s" % (r + 1, "  ".join("%s %.0f" % (n, runs[n][-1]) for n in runs)),
              file=sys.stderr)
    first = variants[0][0]
    for name in runs:
        wins = sum(x > y for x, y in zip(runs[name], runs[first]))
        print("%-12s median %8.0f   %s%s" % (
            name, statistics.median(runs[name]), " ".join("%.0f" % x for x in runs[name]),
            "" if name == first else "   beat %s in %d of %d rounds" % (first, wins, a.rounds)))


if __name__ == "__main__":
    main()
