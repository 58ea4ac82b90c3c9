"""actorq's Python client against a real actorq (no mocks).

$ACTORQ_BIN names the daemon (default /work/main/build/bin/actorq); each test
class starts its own on a free port with a store in a temporary folder.
Run: PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests -v
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)

import actorq  # noqa: E402

ACTORQ_BIN = os.environ.get("ACTORQ_BIN", "/work/main/build/bin/actorq")


class Daemon:
    """A real actorq on a free port, its store and output in a temporary folder."""

    def __init__(self, *extra):
        self.dir = tempfile.TemporaryDirectory(prefix="actorq-py-")
        self.log_path = os.path.join(self.dir.name, "out.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("ACTORQ_AUTH_TOKEN", None)
        self.proc = subprocess.Popen(
            [ACTORQ_BIN, "--http.port=0", "--store.path=%s/s.db" % self.dir.name,
             "--seed.delay-scale=0.05"] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 15
        while True:
            with open(self.log_path, "rb") as f:
                m = re.search(rb"actorq listening on (http://[^\s]+)", f.read())
            if m:
                self.url = m.group(1).decode()
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log_path, "rb") as f:
                    raise RuntimeError("actorq did not start: " + f.read().decode(errors="replace"))
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.dir.cleanup()


class CallbackTest(unittest.TestCase):
    """submit(callback_url=...) with a receiver that checks the signature the
    way README's snippet does."""

    SECRET = b"py-callback-secret"

    @classmethod
    def setUpClass(cls):
        import hashlib
        import hmac
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        cls.got = []
        got, secret = cls.got, cls.SECRET

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                got.append((hmac.compare_digest(expected, self.headers["X-Actorq-Signature"]),
                            json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        cls.receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=cls.receiver.serve_forever, daemon=True).start()
        cls.hook = "http://127.0.0.1:%d/hook" % cls.receiver.server_address[1]
        cls.daemon = Daemon('--callbacks.allowed-prefixes=["%s"]' % cls.hook,
                            "--callbacks.secret=" + cls.SECRET.decode())
        cls.client = actorq.Client(cls.daemon.url, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()
        cls.receiver.shutdown()

    def test_callback_url_is_called_signed(self):
        task = self.client.submit("double", {"value": 21}, callback_url=self.hook)
        self.assertEqual(task["callback"]["url"], self.hook)
        deadline = time.monotonic() + 10
        while self.client.get(task["id"])["callback"]["status"] != "delivered":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.assertEqual(len(self.got), 1)
        signed, view = self.got[0]
        self.assertTrue(signed)
        self.assertEqual(view["id"], task["id"])
        self.assertEqual(view["result"], {"result": 42})

    def test_cli_callback_url(self):
        env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT, ACTORQ_URL=self.daemon.url)
        env.pop("ACTORQ_AUTH_TOKEN", None)
        before = len(self.got)
        r = run_cli(["submit", "double", '{"value": 4}', "--callback-url", self.hook,
                     "--wait", "10"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        task = json.loads(r.stdout)
        self.assertEqual(task["callback"]["url"], self.hook)
        deadline = time.monotonic() + 10
        while self.client.get(task["id"])["callback"]["status"] != "delivered":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        views = [view for _, view in self.got[before:]]
        self.assertIn(task["id"], [v["id"] for v in views])
        refused = run_cli(["submit", "double", '{"value": 4}', "--callback-url",
                           "http://10.0.0.1/x"], env)
        self.assertEqual(refused.returncode, 1)
        self.assertEqual(json.loads(refused.stderr)["code"], "invalid")

    def test_callback_url_outside_the_prefixes_is_refused(self):
        with self.assertRaises(actorq.Error) as e:
            self.client.submit("double", {"value": 1}, callback_url="http://10.0.0.1/x")
        self.assertEqual(e.exception.status, 422)
        self.assertIn("callbacks.allowed-prefixes", e.exception.detail)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        cls.client = actorq.Client(cls.daemon.url, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()

    def test_submit_get_wait_double(self):
        task = self.client.submit("double", {"value": 21})
        self.assertEqual(task["kind"], "double")
        self.assertEqual(task["status"], "queued")
        self.assertEqual(self.client.get(task["id"])["id"], task["id"])
        done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "succeeded")
        self.assertEqual(done["result"], {"result": 42})
        self.assertIsInstance(done["finished_at"], str)  # raw strings are kept
        finished = actorq.parse_time(done["finished_at"])
        self.assertEqual(finished.tzinfo, timezone.utc)
        self.assertLess(abs(datetime.now(timezone.utc) - finished), timedelta(minutes=5))

    def test_submit_after(self):
        first = self.client.submit("echo", {"n": 1})
        then = self.client.submit("echo", {"n": 2}, after=[first["id"]],
                                  after_policy="ended", pass_results=True)
        self.assertEqual(then["after"], [first["id"]])
        done = self.client.wait(then["id"], timeout=10)
        self.assertEqual(done["status"], "succeeded")
        self.assertEqual(done["result"]["_after"],
                         [{"id": first["id"], "status": "succeeded", "result": {"n": 1}}])

    def test_submit_options(self):
        task = self.client.submit("double", {"value": 1, "fail_times": 5}, max_retries=0,
                                  backoff_ms=1, timeout_ms=5000, pool="io", priority=8)
        self.assertEqual(task["max_retries"], 0)
        self.assertEqual(task["priority"], 8)
        done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "failed")
        self.assertEqual(done["attempts"], 1)

    def test_delayed_submit(self):
        task = self.client.submit("echo", {"n": 1}, countdown_ms=300)
        self.assertEqual(task["status"], "scheduled")
        created = actorq.parse_time(task["created_at"])
        self.assertEqual(actorq.parse_time(task["run_at"]) - created,
                         timedelta(milliseconds=300))
        done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "succeeded")
        self.assertGreaterEqual(actorq.parse_time(done["started_at"]),
                                actorq.parse_time(done["run_at"]))
        at = datetime.now(timezone(timedelta(hours=2))) + timedelta(milliseconds=300)
        later = self.client.submit("echo", {"n": 2}, run_at=at)
        self.assertEqual(later["status"], "scheduled")
        self.assertEqual(self.client.wait(later["id"], timeout=10)["status"], "succeeded")
        with self.assertRaises(ValueError):
            self.client.submit("echo", {}, run_at=datetime.now())

    def test_wait_times_out_and_returns_the_task(self):
        task = self.client.submit("sleep", {"ms": 5000})
        started = time.monotonic()
        now = self.client.wait(task["id"], timeout=0.3)
        self.assertLess(time.monotonic() - started, 3)
        self.assertNotIn(now["status"], actorq.TERMINAL)
        self.client.cancel(task["id"])

    def test_idempotency_key_returns_the_same_task(self):
        key = "py-key-%d" % time.monotonic_ns()
        first = self.client.submit("echo", {"n": 1}, idempotency_key=key)
        second = self.client.submit("echo", {"n": 1}, idempotency_key=key)
        self.assertEqual(first["id"], second["id"])
        other = self.client.submit("echo", {"n": 1}, idempotency_key=key + "-other")
        self.assertNotEqual(first["id"], other["id"])

    def test_cancel_sleep(self):
        task = self.client.submit("sleep", {"ms": 60000})
        answer = self.client.cancel(task["id"])
        self.assertEqual(answer["id"], task["id"])
        self.assertTrue(answer["status"] == "cancelled" or answer["cancel_requested"])
        done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "cancelled")
        with self.assertRaises(actorq.Error) as caught:
            self.client.cancel(task["id"])  # ended: nothing to cancel
        self.assertEqual((caught.exception.status, caught.exception.code), (409, "conflict"))

    def test_batch_results_in_order(self):
        items = [{"value": i} for i in range(20)]
        items[7] = {"value": 7, "fail_times": 9}
        answer = self.client.batch("double", items, max_retries=0)
        self.assertEqual(len(answer["results"]), 20)
        for i, result in enumerate(answer["results"]):
            if i == 7:
                self.assertIsNone(result)
                self.assertIsInstance(answer["errors"][7], str)
            else:
                self.assertEqual(result, {"result": 2 * i})
                self.assertIsNone(answer["errors"][i])
        self.assertEqual((answer["succeeded"], answer["failed"]), (19, 1))

    def test_list_follows_pages(self):
        ids = [self.client.submit("square", {"value": i})["id"] for i in range(7)]
        for task_id in ids:
            self.client.wait(task_id, timeout=10)
        listed = list(self.client.list(kind="square", limit=2))  # 4 pages of at most 2
        self.assertEqual([t["id"] for t in listed], list(reversed(ids)))  # newest first
        succeeded = list(self.client.list(status="succeeded", kind="square", limit=3))
        self.assertEqual(len(succeeded), 7)
        self.assertEqual(list(self.client.list(kind="square", status="failed")), [])
        generator = self.client.list(limit=1)
        self.assertTrue(hasattr(generator, "__next__"))
        self.assertIn("id", next(generator))

    def test_kinds_pools_health(self):
        names = {k["name"] for k in self.client.kinds()}
        self.assertTrue({"double", "sleep", "echo"} <= names)
        self.assertIn("io", {p["name"] for p in self.client.pools()})
        self.assertEqual(self.client.health()["status"], "ok")

    def test_errors(self):
        with self.assertRaises(actorq.Error) as caught:
            self.client.submit("no-such-kind", {})
        e = caught.exception
        self.assertEqual((e.status, e.code), (422, "invalid"))
        self.assertIn("kind", e.detail)
        with self.assertRaises(actorq.Error) as caught:
            self.client.get("00000000-0000-4000-8000-000000000000")
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "not_found"))
        with self.assertRaises(actorq.Error) as caught:
            self.client.get("not/a uuid")
        self.assertEqual(caught.exception.status, 404)
        with self.assertRaises(actorq.Error) as caught:
            self.client.submit("double", {"value": 1, "typo": 2})
        self.assertEqual(caught.exception.code, "invalid")
        # the connection is still usable after error answers
        self.assertEqual(self.client.health()["status"], "ok")

    def test_unreachable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        with self.assertRaises(actorq.Error) as caught, \
                actorq.Client("http://127.0.0.1:%d" % port, timeout=2) as client:
            client.get("x")
        e = caught.exception
        self.assertEqual((e.status, e.code), (0, "unreachable"))
        self.assertIn("127.0.0.1:%d" % port, e.detail)

    def test_connection_reuse_and_threads(self):
        client = actorq.Client(self.daemon.url)
        client.health()
        conn = client._local.conn
        client.get(client.submit("echo", {})["id"])
        self.assertIs(client._local.conn, conn)  # one keep-alive connection
        seen = []

        def work():
            # One append per thread: two would interleave with the other
            # threads' under load, and seen[1::2] would mix ids and conns.
            task_id = client.submit("double", {"value": 2})["id"]
            seen.append((task_id, client._local.conn))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(seen), 4)
        conns = [c for _, c in seen]
        self.assertEqual(len({id(c) for c in conns}), 4)  # one per thread
        self.assertNotIn(conn, conns)
        client.close()
        self.assertTrue(all(c.sock is None for c in conns + [conn]))

    def test_reconnects_after_idle_keep_alive_close(self):
        # actorq closes idle keep-alive connections after 5 s; a submission
        # (not idempotent) afterwards must still go through, once.
        client = actorq.Client(self.daemon.url)
        client.health()
        time.sleep(5.5)
        task = client.submit("echo", {"after": "idle"})
        self.assertEqual(client.wait(task["id"], 10)["result"], {"after": "idle"})
        client.close()


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon("--http.auth-token=t")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def test_without_token_401(self):
        with actorq.Client(self.daemon.url) as client:
            with self.assertRaises(actorq.Error) as caught:
                client.submit("double", {"value": 1})
            self.assertEqual((caught.exception.status, caught.exception.code),
                             (401, "unauthorized"))
            self.assertEqual(client.health()["status"], "ok")  # /healthz needs no token
        with actorq.Client(self.daemon.url, token="wrong") as client:
            with self.assertRaises(actorq.Error) as caught:
                client.kinds()
            self.assertEqual(caught.exception.status, 401)

    def test_with_token(self):
        with actorq.Client(self.daemon.url, token="t") as client:
            task = client.wait(client.submit("double", {"value": 21})["id"], timeout=10)
            self.assertEqual(task["result"], {"result": 42})

    def test_cli_token(self):
        env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT, ACTORQ_URL=self.daemon.url)
        env.pop("ACTORQ_AUTH_TOKEN", None)
        denied = run_cli(["submit", "echo"], env)
        self.assertEqual(denied.returncode, 1)
        self.assertEqual(json.loads(denied.stderr)["code"], "unauthorized")
        ok = run_cli(["submit", "echo", "--token", "t"], env)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        env["ACTORQ_AUTH_TOKEN"] = "t"
        self.assertEqual(run_cli(["status", json.loads(ok.stdout)["id"]], env).returncode, 0)


def run_cli(args, env):
    return subprocess.run([sys.executable, "-m", "actorq"] + args, env=env,
                          capture_output=True, text=True, timeout=30)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()
        cls.env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
        cls.env.pop("ACTORQ_AUTH_TOKEN", None)
        cls.env.pop("ACTORQ_URL", None)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def cli(self, *args, **env):
        return run_cli(list(args), dict(self.env, **env))

    def test_help(self):
        r = self.cli("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("submit", "wait", "status", "--url", "--token"):
            self.assertIn(word, r.stdout)

    def test_submit_wait_status(self):
        r = self.cli("--url", self.daemon.url, "submit", "double", '{"value": 21}',
                     "--max-retries", "1", "--priority", "3", "--idempotency-key", "cli-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        task = json.loads(r.stdout)
        self.assertEqual(task["max_retries"], 1)
        self.assertEqual(task["priority"], 3)
        # The same request again (a different one with this key is 422).
        again = json.loads(self.cli("submit", "double", '{"value": 21}', "--url",
                                    self.daemon.url, "--max-retries", "1", "--priority", "3",
                                    "--idempotency-key", "cli-1").stdout)
        self.assertEqual(again["id"], task["id"])
        other = self.cli("--url", self.daemon.url, "submit", "double", '{"value": 21}',
                         "--idempotency-key", "cli-1")
        self.assertNotEqual(other.returncode, 0)
        self.assertIn("idempotency_mismatch", other.stdout + other.stderr)
        r = self.cli("wait", task["id"], "--timeout", "10", ACTORQ_URL=self.daemon.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["result"], {"result": 42})
        r = self.cli("status", task["id"], ACTORQ_URL=self.daemon.url)
        self.assertEqual(json.loads(r.stdout)["status"], "succeeded")

    def test_submit_delayed(self):
        r = self.cli("--url", self.daemon.url, "submit", "echo", "{}", "--countdown-ms", "200")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "scheduled")
        r = self.cli("--url", self.daemon.url, "submit", "echo", "{}",
                     "--run-at", "2020-01-01T00:00:00+01:00", "--wait", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["run_at"], "2019-12-31T23:00:00.000Z")
        both = self.cli("--url", self.daemon.url, "submit", "echo", "{}",
                        "--countdown-ms", "1", "--run-at", "2020-01-01T00:00:00Z")
        self.assertEqual(both.returncode, 2)

    def test_errors_exit_1(self):
        r = self.cli("--url", self.daemon.url, "submit", "no-such-kind")
        self.assertEqual(r.returncode, 1)
        error = json.loads(r.stderr)
        self.assertEqual(error["code"], "invalid")
        self.assertIn("detail", error)
        r = self.cli("--url", self.daemon.url, "status", "00000000-0000-4000-8000-000000000000")
        self.assertEqual((r.returncode, json.loads(r.stderr)["code"]), (1, "not_found"))
        r = self.cli("--url", "http://127.0.0.1:1", "status", "x")
        self.assertEqual((r.returncode, json.loads(r.stderr)["code"]), (1, "unreachable"))

    def test_example_client(self):
        example = os.path.join(PACKAGE_ROOT, "..", "..", "examples", "python", "client.py")
        if not os.path.exists(example):
            self.skipTest("examples/python/client.py is not next to this checkout")
        r = subprocess.run([sys.executable, example, self.daemon.url], env=self.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("succeeded {'result': 42}", r.stdout)
        self.assertIn("422 invalid", r.stdout)

    def test_usage_errors_exit_2(self):
        self.assertEqual(self.cli().returncode, 2)
        self.assertEqual(self.cli("submit").returncode, 2)
        self.assertEqual(self.cli("submit", "double", "{not json").returncode, 2)
        self.assertEqual(self.cli("wait", "x", "--timeout", "soon").returncode, 2)
        self.assertEqual(self.cli("frobnicate").returncode, 2)


class ParseTimeTest(unittest.TestCase):
    def test_z(self):
        t = actorq.parse_time("2026-11-25T23:54:09.686Z")
        self.assertEqual(t, datetime(2026, 11, 25, 23, 54, 9, 686000, tzinfo=timezone.utc))
        self.assertEqual(actorq.parse_time("2026-01-02T03:04:05Z"),
                         datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
        self.assertEqual(actorq.parse_time("2026-01-02t03:04:05.123456789z").microsecond, 123456)

    def test_offsets(self):
        t = actorq.parse_time("2026-01-02T03:04:05.5+02:00")
        self.assertEqual(t.utcoffset(), timedelta(hours=2))
        self.assertEqual(t, datetime(2026, 1, 2, 1, 4, 5, 500000, tzinfo=timezone.utc))
        t = actorq.parse_time("2026-01-02T03:04:05-05:30")
        self.assertEqual(t.utcoffset(), -timedelta(hours=5, minutes=30))
        self.assertEqual(actorq.parse_time("2026-01-02T03:04:05+00:00"),
                         actorq.parse_time("2026-01-02T03:04:05Z"))

    def test_none_and_bad(self):
        self.assertIsNone(actorq.parse_time(None))
        for bad in ("", "2026-01-02", "2026-01-02T03:04:05", "2026-13-02T03:04:05Z",
                    "yesterday", "2026-01-02T03:04:05+25:00"):
            with self.assertRaises(ValueError, msg=bad):
                actorq.parse_time(bad)


class PackagingTest(unittest.TestCase):
    def test_pyproject(self):
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            self.skipTest("tomllib needs Python 3.11")
        with open(os.path.join(PACKAGE_ROOT, "pyproject.toml"), "rb") as f:
            project = tomllib.load(f)
        self.assertEqual(project["project"]["name"], "actorq")
        self.assertEqual(project["project"]["version"], actorq.__version__)
        self.assertEqual(project["project"]["version"], "0.1.0")
        self.assertEqual(project["project"].get("dependencies", []), [])
        self.assertIn("setuptools", project["build-system"]["build-backend"])

    def test_compiles_for_python_39(self):
        # no syntax newer than 3.9 (match, X | Y annotations evaluated at runtime)
        import ast
        for name in os.listdir(os.path.join(PACKAGE_ROOT, "actorq")):
            if name.endswith(".py"):
                with open(os.path.join(PACKAGE_ROOT, "actorq", name)) as f:
                    ast.parse(f.read(), name, feature_version=(3, 9))


if __name__ == "__main__":
    unittest.main()
