#!/usr/bin/env python3
"""bench/metrics.py BUILD_DIR: what counting for GET /metrics costs the hot path.

Two actorq daemons run side by side, one with --metrics.enabled=true, one
with --metrics.enabled=false (both --store.path=:memory:, so the store's
fsync does not hide the cost). wrk (2 threads, 50 connections, BENCH_DURATION
seconds, default 3) drives one of them at a time, alternating A, B, A, B, ...
RUNS times each (BENCH_RUNS, default 5), on:
  - GET /v1/tasks/{id} of one finished task;
  - POST /v1/tasks of a `double` task (each one runs in the io pool, so
    tasks, attempts, queue wait and HTTP are all counted).
Each row is the median req/s with metrics on, off, and on/off; the target is
on >= 95 % of off. Writes bench/results/metrics.md and metrics.json and
prints the table.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from netutil import call, free_port

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DUR = int(float(os.environ.get("BENCH_DURATION", "3")))
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
    port = free_port()
    log = tempfile.TemporaryFile()
    p = subprocess.Popen([os.path.join(BIN, "actorq"), f"--http.port={port}",
                          "--store.path=:memory:", f"--metrics.enabled={enabled}"],
                         stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if call("GET", url + "/healthz", timeout=1)[1] == 200:
                return p, url
        except OSError:
            time.sleep(0.05)
    p.kill()
    log.seek(0)
    raise RuntimeError("actorq did not start: " + log.read().decode(errors="replace")[-400:])


def wrk(url, script):
    """req/s of one wrk run (non-2xx answers make the run invalid)."""
    args = ["wrk", "-t2", f"-c{CONNS}", f"-d{DUR}s", "-s", script, url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=DUR + 60).stdout
    line = json.loads(out.strip().splitlines()[-1])
    if line["non2xx"] or line["socket_errors"]:
        raise RuntimeError(f"wrk on {url}: {line}")
    return line["req_per_s"]


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(POST_LUA + open(REPORT_LUA).read())
        post_lua = f.name
    servers = {"on": start("true"), "off": start("false")}
    try:
        targets = {}
        for mode, (_, url) in servers.items():
            _, status, task = call("POST", url + "/v1/tasks", {"kind": "double", "input": {"value": 1}})
            assert status == 202, (status, task)
            call("GET", f"{url}/v1/tasks/{task['id']}?wait_ms=2000")
            targets[mode] = {"GET /v1/tasks/{id}": (f"{url}/v1/tasks/{task['id']}", REPORT_LUA),
                             "POST /v1/tasks": (url + "/v1/tasks", post_lua)}
        rows = {}
        for name in ("GET /v1/tasks/{id}", "POST /v1/tasks"):
            runs = {"on": [], "off": []}
            for mode in ("on", "off"):  # warm-up, not counted
                wrk(*targets[mode][name])
            for i in range(RUNS):
                order = ("on", "off") if i % 2 == 0 else ("off", "on")
                for mode in order:
                    runs[mode].append(wrk(*targets[mode][name]))
                    print(f"{name} metrics {mode}: {runs[mode][-1]:.0f} req/s", file=sys.stderr, flush=True)
            on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
            rows[name] = {"on": on, "off": off, "ratio": on / off, "runs": runs}
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
             "| route | metrics on (req/s) | metrics off (req/s) | on/off | target |",
             "|---|---:|---:|---:|---|"]
    for name, r in rows.items():
        met = "met" if r["ratio"] >= TARGET else "NOT met"
        lines.append(f"| {name} | {r['on']:.0f} | {r['off']:.0f} | {r['ratio'] * 100:.1f} % "
                     f"| >= 95 %: {met} |")
    lines += ["", "Every run (req/s):", ""]
    for name, r in rows.items():
        lines.append(f"- {name}: on {', '.join(f'{x:.0f}' for x in r['runs']['on'])}; "
                     f"off {', '.join(f'{x:.0f}' for x in r['runs']['off'])}")
    text = "\n".join(lines) + "\n"
    open(os.path.join(OUT, "metrics.md"), "w").write(text)
    json.dump(rows, open(os.path.join(OUT, "metrics.json"), "w"), indent=1)
    print(text)


if __name__ == "__main__":
    main()
