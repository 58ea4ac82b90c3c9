#!/bin/sh
# Example exec job: input {"text": "..."}, output {"words": n}. python3
# decodes the JSON string (escapes and all), wc counts.
text=$(python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["text"])') || {
  echo 'input must be {"text": "..."}' >&2
  exit 65 # EX_DATAERR: permanent by default
}
words=$(printf '%s' "$text" | wc -w)
printf '{"words": %d}\n' "$words"
