#!/usr/bin/env python3
"""An actorq lease worker in Python: serves the kind py-wordcount.

    build/bin/actorq --config-file=configs/examples.ini     # declares py-wordcount
    PYTHONPATH=clients/python python3 examples/python/worker.py [URL] [--concurrency N]
    build/bin/actorq-cli submit py-wordcount '{"text": "to be or not to be"}' --wait 10

URL defaults to $ACTORQ_URL or http://127.0.0.1:8080; $ACTORQ_AUTH_TOKEN is
sent when set. Input {"text": "...", "ms_per_word"?: n} -> {"words": n}; it
reports progress every 100 words (ms_per_word slows it down, to watch
progress, cancel and SIGTERM). SIGTERM or Ctrl-C: it leases no more, finishes
the attempts it holds, settles them and exits.
"""

import argparse
import logging
import os
import sys
import time

import actorq


def wordcount(input, task):
    """{"text": str, "ms_per_word"?: number} -> {"words": int}."""
    if not isinstance(input, dict) or not isinstance(input.get("text"), str):
        raise actorq.Permanent('input must be {"text": "..."}')  # retrying will not help
    words = input["text"].split()
    delay = float(input.get("ms_per_word", 0)) / 1000.0
    for i, _ in enumerate(words, 1):
        if delay:
            time.sleep(delay)
        if i % 100 == 0 or (delay and i % 10 == 0):
            # a heartbeat with progress; raises actorq.Cancelled if the task was cancelled
            task.progress(i / len(words), "%d of %d words" % (i, len(words)))
    return {"words": len(words)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?",
                        default=os.environ.get("ACTORQ_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--concurrency", type=int, default=4, metavar="N",
                        help="attempts run at once (default 4)")
    parser.add_argument("--kind", default="py-wordcount",
                        help="the lease kind to serve (default py-wordcount)")
    parser.add_argument("--name", help="worker name in GET /v1/workers (default host:pid)")
    parser.add_argument("--wait-ms", type=int, default=30000, metavar="MS",
                        help="long-poll of each lease request (default 30000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    worker = actorq.Worker(args.url, token=os.environ.get("ACTORQ_AUTH_TOKEN"),
                           concurrency=args.concurrency, name=args.name,
                           wait_ms=args.wait_ms)
    worker.kind(args.kind, wordcount)
    print("serving %s at %s as %s (concurrency %d)" % (args.kind, args.url, worker.name,
                                                      args.concurrency), flush=True)
    try:
        worker.run()  # until SIGTERM / Ctrl-C
    except actorq.Error as e:
        print("actorq refused: %s" % e, file=sys.stderr)
        return 1
    print("stopped: %s" % worker.stats, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
