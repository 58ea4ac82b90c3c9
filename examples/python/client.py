#!/usr/bin/env python3
"""actorq's Python client: submit, wait, batch, list.

    PYTHONPATH=clients/python python3 examples/python/client.py [URL]

URL defaults to $ACTORQ_URL or http://127.0.0.1:8080; $ACTORQ_AUTH_TOKEN is
sent when set. Start actorq first (build/bin/actorq).
"""

import os
import sys

import actorq


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ACTORQ_URL", "http://127.0.0.1:8080")
    with actorq.Client(url, token=os.environ.get("ACTORQ_AUTH_TOKEN")) as client:
        # One task: submit (safe to retry thanks to the key), then long-poll until it ends.
        task = client.submit("double", {"value": 21}, max_retries=2,
                             idempotency_key="example-double-21")
        task = client.wait(task["id"], timeout=30)
        took = actorq.parse_time(task["finished_at"]) - actorq.parse_time(task["created_at"])
        print("task %s: %s %s in %.3f s" % (task["id"], task["status"], task["result"],
                                             took.total_seconds()))

        # Many inputs in one request: results come back in input order.
        batch = client.batch("square", [{"value": v} for v in range(10)])
        print("batch: %d succeeded, %d failed: %s" % (
            batch["succeeded"], batch["failed"], [r["result"] for r in batch["results"] if r]))

        # Every succeeded double task, newest first, across as many pages as needed.
        count = sum(1 for _ in client.list(status="succeeded", kind="double", limit=50))
        print("succeeded double tasks so far: %d" % count)

        # Errors carry the HTTP status and actorq's code.
        try:
            client.submit("no-such-kind")
        except actorq.Error as e:
            print("error: %d %s (%s)" % (e.status, e.code, e.detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
