#!/usr/bin/env python3
"""Packaging (issue 12): what `cmake --install` and `make deb` deliver, run for real.

usage: packaging_test.py BUILD_DIR ACTORQ_BIN [unittest arguments, e.g. InstallTest]

  InstallTest  `DESTDIR=<tmp> cmake --install BUILD_DIR`: the files land where
               build/packaging/install_paths.json says (nothing else in bin), then the
               installed actorq runs with the installed /etc/actorq/actorq.ini (store and
               port overridden): /healthz, /readyz, a task succeeds, the installed
               actorq-cli talks to it; the installed configs/examples.ini runs an exec kind
               from the installed examples/jobs.
  NotifyTest   sd_notify: actorq started with NOTIFY_SOCKET on a datagram socket bound
               here sends STATUS=resuming (a store with an unfinished task), READY=1 once
               /readyz says ready, STOPPING=1 on SIGTERM while /readyz turns "draining";
               a worker node sends READY=1 once a head has taken it, STOPPING=1 on SIGTERM.
  UnitTest     the unit's keys (Type=notify, ExecStart on the installed paths, restart,
               state directory holding store.path, stop timeout above shutdown.grace,
               hardening) and `systemd-analyze verify` when systemd is installed.
  DebTest      cpack -G DEB (what `make deb` runs), dpkg-deb -x into a scratch root:
               files, conffiles, control fields, maintainer scripts, and Depends naming
               the package of every library the binaries load.
Python 3 standard library only.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = ""
ACTORQ = ""
HOST = "127.0.0.1"


def paths():
    with open(os.path.join(BUILD, "packaging", "install_paths.json")) as f:
        return json.load(f)


def under(root, path):
    return os.path.join(root, path.lstrip("/"))


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, timeout=10):
    """(status, decoded JSON body) of one request."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = json.dumps(body) if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        res = conn.getresponse()
        raw = res.read()
        return res.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def wait_for(what, probe, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Daemon:
    """An actorq process with its output in files (shown when a test fails)."""

    def __init__(self, test, argv, env=None, cwd=None):
        self.dir = tempfile.mkdtemp(prefix="actorq-pkg-")
        self.out = open(os.path.join(self.dir, "stdout"), "w+")
        self.err = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err,
                                     env=env, cwd=cwd or self.dir)
        test.addCleanup(self.close)

    def output(self):
        self.out.seek(0)
        self.err.seek(0)
        return "stdout:\n" + self.out.read() + "stderr:\n" + self.err.read()

    def wait_healthy(self, port):
        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError("actorq exited %s\n%s" % (self.proc.returncode,
                                                              self.output()))
            return call(port, "GET", "/healthz", timeout=2)[0] == 200
        wait_for("GET /healthz", healthy)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def scratch(test):
    d = tempfile.mkdtemp(prefix="actorq-pkg-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


def install(test):
    """DESTDIR=<tmp> cmake --install BUILD; returns <tmp>."""
    root = scratch(test)
    env = dict(os.environ, DESTDIR=root)
    done = subprocess.run([os.environ.get("CMAKE", "cmake"), "--install", BUILD],
                          env=env, capture_output=True, text=True)
    test.assertEqual(done.returncode, 0, done.stdout + done.stderr)
    return root


def submit_and_wait(test, port, kind, input_):
    status, task = call(port, "POST", "/v1/tasks", {"kind": kind, "input": input_})
    test.assertEqual(status, 202, task)
    status, task = call(port, "GET", "/v1/tasks/%s?wait_ms=20000" % task["id"],
                        timeout=30)
    test.assertEqual(status, 200, task)
    return task


class InstallTest(unittest.TestCase):
    def test_installed_tree_runs_with_its_config(self):
        p = paths()
        root = install(self)
        bindir = under(root, p["bindir"])
        # The two programs and nothing else: no examples, benchmarks or tests.
        self.assertEqual(sorted(os.listdir(bindir)), ["actorq", "actorq-cli"])
        for name in ("actorq", "actorq-cli"):
            self.assertTrue(os.access(os.path.join(bindir, name), os.X_OK), name)
        config = under(root, p["configdir"] + "/actorq.ini")
        unit = under(root, p["unitdir"] + "/actorq.service")
        docdir = under(root, p["docdir"])
        for f in (config, unit, docdir + "/README.md", docdir + "/configs/default.ini",
                  docdir + "/configs/examples.ini", docdir + "/deploy/nginx.conf"):
            self.assertTrue(os.path.isfile(f), f + " not installed")
        self.assertTrue(os.access(docdir + "/examples/jobs/thumbnail.py", os.X_OK))
        with open(unit) as f, open(p["unit"]) as g:
            self.assertEqual(f.read(), g.read(), "the installed unit is the built one")

        # The installed binary with the installed config; store and port overridden.
        port = free_port()
        store = os.path.join(root, "tasks.db")
        d = Daemon(self, [os.path.join(bindir, "actorq"), "--config-file=" + config,
                          "--store.path=" + store, "--http.port=%d" % port])
        d.wait_healthy(port)
        self.assertEqual(call(port, "GET", "/healthz")[1]["status"], "ok")
        wait_for("GET /readyz 200", lambda: call(port, "GET", "/readyz")[0] == 200)
        task = submit_and_wait(self, port, "double", {"value": 21})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(task["result"], {"result": 42})
        self.assertTrue(os.path.isfile(store), "the store is where store.path says")
        # The installed CLI talks to it.
        cli = subprocess.run([os.path.join(bindir, "actorq-cli"),
                              "--url=http://%s:%d" % (HOST, port), "status", task["id"]],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stdout + cli.stderr)
        self.assertEqual(json.loads(cli.stdout)["status"], "succeeded")
        self.assertEqual(d.stop(), 0, d.output())

        # The installed examples.ini finds its programs in the installed examples/jobs.
        port = free_port()
        d = Daemon(self, [os.path.join(bindir, "actorq"),
                          "--config-file=" + docdir + "/configs/examples.ini",
                          "--store.path=" + os.path.join(root, "examples.db"),
                          "--http.port=%d" % port, "--cluster.port=0"])
        d.wait_healthy(port)
        task = submit_and_wait(self, port, "thumbnail", {"pages": 2, "ms_per_page": 10})
        self.assertEqual(task["status"], "succeeded", task)
        self.assertEqual(d.stop(), 0, d.output())


class NotifyTest(unittest.TestCase):
    def receive(self, sock, wanted, timeout=15.0):
        """Datagrams until one holding the line `wanted`; returns all lines seen."""
        lines = []
        deadline = time.monotonic() + timeout
        while wanted not in lines:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("no %s from actorq; got %r" % (wanted, lines))
            sock.settimeout(left)
            try:
                lines += sock.recv(4096).decode().split("\n")
            except socket.timeout:
                pass
        return lines

    def test_ready_after_recovery_and_stopping_on_sigterm(self):
        tmp = scratch(self)
        store = os.path.join(tmp, "tasks.db")
        port = free_port()
        argv = [ACTORQ, "--store.path=" + store, "--http.port=%d" % port,
                "--shutdown.grace=3s"]
        # An unfinished task in the store, for the recovery status line.
        first = Daemon(self, argv)
        first.wait_healthy(port)
        status, task = call(port, "POST", "/v1/tasks",
                            {"kind": "sleep", "input": {"ms": 600000}})
        self.assertEqual(status, 202, task)
        wait_for("the task running", lambda: call(
            port, "GET", "/v1/tasks/" + task["id"])[1]["status"] == "running")
        time.sleep(0.5)  # its start reaches the store
        first.proc.kill()
        first.proc.wait()

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock_path = os.path.join(tmp, "notify.sock")
        sock.bind(sock_path)
        d = Daemon(self, argv, env=dict(os.environ, NOTIFY_SOCKET=sock_path))
        lines = self.receive(sock, "READY=1")
        # READY=1 comes once /readyz would say ready, not before.
        status, body = call(port, "GET", "/readyz")
        self.assertEqual((status, body), (200, {"status": "ready"}), d.output())
        self.assertIn("STATUS=resuming 1 unfinished tasks", lines)
        self.assertIn("STATUS=serving on http://%s:%d" % (HOST, port), lines)
        self.assertNotIn("STOPPING=1", lines)
        # The recovered task runs again: the drain has work to wait for.
        wait_for("the recovered task running", lambda: call(
            port, "GET", "/v1/tasks/" + task["id"])[1]["status"] == "running")

        d.proc.send_signal(signal.SIGTERM)
        lines = self.receive(sock, "STOPPING=1")
        self.assertIn("STATUS=draining", lines)
        wait_for("GET /readyz draining", lambda: call(port, "GET", "/readyz", timeout=2)
                 == (503, {"status": "draining"}), timeout=5)
        self.assertEqual(d.proc.wait(40), 0, d.output())

    def test_worker_node_ready_once_joined(self):
        tmp = scratch(self)
        port, gateway = free_port(), free_port()
        head = Daemon(self, [ACTORQ, "--store.path=:memory:", "--http.port=%d" % port,
                             "--cluster.port=%d" % gateway])
        head.wait_healthy(port)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock_path = os.path.join(tmp, "notify.sock")
        sock.bind(sock_path)
        node = Daemon(self, [ACTORQ, "--cluster.join=%s:%d" % (HOST, gateway),
                             "--cluster.name=n1", "--pools.io.size=4",
                             "--pools.cpu.size=1"],
                      env=dict(os.environ, NOTIFY_SOCKET=sock_path))
        lines = self.receive(sock, "READY=1")
        self.assertTrue(any(l.startswith("STATUS=serving %s:%d" % (HOST, gateway))
                            for l in lines), lines)
        # READY=1 once the head has taken the node.
        status, nodes = call(port, "GET", "/v1/nodes")
        self.assertIn("n1", json.dumps(nodes), node.output())
        node.proc.send_signal(signal.SIGTERM)
        self.receive(sock, "STOPPING=1")
        self.assertEqual(node.proc.wait(30), 0, node.output())
        self.assertEqual(head.stop(), 0, head.output())


def read_unit(path):
    """{section: {key: [values]}} of a systemd unit file."""
    sections, current = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(text):
    """A systemd or CAF duration ("60s", "1min 30s", "500ms", "90") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * units[unit]
    return total


def ini_value(path, section, key):
    current = None
    with open(path) as f:
        for raw in f:
            line = raw.split(";")[0].strip()
            if line.startswith("["):
                current = line.strip("[]")
            elif current == section and "=" in line:
                k, _, v = line.partition("=")
                if k.strip() == key:
                    return v.strip().strip('"')
    return None


class UnitTest(unittest.TestCase):
    def test_unit_keys(self):
        p = paths()
        unit = read_unit(p["unit"])
        svc = unit["Service"]
        one = lambda key: svc.get(key, [None])[-1]
        config = p["configdir"] + "/actorq.ini"
        self.assertEqual(one("Type"), "notify")
        self.assertEqual(one("ExecStart"),
                         "%s/actorq --config-file=%s" % (p["bindir"], config))
        self.assertEqual(one("Restart"), "on-failure")
        self.assertEqual(one("KillSignal"), "SIGTERM")
        # SIGTERM to actorq alone: it drains, its exec children are not killed
        # along with it.
        self.assertEqual(one("KillMode"), "mixed")
        self.assertTrue(one("DynamicUser") == "yes" or one("User"), svc)
        # The store sits in the service's own state directory.
        state = one("StateDirectory")
        self.assertEqual(state, "actorq")
        source_ini = os.path.join(os.path.dirname(__file__), "..", "..", "deploy",
                                  "actorq.ini")
        store = ini_value(source_ini, "store", "path")
        self.assertTrue(store.startswith("/var/lib/%s/" % state), store)
        grace = ini_value(source_ini, "shutdown", "grace") or "10s"
        self.assertGreater(seconds(one("TimeoutStopSec")), seconds(grace) + 10)
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes")):
            self.assertEqual(one(key), value, key)
        self.assertEqual(unit["Install"]["WantedBy"], ["multi-user.target"])

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        p = paths()
        # verify wants ExecStart's program to exist: point it at the built one.
        tmp = scratch(self)
        copy = os.path.join(tmp, "actorq.service")
        with open(p["unit"]) as f:
            text = f.read().replace(p["bindir"] + "/actorq ", ACTORQ + " ")
        with open(copy, "w") as f:
            f.write(text)
        done = subprocess.run([analyze, "verify", copy], capture_output=True, text=True)
        # verify exits 0 on keys it ignores ("Failed to parse ..."): any word on
        # our unit is a failure.
        complaints = [l for l in (done.stdout + done.stderr).splitlines()
                      if "actorq.service" in l]
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertEqual(complaints, [])


def provided_by(package):
    """The virtual package names an installed package provides."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Provides}", package],
                          capture_output=True, text=True)
    return {p.split()[0] for p in done.stdout.split(",") if p.strip()}


def package_of(path):
    """The Debian package owning a file, trying its /usr-merged aliases."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for c in list(candidates):
        if c.startswith("/usr/"):
            candidates.append(c[4:])
        else:
            candidates.append("/usr" + c)
    for c in candidates:
        done = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":")[0]
    return None


class DebTest(unittest.TestCase):
    def test_package(self):
        p = paths()
        out = scratch(self)
        done = subprocess.run([os.environ.get("CPACK", "cpack"), "-G", "DEB", "-B", out],
                              cwd=BUILD, capture_output=True, text=True, timeout=300)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = os.path.join(out, debs[0])

        field = lambda name: subprocess.run(["dpkg-deb", "-f", deb, name],
                                            capture_output=True, text=True).stdout.strip()
        self.assertEqual(field("Package"), "actorq")
        self.assertTrue(field("Maintainer"))
        self.assertTrue(field("Version"))
        self.assertIn("task", field("Description"))
        depends = {d.strip().split(" ")[0] for d in field("Depends").split(",")}

        root = os.path.join(out, "root")
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        control = os.path.join(out, "control")
        subprocess.run(["dpkg-deb", "-e", deb, control], check=True)
        config = p["configdir"] + "/actorq.ini"
        for f in (p["bindir"] + "/actorq", p["bindir"] + "/actorq-cli", config,
                  p["unitdir"] + "/actorq.service", p["docdir"] + "/README.md",
                  p["docdir"] + "/configs/default.ini"):
            self.assertTrue(os.path.isfile(under(root, f)), f + " not in the package")
        self.assertEqual(sorted(os.listdir(under(root, p["bindir"]))),
                         ["actorq", "actorq-cli"])
        with open(os.path.join(control, "conffiles")) as f:
            self.assertIn(config, f.read().split())
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            check = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, script + ": " + check.stderr)

        # Depends names the package of every library the binaries link
        # (their NEEDED entries; those libraries' own come with their packages).
        for name in ("actorq", "actorq-cli"):
            binary = under(root, p["bindir"] + "/" + name)
            elf = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True)
            needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", elf.stdout)
            ldd = subprocess.run(["ldd", binary], capture_output=True, text=True)
            self.assertEqual(ldd.returncode, 0, ldd.stderr)
            where = dict(re.findall(r"(\S+) => (/\S+)", ldd.stdout))
            self.assertIn("libc.so.6", needed)
            for soname in needed:
                self.assertIn(soname, where, name + " cannot find " + soname)
                lib = where[soname]
                owner = package_of(lib)
                self.assertIsNotNone(owner, lib + " belongs to no package")
                # Or a name it provides: libspdlog's shlibs name the virtual
                # libspdlog1.10-fmt9 that libspdlog1.10 provides.
                names = {owner} | provided_by(owner)
                self.assertTrue(names & depends, "%s (%s, loaded by %s) not in Depends: %s"
                                % (owner, lib, name, sorted(depends)))
            # The packaged (stripped) binary runs.
            run = subprocess.run([binary, "--help"], capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)


if __name__ == "__main__":
    BUILD, ACTORQ = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
