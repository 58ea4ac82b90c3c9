#!/usr/bin/env bash
# bench/baseline.sh REV OUT_DIR — builds actorq as of git revision REV (the
# "build before" of an A/B row) into OUT_DIR/REV and prints the binary's path.
# The sources come from `git archive` of this clone's history, so nothing is
# downloaded; a binary already built for REV is reused.
set -euo pipefail
REV=$1
OUT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHA=$(git -C "$ROOT" rev-parse --short=12 "$REV^{commit}")
DIR=$OUT/$SHA
BIN=$DIR/build/bin/actorq
if [[ ! -x $BIN ]]; then
  rm -rf "$DIR" && mkdir -p "$DIR/src"
  git -C "$ROOT" archive "$SHA" | tar -x -C "$DIR/src"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$DIR/src" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >"$DIR/cmake.log" 2>&1 \
    || { tail -n 30 "$DIR/cmake.log" >&2; exit 1; }
  cmake --build "$DIR/build" -j"$(nproc)" --target actorq >"$DIR/build.log" 2>&1 \
    || { tail -n 30 "$DIR/build.log" >&2; exit 1; }
fi
echo "$BIN"
