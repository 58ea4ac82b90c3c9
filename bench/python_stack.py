#!/usr/bin/env python3
"""bench/python_stack.py BUILD_DIR: the seed article's Python service beside actorq, same run.

The service the seed article describes (bench/pystack: FastAPI under uvicorn,
Celery + Redis for the heavy route, a ProcessPoolExecutor for CPU work) and
actorq (which keeps the seed's routes and JSON shapes) get the same client
requests from the same load generator (build/bin/bench_load, the suite's),
on loopback, in the same run, every row's runs alternating between the two:

  status GET      GET /task-status/{id} (the article's TaskManager), and
                  GET /check-task/{id} of a finished Celery task, 50 conns
  submit          POST /submit-task (BackgroundTasks) and POST
                  /submit-heavy-task (Celery), 50 connections, closed loop
  submit + wait   POST /submit-heavy-task, then GET /check-task/{id} until
                  "completed" (polled at once again: neither side long-polls
                  on this route), 50 connections, BENCH_PY_TASKS tasks
  fan-out         POST /process-multiple, 10 000 items of 1 s (asyncio.gather)
  cpu-bound       POST /process-cpu-bound, 10 000 items (ProcessPoolExecutor)
  one client      POST /v1/tasks one at a time on one connection (actorq,
                  store.sync = full and normal) beside the Python stack's
                  POST /submit-heavy-task (Celery, Redis without persistence)
  RSS             of the whole stack: VmRSS (and PSS) summed over every
                  process (redis, the Celery worker and its children, uvicorn's
                  parent, workers and their process pools)

The Python stack: redis-server (no persistence), one Celery worker (prefork,
one process per core), uvicorn with `--workers=BENCH_PY_WORKERS` (default:
the number of cores) on uvloop and httptools. Its /task-status state lives in
one process (the article's in-memory TaskManager), so that row runs against a
second uvicorn with one worker, started for it alone. Delays: the app keeps
the article's (1 s per fan-out item; BackgroundTasks sleep, costing nothing
while they wait), the Celery worker runs the heavy task at once
(PYSTACK_DELAY_SCALE=0), and so does actorq's heavy pool (a daemon with
--seed.delay-scale=0 serves every row but fan-out and cpu-bound, which a
daemon with the default scale serves). Every actorq is durable (the
configuration's store, store.sync = full) unless the row says otherwise.

Figures are medians of BENCH_RUNS (3) runs per side; actorq ÷ Python divides
the medians of the same run. Knobs: BENCH_RUNS, BENCH_DURATION (3 s per timed
run), BENCH_PY_TASKS (1000), BENCH_PY_WORKERS (cores), BENCH_CONFIG,
BENCH_PEER_PYTHON (/usr/bin/python3). Writes bench/results/python_stack.md
and python_stack.json and prints the table. A row that cannot be measured
says why; the others go on.
"""
import atexit
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import leases
from leases import Interference, Proc, commit, actorq_source, peer_versions, stop_all
from netutil import bench_load, call, free_port, not_quiet_warning

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DUR = float(os.environ.get("BENCH_DURATION", "3"))
TASKS = int(os.environ.get("BENCH_PY_TASKS", "1000"))
CORES = os.cpu_count()
WORKERS = int(os.environ.get("BENCH_PY_WORKERS", str(CORES)))
ITEMS = 10000
CONNS = 50
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = leases.ROOT
PYSTACK = leases.PYSTACK
OUT = leases.OUT
CONFIG = leases.CONFIG
PY = leases.PEER_PYTHON
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


def post(url, body):
    secs, status, reply = call("POST", url, body, timeout=60)
    if status >= 300 or not isinstance(reply, dict):
        raise RuntimeError(f"POST {url} answered {status}: {str(reply)[:300]}")
    return reply


def load(*args, timeout=300):
    """One bench_load run: its JSON line (a dict with first_error if it failed)."""
    return bench_load(BIN, *args, timeout=timeout)


# ------------------------------------------------------------- processes --

def group_pids(procs):
    return [pid for p in procs if p.alive() for pid in p.pids()]


def memory_kib(pids):
    """(VmRSS summed, PSS summed) in KiB over pids. RSS counts pages shared
    by forked processes once per process; PSS splits them."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                rss += int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                pss += int(next(l for l in f if l.startswith("Pss:")).split()[1])
        except (OSError, StopIteration, ValueError):
            pass
    return rss, pss


class PyStack(leases.Stack):
    """redis-server, a Celery worker (heavy task at once) and the app under
    uvicorn with WORKERS workers; app1() adds a one-worker uvicorn."""

    def _start(self):
        rport = self.start_redis()
        self.env = dict(os.environ, PYSTACK_REDIS=f"redis://127.0.0.1:{rport}", PYTHONPATH=PYSTACK)
        self.procs.append(Proc("celery", [PY, "-m", "celery", "-A", "tasks", "worker", "--pool=prefork",
                                          f"--concurrency={CORES}", "--loglevel=WARNING", "--without-gossip",
                                          "--without-mingle", "--without-heartbeat", "-n", "pystack@%h"],
                               cwd=PYSTACK, env=dict(self.env, PYSTACK_DELAY_SCALE="0")))
        self.app, self.url = self._uvicorn("uvicorn", WORKERS)
        self.procs.append(self.app)

    def _uvicorn(self, name, workers):
        port = free_port()
        args = [PY, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "info", "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
        if workers > 1:
            args.append(f"--workers={workers}")
        # Up once the socket is bound ("Uvicorn running on": before the workers
        # start with --workers, after the startup of a single process) and
        # every worker has said "Application startup complete."
        ready = r"(?s)(?=.*Uvicorn running on)(?:.*?Application startup complete){%d}" % workers
        p = Proc(name, args, ready, timeout=60,
                 cwd=PYSTACK, env=self.env)
        return p, f"http://127.0.0.1:{port}"

    def pools_started(self):
        """True once every uvicorn worker has forked its process pool: a worker
        is a child of uvicorn's parent (started by multiprocessing's
        spawn_main); its pool processes are its children."""
        ppid, workers = {}, []
        for pid in self.app.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid[pid] = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if ppid[pid] == self.app.p.pid and b"spawn_main" in f.read():
                        workers.append(pid)
            except (OSError, IndexError, ValueError):
                continue
        if WORKERS == 1:  # uvicorn serves in its own process
            return self.app.p.pid in ppid.values()
        return len(workers) == WORKERS and all(w in ppid.values() for w in workers)

    def app1(self):
        return self._uvicorn("uvicorn_1worker", 1)

    def memory(self):
        return memory_kib(group_pids(self.procs)) + (len(group_pids(self.procs)),)


def actorq(name, *extra):
    path = os.path.join(leases.TMP, f"{name}.db")
    p = Proc(name, [os.path.join(BIN, "actorq"), f"--config-file={CONFIG}", "--http.port=0",
                    f"--store.path={path}", *extra], r"listening on http://\S+")
    p.url = re.search(r"listening on (http://\S+)", p.output()).group(1).rstrip("/")
    return p


# ------------------------------------------------------------------ rows --

def seed_task(url, route="/start-task"):
    return post(url + route, {"value": 21})["task_id"]


def wait_completed(url, tid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, status, reply = call("GET", f"{url}/check-task/{tid}", timeout=10)
        if isinstance(reply, dict) and reply.get("status") == "completed":
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url}/check-task/{tid} not completed after {timeout} s: {reply}")


def fig_rate(r):
    return r.get("req_per_s") if not r.get("bad") and not r.get("first_error") else None


def fig_tasks(r):
    return r.get("tasks_per_s") if r.get("tasks_done") == TASKS else None


def fig_wall(r):
    ok = r.get("items_in_answer_min") == ITEMS and not r.get("first_error")
    return r.get("wall_ms_median") if ok else None


def fig_p50(r):
    return (r.get("latency_us") or {}).get("p50") / 1000 if fig_rate(r) else None


def wrk(url):
    """One wrk run (the suite's cross-check of bench_load's GET figures): its
    JSON summary (bench/wrk_report.lua), or {"first_error"}."""
    cmd = ["wrk", "-t2", f"-c{CONNS}", f"-d{DUR:g}s", "-s", os.path.join(leases.BENCH, "wrk_report.lua"), url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=DUR + 60)
        line = (out.stdout.strip().splitlines() or [""])[-1]
        return json.loads(line) if line.startswith("{") else {"first_error": f"wrk: {out.stderr[-300:]}"}
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        return {"first_error": f"wrk: {e}"}


def get_args(path):
    return ["get", f"--path={path}", f"--conns={CONNS}", f"--duration={DUR}"]


def submit_args(path, conns=CONNS):
    return ["submit", f"--submit-path={path}", "--body={\"value\":{i}}", f"--conns={conns}", f"--duration={DUR}"]


E2E = ["e2e", "--submit-path=/submit-heavy-task", "--body={\"value\":{i}}", "--id-field=task_id",
       "--poll-path=/check-task/{id}", f"--conns={CONNS}", f"--tasks={TASKS}", "--timeout=60", "--max-time=120"]


def items_args(mode):
    return [mode, f"--items={ITEMS}", "--repeat=1", "--timeout=60", "--max-time=90"]


class Row:
    """A workload run alternately on each side (side: name → (url, args)),
    figure(run) → number or None (the run failed)."""

    def __init__(self, id, title, unit, sides, figure, lower_better=False, warm=None, note=""):
        self.id, self.title, self.unit, self.sides, self.figure = id, title, unit, sides, figure
        self.lower_better, self.warm, self.note = lower_better, warm, note
        self.runs = {s: [] for s in sides}
        self.wrk = {}  # side -> wrk's summary (GET rows)
        self.not_measured = None

    def run_once(self, side):
        url, args = self.sides[side]
        inter = Interference()
        r = load(*args, f"--url={url}")
        r["interference"] = inter.done()
        r["figure"] = self.figure(r)
        self.runs[side].append(r)
        return r

    def median(self, side):
        v = [r["figure"] for r in self.runs[side] if r["figure"] is not None]
        return statistics.median(v) if v else None

    def failure(self, side):
        bad = [r for r in self.runs[side] if r["figure"] is None]
        return (bad[0].get("first_error") or json.dumps(bad[0])[:300]) if bad else None


def build_rows(a0, a1, anormal, py, py1, ids):
    """ids: the task ids each side's GET rows read."""
    s = lambda a, p, args: {"actorq": (a.url, args), "python": (p, args)}
    rows = [
        Row("get_status", "`GET /task-status/{id}`, 50 connections", "req/s",
            {"actorq": (a0.url, get_args(f"/task-status/{ids['a_status']}")),
             "python": (py1, get_args(f"/task-status/{ids['p_status']}"))}, fig_rate,
            note="Python: one uvicorn worker (the article's TaskManager is per process)"),
        Row("get_check", "`GET /check-task/{id}` of a finished Celery task, 50 connections", "req/s",
            {"actorq": (a0.url, get_args(f"/check-task/{ids['a_heavy']}")),
             "python": (py.url, get_args(f"/check-task/{ids['p_heavy']}"))}, fig_rate),
        Row("submit", "`POST /submit-task` (BackgroundTasks), 50 connections", "req/s",
            s(a0, py.url, submit_args("/submit-task")), fig_rate, warm=1),
        Row("submit_heavy", "`POST /submit-heavy-task` (Celery), 50 connections", "req/s",
            s(a0, py.url, submit_args("/submit-heavy-task")), fig_rate, warm=1),
        Row("e2e", f"submit + wait: `POST /submit-heavy-task`, then `GET /check-task/{{id}}` until completed, "
            f"{TASKS:,} tasks, 50 connections", "tasks/s", s(a0, py.url, E2E), fig_tasks),
        Row("fanout", f"fan-out: `POST /process-multiple`, {ITEMS:,} items × 1 s", "ms wall",
            s(a1, py.url, items_args("fanout")), fig_wall, lower_better=True),
        Row("cpu", f"cpu-bound: `POST /process-cpu-bound`, {ITEMS:,} items", "ms wall",
            s(a1, py.url, items_args("cpu")), fig_wall, lower_better=True),
    ]
    one = lambda path: ["submit", f"--submit-path={path}", "--conns=1", f"--duration={DUR}"] + \
        (["--body={\"value\":{i}}"] if not path.startswith("/v1") else [])
    rows.append(Row("one_client", "one client, one submission at a time: p50 latency", "ms",
                    {"actorq": (a0.url, one("/v1/tasks")), "actorq_normal": (anormal.url, one("/v1/tasks")),
                     "python": (py.url, one("/submit-heavy-task"))}, fig_p50, lower_better=True))
    return rows


# ------------------------------------------------------------------ main --

def main():
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    leases.TMP = tempfile.mkdtemp(prefix="actorq-pystack-")
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    whole = Interference()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": RUNS, "duration_s": DUR,
            "tasks": TASKS, "items": ITEMS, "cores": CORES, "uvicorn_workers": WORKERS, "build": BUILD,
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name")), "?"),
            "commit": commit(), "actorq_source": actorq_source(), "peer_python": PY}
    result = {"meta": meta, "rows": [], "memory": {}}
    py = None
    try:
        meta["peer_versions"] = peer_versions()
        log(f"peer: {meta['peer_versions']}; starting redis, celery (prefork × {CORES}), "
            f"uvicorn ({WORKERS} workers) and actorq")
        py = PyStack()
        a1 = actorq("actorq")  # the default seed.delay-scale: fan-out, cpu-bound
        a0 = actorq("actorq_scale0", "--seed.delay-scale=0")
        anormal = actorq("actorq_normal", "--seed.delay-scale=0", "--store.sync=normal")
        # Warm-up: Celery delivers, every uvicorn worker has spawned its
        # process pool (connections land on either worker), the ids to read.
        ids = {"p_heavy": seed_task(py.url, "/submit-heavy-task"),
               "a_heavy": seed_task(a0.url, "/submit-heavy-task")}
        wait_completed(py.url, ids["p_heavy"])
        wait_completed(a0.url, ids["a_heavy"])
        # (Each request on a new connection; the kernel picks the worker.)
        small = [{"value": i} for i in range(100)]
        for i in range(100):
            post(py.url + "/submit-task", {"value": 1})
            call("POST", py.url + "/process-cpu-bound", small, timeout=60)
            if i >= 4 * WORKERS and py.pools_started():
                break
        meta["python_warmup_requests"] = i + 1
        call("POST", a1.url + "/process-cpu-bound", small, timeout=60)
        mem_idle = {"python": py.memory(), "actorq": memory_kib([a1.p.pid]) + (1,)}
        py1, py1_url = py.app1()
        ids["p_status"], ids["a_status"] = seed_task(py1_url), seed_task(a0.url)
        rows = build_rows(a0, a1, anormal, py, py1_url, ids)
        for row in rows:
            log(f"{row.id}: {row.title}")
            try:
                for side, (url, args) in row.sides.items():
                    if row.warm:
                        load(*args[:-1], f"--duration={row.warm}", f"--url={url}")
                for i in range(RUNS):
                    for side in (row.sides if i % 2 == 0 else reversed(list(row.sides))):
                        r = row.run_once(side)
                        log(f"  run {i + 1} {side}: {r['figure']} {row.unit}"
                            + (f" ({r.get('first_error')})" if r["figure"] is None else ""))
                if row.unit == "req/s" and row.id.startswith("get"):
                    for side, (url, args) in row.sides.items():
                        row.wrk[side] = wrk(url + next(a for a in args if a.startswith("--path="))[7:])
                py.alive()
            except Exception as e:
                traceback.print_exc()
                row.not_measured = str(e)[:500]
            if row.id == "get_status":
                py1.stop()
        mem_after = {"python": py.memory(),
                     "actorq": memory_kib([a0.p.pid, a1.p.pid]) + (2,)}
        result["memory"] = {"idle": mem_idle, "after": mem_after}
    except Exception as e:
        traceback.print_exc()
        meta["error"] = str(e)[:500]
        rows = []
    finally:
        meta["exit_status"] = py.stop() if py else None
        stop_all()
    meta["machine"] = whole.done()
    meta["suite_s"] = round(time.time() - T0)
    for row in rows:
        result["rows"].append(row_json(row))
    with open(os.path.join(OUT, "python_stack.json"), "w") as f:
        json.dump(result, f, indent=1)
    text = report(result)
    with open(os.path.join(OUT, "python_stack.md"), "w") as f:
        f.write(text)
    print(text)
    subprocess.run(["rm", "-rf", leases.TMP])
    return 0 if result["rows"] else 1


def row_json(row):
    out = {"id": row.id, "row": row.title, "unit": row.unit, "note": row.note,
           "lower_better": row.lower_better, "runs": row.runs, "wrk": row.wrk}
    if row.not_measured:
        out["not_measured"] = row.not_measured
    out["figures"] = {s: row.median(s) for s in row.sides}
    out["failures"] = {s: row.failure(s) for s in row.sides if row.failure(s)}
    for s, runs in row.runs.items():
        if row.id == "one_client":
            lat = [r.get("latency_us") or {} for r in runs if r["figure"] is not None]
            out.setdefault("p99_ms", {})[s] = statistics.median(l["p99"] for l in lat) / 1000 if lat else None
        elif row.unit == "req/s":
            lat = [r.get("latency_us") or {} for r in runs if r["figure"] is not None]
            out.setdefault("p99_ms", {})[s] = statistics.median(l["p99"] for l in lat) / 1000 if lat else None
    out["foreign_share_max"] = max((r["interference"]["foreign_share"] or 0)
                                   for runs in row.runs.values() for r in runs) if any(row.runs.values()) else None
    a, p = out["figures"].get("actorq"), out["figures"].get("python")
    if a and p:
        out["ratio"] = a / p
    an = out["figures"].get("actorq_normal")
    if an and p:
        out["ratio_normal"] = an / p
    return out


def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("req/s", "tasks/s"):
        return f"{v:,.0f}".replace(",", " ")
    if unit == "ms wall":
        return f"{v:,.0f} ms".replace(",", " ") if v >= 100 else f"{v:.1f} ms"
    return f"{v:.2f} ms"


def report(res):
    m = res["meta"]
    mach = m["machine"]
    v = m.get("peer_versions", {})
    lines = [
        f"# actorq beside the seed's Python stack ({m['date']}, {m['cores']} cores, loopback, "
        f"`python3 bench/python_stack.py {m['build']}`, part of `make bench`)",
        "",
        f"- commit {m['commit']}; actorq built from {m['actorq_source']}; {m['cpu']}; **both stacks and the "
        f"load generator (`bench_load`, one thread) share these {m['cores']} cores**.",
        f"- Python stack (bench/pystack, written from the seed article): Python {v.get('python', '?')}, FastAPI "
        f"{v.get('fastapi', '?')} under uvicorn {v.get('uvicorn', '?')} with **{m['uvicorn_workers']} workers** "
        "(one per core; uvloop + httptools), Celery "
        f"{v.get('celery', '?')} (one prefork worker × {m['cores']}, the heavy task at once: "
        f"PYSTACK_DELAY_SCALE=0), redis-server {v.get('redis-server', '?')} without persistence, "
        f"ProcessPoolExecutor(cpu_count()) per uvicorn worker. `GET /task-status` reads a second uvicorn with "
        "one worker (the article's TaskManager lives in one process).",
        "- actorq: the default configuration (durable store, `store.sync = full`); the heavy, status and submit "
        "rows run on a daemon with `--seed.delay-scale=0` (the heavy pool runs at once, like the Celery worker), "
        "fan-out and cpu-bound on one with the default scale (1 s per fan-out item on both sides).",
        f"- medians of {m['runs']} runs per side ({m['duration_s']:g} s each for rates), the sides alternating "
        "run by run; **actorq ÷ Python divides the medians of this run** (for times: < 1 means actorq is "
        "faster). The same requests from the same load generator on both sides.",
        f"- load average before {mach['load_before']}, after {mach['load_after']}; other processes used "
        f"{mach['foreign_cpu_s']} CPU-s during the {mach['wall_s']} s ({100 * (mach['foreign_share'] or 0):.0f}% "
        f"of the cores; this benchmark {mach['ours_s']} CPU-s); {m['suite_s']} s in all.",
    ]
    warning = not_quiet_warning(mach["load_before"], mach["foreign_share"])
    if warning:
        lines.append(warning)
    if m.get("error"):
        lines.append(f"- **not measured: {m['error']}**")
    lines += ["", "| workload | actorq | Python stack | actorq ÷ Python | runs (actorq / Python) | note |",
              "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        u = r["unit"]
        f = r["figures"]
        notes = [r["note"]] if r["note"] else []
        if r.get("not_measured"):
            notes.append("not measured: " + r["not_measured"].replace("|", "/").replace("\n", " "))
        for s, why in r.get("failures", {}).items():
            notes.append(f"{s}: a run failed: {str(why)[:200]}".replace("|", "/").replace("\n", " "))
        if r.get("wrk"):
            w = r["wrk"]
            def one(x):
                if not x.get("req_per_s"):
                    return "failed: " + str(x.get("first_error", "no requests"))[:100]
                bad = x.get("non2xx", 0) + x.get("socket_errors", 0)
                return fmt(x["req_per_s"], "req/s") + (f" ({bad} errors)" if bad else "")
            notes.append("wrk -t2 -c50 cross-check: " + " / ".join(one(w.get(s, {})) for s in ("actorq", "python"))
                         + " req/s")
        if (r.get("foreign_share_max") or 0) > 0.05:
            notes.append(f"other processes took up to {100 * r['foreign_share_max']:.0f}% of the CPU during a run")
        runs = lambda s: ", ".join(fmt(x["figure"], u) for x in r["runs"].get(s, []))
        p99 = r.get("p99_ms", {})
        if r["id"] == "one_client":
            for side, label, ratio in (("actorq", "`store.sync = full`", r.get("ratio")),
                                       ("actorq_normal", "`store.sync = normal`", r.get("ratio_normal"))):
                lines.append(
                    f"| one client, one task at a time until its answer: actorq `POST /v1/tasks` {label} / "
                    f"Python `POST /submit-heavy-task` (Celery, not durable), latency p50 (p99) | "
                    f"{fmt(f.get(side), u)} ({fmt(p99.get(side), u)}) | {fmt(f.get('python'), u)} "
                    f"({fmt(p99.get('python'), u)}) | {f'{ratio:.2f}' if ratio else '—'} | "
                    f"{runs(side)} / {runs('python')} | {'; '.join(notes)} |")
            continue
        a, p = fmt(f.get("actorq"), u), fmt(f.get("python"), u)
        if u == "req/s":
            a += f", p99 {fmt(p99.get('actorq'), 'ms')}"
            p += f", p99 {fmt(p99.get('python'), 'ms')}"
        ratio = f"{r['ratio']:.2f}" if r["lower_better"] and "ratio" in r else (
            f"{r['ratio']:.1f}×" if "ratio" in r else "—")
        lines.append(f"| {r['row']} ({u}) | {a} | {p} | {ratio} | {runs('actorq')} / {runs('python')} | "
                     f"{'; '.join(notes)} |")
    mem = res.get("memory", {})
    for when, label in (("idle", "RSS of the whole stack, started and warmed up"),
                        ("after", "RSS of the whole stack after the workloads")):
        x = mem.get(when)
        if not x:
            continue
        (ar, ap, an), (pr, pp, pn) = x["actorq"], x["python"]
        note = (f"Python: {pn} processes (redis, Celery and its children, uvicorn and its workers and their "
                f"pools); PSS (shared pages split) {pp / 1024:.0f} MiB against {ap / 1024:.0f} MiB")
        if when == "after":
            note += "; actorq: the two daemons of this run summed"
        lines.append(f"| {label} (MiB) | {ar / 1024:.1f} | {pr / 1024:.1f} | {ar / pr:.2f} | | {note} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
