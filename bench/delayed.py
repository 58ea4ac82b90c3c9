#!/usr/bin/env python3
"""bench/delayed.py BUILD_DIR: delayed tasks (run_at / countdown_ms).

One actorq daemon with a store file (default config) runs two workloads:
  1. run_at accuracy: 1000 `echo` tasks whose run_at are spread over 10 s
     (all submitted before the first is due, so the daemon is idle at each
     run_at); the row is the p99 of started_at - run_at (target <= 10 ms),
     with p50 and max beside it.
  2. 100 000 scheduled tasks (input {"n": i}, countdown 30 days): the
     daemon's RSS growth per task (VmRSS before and after, target <= 300 B)
     and its CPU while they wait (utime + stime from /proc/PID/stat over
     5 s, target ~0: <= 1 % of one core; beside it the same daemon's CPU
     before any task, over 5 s).
Writes bench/results/delayed.md and delayed.json and prints the table.
Environment: BENCH_DELAYED_TASKS (default 100000), BENCH_DELAYED_SPREAD_S
(default 10).
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

from netutil import cpu_s, free_port

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "results")
MANY = int(os.environ.get("BENCH_DELAYED_TASKS", "100000"))
SPREAD_S = float(os.environ.get("BENCH_DELAYED_SPREAD_S", "10"))
ACCURACY_TASKS = 1000
CLIENTS = 8


def start(tmp):
    port = free_port()
    log = open(os.path.join(tmp, "actorq.log"), "wb")
    p = subprocess.Popen([os.path.join(BIN, "actorq"), f"--http.port={port}",
                          f"--store.path={os.path.join(tmp, 'delayed.db')}"],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("actorq did not start")


class Conn:
    """One keep-alive connection: JSON in, (status, JSON) out."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        for attempt in (1, 2):
            try:
                self.c.request(method, path, body=data,
                               headers={"Content-Type": "application/json"})
                r = self.c.getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the idle keep-alive connection: the
                # request never reached it, so sending it again is safe.
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def ms(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def rfc3339(epoch_ms):
    t = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (epoch_ms % 1000)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def accuracy(port):
    # Every task is submitted before the first is due (8 s of slack, 4
    # clients), so each run_at finds the daemon idle.
    first = int(time.time() * 1000) + 8000
    step = SPREAD_S * 1000 / ACCURACY_TASKS
    ids = [None] * ACCURACY_TASKS

    def submit(part):
        c = Conn(port)
        for i in range(part, ACCURACY_TASKS, 4):
            status, t = c.call("POST", "/v1/tasks", {
                "kind": "echo", "input": {"i": i},
                "run_at": rfc3339(first + int(i * step))})
            assert status == 202, (status, t)
            ids[i] = t["id"]
        c.c.close()

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    submitted_early = time.time() * 1000 < first
    time.sleep(max(0, (first - time.time() * 1000) / 1000 + SPREAD_S + 1))
    c = Conn(port)
    lags = []
    for id in ids:
        status, t = c.call("GET", f"/v1/tasks/{id}?wait_ms=10000")
        assert t["status"] == "succeeded", t
        lags.append(ms(t["started_at"]) - ms(t["run_at"]))
    c.c.close()
    return {"tasks": len(lags), "p50_ms": pct(lags, 0.5), "p99_ms": pct(lags, 0.99),
            "max_ms": max(lags), "min_ms": min(lags),
            "submitted_before_first_due": submitted_early,
            "load_average": os.getloadavg()[0]}


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def many(port, pid):
    c = Conn(port)
    # Warm up the paths (HTTP threads, store statements, arenas) first.
    for i in range(1000):
        c.call("POST", "/v1/tasks", {"kind": "echo", "input": {"n": i},
                                     "countdown_ms": 30 * 86400 * 1000})
    time.sleep(1)
    before = rss_kb(pid)
    errors = []

    def submit(part):
        cc = Conn(port)
        for i in range(part, MANY, CLIENTS):
            status, t = cc.call("POST", "/v1/tasks", {
                "kind": "echo", "input": {"n": i}, "countdown_ms": 30 * 86400 * 1000})
            if status != 202:
                errors.append((status, t))
                break
        cc.c.close()

    t0 = time.time()
    threads = [threading.Thread(target=submit, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - t0
    assert not errors, errors[:3]
    time.sleep(2)  # the last group commit, then quiet
    after = rss_kb(pid)
    # No connection stays open: an idle keep-alive connection costs the
    # server periodic wake-ups of its own, which are not the tasks'.
    c.c.close()
    time.sleep(1)
    cpu0, w0 = cpu_s(pid), time.time()
    time.sleep(5)
    cpu = (cpu_s(pid) - cpu0) / (time.time() - w0)
    return {"tasks": MANY, "submit_s": round(took, 1),
            "rss_before_kb": before, "rss_after_kb": after,
            "bytes_per_task": (after - before) * 1024 / MANY,
            "cpu_core_share_waiting": cpu}


def main():
    tmp = tempfile.mkdtemp(prefix="actorq-delayed.")
    p, port = start(tmp)
    try:
        cpu0, w0 = cpu_s(p.pid), time.time()
        time.sleep(5)
        idle_cpu = (cpu_s(p.pid) - cpu0) / (time.time() - w0)
        acc = accuracy(port)
        mem = many(port, p.pid)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        {"workload": f"run_at accuracy, {acc['tasks']} tasks over {SPREAD_S:g} s",
         "figure": acc["p99_ms"], "unit": "ms p99 (started_at - run_at)",
         "target": "≤ 10", "met": acc["p99_ms"] <= 10,
         "note": f"p50 {acc['p50_ms']:.0f} ms, max {acc['max_ms']:.0f} ms, "
                 f"min {acc['min_ms']:.0f} ms; machine load average "
                 f"{acc['load_average']:.1f} on {os.cpu_count()} cores"
                 + ("" if acc["submitted_before_first_due"]
                    else "; SUBMISSIONS OVERRAN THE FIRST run_at")},
        {"workload": f"{mem['tasks']} scheduled tasks, RSS",
         "figure": round(mem["bytes_per_task"]), "unit": "bytes per task",
         "target": "≤ 300", "met": mem["bytes_per_task"] <= 300,
         "note": f"VmRSS {mem['rss_before_kb']} → {mem['rss_after_kb']} kB; "
                 f"submitted in {mem['submit_s']} s"},
        {"workload": f"{mem['tasks']} scheduled tasks, CPU while waiting",
         "figure": round(mem["cpu_core_share_waiting"] * 100, 2),
         "unit": "% of one core", "target": "~0 (≤ 1)",
         "met": mem["cpu_core_share_waiting"] <= 0.01,
         "note": f"utime + stime over 5 s; the same daemon with no task: "
                 f"{idle_cpu * 100:.2f} %"},
    ]
    lines = ["# Delayed tasks", "",
             "`python3 bench/delayed.py BUILD_DIR` (part of `make bench`); "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores.", "",
             "| workload | figure | unit | target | met | note |",
             "|---|---:|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['figure']} | {r['unit']} | {r['target']} "
                     f"| {'yes' if r['met'] else 'NO'} | {r['note']} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(OUT, exist_ok=True)
    open(os.path.join(OUT, "delayed.md"), "w").write(text)
    json.dump({"rows": rows, "accuracy": acc, "memory": mem, "idle_cpu": idle_cpu},
              open(os.path.join(OUT, "delayed.json"), "w"), indent=2)
    print(text)


if __name__ == "__main__":
    main()
