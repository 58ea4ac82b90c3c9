#!/usr/bin/env python3
"""bench/leases.py BUILD_DIR: actorq's lease kinds against the seed's Python stack.

The same 10 000 instant tasks ({"value": v} -> {"result": 2v}), submitted in
one request, run by Python worker processes, with every result fetched back:

  1. the peer: the seed article's service (bench/pystack: FastAPI under
     uvicorn, Celery with Redis as broker and result backend). POST
     /submit-batch sends one Celery group of 10 000 `instant` tasks, GET
     /batch-results/{id} waits for the group and answers every result. Redis
     (no persistence, own port, temp dir) and one Celery worker (prefork, one
     process per core: Celery's default concurrency) are started here, the
     app (uvicorn) afresh for each run (see CeleryStack). The results are
     read in two ways, each a row: GroupResult.join_native (what .get() does:
     on Redis, one pub/sub channel per task) and the result backend's
     get_many (MGET of the pending ids every 10 ms); the ratios divide by the
     better one.
  2. the same with Celery's `chunks` (100 items per Celery task): fewer,
     larger messages, one result per chunk: informative, not the peer (a
     chunk is not a task: no state, retry or result of its own per item).
  3. actorq: a lease kind `instant` (pool of size 0) served by actorq.Worker
     (clients/python; bench/lease_worker.py) with concurrency 100, leases of
     up to 100 attempts and batched completions; the 10 000 tasks in one POST
     /v1/batches, whose answer holds every result. Target: >= 10x the peer.
  4. the same Worker with one lease per round trip (batch=False).

Figures are tasks/s = 10 000 / wall time from sending the submission to the
end of the last answer (request bodies are encoded before the clock starts),
medians of RUNS runs (BENCH_RUNS, default 3); the rows' runs alternate so that
all see the same machine; every run is listed. Each run starts the app (or
actorq and its Worker) afresh and warms it up with 1 000 tasks first. Both
sides' Python processes run the same interpreter (BENCH_PEER_PYTHON, default
Debian's /usr/bin/python3, which has the peer's Debian packages; `make bench`
installs them). actorq runs with --store.path=:memory: (Redis runs without
persistence).

Knobs (environment): BENCH_RUNS (3), BENCH_LEASE_TASKS (10000),
BENCH_CELERY_POOL (prefork), BENCH_CELERY_CONCURRENCY (cores),
BENCH_CELERY_PREFETCH (4, Celery's default), BENCH_CONFIG.

Writes bench/results/leases.md and leases.json and prints the table. A row
that cannot be measured says why; the others go on.
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
import urllib.error
import urllib.request

from netutil import busy_cpu_s, free_port, not_quiet_warning

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TASKS = int(os.environ.get("BENCH_LEASE_TASKS", "10000"))
WARMUP = min(1000, TASKS)
CHUNK = 100
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(BUILD, "bin"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PYSTACK = os.path.join(BENCH, "pystack")
OUT = os.path.join(BENCH, "results")
CONFIG = os.path.abspath(os.environ.get("BENCH_CONFIG", os.path.join(ROOT, "configs", "default.ini")))
PEER_PYTHON = os.environ.get("BENCH_PEER_PYTHON", "/usr/bin/python3")
CORES = os.cpu_count()
CELERY_POOL = os.environ.get("BENCH_CELERY_POOL", "prefork")
CELERY_CONC = int(os.environ.get("BENCH_CELERY_CONCURRENCY", str(CORES)))
CELERY_PREFETCH = int(os.environ.get("BENCH_CELERY_PREFETCH", "4"))
WORKER_CONC = 100
WORKER_LEASE = 100
TARGET = 10.0  # actorq with batched leases >= 10x the peer

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------- machine --

def own_cpu_s():
    """CPU seconds of this script and of the processes it started (alive or
    not): the stacks run as children that are waited for only at the end, so
    their CPU is read from /proc while they live."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + Proc.live_cpu_s()


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
                "foreign_share": round(foreign / (wall * CORES), 3) if wall > 0 else None,
                "load_before": " ".join(self.load),
                "load_after": " ".join(open("/proc/loadavg").read().split()[:3])}


# ------------------------------------------------------------- processes --

class Proc:
    """A process in a session (process group) of its own, its output in a log
    file; started when `wait_for` (a regex) appears in it. stop() sends SIGTERM
    to the whole group, SIGKILL after 10 s. Every Proc still running when the
    script exits (error, SIGTERM, Ctrl-C) is stopped."""

    running = []
    exited_cpu = 0.0  # CPU of the groups already stopped (read just before)

    def __init__(self, name, args, wait_for=None, timeout=20, cwd=None, env=None):
        if not os.access(args[0], os.X_OK):
            raise RuntimeError(f"{args[0]} does not exist (not built or not installed)")
        self.name = name
        self.logpath = os.path.join(TMP, f"{name}.log")
        self.log = open(self.logpath, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  cwd=cwd, env=env, start_new_session=True)
        Proc.running.append(self)
        if wait_for is None:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(wait_for, self.output()):
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{name} did not print {wait_for!r} (exit status {self.p.returncode}): "
                           f"{self.output()[-400:].strip()}")

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def tail(self, n=400):
        return self.output()[-n:].strip()

    def alive(self):
        return self.p.poll() is None

    def pids(self):
        """The processes of this group (the prefork children too)."""
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[3]) == self.p.pid:  # pgrp
                        out.append(int(d))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    def cpu_s(self):
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return total

    @classmethod
    def live_cpu_s(cls):
        return cls.exited_cpu + sum(p.cpu_s() for p in cls.running)

    def stop(self, grace=10):
        if self in Proc.running:
            Proc.exited_cpu += self.cpu_s()
            Proc.running.remove(self)
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of the group (prefork children, pool processes)
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.p.poll() is None:
            self.p.wait()
        self.log.close()
        return self.p.returncode


def stop_all():
    for p in list(reversed(Proc.running)):
        p.stop()


def items_of(n):
    return [{"value": i} for i in range(n)]


def check(reply, n, what):
    """Every result is there, in order, and right."""
    if not isinstance(reply, dict):
        raise RuntimeError(f"{what}: no JSON object: {str(reply)[:300]}")
    results = reply.get("results")
    if reply.get("succeeded") != n or not isinstance(results, list) or len(results) != n:
        errs = [e for e in (reply.get("errors") or []) if e]
        raise RuntimeError(f"{what}: succeeded {reply.get('succeeded')} of {n}, "
                           f"first error {errs[0] if errs else str(reply)[:300]!r}")
    bad = next((i for i, r in enumerate(results) if r != {"result": 2 * i}), None)
    if bad is not None:
        raise RuntimeError(f"{what}: result {bad} is {results[bad]!r}, not {{'result': {2 * bad}}}")


def med(runs):
    return statistics.median(r["tasks_per_s"] for r in runs)


# ----------------------------------------------------------------- peer --

class Stack:
    """Processes started together and stopped in reverse order: a stack that
    fails to start stops what it started. Subclasses start theirs in
    _start(), appending each Proc to self.procs."""

    def __init__(self):
        self.procs = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def start_redis(self):
        """redis-server on a free port, without persistence; its port."""
        port = free_port()
        rdir = os.path.join(TMP, "redis")
        os.makedirs(rdir)
        self.procs.append(Proc("redis", ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", rdir,
                                         "--daemonize", "no"],
                               r"Ready to accept connections", cwd=rdir))
        return port

    def alive(self):
        dead = [p.name for p in self.procs if not p.alive()]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited: " +
                               "; ".join(p.tail(300) for p in self.procs if not p.alive()))

    def stop(self):
        return {p.name: p.stop() for p in reversed(self.procs)}


class CeleryStack(Stack):
    """redis-server + a Celery worker + the FastAPI app under uvicorn.

    Redis and the worker live for the whole benchmark; the app is started
    afresh for every run. Why: each Celery submission on a Redis backend
    subscribes the submitting process to the task's result channel, and only
    a .get() that reads the results through that channel unsubscribes; after a
    run read with get_many, 10 000 subscriptions and their undelivered
    messages would stay with the app and slow the next .get() down (it drains
    them first)."""

    def _start(self):
        rport = self.redis_port = self.start_redis()
        env = dict(os.environ, PYSTACK_REDIS=f"redis://127.0.0.1:{rport}", PYTHONPATH=PYSTACK,
                   PYSTACK_PREFETCH=str(CELERY_PREFETCH))
        self.worker = Proc("celery", [PEER_PYTHON, "-m", "celery", "-A", "tasks", "worker",
                                      f"--pool={CELERY_POOL}", f"--concurrency={CELERY_CONC}",
                                      "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                                      "--without-heartbeat", "-n", "bench@%h"],
                           cwd=PYSTACK, env=env)
        self.procs.append(self.worker)
        self.env = env
        self.app = None
        self.fresh_app()
        # The worker logs nothing at WARNING once ready: a first batch proves it.
        self.batch(WARMUP, timeout=60)

    def fresh_app(self):
        if self.app is not None:
            self.procs.remove(self.app)
            self.app.stop()
        aport = free_port()
        self.app = Proc("uvicorn", [PEER_PYTHON, "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                                    "--port", str(aport), "--log-level", "info", "--no-access-log"],
                        r"Uvicorn running on", cwd=PYSTACK, env=self.env)
        self.procs.append(self.app)
        self.url = f"http://127.0.0.1:{aport}"

    def run(self, n, chunk=0, fetch="native"):
        """A run: a fresh app, a warm-up batch, the timed batch."""
        self.fresh_app()
        t = time.perf_counter()
        self.batch(WARMUP, chunk, fetch, timeout=60)
        warm = time.perf_counter() - t
        r = self.batch(n, chunk, fetch)
        r["warmup_s"] = round(warm, 3)
        return r

    def batch(self, n, chunk=0, fetch="native", timeout=300):
        """One batch of n instant tasks: submit, then fetch every result
        (fetch: "native", GroupResult.join_native, or "mget", get_many)."""
        self.alive()
        items = items_of(n)
        body = json.dumps({"items": items, "chunk": chunk}).encode()
        t0 = time.perf_counter()
        req = urllib.request.Request(self.url + "/submit-batch", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                sub = json.loads(r.read())
            t1 = time.perf_counter()
            with urllib.request.urlopen(f"{self.url}/batch-results/{sub['batch_id']}?timeout={timeout}"
                                        f"&fetch={fetch}", timeout=timeout + 10) as r:
                reply = json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
            self.alive()
            raise RuntimeError(f"FastAPI app: {e}; celery log: {self.worker.tail(300)}")
        t2 = time.perf_counter()
        check(reply, n, f"celery batch{' of chunks' if chunk else ''}")
        # Fresh result database for the next run (untimed).
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "-n", "1", "flushdb"],
                       capture_output=True, timeout=30)
        return {"seconds": round(t2 - t0, 4), "submit_s": round(t1 - t0, 4),
                "tasks_per_s": round(n / (t2 - t0), 1)}


def peer_versions():
    code = ("import fastapi, uvicorn, celery, kombu, redis, starlette, pydantic, sys; "
            "print(sys.version.split()[0], fastapi.__version__, uvicorn.__version__, celery.__version__, "
            "kombu.__version__, redis.__version__)")
    try:
        out = subprocess.run([PEER_PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        out = None
        why = str(e)
    if out is None or out.returncode != 0 or len(out.stdout.split()) != 6:
        why = why if out is None else (out.stderr or out.stdout).strip()[-300:]
        raise RuntimeError(f"{PEER_PYTHON} lacks the peer's packages (make bench installs them: python3-fastapi "
                           f"python3-uvicorn python3-celery python3-redis redis-server): {why}")
    py, fa, uv, ce, ko, rp = out.stdout.split()
    try:
        srv = subprocess.run(["/usr/bin/redis-server", "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except OSError as e:
        raise RuntimeError(f"no redis-server (make bench installs it): {e}")
    rs = re.search(r"v=(\S+)", srv)
    return {"python": py, "fastapi": fa, "uvicorn": uv, "celery": ce, "kombu": ko, "redis-py": rp,
            "redis-server": rs.group(1) if rs else "?"}


# --------------------------------------------------------------- actorq --

class Actorq:
    """actorq with the lease kind `instant` on pool `leased` (size 0); a fresh
    actorq and a fresh Worker process for every run.

    Why fresh: a Worker that stops while its lease request long-polls leaves
    that request open on the server, which cannot tell that nobody reads the
    answer any more; the next attempts go to it and are lost until their
    leases expire (lease-ttl, 30 s), so a later Worker's batch would wait for
    them."""

    def __init__(self):
        self.cfg = os.path.join(TMP, "leases.ini")
        with open(CONFIG) as f:
            base = f.read()
        with open(self.cfg, "w") as f:
            f.write(base + "\n; bench/leases.py\n[pools.leased]\nsize = 0\n\n"
                    "[kinds.instant]\nrunner = \"lease\"\npool = \"leased\"\n")
        self.start().stop()  # fails here, once, if this actorq has no lease kinds

    def start(self):
        self.p = Proc("actorq", [os.path.join(BIN, "actorq"), f"--config-file={self.cfg}", "--http.port=0",
                                 "--store.path=:memory:", "--http.max-body-bytes=67108864"],
                      r"actorq listening on http://")
        self.url = re.search(r"actorq listening on (http://\S+)", self.p.output()).group(1).rstrip("/")
        return self

    def batch(self, n, timeout=300):
        items = items_of(n)
        body = json.dumps({"kind": "instant", "items": items}).encode()
        req = urllib.request.Request(self.url + "/v1/batches", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"POST /v1/batches answered {e.code}: {e.read()[:300]!r}")
        except (urllib.error.URLError, OSError) as e:
            raise RuntimeError(f"POST /v1/batches: {e}; actorq: {self.p.tail(300)}")
        secs = time.perf_counter() - t0
        check(json.loads(text), n, "actorq batch")
        return {"seconds": round(secs, 4), "tasks_per_s": round(n / secs, 1)}

    def run(self, one):
        """A fresh actorq and Worker, a warm-up batch, the timed batch, then
        the Worker stopped (SIGTERM: it settles what it holds and exits) and
        actorq (SIGTERM)."""
        self.start()
        w = None
        try:
            args = [PEER_PYTHON, os.path.join(BENCH, "lease_worker.py"), self.url,
                    f"--concurrency={WORKER_CONC}", f"--max-lease={WORKER_LEASE}"]
            if one:
                args.append("--one")
            w = Proc("lease_worker_one" if one else "lease_worker", args, r"serving instant")
            try:
                t = time.perf_counter()
                self.batch(WARMUP, timeout=60)  # proves the worker serves
                warm = time.perf_counter() - t
                r = self.batch(TASKS)
            except RuntimeError as e:
                raise RuntimeError(f"{e}; worker: {w.tail(300)}")
            t = time.perf_counter()
            rc = w.stop()
            r["worker_stop_s"] = round(time.perf_counter() - t, 3)
            r["warmup_s"] = round(warm, 3)
            r["worker_exit"] = rc
            m = re.search(r'\{"stats".*\}', w.output())
            if m:
                r["worker_stats"] = json.loads(m.group(0))["stats"]
        finally:
            if w is not None:
                w.stop()
            # A stopped Worker's last lease request stays open on the server
            # (a long-poll of wait_ms = 30 s that nobody reads any more);
            # actorq at af3d595 waited it out after SIGTERM (later builds
            # answer it at once): 3 s, then SIGKILL (exit status -9 in the
            # json); nothing is timed here.
            r_rc = self.p.stop(grace=3)
        r["actorq_exit"] = r_rc
        return r

    def stop(self):
        return self.p.stop()


# ------------------------------------------------------------------ main --

def main():
    global TMP
    os.chdir(ROOT)
    os.makedirs(OUT, exist_ok=True)
    TMP = tempfile.mkdtemp(prefix="actorq-leases-")
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    whole = Interference()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": RUNS, "tasks": TASKS,
            "cores": CORES, "build": BUILD,
            "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                         if l.startswith("model name")), "?"),
            "commit": commit(), "actorq_source": actorq_source(), "peer_python": PEER_PYTHON,
            "celery": {"pool": CELERY_POOL, "concurrency": CELERY_CONC, "prefetch_multiplier": CELERY_PREFETCH},
            "worker": {"concurrency": WORKER_CONC, "max_lease": WORKER_LEASE}}
    rows = {k: {"id": k, "runs": []} for k in ("celery", "celery_mget", "celery_chunks", "actorq", "actorq_one")}
    rows["celery"]["row"] = (f"peer: FastAPI + Celery + Redis, {TASKS:,} `instant` tasks (one group via POST "
                             f"/submit-batch; GET /batch-results waits with GroupResult.join_native, what .get() does)")
    rows["celery_mget"]["row"] = ("peer, results read with the result backend's get_many instead "
                                  "(MGET of the pending ids every 10 ms)")
    rows["celery_chunks"]["row"] = (f"peer with Celery `chunks` of {CHUNK} ({TASKS // CHUNK} Celery tasks of "
                                    f"{CHUNK} items; informative)")
    rows["actorq"]["row"] = (f"actorq: lease kind, {TASKS:,} tasks in one POST /v1/batches, actorq.Worker "
                             f"concurrency {WORKER_CONC}, leases of up to {WORKER_LEASE}, batched completions")
    rows["actorq_one"]["row"] = (f"actorq: the same, one lease per round trip (Worker batch=False, "
                                 f"concurrency {WORKER_CONC})")
    stacks = {}

    def fail(keys, e):
        for k in keys:
            if "not_measured" not in rows[k]:
                rows[k]["not_measured"] = str(e)[:500]

    try:
        try:
            meta["peer_versions"] = peer_versions()
            log(f"peer: {meta['peer_versions']}; starting redis, celery ({CELERY_POOL} × {CELERY_CONC}), uvicorn")
            stacks["celery"] = CeleryStack()
        except Exception as e:
            traceback.print_exc()
            fail(("celery", "celery_mget", "celery_chunks"), e)
        try:
            stacks["actorq"] = Actorq()
        except Exception as e:
            traceback.print_exc()
            fail(("actorq", "actorq_one"), e)
        todo = [("celery", lambda s: s.run(TASKS)), ("celery_mget", lambda s: s.run(TASKS, fetch="mget")),
                ("celery_chunks", lambda s: s.run(TASKS, chunk=CHUNK)),
                ("actorq", lambda s: s.run(one=False)), ("actorq_one", lambda s: s.run(one=True))]
        for i in range(RUNS):
            for key, fn in todo:
                stack = stacks.get("celery" if key.startswith("celery") else "actorq")
                if stack is None or "not_measured" in rows[key]:
                    continue
                inter = Interference()
                try:
                    r = fn(stack)
                    r["interference"] = inter.done()
                    rows[key]["runs"].append(r)
                    log(f"run {i + 1} {key}: {r['tasks_per_s']:,.0f} tasks/s ({r['seconds']:.3f} s)")
                except Exception as e:
                    traceback.print_exc()
                    fail((key,), e)
    finally:
        exits = {}
        for name, s in stacks.items():
            exits[name] = s.stop()
        stop_all()
    meta["exit_status"] = exits
    meta["machine"] = whole.done()

    out = []
    # The ratios divide by the better of the two ways of reading the peer's results.
    peers = [(med(rows[k]["runs"]), k) for k in ("celery", "celery_mget")
             if rows[k]["runs"] and "not_measured" not in rows[k]]
    base, base_id = max(peers) if peers else (None, None)
    meta["peer_row"] = base_id
    for k, r in rows.items():
        if "not_measured" not in r and not r["runs"]:
            r["not_measured"] = "no run"
        if "not_measured" in r:
            out.append({"id": k, "row": r["row"], "not_measured": r["not_measured"], "runs": r["runs"]})
            continue
        row = {"id": k, "row": r["row"], "figure": med(r["runs"]), "unit": "tasks/s", "runs": r["runs"],
               "run_figures": [x["tasks_per_s"] for x in r["runs"]],
               "foreign_share_max": max((x["interference"]["foreign_share"] or 0) for x in r["runs"])}
        if base:
            row["ratio"] = row["figure"] / base
            row["peer"] = k == base_id
        if k == "actorq" and "ratio" in row:
            row["target"] = TARGET
            row["met"] = row["ratio"] >= TARGET
        if k.startswith("celery"):
            row["submit_s_median"] = statistics.median(x["submit_s"] for x in r["runs"])
        if k.startswith("actorq"):
            st = [x.get("worker_stats") for x in r["runs"] if x.get("worker_stats")]
            if st:
                row["worker_stats_last"] = st[-1]
        out.append(row)
    with open(os.path.join(OUT, "leases.json"), "w") as f:
        json.dump({"meta": meta, "rows": out}, f, indent=1)
    text = report(meta, out)
    with open(os.path.join(OUT, "leases.md"), "w") as f:
        f.write(text)
    print(text)
    subprocess.run(["rm", "-rf", TMP])
    return 0


def actorq_source():
    """Where BUILD's actorq was built from (CMakeCache), and its commit when
    it is a git checkout; BENCH_ACTORQ_COMMIT names it otherwise."""
    src = None
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", f.read(), re.M)
            src = m.group(1) if m else None
    except OSError:
        pass
    label = os.environ.get("BENCH_ACTORQ_COMMIT")
    if not label and src:
        out = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        label = out.stdout.strip() or None
    return f"{src or BUILD} ({label or 'commit unknown'})"


def commit():
    try:
        c = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
        return c + (" (+ uncommitted changes)" if dirty else "")
    except OSError:
        return "none"


def report(meta, rows):
    m = meta["machine"]
    v = meta.get("peer_versions", {})
    c = meta["celery"]
    lines = [
        f"# Lease kinds against the seed's Python stack ({meta['date']}, {meta['cores']} cores, loopback, "
        f"`python3 bench/leases.py {meta['build']}`)",
        "",
        f"- commit {meta['commit']}; {meta['cpu']}; **every process of both stacks and the client share these "
        f"{meta['cores']} cores**.",
        f"- {meta['tasks']:,} instant tasks (`{{\"value\": v}}` → `{{\"result\": 2v}}`) submitted in one request, "
        "every result fetched and checked; tasks/s = tasks ÷ wall time from sending the submission to the end "
        f"of the last answer; medians of {meta['runs']} runs, the rows' runs alternate; every run is listed.",
        f"- peer: Python {v.get('python', '?')}, FastAPI {v.get('fastapi', '?')} under uvicorn "
        f"{v.get('uvicorn', '?')}, Celery {v.get('celery', '?')} (kombu {v.get('kombu', '?')}, redis-py "
        f"{v.get('redis-py', '?')}), redis-server {v.get('redis-server', '?')} (no persistence); one Celery "
        f"worker, `--pool={c['pool']} --concurrency={c['concurrency']}`, prefetch multiplier "
        f"{c['prefetch_multiplier']}, log level WARNING, no gossip/mingle/heartbeat; the app (one uvicorn "
        "process) is started afresh for each run. **÷ peer divides by the better of the two peer rows** "
        "(the results read with .get() or with get_many).",
        f"- actorq built from {meta['actorq_source']}: `--store.path=:memory:`, kind `instant` with "
        f"`runner = \"lease\"` on pool `leased` (size 0), a fresh actorq per run; the Worker (clients/python, "
        f"bench/lease_worker.py) runs on the same interpreter ({meta['peer_python']}), a fresh process per run.",
        f"- load average before {m['load_before']}, after {m['load_after']}; other processes used "
        f"{m['foreign_cpu_s']} CPU-s of the machine during the {m['wall_s']} s "
        f"({100 * (m['foreign_share'] or 0):.0f}% of its cores; this benchmark {m['ours_s']} CPU-s).",
    ]
    warning = not_quiet_warning(m["load_before"], m["foreign_share"])
    if warning:
        lines.append(warning)
    lines += ["", "| workload | tasks/s | ÷ peer | target | met? | runs | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "not_measured" in r:
            why = r["not_measured"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['row']} | not measured: {why} | | | | | |")
            continue
        ratio = "1× (the peer)" if r.get("peer") else (f"{r['ratio']:.1f}×" if "ratio" in r else "—")
        target = f"≥ {r['target']:g}×" if "target" in r else "—"
        met = ("yes" if r["met"] else "**no**") if "met" in r else "—"
        runs = ", ".join(f"{x:,.0f}" for x in r["run_figures"])
        notes = []
        if "submit_s_median" in r:
            notes.append(f"submission alone {r['submit_s_median']:.2f} s (median)")
        if r.get("worker_stats_last"):
            notes.append(f"worker stats (last run) {json.dumps(r['worker_stats_last'])}")
        if r["foreign_share_max"] > 0.05:
            notes.append(f"other processes took up to {100 * r['foreign_share_max']:.0f}% of the CPU during a run")
        lines.append(f"| {r['row']} | {r['figure']:,.0f} | {ratio} | {target} | {met} | {runs} | "
                     f"{'; '.join(notes).replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
