#!/usr/bin/env python3
"""Small measurement helpers for bench/run.sh (stdlib only).

Each subcommand prints one JSON line on stdout (or a plain value for `http`).

  tools.py http METHOD URL [BODY] [--field KEY]
      One request; prints the body (or one top-level field of its JSON).
      Exits 1 with the status and body on stderr unless the answer is 2xx.
  tools.py startup --runs N -- CMD...
      Time from exec to the `listening on` line, over N fresh starts.
  tools.py supervise --runs N --min-backoff-ms MS -- CMD...
      Crash the only worker of a size-1 io pool, time until it serves again.
  tools.py memory --url URL --pid PID --bench-load PATH --tasks N --budget S
      RSS per retained terminal task: RSS before/after N finished tasks.
  tools.py ini FILE GROUP.KEY [--ms] [--default V]
      One value of actorq's INI config (durations in ms with --ms).
  tools.py cpu-busy
      CPU seconds the whole machine has spent in user+system so far.
  tools.py foreign --since=SECONDS --wall=S --times="$(times)"
      How much CPU other processes took while the suite ran: machine busy time
      since the mark, less the suite's own (bash `times`, children included).
"""
import argparse
import atexit
import http.client
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def request(url, method, path, body=None, timeout=30):
    """One HTTP request on a fresh connection: (status, body text)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Client:
    """A keep-alive connection, so that timed requests pay no connect.  The
    server closes idle keep-alive connections (after 5 s): a request that finds
    its connection closed is sent again once on a new one."""

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = None if body is None else json.dumps(body)
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return resp.status, data, text

    def close(self):
        self.conn.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_server(cmd, timeout=10.0):
    """Start CMD; return (process, url, seconds from exec to the listening line)."""
    if os.path.basename(cmd[0]) == "actorq" and not any(x.startswith("--store.path=") for x in cmd):
        # A store file of its own for every start (one process per store).
        folder = tempfile.mkdtemp(prefix="actorq-bench.")
        atexit.register(shutil.rmtree, folder, True)
        cmd = cmd + ["--store.path=" + os.path.join(folder, "tasks.db")]
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise RuntimeError(f"cannot start {cmd[0]}: {e.strerror}") from e
    buf = b""
    deadline = t0 + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            stop_server(proc)
            raise RuntimeError(f"no listening line within {timeout} s")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            proc.wait()
            tail = buf.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise RuntimeError(f"server exited ({proc.returncode}) before listening: {' / '.join(tail)}")
        buf += chunk
        for line in buf.decode("utf-8", "replace").splitlines():
            if "listening on" in line:
                t1 = time.perf_counter()
                addr = line.split("listening on", 1)[1].strip()
                url = addr if addr.startswith("http") else f"http://127.0.0.1:{addr}"
                # Keep draining its output so that the server never blocks on a full pipe.
                threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
                return proc, url.rstrip("/"), t1 - t0


def stop_server(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def emit(obj):
    print(json.dumps(obj), flush=True)


# ----------------------------------------------------------------- commands --

def cmd_http(a):
    u = urllib.parse.urlsplit(a.url)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    status, text = request(a.url, a.method, path, a.body)
    if not 200 <= status < 300:
        print(f"{a.method} {a.url} answered {status}: {text[:200]}", file=sys.stderr)
        return 1
    if a.field:
        try:
            value = json.loads(text)[a.field]
        except (ValueError, KeyError, TypeError):
            print(f"{a.method} {a.url}: no field {a.field!r} in {text[:200]}", file=sys.stderr)
            return 1
        print(value if isinstance(value, str) else json.dumps(value))
    else:
        print(text)
    return 0


def cmd_startup(a):
    runs, errors = [], []
    for _ in range(a.runs):
        try:
            proc, _, secs = start_server(a.cmd)
            runs.append(secs * 1000)
            stop_server(proc)
        except RuntimeError as e:
            errors.append(str(e))
            break
    out = {"tool": "startup", "runs_ms": [round(x, 2) for x in runs]}
    if runs:
        out["median_ms"] = round(statistics.median(runs), 2)
    if errors:
        out["error"] = errors[0]
    emit(out)
    return 0


def pools_by_name(client):
    status, data, text = client.call("GET", "/v1/pools")
    if status != 200 or not isinstance(data, list):
        raise RuntimeError(f"GET /v1/pools answered {status}: {text[:200]}")
    return {p.get("name"): p for p in data}


def supervise_once(cmd, min_backoff_ms):
    """One fresh server whose io pool has one worker.  Measured on the client:

    t0        just before POST /v1/tasks {"kind":"crash"} (max_retries 0)
    restarted first time GET /v1/pools shows io.restarts incremented (polled ~every 2 ms)
    served    a `double` task submitted right after the crash, queued behind it on
              the same (only) worker, is seen terminal via GET ?wait_ms
    The figure is served - t0: crash, detection, backoff, respawn and one task.
    """
    proc, url, _ = start_server(cmd)
    try:
        c, poller = Client(url), Client(url)
        status, data, text = c.call("POST", "/v1/tasks", {"kind": "double", "input": {"value": 1}})
        if status != 202:
            raise RuntimeError(f"POST /v1/tasks double answered {status}: {text[:200]}")
        c.call("GET", f"/v1/tasks/{data['id']}?wait_ms=5000")
        r0 = pools_by_name(poller)["io"]["restarts"]

        restarted = {}

        def poll():
            end = time.perf_counter() + 10
            while time.perf_counter() < end:
                if pools_by_name(poller)["io"]["restarts"] > r0:
                    restarted["t"] = time.perf_counter()
                    return
                time.sleep(0.002)

        t0 = time.perf_counter()
        status, data, text = c.call("POST", "/v1/tasks", {"kind": "crash", "input": {}, "max_retries": 0})
        if status != 202:
            raise RuntimeError(f"POST /v1/tasks crash answered {status}: {text[:200]}")
        th = threading.Thread(target=poll)
        th.start()
        status, data, text = c.call("POST", "/v1/tasks", {"kind": "double", "input": {"value": 2}})
        if status != 202:
            raise RuntimeError(f"POST /v1/tasks double answered {status}: {text[:200]}")
        task = data["id"]
        state = None
        while time.perf_counter() - t0 < 15:
            status, data, text = c.call("GET", f"/v1/tasks/{task}?wait_ms=10000")
            state = (data or {}).get("status")
            if state in ("succeeded", "failed", "cancelled"):
                break
        served = time.perf_counter()
        th.join()
        if state != "succeeded":
            raise RuntimeError(f"the task after the crash ended {state!r}")
        if "t" not in restarted:
            raise RuntimeError("io.restarts never incremented within 10 s")
        return {"served_ms": (served - t0) * 1000, "restart_seen_ms": (restarted["t"] - t0) * 1000}
    finally:
        stop_server(proc)


def cmd_supervise(a):
    runs, error = [], None
    for _ in range(a.runs):
        try:
            runs.append(supervise_once(a.cmd, a.min_backoff_ms))
        except (RuntimeError, OSError, KeyError, TypeError, http.client.HTTPException) as e:
            error = f"{type(e).__name__}: {e}" if not isinstance(e, RuntimeError) else str(e)
            break
    out = {"tool": "supervise", "min_backoff_ms": a.min_backoff_ms,
           "served_ms_runs": [round(r["served_ms"], 2) for r in runs],
           "restart_seen_ms_runs": [round(r["restart_seen_ms"], 2) for r in runs]}
    if runs:
        out["served_ms_median"] = round(statistics.median(r["served_ms"] for r in runs), 2)
        out["restart_seen_ms_median"] = round(statistics.median(r["restart_seen_ms"] for r in runs), 2)
    if error:
        out["error"] = error
    emit(out)
    return 0


def finished_total(client):
    pools = pools_by_name(client)
    return sum(int(p.get("completed", 0)) + int(p.get("failed", 0)) for p in pools.values())


def wait_drained(client, target, timeout):
    """Wait until the pools count `target` finished tasks; True if they did."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if finished_total(client) >= target:
            return True
        time.sleep(0.1)
    return False


def run_submit(bench_load, url, count, budget):
    cmd = [bench_load, "submit", f"--url={url}", "--conns=32", f"--count={count}", f"--duration={budget}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 60).stdout.strip().splitlines()
    return json.loads(out[-1])


def cmd_memory(a):
    out = {"tool": "memory", "tasks_asked": a.tasks}
    try:
        c = Client(a.url)
        base = finished_total(c)
        warm = run_submit(a.bench_load, a.url, a.warmup, 30)
        if warm["ok"] == 0:
            raise RuntimeError(warm.get("first_error", "warm-up submissions failed"))
        drained = wait_drained(c, base + warm["ok"], 30)
        time.sleep(0.5)
        before = rss_kib(a.pid)
        base = finished_total(c)
        res = run_submit(a.bench_load, a.url, a.tasks, a.budget)
        n = res["ok"]
        drained = wait_drained(c, base + n, a.drain_timeout) and drained
        time.sleep(0.5)
        after = rss_kib(a.pid)
        out.update({"tasks": n, "submit_per_s": res["req_per_s"], "rss_before_kib": before,
                    "rss_after_kib": after, "drained": drained,
                    "bytes_per_task": round((after - before) * 1024 / n, 1) if n else None})
        if res.get("first_error"):
            out["submit_error"] = res["first_error"]
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError,
            http.client.HTTPException) as e:
        out["error"] = str(e)
    emit(out)
    return 0


def cmd_ini(a):
    """CAF-style INI: [group] sections (dots allowed), key = value, ; comments."""
    group, key = a.key.rsplit(".", 1)
    section, value = None, None
    try:
        lines = open(a.file).read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        line = line.split(";")[0].strip()
        if line.startswith("["):
            section = line.strip("[]").strip()
        elif "=" in line and section == group:
            k, v = (x.strip() for x in line.split("=", 1))
            if k == key:
                value = v.strip('"')
    if value is None:
        value = a.default
    if value is not None and a.ms:
        m = re.fullmatch(r"([0-9.]+)\s*(ns|us|ms|s|min|h)?", value)
        if not m:
            print(f"{a.key}: not a duration: {value}", file=sys.stderr)
            return 1
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1000, "min": 60000, "h": 3600000}
        value = float(m.group(1)) * scale.get(m.group(2) or "ms")
        value = f"{value:g}"
    if value is None:
        print(f"{a.key}: not in {a.file}", file=sys.stderr)
        return 1
    print(value)
    return 0


def machine_busy_s():
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    # user nice system idle iowait irq softirq ...: processes are charged their
    # softirq time too (loopback traffic), so it counts as busy here.
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cmd_cpu_busy(a):
    print(f"{machine_busy_s():.2f}")
    return 0


def cmd_foreign(a):
    # bash `times`: "0m0.1s 0m0.2s" (shell user, sys) then the same for its children.
    ours = sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", a.times))
    busy = machine_busy_s() - a.since
    foreign = max(0.0, busy - ours)
    emit({"machine_busy_s": round(busy, 1), "suite_cpu_s": round(ours, 1), "foreign_cpu_s": round(foreign, 1),
          "foreign_share": round(foreign / (a.wall * os.cpu_count()), 3) if a.wall > 0 else None})
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    h = sub.add_parser("http")
    h.add_argument("method")
    h.add_argument("url")
    h.add_argument("body", nargs="?")
    h.add_argument("--field")
    s = sub.add_parser("startup")
    s.add_argument("--runs", type=int, default=5)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    v = sub.add_parser("supervise")
    v.add_argument("--runs", type=int, default=3)
    v.add_argument("--min-backoff-ms", type=float, default=50)
    v.add_argument("cmd", nargs=argparse.REMAINDER)
    m = sub.add_parser("memory")
    m.add_argument("--url", required=True)
    m.add_argument("--pid", type=int, required=True)
    m.add_argument("--bench-load", required=True)
    m.add_argument("--tasks", type=int, default=1_000_000)
    m.add_argument("--warmup", type=int, default=20_000)
    m.add_argument("--budget", type=float, default=60)
    m.add_argument("--drain-timeout", type=float, default=60)
    i = sub.add_parser("ini")
    i.add_argument("file")
    i.add_argument("key")
    i.add_argument("--ms", action="store_true")
    i.add_argument("--default")
    sub.add_parser("cpu-busy")
    f = sub.add_parser("foreign")
    f.add_argument("--since", type=float, required=True)
    f.add_argument("--wall", type=float, required=True)
    f.add_argument("--times", required=True)
    a = p.parse_args()
    if getattr(a, "cmd", None) and a.cmd[0] == "--":
        a.cmd = a.cmd[1:]
    return {"http": cmd_http, "startup": cmd_startup, "supervise": cmd_supervise,
            "memory": cmd_memory, "ini": cmd_ini, "cpu-busy": cmd_cpu_busy,
            "foreign": cmd_foreign}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
