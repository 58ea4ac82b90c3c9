#!/usr/bin/env python3
"""Example exec job: a fake thumbnailer.

Input {"pages": n, "ms_per_page": 50}; "works" on each page for ms_per_page
milliseconds, reporting progress on stderr as "::progress <0..1> <message>",
then prints {"pages": n}. Accepts --size=N like a real one would.
"""
import argparse
import json
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.parse_args()
    try:
        job = json.load(sys.stdin)
        pages = job["pages"]
        ms_per_page = job.get("ms_per_page", 50)
        if (not isinstance(pages, int) or pages < 0
                or not isinstance(ms_per_page, int) or ms_per_page < 0):
            raise ValueError("pages and ms_per_page must be integers >= 0")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"bad input: {e!r}", file=sys.stderr)
        return 65  # EX_DATAERR: permanent by default
    for page in range(1, pages + 1):
        time.sleep(ms_per_page / 1000)
        print(f"::progress {page / pages:.3f} resizing page {page} of {pages}",
              file=sys.stderr, flush=True)
    json.dump({"pages": pages}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
