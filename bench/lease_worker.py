#!/usr/bin/env python3
"""bench/lease_worker.py URL [--concurrency N] [--max-lease N] [--one]: the
actorq side of bench/leases.py. An actorq.Worker (clients/python) serving the
lease kind `instant` ({"value": v} -> {"result": 2v}, the same function as the
Celery peer's tasks.instant) until SIGTERM; then it finishes and settles what
it holds and prints its stats as one JSON line.

--one: one lease per round trip (Worker(batch=False): each executor thread
leases one attempt and settles it with its own call); otherwise leases of up
to --max-lease attempts and batched completions (POST /v1/leases/complete).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "clients", "python"))
import actorq  # noqa: E402


def instant(data):
    return {"result": data["value"] * 2}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--max-lease", type=int, default=100)
    p.add_argument("--one", action="store_true")
    p.add_argument("--name", default="bench-leases")
    a = p.parse_args()
    w = actorq.Worker(a.url, concurrency=a.concurrency, name=a.name, kinds={"instant": instant},
                      max_lease=a.max_lease, batch=not a.one)
    print(f"serving instant at {a.url} (concurrency {a.concurrency}, "
          f"{'one lease per round trip' if a.one else f'leases of up to {a.max_lease}, batched completions'})",
          flush=True)
    w.run()  # until SIGTERM
    print(json.dumps({"stats": w.stats}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
