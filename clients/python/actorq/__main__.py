"""python3 -m actorq: submit a task, wait for it, or show it; prints JSON.

Exit status: 0 done, 1 actorq answered an error or could not be reached
(``{"detail", "code"}`` on stderr), 2 bad usage.
"""

import argparse
import json
import os
import sys
from typing import List, Optional

from . import __version__
from ._client import Client, Error

_DEFAULT_URL = "http://127.0.0.1:8080"


def _json_arg(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("not JSON: %s" % exc)


def _parser() -> argparse.ArgumentParser:
    # --url and --token are accepted before or after the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS,
                        help="actorq's address (default: $ACTORQ_URL or %s)" % _DEFAULT_URL)
    common.add_argument("--token", default=argparse.SUPPRESS,
                        help="bearer token (default: $ACTORQ_AUTH_TOKEN)")

    parser = argparse.ArgumentParser(
        prog="python3 -m actorq", parents=[common],
        description="Submit tasks to actorq, wait for them, show them. Prints JSON; "
                    "errors print {\"detail\", \"code\"} on stderr and exit 1.")
    parser.add_argument("--version", action="version", version="actorq " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    submit = commands.add_parser("submit", parents=[common], help="submit a task, print it")
    submit.add_argument("kind", metavar="KIND")
    submit.add_argument("input", metavar="INPUT_JSON", nargs="?", type=_json_arg,
                        help="the task's input, e.g. '{\"value\": 21}' (default: {})")
    submit.add_argument("--pool")
    submit.add_argument("--max-retries", type=int, metavar="N")
    submit.add_argument("--backoff-ms", type=int, metavar="MS")
    submit.add_argument("--timeout-ms", type=int, metavar="MS")
    submit.add_argument("--priority", type=int, metavar="P",
                        help="0..9, higher starts first (default 5)")
    submit.add_argument("--idempotency-key", metavar="K",
                        help="repeating a key returns the first task instead of a new one")
    when = submit.add_mutually_exclusive_group()
    when.add_argument("--run-at", metavar="TIME",
                      help="start at this RFC 3339 time (Z or an offset); scheduled until then")
    when.add_argument("--countdown-ms", type=int, metavar="MS",
                      help="start MS after creation; scheduled until then")
    submit.add_argument("--after", action="append", metavar="ID",
                        help="a task that must end first (repeatable)")
    submit.add_argument("--after-policy", choices=["succeeded", "ended"])
    submit.add_argument("--pass-results", action="store_true", default=None,
                        help="their results go into the input under \"_after\"")
    submit.add_argument("--callback-url", metavar="URL",
                        help="POST the task's final view there, signed (callbacks.allowed-prefixes)")
    submit.add_argument("--wait", type=float, metavar="S",
                        help="then wait up to S seconds for it to end and print that")

    wait = commands.add_parser("wait", parents=[common],
                               help="wait until a task ends (or --timeout), print it")
    wait.add_argument("id", metavar="ID")
    wait.add_argument("--timeout", type=float, metavar="S",
                      help="give up after S seconds and print the task as it is "
                           "(default: wait as long as it takes)")

    status = commands.add_parser("status", parents=[common], help="print a task")
    status.add_argument("id", metavar="ID")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    url = getattr(args, "url", None) or os.environ.get("ACTORQ_URL") or _DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get("ACTORQ_AUTH_TOKEN") or None
    try:
        client = Client(url, token=token)
    except ValueError as exc:
        print("python3 -m actorq: error: %s" % exc, file=sys.stderr)
        return 2
    try:
        with client:
            if args.command == "submit":
                task = client.submit(args.kind, args.input, pool=args.pool,
                                     max_retries=args.max_retries, backoff_ms=args.backoff_ms,
                                     timeout_ms=args.timeout_ms,
                                     priority=args.priority,
                                     idempotency_key=args.idempotency_key,
                                     run_at=args.run_at,
                                     countdown_ms=args.countdown_ms,
                                     after=args.after, after_policy=args.after_policy,
                                     pass_results=args.pass_results,
                                     callback_url=args.callback_url)
                if args.wait is not None:
                    task = client.wait(task["id"], args.wait)
            elif args.command == "wait":
                task = client.wait(args.id, args.timeout)
            else:
                task = client.get(args.id)
    except Error as exc:
        print(json.dumps({"detail": exc.detail, "code": exc.code}), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(json.dumps(task, indent=2, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
