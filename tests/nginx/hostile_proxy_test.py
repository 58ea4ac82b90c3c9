#!/usr/bin/env python3
"""actorq behind a real nginx (deploy/nginx.conf): the connection and header attacks of
issue 10, repeated through the proxy.

usage: hostile_proxy_test.py PATH/TO/actorq

Starts actorq (--http.port=0, its own store, store.sync=normal) and nginx with deploy/nginx.conf (the two
"# EDIT" lines substituted: a free port on 127.0.0.1, actorq's address; own prefix, pid,
logs and temp paths under a temp directory, so Debian's own nginx service, enabled or not,
is never used or disturbed). Then, through nginx, one attack at a time:
  - 2 000 idle TCP connections held open;
  - 130 slowloris connections (one header line every 3 s, ~10 s, reconnecting when dropped);
  - 300 sockets that reconnect whenever they are dropped (~11 s: nginx drops them at 10 s);
  - 4 x 25 MiB header floods (header lines as fast as possible, reconnecting when cut);
  - 200 long-polls GET /v1/tasks/{id}?wait_ms=30000.
During each one a fresh client's GET /healthz and POST /v1/tasks must answer in under 1 s
(5 probes), and actorq's RSS must stay within 100 MB of idle. Also reports (no assertion)
actorq's CPU with 128 and 500 idle keep-alive connections, direct and through nginx.
Python 3 standard library only. Prints a table of the figures and one JSON line
("NGINX_FIGURES {...}") for the benchmark suite.
"""
import http.client
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.normpath(os.path.join(HERE, "..", "..", "deploy", "nginx.conf"))
HOST = "127.0.0.1"
PROBES = 5
MAX_PROBE_S = 1.0
MAX_RSS_DELTA_MB = 100.0
TOKEN = "hostile-proxy-test-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
CLK_TCK = os.sysconf("SC_CLK_TCK")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


# ---- processes ------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


class CpuMeter:
    """CPU% of a set of pids between start() and stop() (100 % = one core)."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = sum(cpu_ticks(p) for p in self.pids)

    def stop(self):
        ticks = sum(cpu_ticks(p) for p in self.pids) - self.c0
        return 100.0 * ticks / CLK_TCK / (time.monotonic() - self.t0)


def start_actorq(binary, tmp):
    log = open(os.path.join(tmp, "actorq.stderr"), "w")
    # store.sync=normal: the POST probes still commit to a store, but do not
    # wait for fdatasync, whose latency on a disk shared with other tests
    # (ctest -j, a package build) is not what this test is about (a probe
    # once took 1.3 s beside a cpack run).
    proc = subprocess.Popen([binary, "--http.port=0", f"--store.path={tmp}/s.db",
                             "--store.sync=normal", f"--http.auth-token={TOKEN}"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + 15
    port = None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"actorq listening on http://([^:/\s]+):(\d+)", line)
        if m:
            port = int(m.group(2))
            break
    if port is None:
        proc.kill()
        raise SystemExit("actorq did not print its address")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, port


def nginx_binary():
    for cand in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise SystemExit("nginx not installed (make deps installs it: apt-get install nginx)")


def render_conf(listen_port, upstream_port):
    text = open(CONF).read()
    n_listen = n_up = 0
    out = []
    for line in text.splitlines(keepends=True):
        if "# EDIT" in line:
            if re.match(r"\s*listen\s", line):
                line, k = re.subn(r"(listen\s+)\S+?(?=[\s;])", rf"\g<1>{HOST}:{listen_port}", line, 1)
                n_listen += k
            elif re.match(r"\s*server\s", line):
                line, k = re.subn(r"(server\s+)\S+?(?=[\s;])", rf"\g<1>{HOST}:{upstream_port}", line, 1)
                n_up += k
        out.append(line)
    if (n_listen, n_up) != (1, 1):
        raise SystemExit(f"{CONF}: expected one '# EDIT' listen and one server line, got {n_listen}, {n_up}")
    return "".join(out)


def start_nginx(prefix, listen_port, upstream_port):
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(render_conf(listen_port, upstream_port))
    os.chmod(prefix, 0o755)  # workers (www-data when root) must reach the temp paths
    binary = nginx_binary()
    args = [binary, "-c", conf, "-p", prefix + "/", "-e", os.path.join(prefix, "error.log")]
    t = subprocess.run(args + ["-t", "-q"], capture_output=True, text=True)
    if t.returncode != 0:
        raise SystemExit("nginx -t failed:\n" + t.stderr)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("nginx exited:\n" + proc.stderr.read())
        try:
            socket.create_connection((HOST, listen_port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nginx did not listen")


def stop(proc, sig=signal.SIGTERM):
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- clients ------------------------------------------------------------------------

def request(port, method, path, body=None, timeout=10, headers=None, auth=True):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(AUTH if auth else {})
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Probe:
    """A fresh client's GET /healthz and POST /v1/tasks, timed; tracks actorq's RSS/fds."""

    def __init__(self, port, pid, idle_rss):
        self.port, self.pid, self.idle_rss = port, pid, idle_rss

    def reset(self):
        self.health = []
        self.post = []
        self.rss = []
        self.fds = []
        self.errors = []

    def once(self):
        for kind, method, path, body, want in (
                ("health", "GET", "/healthz", None, 200),
                ("post", "POST", "/v1/tasks", b'{"kind":"echo","input":{}}', 202)):
            t0 = time.perf_counter()
            try:
                status, _ = request(self.port, method, path, body, timeout=5)
            except OSError as e:
                status = repr(e)
            dt = time.perf_counter() - t0
            getattr(self, kind).append(dt)
            if status != want:
                self.errors.append(f"{method} {path} -> {status}")
        self.rss.append(rss_mb(self.pid))
        self.fds.append(fd_count(self.pid))

    def run(self, n, interval):
        for i in range(n):
            if i:
                time.sleep(interval)
            self.once()


def connect_many(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection((HOST, port), timeout=5)
        socks.append(s)
    return socks


def still_open(socks):
    n = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1, socket.MSG_PEEK):
                n += 1  # data (an answer) counts as open
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


class Slowloris(threading.Thread):
    """n connections sending a request line, then one header line every `every` s."""

    def __init__(self, port, n, every):
        super().__init__(daemon=True)
        self.port, self.n, self.every = port, n, every
        self.stop_ev = threading.Event()
        self.reconnects = 0
        self.lines = 0

    def fresh(self):
        s = socket.create_connection((HOST, self.port), timeout=5)
        s.sendall(b"GET /healthz?slowloris=1 HTTP/1.1\r\nHost: actorq\r\n")
        return s

    def run(self):
        socks = [self.fresh() for _ in range(self.n)]
        i = 0
        while not self.stop_ev.wait(self.every):
            i += 1
            for k, s in enumerate(socks):
                try:
                    s.sendall(b"X-Drip-%d: %d\r\n" % (i, k))
                    self.lines += 1
                except OSError:
                    s.close()
                    self.reconnects += 1
                    try:
                        socks[k] = self.fresh()
                    except OSError:
                        pass
        self.open_at_end = still_open(socks)
        close_all(socks)


class Reconnecting(threading.Thread):
    """n idle sockets; each one dropped by the server is replaced at once."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.stop_ev = threading.Event()
        self.reconnects = 0

    def run(self):
        sel = selectors.DefaultSelector()
        for _ in range(self.n):
            sel.register(socket.create_connection((HOST, self.port), timeout=5), selectors.EVENT_READ)
        while not self.stop_ev.is_set():
            for key, _ in sel.select(0.1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    continue
                sel.unregister(s)
                s.close()
                self.reconnects += 1
                try:
                    sel.register(socket.create_connection((HOST, self.port), timeout=5),
                                 selectors.EVENT_READ)
                except OSError:
                    pass
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()


class Flood(threading.Thread):
    """Header lines as fast as possible, up to `total` bytes (reconnecting when cut)."""

    LINE = b"X-Flood: " + b"a" * 100 + b"\r\n"

    def __init__(self, port, total, max_s):
        super().__init__(daemon=True)
        self.port, self.total, self.max_s = port, total, max_s
        self.sent = 0
        self.connections = 0
        self.statuses = []

    def one(self):
        s = socket.create_connection((HOST, self.port), timeout=5)
        s.setblocking(False)
        self.connections += 1
        out = b"GET /healthz?flood=1 HTTP/1.1\r\nHost: actorq\r\n" + self.LINE * 600
        got = b""
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        try:
            while self.sent < self.total:
                events = sel.select(2)
                if not events:
                    break
                ev = events[0][1]
                if ev & selectors.EVENT_READ:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                if ev & selectors.EVENT_WRITE:
                    self.sent += s.send(out)
        except OSError:
            pass
        finally:
            sel.close()
            s.close()
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        self.statuses.append(int(m.group(1)) if m else None)

    def run(self):
        t0 = time.monotonic()
        while self.sent < self.total and time.monotonic() - t0 < self.max_s:
            self.one()


def read_response(s, timeout=5):
    """Reads one HTTP/1.1 response with Content-Length from a blocking socket."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed")
        rest += chunk
    return int(head.split()[1])


def raw_exchange(port, data, timeout=5):
    """Sends data on a fresh connection, returns the status of the first answer (or None)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        return int(m.group(1)) if m else None
    finally:
        s.close()


def forwarding_checks(port):
    """Authorization and Idempotency-Key reach actorq untouched; nginx's own body and
    framing limits answer before actorq is involved."""
    body = b'{"kind":"echo","input":{}}'
    st, _ = request(port, "POST", "/v1/tasks", body, auth=False)
    check(st == 401, f"no token through nginx: {st}, expected 401")
    st, _ = request(port, "POST", "/v1/tasks", body, headers={"Authorization": "Bearer wrong"})
    check(st == 401, f"wrong token through nginx: {st}, expected 401")
    ids = []
    for _ in range(2):
        st, b = request(port, "POST", "/v1/tasks", body, headers={"Idempotency-Key": "proxy-key-1"})
        check(st == 202, f"Idempotency-Key through nginx: {st}")
        ids.append(json.loads(b).get("id") if st == 202 else None)
    check(ids[0] is not None and ids[0] == ids[1], f"Idempotency-Key not forwarded: {ids}")
    # 1.5 MB chunked body: nginx counts it (413); actorq never sees it.
    chunk = b"a" * 65536
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(23)) + b"0\r\n\r\n"
    st = raw_exchange(port, b"POST /v1/tasks?chunked=1 HTTP/1.1\r\nHost: actorq\r\n"
                      b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                      + chunked)
    check(st == 413, f"1.5 MB chunked body through nginx: {st}, expected 413")
    st = raw_exchange(port, b"POST /v1/tasks?dup=1 HTTP/1.1\r\nHost: actorq\r\n"
                      b"Content-Length: 26\r\nContent-Length: 27\r\n\r\n" + body)
    check(st == 400, f"two Content-Length through nginx: {st}, expected 400")
    print(f"  forwarding: Authorization and Idempotency-Key reach actorq; chunked 1.5 MB -> 413, "
          f"two Content-Length -> 400 at nginx", flush=True)


def keepalive_cpu(port, n, pids, seconds=5.0):
    """CPU% of pids while n keep-alive clients sit idle (each asks /healthz at the start
    and once at the midpoint, so that actorq's 5 s keep-alive timeout does not end them)."""
    socks = connect_many(port, n)
    ask = b"GET /healthz HTTP/1.1\r\nHost: actorq\r\n\r\n"  # no auth needed
    try:
        for s in socks:
            s.sendall(ask)
        for s in socks:
            read_response(s)
        meter = CpuMeter(pids)
        meter.start()
        time.sleep(seconds / 2)
        for s in socks:
            s.sendall(ask)
        for s in socks:
            read_response(s)
        time.sleep(max(0.0, seconds - (time.monotonic() - meter.t0)))
        return meter.stop(), still_open(socks)
    finally:
        close_all(socks)


# ---- the test ------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < 2600:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is too low for 2 000 sockets")

    tmp = tempfile.mkdtemp(prefix="actorq-nginx-")
    actorq = nginx = None
    t_start = time.monotonic()
    try:
        actorq, aport = start_actorq(binary, tmp)
        nport = free_port()
        nginx = start_nginx(tmp, nport, aport)
        nginx_pids = [nginx.pid] + children(nginx.pid)

        # Warm up, then idle figures.
        for _ in range(5):
            request(nport, "GET", "/healthz")
            request(nport, "POST", "/v1/tasks", b'{"kind":"echo","input":{}}')
        time.sleep(0.5)
        idle_rss = rss_mb(actorq.pid)
        probe = Probe(nport, actorq.pid, idle_rss)
        rows = []

        def record(name, extra):
            worst_h = max(probe.health) * 1000
            worst_p = max(probe.post) * 1000
            drss = max(probe.rss) - idle_rss
            rows.append({"attack": name, "max_healthz_ms": round(worst_h, 1),
                         "max_post_ms": round(worst_p, 1), "rss_delta_mb": round(drss, 1),
                         "actorq_fds_max": max(probe.fds), "detail": extra})
            print(f"  {name}: /healthz max {worst_h:.1f} ms, POST max {worst_p:.1f} ms, "
                  f"RSS +{drss:.1f} MB, actorq fds max {max(probe.fds)}; {extra}", flush=True)
            check(not probe.errors, f"{name}: probe errors {probe.errors}")
            check(max(probe.health) < MAX_PROBE_S, f"{name}: /healthz took {worst_h:.0f} ms")
            check(max(probe.post) < MAX_PROBE_S, f"{name}: POST /v1/tasks took {worst_p:.0f} ms")
            check(drss <= MAX_RSS_DELTA_MB, f"{name}: RSS grew {drss:.1f} MB")

        forwarding_checks(nport)
        idle_fds = fd_count(actorq.pid)
        print(f"actorq on :{aport}, nginx on :{nport}; idle RSS {idle_rss:.1f} MB, "
              f"{idle_fds} fds", flush=True)

        # 1. 2 000 idle connections.
        probe.reset()
        socks = connect_many(nport, 2000)
        time.sleep(0.3)
        probe.run(PROBES, 0.3)
        alive = still_open(socks)
        close_all(socks)
        check(alive >= 1990, f"idle: only {alive} of 2000 connections stayed open")
        record("2000 idle connections", f"{alive}/2000 open at the end")

        # 2. 130 slowloris connections, one header line every 3 s, ~10 s.
        probe.reset()
        sl = Slowloris(nport, 130, 3.0)
        sl.start()
        time.sleep(0.5)
        probe.run(PROBES, 2.2)
        time.sleep(max(0.0, 10.0 - 0.5 - 4 * 2.2))
        sl.stop_ev.set()
        sl.join(15)
        record("130 slowloris (3 s/line, 10 s)",
               f"{sl.lines} lines dripped, {sl.reconnects} dropped+reconnected")

        # 3. 300 sockets reconnecting whenever dropped, ~11 s (nginx drops idle ones at 10 s).
        probe.reset()
        rc = Reconnecting(nport, 300)
        rc.start()
        time.sleep(0.5)
        probe.run(PROBES, 2.4)
        time.sleep(max(0.0, 11.0 - 0.5 - 4 * 2.4))
        rc.stop_ev.set()
        rc.join(15)
        record("300 reconnecting sockets (11 s)", f"{rc.reconnects} reconnects")

        # 4. 4 x 25 MiB header floods.
        probe.reset()
        floods = [Flood(nport, 25 << 20, 6.0) for _ in range(4)]
        for f in floods:
            f.start()
        time.sleep(0.1)
        probe.run(PROBES, 0.5)
        for f in floods:
            f.join(20)
        sent = sum(f.sent for f in floods)
        conns = sum(f.connections for f in floods)
        statuses = [s for f in floods for s in f.statuses]
        answered = [s for s in statuses if s is not None]
        check(all(s in (400, 431) for s in answered), f"flood: statuses {set(answered)}")
        record("4 x 25 MiB header floods",
               f"{sent / 2**20:.1f} MiB sent on {conns} connections, "
               f"{len(answered)} answered {sorted(set(answered))} before the cut")

        # 5. 200 long-polls.
        probe.reset()
        st, body = request(nport, "POST", "/v1/tasks", b'{"kind":"sleep","input":{"ms":60000}}')
        check(st == 202, f"sleep task: {st} {body!r}")
        tid = json.loads(body)["id"]
        polls = connect_many(nport, 200)
        for s in polls:
            s.sendall(f"GET /v1/tasks/{tid}?wait_ms=30000 HTTP/1.1\r\nHost: actorq\r\n"
                      f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        time.sleep(1.0)
        probe.run(PROBES, 0.4)
        answered_early = 200 - sum(1 for s in polls if _no_data(s))
        check(answered_early == 0, f"long-polls: {answered_early} of 200 answered early (refused?)")
        busy_fds = max(probe.fds)
        st, _ = request(nport, "DELETE", f"/v1/tasks/{tid}")  # ends the waits
        finished = 0
        for s in polls:
            try:
                s.setblocking(True)
                if read_response(s, timeout=5) == 200:
                    finished += 1
            except OSError:
                pass
        close_all(polls)
        check(finished == 200, f"long-polls: {finished} of 200 answered after the cancel")
        check(busy_fds - idle_fds >= 190,
              f"long-polls: actorq held {busy_fds - idle_fds} extra fds, expected ~200")
        record("200 long-polls wait_ms=30000",
               f"all waiting during the probes; {finished}/200 answered 200 on cancel")

        # Access log: flood, slowloris and idle attacks never reached actorq.
        time.sleep(0.2)
        flood_lines = slow_lines = 0
        with open(os.path.join(tmp, "access.log")) as f:
            for line in f:
                if "flood=1" in line:
                    flood_lines += 1
                    check(" up=- " in line, f"flood reached actorq: {line.strip()}")
                if "chunked=1" in line or "dup=1" in line:
                    check(" up=- " in line, f"refused body reached actorq: {line.strip()}")
                if "slowloris=1" in line:
                    slow_lines += 1
                    check(" up=- " in line, f"slowloris reached actorq: {line.strip()}")
        print(f"  access log: {flood_lines} flood and {slow_lines} slowloris requests, "
              f"none passed to actorq", flush=True)

        # CPU of idle keep-alive connections, direct and through nginx (figures only).
        time.sleep(3.5)  # threads above http.threads exit after 3 idle seconds
        nginx_pids = [nginx.pid] + children(nginx.pid)
        cpu = {}
        m = CpuMeter([actorq.pid])
        m.start()
        time.sleep(5)
        cpu["idle"] = (m.stop(), None, 0)
        for n in (128, 500):
            a, alive = keepalive_cpu(aport, n, [actorq.pid])
            cpu[f"direct {n}"] = (a, None, alive)
            time.sleep(3.5)
        for n in (128, 500):
            meter_n = CpuMeter(nginx_pids)
            meter_n.start()
            a, alive = keepalive_cpu(nport, n, [actorq.pid])
            ng = meter_n.stop()
            cpu[f"nginx {n}"] = (a, ng, alive)
            time.sleep(1)

        # ---- report ----
        print("\nThrough nginx (deploy/nginx.conf); probes: fresh-connection GET /healthz and "
              f"POST /v1/tasks, {PROBES} each per attack, limit {MAX_PROBE_S * 1000:.0f} ms; "
              f"actorq idle RSS {idle_rss:.1f} MB, limit +{MAX_RSS_DELTA_MB:.0f} MB")
        print(f"| {'attack':34} | {'max /healthz':>12} | {'max POST':>9} | {'RSS delta':>9} | {'actorq fds':>10} |")
        print(f"|{'-' * 36}|{'-' * 14}|{'-' * 11}|{'-' * 11}|{'-' * 12}|")
        for r in rows:
            print(f"| {r['attack']:34} | {r['max_healthz_ms']:9.1f} ms | {r['max_post_ms']:6.1f} ms "
                  f"| {r['rss_delta_mb']:+6.1f} MB | {r['actorq_fds_max']:10} |")
        print("\nCPU of idle keep-alive connections (5 s; each client asks /healthz at the start "
              "and at 2.5 s; 100 % = one core):")
        print(f"| {'clients':12} | {'actorq CPU':>10} | {'nginx CPU':>9} | {'open at end':>11} |")
        print(f"|{'-' * 14}|{'-' * 12}|{'-' * 11}|{'-' * 13}|")
        for k, (a, ng, alive) in cpu.items():
            ngs = f"{ng:8.1f}%" if ng is not None else f"{'-':>9}"
            print(f"| {k:12} | {a:9.1f}% | {ngs} | {alive:11} |")
        figures = {"idle_rss_mb": round(idle_rss, 1), "attacks": rows,
                   "keepalive_cpu_pct": {k: {"actorq": round(a, 1),
                                             "nginx": None if ng is None else round(ng, 1)}
                                         for k, (a, ng, _) in cpu.items()}}
        print("NGINX_FIGURES " + json.dumps(figures))
        print(f"total {time.monotonic() - t_start:.1f} s", flush=True)
        check(actorq.poll() is None, "actorq exited")
        check(nginx.poll() is None, "nginx exited")
    finally:
        stop(nginx)
        stop(actorq)
        if failures:
            try:
                with open(os.path.join(tmp, "error.log")) as f:
                    print("--- nginx error.log (tail) ---\n" + "".join(f.readlines()[-20:]))
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


def _no_data(s):
    """True while nothing (no answer, no close) has arrived on s."""
    s.setblocking(False)
    try:
        s.recv(1, socket.MSG_PEEK)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
