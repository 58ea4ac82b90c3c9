#!/usr/bin/env python3
"""bench/cluster.py BUILD_DIR: what going remote costs (issue 5).

On loopback, one run:
  1. a CPU-bound batch (POST /v1/batches, primes) on the head alone;
  2. the same batch with two worker nodes joined (each lends its cpu pool);
  3. square tasks submitted through actorq-cli (`batch`, over CAF) against
     the same tasks through HTTP (POST /v1/batches), on the head alone.
Every figure is the median of RUNS runs. Writes bench/results/cluster.md and
cluster.json and prints the table.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from netutil import free_port

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.join(BUILD, "bin")
OUT = "bench/results"
PRIMES_TASKS = 2000
PRIMES_BELOW = 1_000_000
SQUARE_TASKS = 100_000


class Proc:
    def __init__(self, args, wait_for, timeout=15):
        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.args = args
        deadline = time.time() + timeout
        while time.time() < deadline:
            if wait_for in self.output():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{args[0]} did not print {wait_for!r}: {self.output()[-500:]}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def post(url, body, timeout=600):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        reply = json.loads(r.read())
    return time.perf_counter() - t0, reply


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def head(store_dir, extra=()):
    port = free_port()
    p = Proc([os.path.join(BIN, "actorq"), "--config-file=configs/default.ini", "--http.port=0",
              f"--cluster.port={port}", f"--store.path={store_dir}/head-{port}.db",
              "--http.max-body-bytes=67108864", *extra],
             "actorq listening on http://")
    url = re.search(r"actorq listening on (http://\S+)", p.output()).group(1)
    return p, url, port


def primes_batch(url):
    items = [{"below": PRIMES_BELOW} for _ in range(PRIMES_TASKS)]
    secs, reply = post(url + "/v1/batches", {"kind": "primes", "items": items})
    if reply.get("succeeded") != PRIMES_TASKS:
        raise RuntimeError(f"batch: {str(reply)[:300]}")
    return PRIMES_TASKS / secs


def main():
    os.makedirs(OUT, exist_ok=True)
    store_dir = tempfile.mkdtemp(prefix="actorq-cluster-bench.")
    rows, data = [], {"runs": RUNS, "cores": os.cpu_count()}
    try:
        # 1 and 3: the head alone.
        h, url, port = head(store_dir)
        try:
            post(url + "/v1/batches", {"kind": "primes", "items": [{"below": 1000}] * 100})  # warm-up
            alone = [primes_batch(url) for _ in range(RUNS)]
            squares = [{"value": i} for i in range(SQUARE_TASKS)]
            http_rates, cli_rates = [], []
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(squares, f)
                items_file = f.name
            for _ in range(RUNS):
                secs, reply = post(url + "/v1/batches", {"kind": "square", "items": squares})
                assert reply["succeeded"] == SQUARE_TASKS
                http_rates.append(SQUARE_TASKS / secs)
                t0 = time.perf_counter()
                out = subprocess.run([os.path.join(BIN, "actorq-cli"), f"--connect=127.0.0.1:{port}",
                                      "batch", "square", items_file],
                                     capture_output=True, text=True, timeout=600)
                secs = time.perf_counter() - t0
                if out.returncode != 0 or json.loads(out.stdout)["succeeded"] != SQUARE_TASKS:
                    raise RuntimeError(f"actorq-cli batch failed: {out.stdout[:300]} {out.stderr[:300]}")
                cli_rates.append(SQUARE_TASKS / secs)
            os.unlink(items_file)
        finally:
            h.stop()
        # 2: the head with two worker nodes.
        h, url, port = head(store_dir)
        nodes = []
        try:
            for name in ("w1", "w2"):
                nodes.append(Proc([os.path.join(BIN, "actorq"), "--config-file=configs/default.ini",
                                   f"--cluster.join=127.0.0.1:{port}", f"--cluster.name={name}",
                                   "--pools.io.size=100"], "joined"))
            post(url + "/v1/batches", {"kind": "primes", "items": [{"below": 1000}] * 100})
            joined = [primes_batch(url) for _ in range(RUNS)]
            per_node = {n["id"]: n["completed"] for n in get(url + "/v1/nodes")}
        finally:
            for n in nodes:
                n.stop()
            h.stop()
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)

    def med(xs):
        return statistics.median(xs)

    data.update({"primes_alone": alone, "primes_two_nodes": joined, "per_node_completed": per_node,
                 "square_http_batch": http_rates, "square_cli_batch": cli_rates})
    rows.append((f"{PRIMES_TASKS} primes(<{PRIMES_BELOW:,}) in one batch, head alone",
                 med(alone), alone, ""))
    rows.append((f"same, head + 2 worker nodes joined (cpu pools of 3 processes on {os.cpu_count()} cores)",
                 med(joined), joined,
                 f"{med(joined) / med(alone):.2f} × head alone; attempts per node over all runs: {per_node}"))
    rows.append((f"{SQUARE_TASKS:,} square tasks, HTTP POST /v1/batches", med(http_rates), http_rates, ""))
    rows.append((f"{SQUARE_TASKS:,} square tasks, actorq-cli batch (CAF, chunks of 500, 4 in flight; "
                 "includes the CLI's start and connect)", med(cli_rates), cli_rates,
                 f"{med(cli_rates) / med(http_rates):.2f} × HTTP"))
    lines = ["| workload | tasks/s (median) | runs | note |", "|---|---|---|---|"]
    for name, m, runs, note in rows:
        lines.append(f"| {name} | {m:,.0f} | {', '.join(f'{x:,.0f}' for x in runs)} | {note} |")
    text = (f"# Cluster benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{os.cpu_count()} cores, loopback, `python3 bench/cluster.py {BUILD}`)\n\n" + "\n".join(lines) + "\n")
    with open(os.path.join(OUT, "cluster.md"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT, "cluster.json"), "w") as f:
        json.dump(data, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
