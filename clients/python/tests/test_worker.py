"""actorq.Worker against a real actorq (no mocks): the lease protocol of
docs/leases.md from the worker's side.

$ACTORQ_BIN names the daemon (default /work/main/build/bin/actorq); the
daemon gets a config file declaring lease kinds with a 1 s lease-ttl.
Run: PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests -v
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import actorq  # noqa: E402
from test_client import Daemon  # noqa: E402

EXAMPLE_WORKER = os.path.join(PACKAGE_ROOT, "..", "..", "examples", "python", "worker.py")

# One kind and one pool per test: a stopped worker's last long-poll may
# still be answered (into its closed connection), so tests share neither.
# test_two_kinds_of_one_pool covers kinds sharing a pool.
KINDS = ("echo-lease", "echo1-lease", "arg-lease", "fail-lease", "perm-lease", "json-lease",
         "progress-lease", "long-lease", "lost-lease", "cancel-lease", "batch-lease",
         "stop-lease", "proc-lease", "term-lease", "py-wordcount", "nolocal-lease")

CONFIG = "".join("""
[pools.p-{0}]
size = 0

[kinds.{0}]
runner = "lease"
pool = "p-{0}"
lease-ttl = 1s
max-retries = 3
backoff = 50ms
""".format(kind) for kind in KINDS) + """
[pools.shared]
size = 0
""" + "".join("""
[kinds.{0}]
runner = "lease"
pool = "shared"
lease-ttl = 1s
""".format(kind) for kind in ("shared-a", "shared-b"))

# actorq answers a waiting lease request only when its wait_ms ends, also
# when it shuts down, so test workers long-poll 2 s instead of 30 s to keep
# each class's daemon shutdown short.
POLL_MS = 2000


def Worker(url, **options):
    options.setdefault("wait_ms", POLL_MS)
    return actorq.Worker(url, **options)


def start_daemon():
    folder = tempfile.TemporaryDirectory(prefix="actorq-py-ini-")
    path = os.path.join(folder.name, "leases.ini")
    with open(path, "w") as f:
        f.write(CONFIG)
    daemon = Daemon("--config-file=%s" % path)
    daemon.ini = folder
    return daemon


class DaemonTest(unittest.TestCase):
    """One daemon with the lease config per test class, and a client of it."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = start_daemon()
        cls.client = actorq.Client(cls.daemon.url, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.stop()
        cls.daemon.ini.cleanup()


class WorkerTest(DaemonTest):
    @contextlib.contextmanager
    def running(self, worker):
        """Run ``worker`` in a thread; stop it and check run() returned."""
        errors = []

        def run():
            try:
                worker.run()
            except BaseException as exc:  # noqa: B902
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield worker
        finally:
            worker.stop()
            thread.join(15)
            self.assertFalse(thread.is_alive(), "Worker.run() did not return after stop()")
            worker.client.close()
        if errors:
            raise errors[0]

    def wait_all(self, ids, timeout=15):
        return [self.client.wait(i, timeout=timeout) for i in ids]

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        self.fail("timed out waiting for " + what)

    def test_completes_tasks_batched_and_one_by_one(self):
        for batch in (True, False):
            with self.subTest(batch=batch):
                worker = Worker(self.daemon.url, concurrency=4, batch=batch,
                                       name="t-echo-%s" % batch)
                seen = []

                kind = "echo-lease" if batch else "echo1-lease"

                @worker.kind(kind)
                def echo(input, task):
                    seen.append((task.kind, task.attempt, task.lease, task.attempt_id))
                    self.assertIsInstance(task.expires_at, actorq._worker.datetime)
                    return {"echo": input, "id": task.id}

                ids = [self.client.submit(kind, {"n": i})["id"] for i in range(40)]
                with self.running(worker):
                    done = self.wait_all(ids)
                for i, task in enumerate(done):
                    self.assertEqual(task["status"], "succeeded", task)
                    self.assertEqual(task["result"], {"echo": {"n": i}, "id": ids[i]})
                    self.assertEqual(task["attempts"], 1)
                self.assertEqual(len(seen), 40)
                self.assertTrue(all(k == kind and a == 1 and lease and aid
                                    for k, a, lease, aid in seen))
                self.assertEqual(len({s[2] for s in seen}), 40)  # one lease each
                self.assertEqual(worker.stats["completed"], 40)
                self.assertEqual(worker.stats["leased"], 40)

    def test_one_argument_function_and_kinds_mapping(self):
        worker = Worker(self.daemon.url, kinds={"arg-lease": lambda x: [x, x]})
        task = self.client.submit("arg-lease", {"a": 1})
        with self.running(worker):
            done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["result"], [{"a": 1}, {"a": 1}])

    def test_exception_is_retried_then_fails(self):
        worker = Worker(self.daemon.url, concurrency=2)
        attempts = []

        @worker.kind("fail-lease")
        def fail(input, task):
            attempts.append(task.attempt)
            if input.get("succeed_on") == task.attempt:
                return "ok"
            raise ValueError("boom %d" % task.attempt)

        always = self.client.submit("fail-lease", {}, max_retries=2)
        second = self.client.submit("fail-lease", {"succeed_on": 2}, max_retries=2)
        with self.running(worker):
            always, second = self.wait_all([always["id"], second["id"]])
        self.assertEqual(always["status"], "failed")
        self.assertEqual(always["attempts"], 3)
        self.assertIn("ValueError: boom 3", always["error"])
        self.assertEqual(second["status"], "succeeded")
        self.assertEqual((second["attempts"], second["result"]), (2, "ok"))

    def test_permanent_fails_at_once(self):
        worker = Worker(self.daemon.url)

        @worker.kind("perm-lease")
        def fail(input, task):
            raise actorq.Permanent("bad input %r" % (input,))

        task = self.client.submit("perm-lease", {"x": 1}, max_retries=3)
        with self.running(worker):
            done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "failed")
        self.assertEqual(done["attempts"], 1)
        self.assertIn("bad input", done["error"])
        self.assertIn("Permanent", done["error"])

    def test_result_not_json_fails_the_attempt(self):
        worker = Worker(self.daemon.url)
        worker.kind("json-lease", lambda input, task: {"set": {1, 2}}
                    if task.attempt == 1 else float("nan") if task.attempt == 2 else "fine")
        task = self.client.submit("json-lease", {}, max_retries=3)
        with self.running(worker):
            done = self.client.wait(task["id"], timeout=10)
        self.assertEqual((done["status"], done["attempts"], done["result"]),
                         ("succeeded", 3, "fine"))

    def test_progress_visible_in_task(self):
        worker = Worker(self.daemon.url)
        proceed = threading.Event()

        @worker.kind("progress-lease")
        def slow(input, task):
            task.progress(0.25, "a quarter")
            task.progress(0.5, "half way")
            proceed.wait(10)
            task.progress(1.0)
            return "done"

        task = self.client.submit("progress-lease", {})
        with self.running(worker):
            progress = self.wait_for(
                lambda: self.client.get(task["id"]).get("progress"), what="progress")
            self.assertEqual(progress["fraction"], 0.5)
            self.assertEqual(progress["message"], "half way")
            self.assertEqual(self.client.get(task["id"])["status"], "running")
            proceed.set()
            done = self.client.wait(task["id"], timeout=10)
        self.assertEqual(done["status"], "succeeded")
        self.assertEqual(done["progress"]["fraction"], 1.0)

    def test_heartbeats_keep_a_long_attempt_leased(self):
        # lease-ttl is 1 s; the function runs 2.5 s without calling progress
        worker = Worker(self.daemon.url, concurrency=2)
        worker.kind("long-lease", lambda input, task: time.sleep(input["s"]) or task.attempt)
        ids = [self.client.submit("long-lease", {"s": 2.5})["id"] for _ in range(2)]
        with self.running(worker):
            done = self.wait_all(ids)
        for task in done:
            self.assertEqual((task["status"], task["attempts"], task["result"]),
                             ("succeeded", 1, 1), task)

    def test_lost_lease_is_retried(self):
        # a worker that stops heartbeating (here: never gets to) loses the lease
        worker = Worker(self.daemon.url)
        calls = []

        @worker.kind("lost-lease")
        def slow(input, task):
            calls.append(task.attempt)
            if task.attempt == 1:
                # play dead: block the heartbeats, outlive the 1 s lease
                with worker._lock:
                    time.sleep(1.6)
                with self.assertRaises(actorq.Cancelled) as caught:
                    task.progress(0.9)
                self.assertEqual(caught.exception.code, "conflict")
                self.assertTrue(task.lost)
                self.assertFalse(task.cancelled)
                return "too late"
            return "second"

        task = self.client.submit("lost-lease", {})
        with self.running(worker):
            done = self.client.wait(task["id"], timeout=10)
        self.assertEqual((done["status"], done["result"], done["attempts"]),
                         ("succeeded", "second", 2))
        self.assertEqual(calls, [1, 2])

    def test_cancel_seen_by_worker(self):
        worker = Worker(self.daemon.url, concurrency=2)
        seen = {}
        started = threading.Event()

        @worker.kind("cancel-lease")
        def cancellable(input, task):
            started.set()
            deadline = time.monotonic() + 8
            if input["how"] == "progress":
                try:
                    while time.monotonic() < deadline:
                        task.progress(0.1, "working")
                        time.sleep(0.05)
                except actorq.Cancelled as exc:
                    seen["progress"] = (exc.code, task.cancelled)
                    raise
            else:  # never calls progress: the background heartbeat finds out
                while not task.cancelled and time.monotonic() < deadline:
                    time.sleep(0.02)
                seen["flag"] = task.cancelled
                return "ignored"

        with self.running(worker):
            for how in ("progress", "flag"):
                started.clear()
                task = self.client.submit("cancel-lease", {"how": how})
                self.assertTrue(started.wait(10))
                self.client.cancel(task["id"])
                done = self.client.wait(task["id"], timeout=10)
                self.assertEqual(done["status"], "cancelled")
                self.wait_for(lambda: how in seen, what="the worker to see the cancel")
                self.assertIsNone(done["result"])
        self.assertEqual(seen["progress"], ("cancelled", True))
        self.assertIs(seen["flag"], True)
        self.assertEqual(worker.stats["dropped"], 2)
        self.assertEqual(worker.stats["completed"] + worker.stats["failed"], 0)

    def test_batch_items(self):
        worker = Worker(self.daemon.url, concurrency=3)
        ids = []

        @worker.kind("batch-lease")
        def square(input, task):
            ids.append(task.id)
            if input["v"] == 3:
                raise actorq.Permanent("no threes")
            return input["v"] * input["v"]

        with self.running(worker):
            answer = self.client.batch("batch-lease", [{"v": i} for i in range(6)],
                                       max_retries=0)
        self.assertEqual(answer["results"], [0, 1, 4, None, 16, 25])
        self.assertIn("no threes", answer["errors"][3])
        self.assertEqual((answer["succeeded"], answer["failed"]), (5, 1))
        self.assertEqual(ids, [None] * 6)  # batch items have no task id

    def test_stop_finishes_the_attempts_held(self):
        worker = Worker(self.daemon.url, concurrency=2)
        started = threading.Event()

        @worker.kind("stop-lease")
        def slow(input, task):
            started.set()
            time.sleep(1.2)
            return "finished"

        ids = [self.client.submit("stop-lease", {})["id"] for _ in range(2)]
        with self.running(worker):
            self.assertTrue(started.wait(10))
            time.sleep(0.1)
            began = time.monotonic()
        self.assertGreater(time.monotonic() - began, 0.5)  # stop waited for them
        for task in (self.client.get(i) for i in ids):  # settled before run() returned
            self.assertEqual((task["status"], task["result"], task["attempts"]),
                             ("succeeded", "finished", 1))

    def test_stop_interrupts_an_idle_long_poll(self):
        worker = Worker(self.daemon.url, kinds={"nolocal-lease": lambda x: x},
                        wait_ms=5000)
        with self.running(worker):
            time.sleep(0.3)  # now in a 5 s long-poll
            began = time.monotonic()
        self.assertLess(time.monotonic() - began, 2)

    def test_two_kinds_of_one_pool(self):
        # Two workers wait for two kinds of one pool; a task of each kind
        # submitted then goes to the worker of its kind at once ("the answer
        # comes as soon as at least one attempt is available").
        got = {"shared-a": threading.Event(), "shared-b": threading.Event()}
        a = Worker(self.daemon.url, name="shared-a",
                   kinds={"shared-a": lambda x: got["shared-a"].set()})
        b = Worker(self.daemon.url, name="shared-b",
                   kinds={"shared-b": lambda x: got["shared-b"].set()})
        with self.running(a):
            time.sleep(0.2)  # a waits in a long-poll
            with self.running(b):
                time.sleep(0.2)  # b too, since after a
                for kind in ("shared-b", "shared-a"):
                    task = self.client.submit(kind, {})
                    self.assertTrue(got[kind].wait(1.5), "the %s worker did not get its task"
                                    % kind)
                    self.assertEqual(self.client.wait(task["id"], 5)["status"], "succeeded")

    def test_workers_listed(self):
        worker = Worker(self.daemon.url, name="lister-1",
                               kinds={"nolocal-lease": lambda x: x})
        with self.running(worker):
            def listed():
                answer = self.client._request("GET", "/v1/workers")
                return [w for w in answer["workers"] if w["name"] == "lister-1"]
            found = self.wait_for(listed, what="the worker in GET /v1/workers")[0]
        self.assertEqual(found["kinds"], ["nolocal-lease"])

    def test_refused_lease_request_raises(self):
        worker = Worker(self.daemon.url, kinds={"echo": lambda x: x})  # not a lease kind
        with self.assertRaises(actorq.Error) as caught, \
                self.assertLogs("actorq.worker", "ERROR"):
            worker.run()
        self.assertEqual((caught.exception.status, caught.exception.code), (422, "invalid"))
        with self.assertRaises(ValueError):
            Worker(self.daemon.url).run()  # nothing registered
        with self.assertRaises(ValueError):
            Worker(self.daemon.url, concurrency=0)


def start_worker_process(url, *args):
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    env.pop("ACTORQ_AUTH_TOKEN", None)
    args = ["--wait-ms", str(POLL_MS)] + list(args)
    proc = subprocess.Popen([sys.executable, EXAMPLE_WORKER, url] + args, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving"):
        proc.kill()
        raise AssertionError("worker did not start: %s%s" % (line, proc.stdout.read()))
    return proc


class WorkerProcessTest(DaemonTest):
    def setUp(self):
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()

    def spawn(self, *args):
        proc = start_worker_process(self.daemon.url, *args)
        self.procs.append(proc)
        return proc

    def running_with_progress(self, ids, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = [self.client.get(i) for i in ids]
            busy = [t for t in tasks if t["status"] == "running" and t.get("progress")]
            if len(busy) >= count:
                return busy
            time.sleep(0.02)
        self.fail("%d tasks never ran with progress" % count)

    def test_example_worker_wordcount(self):
        self.spawn("--concurrency", "2")
        a = self.client.submit("py-wordcount", {"text": "to be or not to be"})
        b = self.client.submit("py-wordcount", {"text": 42})
        a, b = (self.client.wait(t["id"], timeout=10) for t in (a, b))
        self.assertEqual((a["status"], a["result"]), ("succeeded", {"words": 6}))
        self.assertEqual((b["status"], b["attempts"]), ("failed", 1))  # Permanent
        self.assertIn("text", b["error"])

    def test_sigkill_mid_attempt_reruns_on_another_worker(self):
        first = self.spawn("--kind", "proc-lease", "--concurrency", "3")
        text = " ".join(["word"] * 40)
        ids = [self.client.submit("proc-lease", {"text": text, "ms_per_word": 30})["id"]
               for _ in range(6)]
        busy = self.running_with_progress(ids, 2)  # mid-attempt on the first worker
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        self.spawn("--kind", "proc-lease", "--concurrency", "6")
        done = [self.client.wait(i, timeout=15) for i in ids]
        for task in done:
            self.assertEqual((task["status"], task["result"]), ("succeeded", {"words": 40}),
                             task)
        rerun = {t["id"] for t in done if t["attempts"] >= 2}
        self.assertTrue({t["id"] for t in busy} <= rerun, (busy, done))

    def test_sigterm_finishes_the_running_attempt(self):
        proc = self.spawn("--kind", "term-lease", "--concurrency", "1")
        text = " ".join(["word"] * 50)
        task = self.client.submit("term-lease", {"text": text, "ms_per_word": 30})
        self.running_with_progress([task["id"]], 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(15), 0)
        out = proc.stdout.read()
        self.assertIn("stopped", out)
        done = self.client.get(task["id"])  # settled before the worker exited
        self.assertEqual((done["status"], done["attempts"], done["result"]),
                         ("succeeded", 1, {"words": 50}), out)

    def test_cli_help(self):
        env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
        r = subprocess.run([sys.executable, "-m", "actorq", "--help"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("submit", r.stdout)
        r = subprocess.run([sys.executable, EXAMPLE_WORKER, "--help"], env=env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--concurrency", r.stdout)


class WorkerUnitTest(unittest.TestCase):
    """What needs no server."""

    def test_exports(self):
        for name in ("Worker", "Task", "Permanent", "Cancelled"):
            self.assertIn(name, actorq.__all__)
        self.assertTrue(issubclass(actorq.Permanent, Exception))
        self.assertTrue(issubclass(actorq.Cancelled, Exception))

    def test_arguments(self):
        for bad in ({"concurrency": 0}, {"max_lease": 0}, {"max_lease": 1001},
                    {"wait_ms": 60001}, {"name": "x" * 129}):
            with self.assertRaises(ValueError, msg=bad):
                actorq.Worker("http://127.0.0.1:1", **bad)
        with self.assertRaises(ValueError):
            actorq.Worker("ftp://x")
        w = actorq.Worker("127.0.0.1:1", token="t", concurrency=3)
        self.assertEqual(w.client.token, "t")
        self.assertRegex(w.name, r"^.+:\d+$")
        w.kind("a", lambda x: x)
        w.kind("b")(lambda x, t: x)
        self.assertEqual(sorted(w.kinds), ["a", "b"])

    def test_stop_before_run(self):
        w = actorq.Worker("http://127.0.0.1:1", kinds={"a": lambda x: x})
        w.stop()
        began = time.monotonic()
        w.run()
        self.assertLess(time.monotonic() - began, 2)

    def test_unreachable_backs_off_until_stopped(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        w = actorq.Worker("http://127.0.0.1:%d" % port, kinds={"a": lambda x: x})
        t = threading.Thread(target=w.run, daemon=True)
        import logging
        logger = logging.getLogger("actorq.worker")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            t.start()
            time.sleep(0.5)
            w.stop()
            t.join(5)
        finally:
            logger.setLevel(level)
        self.assertFalse(t.is_alive())
        self.assertEqual(w.stats["leased"], 0)


if __name__ == "__main__":
    unittest.main()
