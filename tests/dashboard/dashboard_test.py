#!/usr/bin/python3
"""The dashboard (GET /) in a real browser against a real actorq.

Headless Chromium (Debian's chromium + chromium-driver) driven by Debian's
python3-selenium. Two daemons from configs/examples.ini on free ports: one
without a token (the page, progress of an exec task, cancel, the screenshot)
and one with http.auth-token set (the token flow).

    tests/dashboard/dashboard_test.py build/bin/actorq [--screenshot PATH]

ctest runs it as "dashboard: browser test" and keeps the screenshot in the
build tree; docs/dashboard.png (shown in README) is refreshed with
--screenshot docs/dashboard.png.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES_INI = os.path.join(SOURCE, "configs", "examples.ini")
TOKEN = "dashboard-test-token-4f1c"
ARGS = argparse.Namespace(actorq=None, screenshot=None)


class Daemon:
    """actorq with configs/examples.ini on a free port (gateway off), its store
    in a temporary folder."""

    def __init__(self, *extra, config_extra=""):
        self.dir = tempfile.TemporaryDirectory(prefix="actorq-dash-")
        config = EXAMPLES_INI
        if config_extra:
            # examples.ini plus some sections, in a tree like the source's
            # (its paths are relative to the file: ../examples/jobs).
            os.mkdir(os.path.join(self.dir.name, "configs"))
            os.symlink(os.path.join(SOURCE, "examples"), os.path.join(self.dir.name, "examples"))
            config = os.path.join(self.dir.name, "configs", "examples.ini")
            with open(EXAMPLES_INI) as src, open(config, "w") as dst:
                dst.write(src.read() + "\n" + config_extra)
        self.log_path = os.path.join(self.dir.name, "out.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("ACTORQ_AUTH_TOKEN", None)
        self.proc = subprocess.Popen(
            [ARGS.actorq, "--config-file=" + config, "--cluster.port=0",
             "--http.port=0", "--store.path=%s/s.db" % self.dir.name,
             "--seed.delay-scale=0.05",
             "--shutdown.grace=0"] + list(extra),  # running jobs: stop at once
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
                raise RuntimeError("actorq did not start")
            time.sleep(0.02)

    def call(self, method, path, body=None, token=None):
        """(status, JSON answer) of one API call."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, res.read(), res.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def submit(self, kind, task_input, token=None, **fields):
        status, body, _ = self.call("POST", "/v1/tasks",
                                    dict(kind=kind, input=task_input, **fields), token)
        assert status == 202, (status, body)
        return json.loads(body)["id"]

    def task(self, task_id, token=None):
        return json.loads(self.call("GET", "/v1/tasks/" + task_id, token=token)[1])

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


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox",  # root in containers
                 "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1440,1300", "--no-first-run",
                 # Nothing but the page under test goes over the network.
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-extensions", "--disable-sync",
                 "--metrics-recording-only", "--no-default-browser-check"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(what, check, timeout=10.0, every=0.1):
    """Polls check() until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except StaleElementReferenceException:  # the page redrew meanwhile
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(every)


def row_state(browser, table, task_id):
    """{status, progress} of a task's row in a table (#running, #tasks), or None.
    Read in one script: rows are redrawn on every refresh."""
    return browser.execute_script("""
        const row = document.querySelector(`#${arguments[0]} tr[data-id="${arguments[1]}"]`);
        if (!row) return null;
        const bar = row.querySelector("progress");
        return {status: row.dataset.status, progress: bar ? bar.value : null};
    """, table, task_id)


def click(browser, css):
    """Clicks an element that may be redrawn between finding and clicking."""
    def attempt():
        browser.find_element(By.CSS_SELECTOR, css).click()
        return True
    wait_for("a clickable " + css, attempt, timeout=5)


def console_errors(browser, allowed=()):
    """Severe browser log lines (console errors, failed loads) not matching
    any pattern in `allowed`."""
    return [e["message"] for e in browser.get_log("browser")
            if e["level"] == "SEVERE" and not any(re.search(p, e["message"]) for p in allowed)]


BROWSER = None


def setUpModule():
    # One browser for both daemons: they are different origins (ports), so
    # they share no sessionStorage.
    global BROWSER
    BROWSER = start_browser()


def tearDownModule():
    BROWSER.quit()


class BrowserCase(unittest.TestCase):
    """Test cases on one daemon (started with DAEMON_ARGS and CONFIG_EXTRA)
    and the shared browser."""
    DAEMON_ARGS = ()
    CONFIG_EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(*cls.DAEMON_ARGS, config_extra=cls.CONFIG_EXTRA)
        cls.browser = BROWSER

    @classmethod
    def tearDownClass(cls):
        # Leave the page before its daemon goes: its polls would fail and
        # log errors into the next test's browser log.
        cls.browser.get("about:blank")
        cls.browser.get_log("browser")
        cls.daemon.stop()


class DashboardTest(BrowserCase):

    def test_1_page_and_assets_come_from_the_binary(self):
        status, body, headers = self.daemon.call("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"/dashboard/app.js", body)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
        status, body, headers = self.daemon.call("GET", "/dashboard/chart.min.js")
        self.assertEqual(status, 200)
        self.assertIn(b"Chart.js v3", body[:200])  # Debian's libjs-chart.js
        self.assertTrue(headers["Content-Type"].startswith("text/javascript"))

    def test_2_progress_moves_and_the_task_ends(self):
        # 25 pages of 150 ms: progress reported every page over 3.75 s.
        task_id = self.daemon.submit("thumbnail", {"pages": 25, "ms_per_page": 150})
        self.browser.get(self.daemon.url + "/")
        wait_for("the pools table", lambda: self.browser.find_elements(
            By.CSS_SELECTOR, '#pools tr[data-pool="jobs"]'))
        # Per table: the two tables come from two requests of the same
        # refresh, answered a moment apart, so one may show a newer progress
        # than the other; within a table it must never go back.
        seen = {"running": [], "tasks": []}
        def ended():
            for table, values in seen.items():
                s = row_state(self.browser, table, task_id)
                if (s and s["progress"] is not None
                        and (not values or values[-1] != s["progress"])):
                    values.append(s["progress"])
            s = row_state(self.browser, "tasks", task_id)
            return s and s["status"] == "succeeded"
        wait_for("the task to end on the page", ended, timeout=15)
        moving = {p for values in seen.values() for p in values if 0 < p < 1}
        self.assertGreaterEqual(len(moving), 2, "progress seen: %r" % seen)
        for table, values in seen.items():
            inside = [p for p in values if 0 < p < 1]
            self.assertEqual(inside, sorted(inside),
                             "progress went back in %s: %r" % (table, values))
        # The detail: input from the store, result, timestamps.
        click(self.browser, '#tasks tr[data-id="%s"]' % task_id)
        wait_for("the detail's result", lambda: '"pages": 25' in
                 self.browser.find_element(By.ID, "detail-result").text)
        self.assertIn('"ms_per_page": 150', self.browser.find_element(By.ID, "detail-input").text)
        finished = self.browser.find_element(By.CSS_SELECTOR, '#detail dd[data-field="finished"]')
        self.assertRegex(finished.text, r"^\d{4}-\d\d-\d\dT")
        self.assertTrue(self.browser.find_element(By.ID, "cancel").get_attribute("disabled"))
        # The server's throughput history counted it (sampled once a second).
        stats = wait_for("the completion in /v1/stats", lambda: (lambda s: s["total"]["completed"] >= 1 and s)(
            json.loads(self.daemon.call("GET", "/v1/stats?window=60&step=1")[1])))
        self.assertEqual(len(stats["points"]), 60)
        self.assertEqual(console_errors(self.browser), [])

    def test_3_cancel_button_cancels_a_running_task(self):
        task_id = self.daemon.submit("thumbnail", {"pages": 200, "ms_per_page": 100})
        self.browser.get(self.daemon.url + "/")
        wait_for("the task running on the page",
                 lambda: (row_state(self.browser, "running", task_id) or {}).get("progress"))
        click(self.browser, '#running tr[data-id="%s"]' % task_id)
        wait_for("the cancel button", lambda: self.browser.find_element(By.ID, "cancel").is_enabled()
                 and self.browser.find_element(By.ID, "detail-id").text == task_id)
        self.browser.find_element(By.ID, "cancel").click()
        wait_for("the detail to show cancelled", lambda: self.browser.find_element(
            By.ID, "detail").get_attribute("data-status") == "cancelled", timeout=10)
        self.assertEqual(self.daemon.task(task_id)["status"], "cancelled")
        self.assertIn("Cancel", self.browser.find_element(By.ID, "cancel-message").text)
        self.assertEqual(console_errors(self.browser), [])

    def test_4_filters(self):
        ok = self.daemon.submit("cat", {"n": 1})
        bad = self.daemon.submit("fail", {"code": 64})  # permanent: fails at once
        for t in (ok, bad):
            wait_for("task " + t + " to end", lambda: self.daemon.task(t)["finished_at"])
        self.browser.get(self.daemon.url + "/")
        wait_for("the kinds in the filter", lambda: self.browser.find_elements(
            By.CSS_SELECTOR, '#kind-filter option[value="fail"]'))
        self.browser.find_element(By.CSS_SELECTOR, '#status-filter').send_keys("failed")
        def only_failed():
            statuses = self.browser.execute_script(
                "return [...document.querySelectorAll('#tasks tbody tr[data-id]')]"
                ".map(r => r.dataset.status)")
            return statuses and set(statuses) == {"failed"} and row_state(self.browser, "tasks", bad)
        wait_for("only failed tasks listed", only_failed)
        self.assertIsNone(row_state(self.browser, "tasks", ok))
        self.assertEqual(console_errors(self.browser), [])

    def lease_with_progress(self):
        """A task of lease kind py-wordcount, leased by this test as worker
        py-worker-1 and 40 % done by its heartbeat; the lease is left held."""
        task_id = self.daemon.submit("py-wordcount", {"text": "to be or not to be"})
        status, body, _ = self.daemon.call("POST", "/v1/leases", {
            "kinds": ["py-wordcount"], "max": 1, "wait_ms": 5000, "worker": "py-worker-1"})
        lease = json.loads(body)["leases"][0]
        self.assertEqual((status, lease["task"]["id"]), (200, task_id))
        status, body, _ = self.daemon.call(
            "POST", "/v1/leases/%s/heartbeat" % lease["lease"],
            {"progress": {"fraction": 0.4, "message": "counting words"}})
        self.assertEqual(status, 200, body)
        return task_id

    def test_5_screenshot(self):
        """A busy dashboard: exec tasks and a leased task with progress,
        completions and some failures over a few seconds for the chart."""
        stop = threading.Event()
        def load():
            i = 0
            while not stop.is_set():
                self.daemon.submit("cat", {"n": i})
                if i % 4 == 0:
                    self.daemon.submit("fail", {"code": 64})
                i += 1
                time.sleep(0.05)
        loader = threading.Thread(target=load)
        loader.start()
        try:
            running = [self.daemon.submit("thumbnail", {"pages": 60 + 20 * i, "ms_per_page": 100})
                       for i in range(4)]
            running.append(self.lease_with_progress())
            self.browser.get(self.daemon.url + "/")
            self.browser.find_element(By.ID, "window").send_keys("last minute")
            wait_for("progress on every running task", lambda: all(
                (row_state(self.browser, "running", t) or {}).get("progress") for t in running))
            wait_for("the lease worker", lambda: self.browser.find_elements(
                By.XPATH, '//table[@id="workers"]//td[text()="py-worker-1"]'))
            time.sleep(4)  # a few seconds of throughput on the chart
        finally:
            stop.set()
            loader.join()
        path = ARGS.screenshot
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.assertTrue(self.browser.save_screenshot(path))
        print("screenshot:", path)
        self.assertEqual(console_errors(self.browser), [])

    def test_6_operator_actions(self):
        """Retry in a failed task's detail, Pause/Resume per pool, "Cancel all
        queued" for the kind filter (after a confirm)."""
        b = self.browser
        failed = self.daemon.submit("fail", {"code": 64})  # permanent: fails at once
        wait_for("the task to fail", lambda: self.daemon.task(failed)["status"] == "failed")
        b.get(self.daemon.url + "/")
        wait_for("the failed task listed", lambda: row_state(b, "tasks", failed))
        click(b, '#tasks tr[data-id="%s"]' % failed)
        wait_for("the retry button", lambda: b.find_element(By.ID, "retry").is_enabled()
                 and b.find_element(By.ID, "detail-id").text == failed)
        b.find_element(By.ID, "retry").click()
        wait_for("the retried task to fail again",
                 lambda: self.daemon.task(failed)["attempts"] == 2
                 and self.daemon.task(failed)["status"] == "failed")
        self.assertIn("Retried", b.find_element(By.ID, "cancel-message").text)
        click(b, "#close-detail")

        # Pause the pool: submissions queue, nothing starts.
        pool = '#pools tr[data-pool="jobs"]'
        click(b, pool + ' button[data-action="pause"]')
        wait_for("the pool shown paused", lambda: b.execute_script(
            "const r = document.querySelector(arguments[0]);"
            "return r && r.dataset.paused === 'true' && r.innerText.includes('paused')", pool))
        pools = json.loads(self.daemon.call("GET", "/v1/pools")[1])
        self.assertTrue([p for p in pools if p["name"] == "jobs"][0]["paused"])
        waiting = [self.daemon.submit("cat", {"n": i}) for i in range(2)]
        other = self.daemon.submit("thumbnail", {"pages": 1, "ms_per_page": 1})
        time.sleep(0.5)
        self.assertEqual({self.daemon.task(t)["status"] for t in waiting}, {"queued"})

        # Cancel all queued of kind cat, confirmed: the thumbnail stays.
        b.find_element(By.CSS_SELECTOR, "#kind-filter").send_keys("cat")
        click(b, "#cancel-queued")
        def confirm_open():
            try:
                return b.switch_to.alert
            except NoAlertPresentException:
                return None
        alert = wait_for("the confirm", confirm_open)
        self.assertIn("kind cat", alert.text)
        alert.accept()
        wait_for("the count", lambda: "Cancelled 2 queued tasks" in
                 b.find_element(By.ID, "bulk-message").text)
        self.assertEqual({self.daemon.task(t)["status"] for t in waiting}, {"cancelled"})
        self.assertEqual(self.daemon.task(other)["status"], "queued")

        # Resume: the thumbnail runs.
        click(b, pool + ' button[data-action="resume"]')
        wait_for("the queued task to run after resume",
                 lambda: self.daemon.task(other)["status"] == "succeeded")
        wait_for("the pool shown running", lambda: b.execute_script(
            "const r = document.querySelector(arguments[0]);"
            "return r && r.dataset.paused === 'false'", pool))
        self.assertEqual(console_errors(b), [])


class SchedulesTest(BrowserCase):
    """The schedules panel: a schedule firing every second and one that
    never fired yet."""

    CONFIG_EXTRA = ('[schedules.tick]\nkind = "cat"\ninput = "{\\"tick\\": 1}"\nevery = "1s"\n\n'
                    '[schedules.monthly]\nkind = "cat"\ninput = "{}"\ncron = "0 3 1 * *"\n'
                    'timezone = "Europe/Berlin"\n')

    def test_schedules_with_their_last_task(self):
        b = self.browser
        b.get(self.daemon.url + "/")
        def cells(name):
            return b.execute_script(
                "const r = document.querySelector('#schedules tr[data-schedule=\"' + arguments[0] + '\"]');"
                "return r && [...r.cells].map(c => c.textContent)", name)
        monthly = wait_for("the monthly schedule", lambda: cells("monthly"))
        self.assertIn("0 3 1 * *", monthly[1])
        self.assertIn("Europe/Berlin", monthly[1])
        self.assertEqual(monthly[2], "cat")
        self.assertEqual(monthly[5], "")  # never fired
        tick = wait_for("the tick's last task, ended", lambda: (lambda c: c and "succeeded" in c[5] and c)(
            cells("tick")))
        self.assertIn("every 1s", tick[1])
        self.assertTrue(tick[4].endswith("s ago"), tick)
        # Its last task is the one /v1/schedules names; a click opens it.
        listed = {s["name"]: s for s in json.loads(self.daemon.call("GET", "/v1/schedules")[1])}
        self.assertIsNone(listed["monthly"]["last_task"])
        click(b, '#schedules tr[data-schedule="tick"]')
        wait_for("the tick's task in the detail", lambda: b.find_element(By.ID, "detail-id").text
                 and self.daemon.task(b.find_element(By.ID, "detail-id").text).get("schedule") == "tick")
        self.assertEqual(console_errors(b), [])


class TokenTest(BrowserCase):
    DAEMON_ARGS = ("--http.auth-token=" + TOKEN,)

    def test_page_is_public_data_is_not(self):
        for path in ("/", "/dashboard/app.js", "/dashboard/style.css", "/dashboard/chart.min.js",
                     "/healthz"):
            self.assertEqual(self.daemon.call("GET", path)[0], 200, path)
        task_id = self.daemon.submit("cat", {"secret": 1}, token=TOKEN)
        for path in ("/v1/stats", "/v1/pools", "/v1/tasks", "/v1/nodes", "/v1/workers",
                     "/v1/tasks/" + task_id, "/v1/tasks/%s/input" % task_id,
                     "/dashboard/nothing-here.js"):
            self.assertEqual(self.daemon.call("GET", path)[0], 401, path)
        status, body, _ = self.daemon.call("GET", "/v1/tasks/%s/input" % task_id, token=TOKEN)
        self.assertEqual((status, json.loads(body)), (200, {"secret": 1}))

    def test_token_asked_once_kept_for_the_session(self):
        b = self.browser
        b.get(self.daemon.url + "/")
        form = wait_for("the token form", lambda: b.find_element(By.ID, "token-form").is_displayed())
        self.assertTrue(form)
        # A wrong token is refused and asked for again.
        b.find_element(By.ID, "token-input").send_keys("wrong")
        b.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait_for("the refusal", lambda: "refused" in b.find_element(By.ID, "token-error").text)
        self.assertIsNone(b.execute_script("return sessionStorage.getItem('actorq.token')"))
        b.find_element(By.ID, "token-input").send_keys(TOKEN)
        b.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait_for("the pools with the token", lambda: b.find_elements(
            By.CSS_SELECTOR, '#pools tr[data-pool="jobs"]'))
        self.assertFalse(b.find_element(By.ID, "token-form").is_displayed())
        self.assertEqual(b.execute_script("return sessionStorage.getItem('actorq.token')"), TOKEN)
        # A reload keeps the session's token: no second question.
        b.refresh()
        wait_for("the pools after a reload", lambda: b.find_elements(
            By.CSS_SELECTOR, '#pools tr[data-pool="jobs"]'))
        self.assertFalse(b.find_element(By.ID, "token-form").is_displayed())
        # The only errors: the 401s that made the page ask.
        self.assertEqual(console_errors(b, allowed=[r"status of 401"]), [])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("actorq")
    parser.add_argument("--screenshot", default=os.path.join(tempfile.gettempdir(), "dashboard.png"))
    args, rest = parser.parse_known_args()
    ARGS.actorq, ARGS.screenshot = os.path.abspath(args.actorq), args.screenshot
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
