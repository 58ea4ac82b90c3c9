#!/bin/sh
# ctest entry: installs the validators from npm into TOOLS_DIR once (kept in
# the build tree), then runs openapi_test.mjs against a real actorq.
#   run.sh ACTORQ_BIN SOURCE_DIR TOOLS_DIR
set -e
actorq=$1 source=$2 tools=$3
if [ ! -x "$tools/node_modules/.bin/redocly" ] || [ ! -d "$tools/node_modules/ajv-formats" ]; then
  mkdir -p "$tools"
  # Exact versions: the test checks our document, not the validators' news.
  npm install --prefix "$tools" --no-audit --no-fund --no-save --loglevel=error \
    @redocly/cli@2.77.0 ajv@8.20.0 ajv-formats@3.0.1
fi
exec node "$source/tests/openapi/openapi_test.mjs" "$actorq" "$source" "$tools"
