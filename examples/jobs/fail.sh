#!/bin/sh
# Example exec job that fails on purpose: input {"code": 3, "message": "..."}
# exits with status `code` (default 1) after printing `message` on stderr.
# Parsed with sed, so keep the message free of quotes and backslashes.
input=$(cat)
code=$(printf '%s' "$input" | sed -n 's/.*"code"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
message=$(printf '%s' "$input" | sed -n 's/.*"message"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
echo "${message:-failing on purpose}" >&2
exit "${code:-1}"
