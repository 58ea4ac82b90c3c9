#!/usr/bin/env python3
"""bench/metrics.py BUILD_DIR: what counting for GET /metrics costs the hot path.

Two actorq daemons run side by side, one with --metrics.enabled=true, one
with --metrics.enabled=false (both --store.path=:memory:, so the store's
fsync does not hide the cost). wrk (2 threads, 50 connections, BENCH_DURATION
seconds, default 2) drives one of them at a time, alternating on, off, off,
on, ... RUNS times each (BENCH_RUNS, default 9: many short runs, as single
runs swing by ±15 % on a shared machine), on:
  - GET /v1/tasks/{id} of one finished task;
  - POST /v1/tasks of a `double` task (each one runs in the io pool, so
    tasks, attempts, queue wait and HTTP are all counted).
Each row is the median req/s with metrics on, off, and on/off; the target is
on >= 95 % of off (of the medians). Also the median of the ratios of the
pairs (run i on / run i off, which ran back to back). Beside it, the server's CPU time per request (from
/proc/PID/stat around each run), on / off, and off/on as a percentage: on a
shared machine it moves less than req/s. Writes bench/results/metrics.md
and metrics.json and prints the table.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from netutil import call, cpu_s, start_daemon

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
DUR = int(float(os.environ.get("BENCH_DURATION", "2")))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "results")
REPORT_LUA = os.path.join(ROOT, "bench", "wrk_report.lua")
CONNS = 50
TARGET = 0.95

POST_LUA = """
wrk.method = "POST"
wrk.body = '{"kind":"double","input":{"value":21}}'
wrk.headers["Content-Type"] = "application/json"
"""


def start(enabled):
    """An actorq daemon on a free port; (process, base URL)."""
    return start_daemon(os.path.join(BIN, "actorq"), "--store.path=:memory:",
                        f"--metrics.enabled={enabled}")


def wrk(pid, url, script):
    """(req/s, server CPU µs per request) of one wrk run against the server
    `pid` (non-2xx answers make the run invalid). CPU per request moves less
    than req/s when other processes share the machine."""
    args = ["wrk", "-t2", f"-c{CONNS}", f"-d{DUR}s", "-s", script, url]
    before = cpu_s(pid)
    out = subprocess.run(args, capture_output=True, text=True, timeout=DUR + 60).stdout
    cpu = cpu_s(pid) - before
    line = json.loads(out.strip().splitlines()[-1])
    if line["non2xx"] or line["socket_errors"]:
        raise RuntimeError(f"wrk on {url}: {line}")
    return line["req_per_s"], cpu * 1e6 / max(1, line["requests"])


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(POST_LUA + open(REPORT_LUA).read())
        post_lua = f.name
    servers = {"on": start("true"), "off": start("false")}
    try:
        targets = {}
        for mode, (proc, url) in servers.items():
            _, status, task = call("POST", url + "/v1/tasks", {"kind": "double", "input": {"value": 1}})
            assert status == 202, (status, task)
            call("GET", f"{url}/v1/tasks/{task['id']}?wait_ms=2000")
            targets[mode] = {"GET /v1/tasks/{id}": (proc.pid, f"{url}/v1/tasks/{task['id']}", REPORT_LUA),
                             "POST /v1/tasks": (proc.pid, url + "/v1/tasks", post_lua)}
        rows = {}
        for name in ("GET /v1/tasks/{id}", "POST /v1/tasks"):
            runs = {"on": [], "off": []}
            cpu = {"on": [], "off": []}
            for mode in ("on", "off"):  # warm-up, not counted
                wrk(*targets[mode][name])
            for i in range(RUNS):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for mode in order:
                    rate, us = wrk(*targets[mode][name])
                    runs[mode].append(rate)
                    cpu[mode].append(us)
                    print(f"{name} metrics {mode}: {rate:.0f} req/s, {us:.1f} µs CPU/req",
                          file=sys.stderr, flush=True)
            on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
            cpu_on, cpu_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
            # Run i of each side ran back to back: the median of the pairs'
            # ratios drops a pair that a burst of other load hit.
            paired = statistics.median(a / b for a, b in zip(runs["on"], runs["off"]))
            rows[name] = {"on": on, "off": off, "ratio": on / off, "paired": paired, "runs": runs,
                          "cpu_us_on": cpu_on, "cpu_us_off": cpu_off, "cpu": cpu}
    finally:
        for p, _ in servers.values():
            p.terminate()
            p.wait(10)
        os.unlink(post_lua)
    load = open("/proc/loadavg").read().split()[:3]
    lines = ["# Metrics on vs off (bench/metrics.py)", "",
             f"wrk -t2 -c{CONNS}, {DUR} s per run, {RUNS} interleaved runs per side, "
             f"medians; actorq with --store.path=:memory:; {os.cpu_count()} cores, "
             f"load average after: {' '.join(load)} (shared machine).", "",
             "| route | metrics on (req/s) | metrics off (req/s) | on/off | on/off, median of pairs "
             "| target | server CPU per request, on / off |",
             "|---|---:|---:|---:|---:|---|---|"]
    for name, r in rows.items():
        met = "met" if r["ratio"] >= TARGET else "NOT met"
        lines.append(f"| {name} | {r['on']:.0f} | {r['off']:.0f} | {r['ratio'] * 100:.1f} % "
                     f"| {r['paired'] * 100:.1f} % | >= 95 %: {met} | {r['cpu_us_on']:.1f} / {r['cpu_us_off']:.1f} µs "
                     f"({r['cpu_us_off'] / r['cpu_us_on'] * 100:.1f} %) |")
    lines += ["", "Every run (req/s):", ""]
    for name, r in rows.items():
        lines.append(f"- {name}: on {', '.join(f'{x:.0f}' for x in r['runs']['on'])}; "
                     f"off {', '.join(f'{x:.0f}' for x in r['runs']['off'])}; "
                     f"CPU µs/req on {', '.join(f'{x:.1f}' for x in r['cpu']['on'])}; "
                     f"off {', '.join(f'{x:.1f}' for x in r['cpu']['off'])}")
    text = "\n".join(lines) + "\n"
    open(os.path.join(OUT, "metrics.md"), "w").write(text)
    json.dump(rows, open(os.path.join(OUT, "metrics.json"), "w"), indent=1)
    print(text)


if __name__ == "__main__":
    main()
