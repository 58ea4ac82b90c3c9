#!/usr/bin/env python3
"""bench/runners.py BUILD_DIR: the runners of config kinds against their floors.

Four rows, every figure measured in this run, each against a floor measured
in this run too (the runs of both sides alternate, so that both see the same
machine):
  1. exec: 2 000 `/bin/cat` tasks (POST /v1/batches, kinds on pools of 2 and
     4) against bench_spawn, a bare posix_spawn-and-wait loop in C (1, 2 and
     4 loops in parallel); the row divides the better pool by the best loop.
  2. http: 10 000 tasks of an http kind (pool of 50) against bench_http's
     bare keep-alive client loop at the same concurrency, both calling the
     same local endpoint (bench_http serve) that answers {} at once.
  3. remote: 10 000 `wordcount` tasks served by actorq-example-worker in a
     second process against the same batch of the built-in `echo` kind run
     by the head itself.
  4. GET /v1/tasks/{id} (bench_load get, 50 connections) while 100 exec
     `sleep 1` jobs run, against the same GET on the idle daemon; and the
     wall time of 100 × `sleep 1` on a pool of 100.
Every actorq runs with --store.path=:memory: and --http.port=0 and is stopped
with SIGTERM. Figures are medians of RUNS runs (BENCH_RUNS, default 3); every
run is listed. Writes bench/results/runners.md and runners.json and prints
the table. A row that cannot be measured says why; the others go on.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from netutil import busy_cpu_s, call, free_port, own_cpu_s

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DUR = float(os.environ.get("BENCH_DURATION", "3"))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "results")
CONFIG = os.path.abspath(os.environ.get("BENCH_CONFIG", os.path.join(ROOT, "configs", "default.ini")))

EXEC_TASKS = 2000
EXEC_POOLS = (2, 4)
SPAWN_JOBS = (1, 2, 4)
HTTP_TASKS = 10_000
HTTP_CONC = 50
REMOTE_TASKS = 10_000
REMOTE_WORKERS = 8
SLEEPERS = 100
CONNS = 50
# The input of every exec task, the same bytes bench_spawn writes.
SPAWN_INPUT = {"text": "hello actorq", "value": 42}
TEXT = "the quick brown fox jumps over the lazy dog"  # 9 words


def log(msg):
    print(f"[{time.time() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


T0 = time.time()


# --------------------------------------------------------------- machine --

class Interference:
    """How much CPU processes other than ours took during a stretch."""

    def __init__(self):
        self.t, self.busy, self.own = time.time(), busy_cpu_s(), own_cpu_s()
        self.load = open("/proc/loadavg").read().split()[:3]

    def done(self):
        wall = time.time() - self.t
        busy = busy_cpu_s() - self.busy
        own = own_cpu_s() - self.own
        foreign = max(0.0, busy - own)
        return {"wall_s": round(wall, 1), "machine_busy_s": round(busy, 1), "ours_s": round(own, 1),
                "foreign_cpu_s": round(foreign, 1),
                "foreign_share": round(foreign / (wall * os.cpu_count()), 3) if wall > 0 else None,
                "load_before": " ".join(self.load),
                "load_after": " ".join(open("/proc/loadavg").read().split()[:3])}


# ------------------------------------------------------------- processes --

class Proc:
    """A process whose output goes to a temporary file; started when `wait_for`
    appears in it. stop() sends SIGTERM (SIGKILL after 10 s)."""

    def __init__(self, args, wait_for, timeout=15):
        self.log = tempfile.TemporaryFile()
        self.args = args
        if not os.access(args[0], os.X_OK):
            raise RuntimeError(f"{args[0]} does not exist (not built)")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if wait_for in self.output():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{os.path.basename(args[0])} did not print {wait_for!r} "
                           f"(exit status {self.p.returncode}): {self.output()[-400:].strip()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def actorq(*extra):
    """A fresh actorq (no store, free port): (Proc, url)."""
    p = Proc([os.path.join(BIN, "actorq"), f"--config-file={CONFIG}", "--http.port=0",
              "--store.path=:memory:", "--http.max-body-bytes=67108864", *extra],
             "actorq listening on http://")
    url = re.search(r"actorq listening on (http://\S+)", p.output()).group(1).rstrip("/")
    return p, url


def batch(url, kind, items):
    """One POST /v1/batches; every item must succeed. A run: {seconds,
    tasks_per_s}."""
    secs, status, reply = call("POST", url + "/v1/batches", {"kind": kind, "items": items})
    if status != 200 or not isinstance(reply, dict) or reply.get("succeeded") != len(items):
        errs = [e for e in (reply.get("errors") or []) if e] if isinstance(reply, dict) else []
        raise RuntimeError(f"batch of {len(items)} {kind}: HTTP {status}, "
                           f"succeeded {reply.get('succeeded') if isinstance(reply, dict) else None}, "
                           f"first error {errs[0] if errs else str(reply)[:300]!r}")
    return {"seconds": round(secs, 4), "tasks_per_s": round(len(items) / secs, 1)}


def pools(url):
    _, status, reply = call("GET", url + "/v1/pools", timeout=10)
    if status != 200 or not isinstance(reply, list):
        raise RuntimeError(f"GET /v1/pools answered {status}: {str(reply)[:200]}")
    return {p.get("name"): p for p in reply}


def tool(*args, timeout=300):
    """Runs a bench tool that prints one JSON line; its parsed line."""
    if not os.access(args[0], os.X_OK):
        raise RuntimeError(f"{args[0]} does not exist (not built)")
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise RuntimeError(f"{os.path.basename(args[0])} printed no JSON line (exit {out.returncode}): "
                           f"{(out.stderr or out.stdout)[-300:].strip()}")
    return json.loads(lines[-1])


def med(runs, key):
    return statistics.median(r[key] for r in runs)


# ------------------------------------------------------------------ rows --

def row_exec():
    """exec: /bin/cat per task, actorq (pools of 2 and 4) vs bench_spawn."""
    spawn = os.path.join(BIN, "bench_spawn")
    args = []
    for size in EXEC_POOLS:
        args += [f"--pools.spawn{size}.size={size}", f"--kinds.cat{size}.runner=exec",
                 f"--kinds.cat{size}.pool=spawn{size}", f'--kinds.cat{size}.command=["/bin/cat"]',
                 f"--kinds.cat{size}.max-retries=0"]
    items = [SPAWN_INPUT] * EXEC_TASKS
    floor = {j: [] for j in SPAWN_JOBS}
    ours = {s: [] for s in EXEC_POOLS}
    p, url = actorq(*args)
    try:
        # Warm-up: page in both sides.
        tool(spawn, "-n", "200", "-j", "2")
        for size in EXEC_POOLS:
            batch(url, f"cat{size}", items[:200])
        for i in range(RUNS):
            for j in SPAWN_JOBS:
                r = tool(spawn, "-n", str(EXEC_TASKS), "-j", str(j))
                if r.get("failed"):
                    raise RuntimeError(f"bench_spawn -j {j}: {r['failed']} of {r['runs']} runs failed")
                floor[j].append(r)
            for size in EXEC_POOLS:
                ours[size].append(batch(url, f"cat{size}", items))
            log(f"exec run {i + 1}: floor " + ", ".join(f"-j{j} {floor[j][-1]['per_second']:.0f}/s"
                                                        for j in SPAWN_JOBS)
                + "; actorq " + ", ".join(f"pool {s} {ours[s][-1]['tasks_per_s']:.0f}/s" for s in EXEC_POOLS))
    finally:
        rc = p.stop()
    best_pool = max(EXEC_POOLS, key=lambda s: med(ours[s], "tasks_per_s"))
    best_jobs = max(SPAWN_JOBS, key=lambda j: med(floor[j], "per_second"))
    figure = med(ours[best_pool], "tasks_per_s")
    base = med(floor[best_jobs], "per_second")
    detail = "; ".join(f"pool {s}: {med(ours[s], 'tasks_per_s'):,.0f}/s" for s in EXEC_POOLS)
    detail += "; bench_spawn " + ", ".join(f"-j {j}: {med(floor[j], 'per_second'):,.0f}/s" for j in SPAWN_JOBS)
    same = [f"pool {s} ÷ -j {s}: {med(ours[s], 'tasks_per_s') / med(floor[s], 'per_second'):.0%}"
            for s in EXEC_POOLS if s in floor]
    return {
        "row": f"exec: {EXEC_TASKS:,} `/bin/cat` tasks, POST /v1/batches",
        "figure": figure, "unit": "tasks/s", "floor": base,
        "floor_name": f"bench_spawn -j {best_jobs} (best of -j {', '.join(map(str, SPAWN_JOBS))})",
        "target": 0.70, "picked": f"pool {best_pool}",
        "note": detail + "; " + "; ".join(same) + f"; actorq exit status {rc}",
        "runs": {"actorq": {f"pool{s}": ours[s] for s in EXEC_POOLS},
                 "floor": {f"j{j}": floor[j] for j in SPAWN_JOBS}},
        "run_figures": [r["tasks_per_s"] for r in ours[best_pool]],
        "floor_figures": [r["per_second"] for r in floor[best_jobs]],
    }


def row_http():
    """http: an http kind (pool of 50) vs the bare client loop, same endpoint."""
    http = os.path.join(BIN, "bench_http")
    ep = Proc([http, "serve", "0", "64"], "listening on")
    port = re.search(r"listening on (\d+)", ep.output()).group(1)
    hook = f"http://127.0.0.1:{port}/hook"
    p = None
    try:
        p, url = actorq(f"--pools.web.size={HTTP_CONC}", "--kinds.hook.runner=http",
                        "--kinds.hook.pool=web", f'--kinds.hook.url="{hook}"',
                        "--kinds.hook.max-retries=0")
        items = [{}] * HTTP_TASKS
        tool(http, "client", hook, "1000", str(HTTP_CONC))
        batch(url, "hook", items[:1000])
        floor, ours = [], []
        for i in range(RUNS):
            r = tool(http, "client", hook, str(HTTP_TASKS), str(HTTP_CONC))
            if r.get("errors"):
                raise RuntimeError(f"bench_http client: {r['errors']} errors, first {r.get('first_error')}")
            floor.append(r)
            ours.append(batch(url, "hook", items))
            log(f"http run {i + 1}: floor {floor[-1]['calls_per_s']:.0f}/s; actorq {ours[-1]['tasks_per_s']:.0f}/s")
    finally:
        rc = p.stop() if p else None
        ep.stop()
    return {
        "row": f"http: {HTTP_TASKS:,} tasks of an http kind (pool of {HTTP_CONC}), POST /v1/batches",
        "figure": med(ours, "tasks_per_s"), "unit": "tasks/s", "floor": med(floor, "calls_per_s"),
        "floor_name": f"bench_http client, {HTTP_CONC} keep-alive connections",
        "target": 0.40, "note": f"endpoint: bench_http serve (64 threads) answering {{}}; actorq exit status {rc}",
        "runs": {"actorq": ours, "floor": floor},
        "run_figures": [r["tasks_per_s"] for r in ours], "floor_figures": [r["calls_per_s"] for r in floor],
    }


def row_remote():
    """remote: wordcount served by actorq-example-worker vs echo on the head."""
    port = free_port()
    p, url = actorq(f"--cluster.port={port}", "--pools.text.size=0", "--kinds.wordcount.runner=remote",
                    "--kinds.wordcount.pool=text")
    worker = None
    try:
        worker = Proc([os.path.join(BIN, "actorq-example-worker"), "127.0.0.1", str(port),
                       f"--workers={REMOTE_WORKERS}", "--name=bench"], " joined ")
        deadline = time.time() + 10
        while pools(url).get("text", {}).get("size") != REMOTE_WORKERS:
            if time.time() > deadline:
                raise RuntimeError(f"pool text never reached {REMOTE_WORKERS} workers: {pools(url).get('text')}")
            time.sleep(0.05)
        items = [{"text": f"{TEXT} {i}"} for i in range(REMOTE_TASKS)]
        batch(url, "echo", items[:1000])
        batch(url, "wordcount", items[:1000])
        floor, ours = [], []
        for i in range(RUNS):
            floor.append(batch(url, "echo", items))
            ours.append(batch(url, "wordcount", items))
            log(f"remote run {i + 1}: echo {floor[-1]['tasks_per_s']:.0f}/s; "
                f"wordcount {ours[-1]['tasks_per_s']:.0f}/s")
    finally:
        wrc = worker.stop() if worker else None
        rc = p.stop()
    return {
        "row": f"remote: {REMOTE_TASKS:,} `wordcount` tasks, POST /v1/batches, served by "
               f"actorq-example-worker (--workers={REMOTE_WORKERS}, a second process)",
        "figure": med(ours, "tasks_per_s"), "unit": "tasks/s", "floor": med(floor, "tasks_per_s"),
        "floor_name": "the same batch of the built-in `echo` kind on the head",
        "target": 0.50, "note": f"actorq exit status {rc}, worker exit status {wrc}",
        "runs": {"actorq": ours, "floor": floor},
        "run_figures": [r["tasks_per_s"] for r in ours], "floor_figures": [r["tasks_per_s"] for r in floor],
    }


def row_get_sleep():
    """GET /v1/tasks/{id} while 100 exec `sleep 1` run vs idle; 100 × sleep 1 wall."""
    load = os.path.join(BIN, "bench_load")
    p, url = actorq(f"--pools.naps.size={SLEEPERS}", "--kinds.nap.runner=exec", "--kinds.nap.pool=naps",
                    '--kinds.nap.command=["/bin/sleep", "1"]', "--kinds.nap.max-retries=0")
    try:
        _, status, task = call("POST", url + "/v1/tasks", {"kind": "echo", "input": {"value": 1}})
        if status != 202 or not isinstance(task, dict):
            raise RuntimeError(f"POST /v1/tasks answered {status}: {str(task)[:200]}")
        tid = task["id"]
        call("GET", f"{url}/v1/tasks/{tid}?wait_ms=5000")
        get = [load, "get", f"--url={url}", f"--path=/v1/tasks/{tid}", f"--conns={CONNS}"]

        def get_run():
            r = tool(*get, f"--duration={DUR}")
            if not r.get("ok") or r.get("bad") or r.get("first_error"):
                raise RuntimeError(f"bench_load get: {json.dumps(r)[:300]}")
            return r

        # 100 × sleep 1 on a pool of 100, alone.
        walls = []
        batch(url, "nap", [{}] * SLEEPERS)  # warm-up
        for _ in range(RUNS):
            walls.append(batch(url, "nap", [{}] * SLEEPERS))
        log("100 × sleep 1: " + ", ".join(f"{w['seconds']:.3f} s" for w in walls))

        tool(*get, "--duration=1")  # warm-up
        idle, busy = [], []
        for i in range(RUNS):
            idle.append(get_run())
            # A batch that keeps all 100 sleepers busy for DUR + 2 s; the GETs
            # start once the pool is full.
            n = SLEEPERS * int(DUR + 2)
            result, samples = {}, []

            def sleepers():
                try:
                    result["run"] = batch(url, "nap", [{}] * n)
                except Exception as e:  # reported below
                    result["error"] = str(e)

            t = threading.Thread(target=sleepers)
            t.start()
            deadline = time.time() + 5
            while pools(url)["naps"].get("busy", 0) < SLEEPERS and time.time() < deadline:
                time.sleep(0.02)
            stop = threading.Event()

            def sample():
                while not stop.wait(0.25):
                    samples.append(pools(url)["naps"].get("busy", 0))

            s = threading.Thread(target=sample)
            s.start()
            r = get_run()
            stop.set()
            s.join()
            t.join()
            if "error" in result:
                raise RuntimeError(result["error"])
            r["sleepers_busy"] = {"min": min(samples, default=None), "max": max(samples, default=None),
                                  "samples": len(samples)}
            r["sleep_batch"] = result["run"]
            busy.append(r)
            log(f"GET run {i + 1}: idle {idle[-1]['req_per_s']:.0f}/s; with {SLEEPERS} sleepers "
                f"{busy[-1]['req_per_s']:.0f}/s (busy {r['sleepers_busy']['min']}–{r['sleepers_busy']['max']})")
    finally:
        rc = p.stop()

    def p99(runs):
        return statistics.median(r.get("latency_us", {}).get("p99", 0) for r in runs) / 1000

    busy_seen = [r["sleepers_busy"]["min"] for r in busy]
    wall = med(walls, "seconds")
    return [{
        "row": f"GET /v1/tasks/{{id}}, {CONNS} conns, {DUR:g} s, while {SLEEPERS} exec `sleep 1` run "
               f"(pool of {SLEEPERS}, kept full)",
        "figure": med(busy, "req_per_s"), "unit": "req/s", "floor": med(idle, "req_per_s"),
        "floor_name": "the same GET on the idle daemon",
        "target": 0.80,
        "note": f"p99 {p99(busy):.1f} ms (idle {p99(idle):.1f} ms); fewest sleepers seen running during the "
                f"GETs per run: {busy_seen}; actorq exit status {rc}",
        "runs": {"actorq": busy, "floor": idle},
        "run_figures": [r["req_per_s"] for r in busy], "floor_figures": [r["req_per_s"] for r in idle],
    }, {
        "row": f"{SLEEPERS} × `sleep 1` (exec) on a pool of {SLEEPERS}, one batch: wall time",
        "figure": wall, "unit": "s", "floor": None, "floor_name": None,
        "target_text": "≈ 1 s (concurrent), ≤ 1.2 s", "met": wall <= 1.2,
        "note": f"{SLEEPERS} s if they ran one at a time",
        "runs": {"actorq": walls}, "run_figures": [r["seconds"] for r in walls],
    }]


# ---------------------------------------------------------------- report --

def fmt(x, unit):
    if x is None:
        return "—"
    if unit == "s":
        return f"{x:.3f}"
    return f"{x:,.0f}"


def main():
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    whole = Interference()
    rows = []
    for name, fn in (("exec", row_exec), ("http", row_http), ("remote", row_remote),
                     ("get_while_exec", row_get_sleep)):
        log(f"{name} …")
        inter = Interference()
        try:
            got = fn()
            for r in got if isinstance(got, list) else [got]:
                r["id"] = name
                r["interference"] = inter.done()
                rows.append(r)
        except Exception as e:
            traceback.print_exc()
            rows.append({"id": name, "row": name, "not_measured": str(e)[:500],
                         "interference": inter.done()})
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": RUNS, "duration_s": DUR,
            "cores": os.cpu_count(), "build": BUILD,
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name")), "?"),
            "commit": commit(), "machine": whole.done()}
    for r in rows:
        if r.get("floor"):
            r["ratio"] = r["figure"] / r["floor"]
            r["met"] = r["ratio"] >= r["target"]
    with open(os.path.join(OUT, "runners.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    text = report(meta, rows)
    with open(os.path.join(OUT, "runners.md"), "w") as f:
        f.write(text)
    print(text)


def commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
        return c + (" (+ uncommitted changes)" if dirty else "")
    except OSError:
        return "none"


def report(meta, rows):
    m = meta["machine"]
    lines = [
        f"# Runners benchmark ({meta['date']}, {meta['cores']} cores, loopback, "
        f"`python3 bench/runners.py {meta['build']}`)",
        "",
        f"- commit {meta['commit']}; {meta['cpu']}; **actorq, the floors, the endpoint, the worker and the "
        f"load generator share these {meta['cores']} cores**.",
        f"- medians of {meta['runs']} runs; the runs of a row and of its floor alternate; every run is listed. "
        "Ratio = actorq ÷ the floor measured in the same run.",
        f"- load average before {m['load_before']}, after {m['load_after']}; other processes used "
        f"{m['foreign_cpu_s']} CPU-s of the machine during the {m['wall_s']} s "
        f"({100 * (m['foreign_share'] or 0):.0f}% of its cores; this suite {m['ours_s']} CPU-s).",
    ]
    try:
        noisy = float(m["load_before"].split()[0]) > 1.0 or (m["foreign_share"] or 0) > 0.05
    except ValueError:
        noisy = False
    if noisy:
        lines.append("- **WARNING: the machine was not quiet (load average > 1 at the start, or other processes "
                     "took > 5% of the CPU): the figures are lower bounds.**")
    lines += ["", "| workload | actorq | floor | ratio | target | met? | runs (actorq / floor) | note |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "not_measured" in r:
            why = r["not_measured"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['row']} | not measured: {why} | | | | | | |")
            continue
        u = r["unit"]
        if r.get("floor"):
            floor = f"{fmt(r['floor'], u)} {u} ({r['floor_name']})"
            ratio = f"{r['ratio']:.0%}"
            target = f"≥ {r['target']:.0%}"
        else:
            floor, ratio, target = "—", "—", r.get("target_text", "—")
        runs = ", ".join(fmt(x, u) for x in r["run_figures"])
        if r.get("floor_figures"):
            runs += " / " + ", ".join(fmt(x, u) for x in r["floor_figures"])
        note = r.get("note", "")
        if r.get("picked"):
            note = f"row = {r['picked']} (the better); " + note
        i = r["interference"]
        if (i.get("foreign_share") or 0) > 0.05:
            note += f"; other processes took {100 * i['foreign_share']:.0f}% of the CPU meanwhile"
        lines.append(f"| {r['row']} | {fmt(r['figure'], u)} {u} | {floor} | {ratio} | {target} | "
                     f"{'yes' if r['met'] else '**no**'} | {runs} | {note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
