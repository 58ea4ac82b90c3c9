#!/usr/bin/env python3
"""bench/scheduling.py BUILD_DIR: the issue-13 rows about ordering work.

1. Priorities cost the FIFO fast path nothing. The build before priorities
   (BASELINE_REV, default 616c93b: main just before they were merged) is
   built by bench/baseline.sh into build-baseline/; both daemons run with
   --store.path=:memory: (the store's fsync would hide the cost), and
   bench_load drives one at a time, alternating current, before, before,
   current, ... RUNS times each (BENCH_RUNS, default 7):
     - POST /v1/tasks (submit mode, 50 connections, BENCH_DURATION s);
     - submit + wait (e2e mode: POST, then GET ?wait_ms until terminal,
       E2E_TASKS tasks over 50 connections, about 1.5 s a run: shorter runs
       are dominated by their ramp-up and tail).
   Rows: median of each side and current/before; target >= 95 %. Beside
   each, the daemon's CPU time per request (from /proc, user + system):
   throughput on 2 shared cores swings +-10 % between runs with the
   scheduler, CPU per request much less, so it shows whether a gap is real.
2. A global rate limit is exact: `[kinds.echo] rate = "50/s"` (burst 1),
   2 000 echo tasks queued at once; the row counts attempts started in the
   10 s after the first one (started_at from GET /v1/tasks); target 500 ± 5.

Writes bench/results/scheduling.md and scheduling.json, prints the table.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from netutil import bench_load, busy_cpu_s, call, cpu_s, not_quiet_warning, own_cpu_s, start_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
DUR = int(float(os.environ.get("BENCH_DURATION", "2")))
BASELINE_REV = os.environ.get("BASELINE_REV", "616c93b")
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "results")
CONNS = 50
AB_TARGET = 0.95
RATE, WINDOW_S, TOLERANCE = 50, 10, 5
E2E_TASKS = 20000


def log(msg):
    print(f"[scheduling] {msg}", file=sys.stderr, flush=True)


def stop(p):
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def load(*args):
    """One bench_load run; its JSON report (first_error set if it failed)."""
    return bench_load(BIN, *args)


def ab_rows():
    baseline = subprocess.run([os.path.join(ROOT, "bench", "baseline.sh"), BASELINE_REV,
                               os.path.join(ROOT, "build-baseline")],
                              capture_output=True, text=True)
    if baseline.returncode != 0:
        return {"skip": "the baseline build failed: " + baseline.stderr[-500:]}
    sides = {"current": os.path.join(BIN, "actorq"), "before": baseline.stdout.strip()}
    servers = {name: start_daemon(b, "--store.path=:memory:") for name, b in sides.items()}
    runs = {(w, s): [] for w in ("submit", "e2e") for s in sides}
    cpu = {(w, s): [] for w in ("submit", "e2e") for s in sides}

    def measured(workload, side, *args):
        pid = servers[side][0].pid
        before = cpu_s(pid)
        r = load(workload, f"--url={servers[side][1]}", f"--conns={CONNS}", *args)
        done = r.get("tasks_done") or r.get("ok") or 0
        cpu[(workload, side)].append((cpu_s(pid) - before) / done * 1e6 if done else 0)
        return r

    try:
        for name, (_, url) in servers.items():  # warm-up
            load("submit", f"--url={url}", f"--conns={CONNS}", "--duration=1")
        order = ["current", "before", "before", "current"]
        for i in range(RUNS * 2):
            side = order[i % 4]
            r = measured("submit", side, f"--duration={DUR}")
            runs[("submit", side)].append(r.get("req_per_s", 0))
            r = measured("e2e", side, f"--tasks={E2E_TASKS}", "--timeout=30", "--max-time=60")
            runs[("e2e", side)].append(r.get("tasks_per_s", 0))
            log(f"run {i + 1}/{RUNS * 2} ({side}): submit {runs[('submit', side)][-1]:.0f} req/s, "
                f"submit+wait {runs[('e2e', side)][-1]:.0f} tasks/s")
    finally:
        for p, _ in servers.values():
            stop(p)
    rows = {}
    for w in ("submit", "e2e"):
        cur = statistics.median(runs[(w, "current")])
        before = statistics.median(runs[(w, "before")])
        cpu_cur = statistics.median(cpu[(w, "current")])
        cpu_before = statistics.median(cpu[(w, "before")])
        rows[w] = {"current": cur, "before": before,
                   "ratio": cur / before if before else None,
                   "cpu_us_current": cpu_cur, "cpu_us_before": cpu_before,
                   "runs_current": runs[(w, "current")], "runs_before": runs[(w, "before")]}
    return {"baseline_rev": BASELINE_REV, "rows": rows}


def rate_row():
    cfg = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
    cfg.write(f'[kinds.echo]\nrate = "{RATE}/s"\n')
    cfg.close()
    p, url = start_daemon(os.path.join(BIN, "actorq"), f"--config-file={cfg.name}",
                   "--store.path=:memory:")
    try:
        n = RATE * (WINDOW_S + 2) * 4 // 3
        ids = []
        for _ in range(n):
            _, status, body = call("POST", url + "/v1/tasks",
                                   {"kind": "echo", "input": {"x": 1}})
            if status != 202:
                return {"skip": f"submit answered {status}: {body}"}
            ids.append(body["id"])
        time.sleep(WINDOW_S + 1.5)
        starts = []
        for tid in ids:
            _, status, body = call("GET", f"{url}/v1/tasks/{tid}")
            if status == 200 and body.get("started_at"):
                starts.append(body["started_at"])
        starts.sort()
        t0 = parse_time(starts[0])
        in_window = sum(1 for s in starts if parse_time(s) - t0 < WINDOW_S)
        return {"rate": RATE, "window_s": WINDOW_S, "tasks": n, "started_in_window": in_window,
                "expected": RATE * WINDOW_S, "met": abs(in_window - RATE * WINDOW_S) <= TOLERANCE}
    finally:
        stop(p)
        os.unlink(cfg.name)


def parse_time(value):
    """started_at as seconds: ms since the epoch or an RFC 3339 string."""
    if isinstance(value, (int, float)):
        return value / 1000.0
    from datetime import datetime
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main():
    load_before = open("/proc/loadavg").read()
    start, busy, own = time.time(), busy_cpu_s(), own_cpu_s()
    result = {"load_avg_start": float(load_before.split()[0])}
    log("A/B: priorities against the build before them")
    result["ab"] = ab_rows()
    log("rate limit")
    result["rate"] = rate_row()
    # Other processes' CPU while this ran (the quietness check).
    wall = time.time() - start
    foreign = max(0.0, (busy_cpu_s() - busy) - (own_cpu_s() - own))
    result["foreign_share"] = round(foreign / (wall * (os.cpu_count() or 1)), 3)
    warning = not_quiet_warning(load_before, result["foreign_share"])
    result["quiet"] = warning is None
    lines = ["# Scheduling rows (issue 13)", "",
             f"Command: `python3 bench/scheduling.py build` (part of `make bench`), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the start "
             f"{result['load_avg_start']:.2f}; other processes took "
             f"{100 * result['foreign_share']:.0f} % of the CPU while it ran.", ""]
    if warning:
        lines += [warning + " The A/B ratios are still comparable (the sides alternate).", ""]
    ab = result["ab"]
    lines += ["| row | current | before priorities | current / before | target | met "
              "| daemon CPU µs per request, current / before |",
              "|---|---|---|---|---|---|---|"]
    if "skip" in ab:
        lines.append(f"| priorities A/B | not measured: {ab['skip']} | | | ≥ 95 % | no | |")
    else:
        names = {"submit": "POST /v1/tasks, req/s (:memory:, 50 conns)",
                 "e2e": "submit + wait, tasks/s (:memory:, 50 conns)"}
        for w, row in ab["rows"].items():
            ratio = row["ratio"] or 0
            lines.append(f"| {names[w]} | {row['current']:.0f} | {row['before']:.0f} | "
                         f"{ratio * 100:.1f} % | ≥ 95 % | {'yes' if ratio >= AB_TARGET else 'no'} | "
                         f"{row['cpu_us_current']:.1f} / {row['cpu_us_before']:.1f} |")
    lines += ["", f"Medians of {RUNS} interleaved runs per side (current, before, before, current, ...); "
              f"before = `{BASELINE_REV}`, built by bench/baseline.sh.", ""]
    rate = result["rate"]
    lines += ["| row | measured | target | met |", "|---|---|---|---|"]
    if "skip" in rate:
        lines.append(f"| rate 50/s over 10 s | not measured: {rate['skip']} | 500 ± 5 | no |")
    else:
        lines.append(f"| `rate = \"{RATE}/s\"`: attempts started in {WINDOW_S} s | "
                     f"{rate['started_in_window']} | {rate['expected']} ± {TOLERANCE} | "
                     f"{'yes' if rate['met'] else 'no'} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "scheduling.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "scheduling.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
