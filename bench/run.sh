#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — the actorq benchmark suite (issue 3), end to end.
#
# Starts the HTTP floor (bench_floor) and actorq on free loopback ports, drives
# every workload of the issue-3 table with bench_load (and wrk as a
# cross-check), several short runs each, and writes
#   bench/results/latest.md    the table (medians, targets, met?)
#   bench/results/latest.json  the same plus every run
#   bench/results/latency_vs_load.png, bench/results/cpu_pool_scaling.png
# A workload the server cannot do (route missing, server not built, ...) is
# reported as "not measured: <reason>"; the suite goes on.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_DURATION (3 s per run),
# BENCH_MEM_TASKS (1000000), BENCH_MEM_BUDGET (60 s of submitting),
# BENCH_CONFIG (configs/default.ini), BENCH_SERVER_ARGS (extra actorq flags).
set -uo pipefail  # no -e: a failing workload is recorded, not fatal

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run.sh: no build dir '$1'" >&2; exit 2; }
BIN=$BUILD/bin
OUT=bench/results
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-3}
MEM_TASKS=${BENCH_MEM_TASKS:-1000000}
MEM_BUDGET=${BENCH_MEM_BUDGET:-60}
CONFIG=${BENCH_CONFIG:-configs/default.ini}
read -r -a EXTRA <<<"${BENCH_SERVER_ARGS:-}"
CORES=$(nproc)
CONNS=50

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/actorq-bench.XXXXXX)
RAW=$OUT/raw.jsonl.tmp
: >"$RAW"
SUITE_START=$(date +%s)

for tool in "$BIN/bench_floor" "$BIN/bench_load"; do
  [[ -x $tool ]] || { echo "run.sh: $tool is missing: build first (make build)" >&2; exit 2; }
done
for cmd in python3 gnuplot wrk; do
  command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is missing (make deps installs it)" >&2; exit 2; }
done

log() { printf '[%3ds] %s\n' $(($(date +%s) - SUITE_START)) "$*" >&2; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# ------------------------------------------------------------- recording --
# Every result is one line of $RAW: {"w": WORKLOAD, "data": {...}} or
# {"w": WORKLOAD, "skip": "reason"}.  bench/report.py turns them into the table.
record() { printf '{"w":"%s","data":%s}\n' "$1" "$2" >>"$RAW"; }
skip() { printf '{"w":"%s","skip":%s}\n' "$1" "$(json_str "$2")" >>"$RAW"; log "$1: not measured: $2"; }
meta() { printf '{"meta":"%s","value":%s}\n' "$1" "$2" >>"$RAW"; }

# run_load WORKLOAD ARGS...: one bench_load run, recorded; its JSON on stdout.
run_load() {
  local w=$1 line
  shift
  line=$(timeout 300 "$BIN/bench_load" "$@" 2>>"$TMP/bench_load.err" | tail -n1)
  [[ $line == \{* ]] || line="{\"first_error\":$(json_str "bench_load failed: $(tail -n1 "$TMP/bench_load.err")")}"
  record "$w" "$line"
  printf '%s\n' "$line"
}

# run_wrk WORKLOAD URL: one wrk run (cross-check), recorded.
run_wrk() {
  local line
  line=$(timeout 60 wrk -t2 -c$CONNS -d"${DUR}s" -s bench/wrk_report.lua "$2" 2>&1 | tail -n1)
  [[ $line == \{* ]] || line="{\"first_error\":$(json_str "wrk failed: $line")}"
  record "$1" "$line"
}

# field KEY: a (dotted) field of the JSON line on stdin, empty if missing.
field() {
  python3 -c '
import json, sys
try:
    v = json.loads(sys.stdin.read() or "null")
    for k in sys.argv[1].split("."):
        v = v[k]
    print("" if v is None else v)
except Exception:
    print("")' "$1"
}

# ------------------------------------------------------------- servers --
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  ((${#PIDS[@]})) && sleep 0.2
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD...: sets SRV_PID and SRV_URL, or SRV_ERR and returns 1.
start_server() {
  local name=$1 logf=$TMP/$1.log line
  shift
  SRV_PID= SRV_URL= SRV_ERR=
  if [[ ! -x $1 ]]; then SRV_ERR="$1 does not exist (server not built)"; return 1; fi
  "$@" >"$logf" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  for _ in $(seq 200); do
    line=$(grep -m1 'listening on' "$logf")
    if [[ -n $line ]]; then
      SRV_URL=$(grep -o 'http://[^ ]*' <<<"$line")
      [[ -n $SRV_URL ]] || SRV_URL="http://127.0.0.1:$(awk '{print $NF}' <<<"$line")"
      SRV_URL=${SRV_URL%/}
      log "$name up at $SRV_URL (pid $SRV_PID)"
      return 0
    fi
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      SRV_ERR="$name exited before listening: $(tail -n2 "$logf" | tr '\n' ' ')"
      return 1
    fi
    sleep 0.05
  done
  SRV_ERR="$name printed no listening line within 10 s"
  stop_server
  return 1
}

stop_server() {
  [[ -n ${SRV_PID:-} ]] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  local keep=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$SRV_PID" ]] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
  SRV_PID=
}

ACTORQ=("$BIN/actorq" "--config-file=$CONFIG" --http.port=0 "${EXTRA[@]}")
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# Offered loads of the latency curve, as fractions of the floor's max rate;
# each point is the median of 3 one-second open-loop runs (a single VM hiccup
# of 15 ms otherwise shows up as the p99 of a whole point).
LOAD_FRACTIONS="0.1 0.25 0.5 0.7 0.85 1.0"

# latency_curve WORKLOAD URL PATH MAX_RPS: open-loop GETs at each offered load.
latency_curve() {
  local f rate
  for f in $LOAD_FRACTIONS; do
    rate=$(awk -v f="$f" -v m="$4" 'BEGIN { printf "%d", f * m }')
    ((rate > 0)) || continue
    for _ in 1 2 3; do
      run_load "$1" get --url="$2" --path="$3" --conns=$CONNS --rate="$rate" --duration=1 >/dev/null
    done
  done
}

# ================================================================ suite ==
meta date "\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\""
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && commit="$commit (+ uncommitted changes)"
meta commit "$(json_str "$commit")"
meta cores "$CORES"
meta cpu "$(json_str "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)")"
meta runs "$RUNS"
meta duration_s "$DUR"

# ---- 1. the floor: bare cpp-httplib, constant 30-byte body -------------
FLOOR_RPS=0
if start_server floor "$BIN/bench_floor" --port=0 --threads=128; then
  floor=$SRV_URL
  run_load floor_warmup get --url="$floor" --path=/v1/tasks/x --conns=$CONNS --duration=1 >/dev/null
  for _ in $(seq "$RUNS"); do
    run_load floor_get get --url="$floor" --path=/v1/tasks/x --conns=$CONNS --duration="$DUR" >/dev/null
  done
  run_wrk floor_get_wrk "$floor/v1/tasks/x"
  FLOOR_RPS=$(python3 - "$RAW" <<'EOF'
import json, statistics, sys
rates = [r["data"].get("req_per_s", 0) for r in map(json.loads, open(sys.argv[1]))
         if r.get("w") == "floor_get" and "data" in r]
print(int(statistics.median(rates)) if rates else 0)
EOF
)
  log "floor: $FLOOR_RPS req/s (median)"
  latency_curve floor_curve "$floor" /v1/tasks/x "$FLOOR_RPS"
  stop_server
else
  skip floor_get "$SRV_ERR"
fi
((FLOOR_RPS > 0)) || FLOOR_RPS=40000  # the curve still needs a scale

# ---- 2. start-up: exec -> listening line, fresh server each time -------
log "start-up"
record startup "$(python3 bench/tools.py startup --runs 5 -- "${ACTORQ[@]}")"

# ---- 3. the main server -------------------------------------------------
if start_server actorq "${ACTORQ[@]}"; then
  url=$SRV_URL
  sleep 1
  record idle_rss "{\"rss_kib\":$(rss_kib "$SRV_PID")}"

  # A finished v1 task and a finished seed task to read back.
  tid=$(python3 bench/tools.py http POST "$url/v1/tasks" '{"kind":"double","input":{"value":21}}' --field id 2>"$TMP/err")
  if [[ -n $tid ]]; then
    python3 bench/tools.py http GET "$url/v1/tasks/$tid?wait_ms=5000" >/dev/null 2>&1
    log "GET /v1/tasks/{id}"
    run_load warmup get --url="$url" --path="/v1/tasks/$tid" --conns=$CONNS --duration=1 >/dev/null
    for _ in $(seq "$RUNS"); do
      run_load get_v1 get --url="$url" --path="/v1/tasks/$tid" --conns=$CONNS --duration="$DUR" >/dev/null
    done
    run_wrk get_v1_wrk "$url/v1/tasks/$tid"
    log "latency against offered load"
    latency_curve get_v1_curve "$url" "/v1/tasks/$tid" "$FLOOR_RPS"
  else
    skip get_v1 "no task to read: $(head -c 300 "$TMP/err")"
  fi

  sid=$(python3 bench/tools.py http POST "$url/start-task" '{"value":21}' --field task_id 2>"$TMP/err")
  if [[ -n $sid ]]; then
    log "GET /task-status/{id}"
    for _ in $(seq "$RUNS"); do
      run_load get_seed get --url="$url" --path="/task-status/$sid" --conns=$CONNS --duration="$DUR" >/dev/null
    done
  else
    skip get_seed "no seed task to read: $(head -c 300 "$TMP/err")"
  fi

  log "POST /v1/tasks"
  for _ in $(seq "$RUNS"); do
    run_load submit submit --url="$url" --conns=$CONNS --duration="$DUR" >/dev/null
  done

  log "end to end, 10000 tasks"
  for _ in $(seq "$RUNS"); do
    run_load e2e e2e --url="$url" --conns=$CONNS --tasks=10000 --timeout=61 --max-time=60 >/dev/null
  done

  log "fan-out, 10000 items at scale 1.0"
  run_load fanout fanout --url="$url" --items=10000 --repeat="$RUNS" --timeout=20 --max-time=60 >/dev/null

  log "cpu-bound, 10000 items"
  run_load cpu cpu --url="$url" --items=10000 --repeat=5 --timeout=20 --max-time=30 >/dev/null

  # CPU efficiency: one primes task alone (single-thread time) against a batch
  # of 2k = 4 x cores tasks on the cpu pool.  `below` is calibrated so that one
  # task takes a few hundred ms.
  log "cpu efficiency (primes)"
  below=2000000
  single_ms=
  for _ in 1 2 3 4 5; do
    line=$("$BIN/bench_load" e2e --url="$url" --conns=1 --tasks=1 --kind=primes \
      --input="{\"below\":$below}" --timeout=60 2>/dev/null)
    [[ $(field task_status.succeeded <<<"$line") == 1 ]] || { single_ms=; break; }
    single_ms=$(field task_latency_us.p50 <<<"$line")
    single_ms=$(awk -v u="$single_ms" 'BEGIN { printf "%.3f", u / 1000 }')
    next=$(awk -v b="$below" -v ms="$single_ms" 'BEGIN {
      if (ms >= 250 || b >= 100000000) { print b; exit }
      n = ms > 1 ? b * 400 / ms : b * 10; if (n > 100000000) n = 100000000; printf "%d", n }')
    [[ $next == "$below" ]] && break
    below=$next
  done
  if [[ -n $single_ms ]]; then
    batch=$((4 * CORES))
    meta primes_below "$below"
    for _ in $(seq "$RUNS"); do
      run_load primes_single e2e --url="$url" --conns=1 --tasks=1 --kind=primes --input="{\"below\":$below}" --timeout=120 >/dev/null
      run_load primes_batch e2e --url="$url" --conns=$batch --tasks=$batch --kind=primes --input="{\"below\":$below}" --timeout=120 >/dev/null
    done
  else
    skip primes_single "primes task did not succeed: $(field first_error <<<"$line")"
  fi
  stop_server
else
  for w in idle_rss get_v1 get_seed submit e2e fanout cpu primes_single; do skip $w "$SRV_ERR"; done
fi

# ---- 4. the in-process actor API (bench_actor, when it exists) ---------
if [[ -x $BIN/bench_actor ]]; then
  log "actor API in process"
  for _ in $(seq "$RUNS"); do
    line=$(timeout 120 "$BIN/bench_actor" 2>>"$TMP/bench_actor.err" | grep -m1 '"actor_e2e"')
    [[ -n $line ]] && record actor_e2e "$line" || skip actor_e2e "bench_actor printed no actor_e2e line: $(tail -n1 "$TMP/bench_actor.err")"
  done
else
  skip actor_e2e "build/bin/bench_actor does not exist yet"
fi

# ---- 5. memory per retained terminal task (fresh server) ---------------
if start_server actorq_mem "${ACTORQ[@]}"; then
  log "memory: up to $MEM_TASKS tasks, ${MEM_BUDGET}s of submitting"
  record memory "$(python3 bench/tools.py memory --url="$SRV_URL" --pid="$SRV_PID" \
    --bench-load="$BIN/bench_load" --tasks="$MEM_TASKS" --budget="$MEM_BUDGET")"
  stop_server
else
  skip memory "$SRV_ERR"
fi

# ---- 6. supervision: a crashed worker serves again ----------------------
min_backoff_ms=$(python3 - "$CONFIG" <<'EOF'
import re, sys
try:
    text = open(sys.argv[1]).read()
except OSError:
    text = ""
section, value = None, None
for line in text.splitlines():
    line = line.split(";")[0].split("#")[0].strip()
    if line.startswith("["):
        section = line.strip("[]").strip()
    m = re.match(r"(?:supervisor\.)?min-backoff\s*=\s*([0-9.]+)\s*(ms|s|us)?", line)
    if m and (section == "supervisor" or line.startswith("supervisor.")):
        value = float(m.group(1)) * {"s": 1000, "us": 0.001}.get(m.group(2), 1)
print(value if value is not None else 50)
EOF
)
log "supervision (min-backoff $min_backoff_ms ms)"
record supervise "$(python3 bench/tools.py supervise --runs "$RUNS" --min-backoff-ms="$min_backoff_ms" \
  -- "${ACTORQ[@]}" --pools.io.size=1)"

# ---- 7. cpu pool scaling: tasks/s against --pools.cpu.size --------------
scale_below=$(awk -v b="${below:-2000000}" 'BEGIN { printf "%d", b / 3 }')
meta scaling_below "$scale_below"
for size in 1 2 4; do
  if start_server "actorq_cpu$size" "${ACTORQ[@]}" --pools.cpu.size=$size; then
    log "cpu pool size $size"
    for _ in $(seq "$RUNS"); do
      run_load "cpu_scaling_$size" e2e --url="$SRV_URL" --conns=8 --tasks=8 --kind=primes \
        --input="{\"below\":$scale_below}" --timeout=120 >/dev/null
    done
    stop_server
  else
    skip "cpu_scaling_$size" "$SRV_ERR"
  fi
done

# ---- report ---------------------------------------------------------------
meta suite_s "$(($(date +%s) - SUITE_START))"
python3 bench/report.py "$RAW" "$OUT" "$TMP" || exit 1
for plot in latency_vs_load cpu_pool_scaling; do
  gnuplot -e "out='$OUT/$plot.png'; data='$TMP'" "bench/$plot.gp" 2>"$TMP/gnuplot.err" ||
    { echo "gnuplot $plot failed:" >&2; cat "$TMP/gnuplot.err" >&2; }
done
log "done: $OUT/latest.md"
cat "$OUT/latest.md"
