"""Loopback helpers shared by the bench scripts (stdlib only): a free port,
one timed JSON call over HTTP, a daemon started on a free port, one
bench_load run."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(method, url, body=None, timeout=600):
    """(seconds, status, parsed answer); the clock covers send to the end of
    the answer (the body is encoded before)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        text, status = e.read(), e.code
    secs = time.perf_counter() - t0
    try:
        reply = json.loads(text) if text else None
    except ValueError:
        reply = text.decode(errors="replace")
    return secs, status, reply


def start_daemon(binary, *args, timeout=15):
    """Starts `binary --http.port=<free port> ARGS...` (an actorq daemon);
    (process, base URL) once GET /healthz answers 200. Raises RuntimeError
    with the tail of its output if it does not within `timeout` seconds."""
    port = free_port()
    out = tempfile.TemporaryFile()
    p = subprocess.Popen([binary, f"--http.port={port}", *args],
                         stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        try:
            if call("GET", url + "/healthz", timeout=1)[1] == 200:
                return p, url
        except OSError:
            pass
        time.sleep(0.05)
    p.kill()
    p.wait()
    out.seek(0)
    raise RuntimeError(f"{binary} did not start: "
                       + out.read().decode(errors="replace")[-2000:])


def bench_load(bin_dir, *args, timeout=300):
    """One `bin_dir/bench_load ARGS...` run: its JSON line as a dict, or
    {"first_error": why} if it did not print one (failed to start, crashed,
    timed out)."""
    cmd = [os.path.join(bin_dir, "bench_load"), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        return json.loads(line) if line.startswith("{") else {"first_error": f"bench_load: {out.stderr[-300:]}"}
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        return {"first_error": f"bench_load: {e}"}


def busy_cpu_s():
    """CPU seconds the whole machine spent busy since boot (softirq too:
    loopback traffic is charged there)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")



def cpu_s(pid):
    """User + system CPU seconds of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s():
    """CPU seconds of this script and of its children it waited for (a
    child still running is not counted: wait for it first)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def not_quiet_warning(load_before, foreign_share):
    """The report line that flags a busy machine, or None. Other processes
    taking more than 5 % of the CPU while the benchmark ran decides when it
    was measured (`foreign_share`, 0..1): within `make bench` the load
    average at a script's start still counts the previous script's own
    threads (it decays over minutes), so it only decides when nothing was
    measured. `load_before` is /proc/loadavg's text ("1.2 0.9 0.7")."""
    if foreign_share is not None:
        noisy = foreign_share > 0.05
    else:
        try:
            noisy = float(load_before.split()[0]) > 1.0
        except ValueError:
            noisy = False
    if not noisy:
        return None
    return ("- **WARNING: the machine was not quiet (other processes took > 5% of the CPU, or, "
            "where that was not measured, the load average was > 1 at the start): the figures "
            "are lower bounds.**")
