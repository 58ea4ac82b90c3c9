#!/usr/bin/python3
"""GET /docs in a real browser against a real actorq with a token set.

Headless Chromium driven by Debian's python3-selenium, with the daemon and
browser helpers of tests/dashboard/dashboard_test.py. The page must load
without the token and without console errors, and show every operation of
/openapi.json with its parameters and answers.

    tests/openapi/docs_browser_test.py build/bin/actorq [--screenshot PATH]
"""

import argparse
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "dashboard"))
import dashboard_test as dash  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

SCREENSHOT = [os.path.join(tempfile.gettempdir(), "docs.png")]


class DocsPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = dash.Daemon("--http.auth-token=" + dash.TOKEN)
        cls.browser = dash.start_browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        cls.daemon.stop()

    def test_every_operation_shown_without_token_or_console_errors(self):
        status, body, _ = self.daemon.call("GET", "/openapi.json")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        operations = [(m.upper(), p) for p, item in doc["paths"].items() for m in item]
        b = self.browser
        b.get(self.daemon.url + "/docs")
        dash.wait_for("the operations", lambda: len(
            b.find_elements(By.CSS_SELECTOR, "section.op")) == len(operations))
        shown = {(s.find_element(By.CSS_SELECTOR, ".method").text,
                  s.find_element(By.CSS_SELECTOR, ".path").text)
                 for s in b.find_elements(By.CSS_SELECTOR, "section.op")}
        self.assertEqual(shown, set(operations))
        submit = b.find_element(By.ID, "post_v1_tasks")
        self.assertIn("Idempotency-Key", submit.text)  # a parameter
        self.assertIn("TaskRequest", submit.text)      # the request schema
        self.assertIn('"kind": "double"', submit.text)  # its example
        self.assertIn("202", submit.text)
        self.assertEqual(dash.console_errors(b), [])
        b.save_screenshot(SCREENSHOT[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("actorq")
    parser.add_argument("--screenshot", default=SCREENSHOT[0])
    args, rest = parser.parse_known_args()
    dash.ARGS.actorq = os.path.abspath(args.actorq)
    SCREENSHOT[0] = args.screenshot
    unittest.main(argv=[sys.argv[0], "-v"] + rest)
