#!/usr/bin/env python3
"""Example exec job: prints its input back (empty input -> null).

Protocol: the input JSON on stdin, one JSON value on stdout, exit 0.
"""
import json
import sys


def main():
    text = sys.stdin.read()
    try:
        value = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as e:
        print(f"input is not JSON: {e}", file=sys.stderr)
        return 65  # EX_DATAERR: permanent by default, retrying cannot help
    json.dump(value, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
