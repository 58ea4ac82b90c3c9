#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — the actorq benchmark suite (issue 3), end to end.
#
# Starts the HTTP floor (bench_floor) and actorq on free loopback ports, drives
# every workload of the issue-3 table with bench_load (wrk as a cross-check),
# several short runs each, and writes
#   bench/results/latest.md    the table (medians, targets, met?)
#   bench/results/latest.json  the same, plus every single run
#   bench/results/latency_vs_load.png, bench/results/cpu_pool_scaling.png
#   bench/results/logs.tmp/    the servers' output (ignored by git)
# A workload the server cannot do (route missing, server not built, server
# died, ...) is reported as "not measured: <reason>"; the suite goes on.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_DURATION (3 s per timed run),
# BENCH_MEM_TASKS (1000000), BENCH_MEM_BUDGET (60 s of submitting at most),
# BENCH_CONFIG (configs/default.ini), BENCH_SERVER_ARGS (extra actorq flags),
# BENCH_ONLY (e.g. "submit submit_memory e2e": only these workloads, plus the
# floor that every ratio needs; empty: all).
set -uo pipefail  # no -e: a failing workload is recorded, not fatal

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "run.sh: no build dir '${1:-build}'" >&2; exit 2; }
BIN=$BUILD/bin
OUT=bench/results
[[ -n ${BENCH_ONLY:-} ]] && OUT=bench/results/only # a partial table beside the whole one
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-3}
MEM_TASKS=${BENCH_MEM_TASKS:-1000000}
MEM_BUDGET=${BENCH_MEM_BUDGET:-60}
CONFIG=${BENCH_CONFIG:-configs/default.ini}
read -r -a EXTRA <<<"${BENCH_SERVER_ARGS:-}"
ONLY=" ${BENCH_ONLY:-} "
# wanted WORKLOAD: whether BENCH_ONLY asks for it (everything when unset).
wanted() { [[ $ONLY == "  " || $ONLY == *" $1 "* ]]; }
CORES=$(nproc)
CONNS=50

for tool in "$BIN/bench_floor" "$BIN/bench_load"; do
  [[ -x $tool ]] || { echo "run.sh: $tool is missing: build first (make build)" >&2; exit 2; }
done
for cmd in python3 gnuplot wrk; do
  command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is missing (make deps installs it)" >&2; exit 2; }
done

mkdir -p "$OUT"
LOGS=$OUT/logs.tmp
rm -rf "$LOGS" && mkdir -p "$LOGS"
TMP=$(mktemp -d /tmp/actorq-bench.XXXXXX)
RAW=$OUT/raw.jsonl.tmp
: >"$RAW"
SUITE_START=$(date +%s)
BUSY_START=$(python3 bench/tools.py cpu-busy)

log() { printf '[%3ds] %s\n' $(($(date +%s) - SUITE_START)) "$*" >&2; }
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

# ------------------------------------------------------------- recording --
# Every result is one line of $RAW: {"w": WORKLOAD, "data": {...}} for a run,
# {"w": WORKLOAD, "skip": "reason"}, or {"meta": KEY, "value": ...}.
# bench/report.py turns them into the table.
record() { printf '{"w":"%s","data":%s}\n' "$1" "$2" >>"$RAW"; }
skip() { printf '{"w":"%s","skip":%s}\n' "$1" "$(json_str "$2")" >>"$RAW"; log "$1: not measured: $2"; }
meta() { printf '{"meta":"%s","value":%s}\n' "$1" "$2" >>"$RAW"; }

# run_load WORKLOAD ARGS...: one bench_load run, recorded; its JSON on stdout.
run_load() {
  local w=$1 line
  shift
  line=$(timeout 300 "$BIN/bench_load" "$@" 2>>"$LOGS/bench_load.err" | tail -n1)
  [[ $line == \{* ]] || line="{\"first_error\":$(json_str "bench_load failed: $(tail -n1 "$LOGS/bench_load.err")")}"
  record "$w" "$line"
  printf '%s\n' "$line"
}

# run_load_cpu WORKLOAD PID ARGS...: run_load, plus the server's CPU over the
# run (utime + stime of PID) recorded as WORKLOAD_cpu: on shared cores the
# CPU per request swings much less than the rate.
run_load_cpu() {
  local w=$1 pid=$2 before after line
  shift 2
  before=$(cpu_us "$pid")
  line=$(run_load "$w" "$@")
  after=$(cpu_us "$pid")
  if [[ -n $before && -n $after ]]; then
    record "${w}_cpu" "{\"cpu_us\":$((after - before)),\"requests\":$(field ok <<<"$line" | grep -E '^[0-9]+$' || echo 0)}"
  fi
  printf '%s\n' "$line"
}
cpu_us() {  # utime + stime of process $1 in µs, empty if it is gone
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat" 2>/dev/null
}

# run_wrk WORKLOAD URL: one wrk run (a cross-check of bench_load), recorded.
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
PIDS=()  # servers started here and still running
forget_pid() {
  local keep=() pid
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  ((${#PIDS[@]})) && sleep 0.2
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME CMD...: sets SRV_PID, SRV_URL and SRV_LOG, or SRV_ERR and
# returns 1.  The server's output goes to $LOGS/NAME.log.
start_server() {
  local name=$1 line
  shift
  SRV_PID= SRV_URL= SRV_ERR= SRV_LOG=$LOGS/$name.log
  if [[ ! -x $1 ]]; then SRV_ERR="$1 does not exist (server not built)"; return 1; fi
  # Each actorq gets a store file of its own (one process per store).
  if [[ $1 == */actorq && " $* " != *" --store.path="* ]]; then
    set -- "$@" "--store.path=$TMP/$name.db"
  fi
  "$@" >"$SRV_LOG" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  for _ in $(seq 200); do
    line=$(grep -m1 'listening on' "$SRV_LOG")
    if [[ -n $line ]]; then
      SRV_URL=$(grep -o 'http://[^ ]*' <<<"$line")
      [[ -n $SRV_URL ]] || SRV_URL="http://127.0.0.1:$(awk '{print $NF}' <<<"$line")"
      SRV_URL=${SRV_URL%/}
      log "$name up at $SRV_URL (pid $SRV_PID)"
      return 0
    fi
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      wait "$SRV_PID"
      SRV_ERR="$name exited (status $?) before listening: $(tail -n2 "$SRV_LOG" | tr '\n' ' ')"
      forget_pid "$SRV_PID"
      return 1
    fi
    sleep 0.05
  done
  SRV_ERR="$name printed no listening line within 10 s"
  stop_server "$SRV_PID"
  return 1
}

# stop_server PID: SIGTERM, then SIGKILL after 5 s.
stop_server() {
  [[ -n ${1:-} ]] || return 0
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  forget_pid "$1"
}

ACTORQ=("$BIN/actorq" "--config-file=$CONFIG" --http.port=0 "${EXTRA[@]}")
rss_kib() {  # VmRSS in KiB, or "null" if the process is gone
  local v
  v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null)
  echo "${v:-null}"
}

# The main actorq server serves most workloads.  main_ready WORKLOAD checks it
# before each one: if it died during the previous workload, the death is
# recorded and a fresh server started; if none can be started, WORKLOAD is
# recorded as not measured and main_ready fails.
MAIN_PID= MAIN_URL= MAIN_LOG= MAIN_STARTS=0 MAIN_LAST=start
main_check() {  # records the main server's death, if it died
  [[ -n $MAIN_PID ]] || return 0
  kill -0 "$MAIN_PID" 2>/dev/null && return 0
  wait "$MAIN_PID" 2>/dev/null
  local rc=$?
  record server_death "{\"during\":\"$MAIN_LAST\",\"exit_status\":$rc,\"log_tail\":$(json_str "$(tail -n3 "$MAIN_LOG")")}"
  log "actorq died (exit status $rc) during $MAIN_LAST"
  forget_pid "$MAIN_PID"
  MAIN_PID=
}
main_ready() {
  if ! wanted "$1"; then skip "$1" "not in BENCH_ONLY"; return 1; fi
  main_check
  if [[ -z $MAIN_PID ]]; then
    MAIN_STARTS=$((MAIN_STARTS + 1))
    if ! start_server "actorq_main$MAIN_STARTS" "${ACTORQ[@]}"; then
      skip "$1" "$SRV_ERR"
      return 1
    fi
    MAIN_PID=$SRV_PID MAIN_URL=$SRV_URL MAIN_LOG=$SRV_LOG
  fi
  MAIN_LAST=$1
}

# Offered loads of the latency curve, as fractions of the floor's max rate;
# each point is the median of CURVE_RUNS one-second open-loop runs (a single VM hiccup
# of 15 ms otherwise becomes the p99 of a whole point).
LOAD_FRACTIONS="0.1 0.25 0.5 0.7 0.8 0.9 1.0"  # issue 14 judges the points up to 0.8

# latency_curves MAX_RPS WORKLOAD URL PATH [WORKLOAD URL PATH]: open-loop GETs
# at each offered load, CURVE_RUNS one-second runs per point and server; with
# two servers (the floor and actorq, both running) their runs alternate at
# each point, so that the VM's slow moments hit both sides alike (a 1 s
# run's p99 is its 1 % slowest requests: one hiccup moves it).
CURVE_RUNS=5
latency_curves() {
  local max=$1 f rate i
  shift
  for f in $LOAD_FRACTIONS; do
    rate=$(awk -v f="$f" -v m="$max" 'BEGIN { printf "%d", f * m }')
    ((rate > 0)) || continue
    for i in $(seq "$CURVE_RUNS"); do
      run_load "$1" get --url="$2" --path="$3" --conns=$CONNS --rate="$rate" --duration=1 >/dev/null
      if (($# >= 6)); then
        run_load "$4" get --url="$5" --path="$6" --conns=$CONNS --rate="$rate" --duration=1 >/dev/null
      fi
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
meta load_before "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")"
meta runs "$RUNS"
meta duration_s "$DUR"

# ---- 1. the floor: bare cpp-httplib, constant 30-byte body -------------
FLOOR_RPS=0
# floor_between WORKLOAD: one floor run recorded as WORKLOAD, if the floor is up
# (between the runs it divides, so that its median covers their stretch).
floor_between() {
  [[ -n ${floor_pid:-} ]] || return 0
  run_load "$1" get --url="$floor" --path=/v1/tasks/x --conns=$CONNS --duration="$DUR" >/dev/null
}
# Same HTTP thread count as actorq (http.threads of the config).
HTTP_THREADS=$(python3 bench/tools.py ini "$CONFIG" http.threads --default=128)
meta http_threads "$HTTP_THREADS"
if start_server floor "$BIN/bench_floor" --port=0 --threads="$HTTP_THREADS"; then
  floor=$SRV_URL floor_pid=$SRV_PID
  run_load floor_warmup get --url="$floor" --path=/v1/tasks/x --conns=$CONNS --duration=1 >/dev/null
  for _ in $(seq "$RUNS"); do floor_between floor_get; done
  run_wrk floor_get_wrk "$floor/v1/tasks/x"
  FLOOR_RPS=$(python3 - "$RAW" <<'EOF'
import json, statistics, sys
rates = [r["data"].get("req_per_s", 0) for r in map(json.loads, open(sys.argv[1]))
         if r.get("w") == "floor_get" and "data" in r]
print(int(statistics.median(rates)) if rates else 0)
EOF
)
  log "floor: $FLOOR_RPS req/s (median)"
  meta curve_floor_rps "$FLOOR_RPS" # the latency curves' 100 %
  # Kept running: its latency curve is measured beside actorq's (section 3).
else
  skip floor_get "$SRV_ERR"
fi
((FLOOR_RPS > 0)) || FLOOR_RPS=40000  # the curve still needs a scale

# ---- 2. start-up: exec -> listening line, a fresh server each time -----
if wanted startup; then
  log "start-up"
  record startup "$(python3 bench/tools.py startup --runs 5 -- "${ACTORQ[@]}")"
fi

# ---- 3. the main server --------------------------------------------------
if main_ready idle_rss; then
  sleep 1
  record idle_rss "{\"rss_kib\":$(rss_kib "$MAIN_PID")}"
fi

if main_ready get_v1; then
  # A finished v1 task to read back.
  tid=$(python3 bench/tools.py http POST "$MAIN_URL/v1/tasks" '{"kind":"double","input":{"value":21}}' --field id 2>"$TMP/err")
  if [[ -n $tid ]]; then
    python3 bench/tools.py http GET "$MAIN_URL/v1/tasks/$tid?wait_ms=5000" >/dev/null 2>&1
    log "GET /v1/tasks/{id}"
    run_load warmup get --url="$MAIN_URL" --path="/v1/tasks/$tid" --conns=$CONNS --duration=1 >/dev/null
    rss_before=$(rss_kib "$MAIN_PID")
    for _ in $(seq "$RUNS"); do
      run_load get_v1 get --url="$MAIN_URL" --path="/v1/tasks/$tid" --conns=$CONNS --duration="$DUR" >/dev/null
      # The floor again between actorq's runs: its median (the ratio's
      # divisor) then covers this stretch of time too.
      floor_between floor_get
    done
    # A read should not grow the server: RSS before/after the GET runs.
    record get_v1_rss "{\"before_kib\":$rss_before,\"after_kib\":$(rss_kib "$MAIN_PID")}"
    run_wrk get_v1_wrk "$MAIN_URL/v1/tasks/$tid"
    log "latency against offered load (the floor's runs and actorq's alternate)"
    if [[ -n ${floor_pid:-} ]]; then
      latency_curves "$FLOOR_RPS" floor_curve "$floor" /v1/tasks/x get_v1_curve "$MAIN_URL" "/v1/tasks/$tid"
    else
      latency_curves "$FLOOR_RPS" get_v1_curve "$MAIN_URL" "/v1/tasks/$tid"
    fi
  else
    skip get_v1 "no task to read: $(head -c 300 "$TMP/err")"
  fi
fi

if main_ready get_seed; then
  # A seed task (runs 1 s x scale) to read back; its status does not matter.
  sid=$(python3 bench/tools.py http POST "$MAIN_URL/start-task" '{"value":21}' --field task_id 2>"$TMP/err")
  if [[ -n $sid ]]; then
    log "GET /task-status/{id}"
    for _ in $(seq "$RUNS"); do
      run_load get_seed get --url="$MAIN_URL" --path="/task-status/$sid" --conns=$CONNS --duration="$DUR" >/dev/null
      # The floor again, as between the GET /v1 runs: its median then
      # covers these runs' stretch of time too.
      floor_between floor_get
    done
  else
    skip get_seed "no seed task to read: $(head -c 300 "$TMP/err")"
  fi
fi
# ---- submissions: durable, :memory: and the floor, their runs alternating --
# The :memory: server (no store) shows what durability costs and the ceiling
# a store that cost nothing would leave. The floor runs between them: on a
# VM whose speed drifts by tens of percent within minutes, these rows are
# divided by the floor's median over this stretch (floor_submit, floor_e2e),
# not by the GET section's.
MEM_PID= MEM_URL=
if ! wanted submit_memory && ! wanted e2e_memory; then
  skip submit_memory "not in BENCH_ONLY"
  skip e2e_memory "not in BENCH_ONLY"
elif start_server actorq_inmemory "${ACTORQ[@]}" --store.path=:memory:; then
  MEM_PID=$SRV_PID MEM_URL=$SRV_URL
else
  skip submit_memory "$SRV_ERR"
  skip e2e_memory "$SRV_ERR"
fi
mem_up() { [[ -n $MEM_PID ]] && kill -0 "$MEM_PID" 2>/dev/null; }
for w in submit_memory e2e_memory; do
  [[ -z $MEM_PID ]] || wanted "$w" || skip "$w" "not in BENCH_ONLY"
done
for w in submit e2e; do wanted "$w" || skip "$w" "not in BENCH_ONLY"; done

log "POST /v1/tasks: durable, store.path=:memory:, the floor"
for _ in $(seq "$RUNS"); do
  if wanted submit && main_ready submit; then
    run_load_cpu submit "$MAIN_PID" submit --url="$MAIN_URL" --conns=$CONNS --duration="$DUR" >/dev/null
  fi
  if wanted submit_memory && mem_up; then
    run_load_cpu submit_memory "$MEM_PID" submit --url="$MEM_URL" --conns=$CONNS --duration="$DUR" >/dev/null
  fi
  if wanted submit; then floor_between floor_submit; fi
done

log "end to end, 10000 tasks: durable, store.path=:memory:, the floor"
cut_durable= cut_memory=  # a run far too slow says it all: no more of it
for _ in $(seq "$RUNS"); do
  if [[ -z $cut_durable ]] && wanted e2e && main_ready e2e; then
    line=$(run_load e2e e2e --url="$MAIN_URL" --conns=$CONNS --tasks=10000 --timeout=61 --max-time=40)
    [[ $line == *'"cut":true'* ]] && cut_durable=1
  fi
  if [[ -z $cut_memory ]] && wanted e2e_memory && mem_up; then
    line=$(run_load e2e_memory e2e --url="$MEM_URL" --conns=$CONNS --tasks=10000 --timeout=61 --max-time=40)
    [[ $line == *'"cut":true'* ]] && cut_memory=1
  fi
  if wanted e2e; then floor_between floor_e2e; fi
done
stop_server "$MEM_PID"
if [[ -n ${floor_pid:-} ]]; then
  stop_server "$floor_pid"
  floor_pid=
fi

if main_ready fanout; then
  log "fan-out, 10000 items at scale 1.0"
  run_load fanout fanout --url="$MAIN_URL" --items=10000 --repeat="$RUNS" --timeout=20 --max-time=60 >/dev/null
fi

if main_ready cpu; then
  log "cpu-bound, 10000 items"
  run_load cpu cpu --url="$MAIN_URL" --items=10000 --repeat=5 --timeout=20 --max-time=30 >/dev/null
fi

# CPU efficiency: one primes task alone (the single-thread time) against a
# batch of 8 x cores tasks on the cpu pool.  `below` is calibrated so that one
# task takes a few hundred ms (the kind caps it at 10^8).
below=2000000
if main_ready primes_single; then
  log "cpu efficiency (primes)"
  single_ms=
  for _ in 1 2 3 4 5; do
    line=$("$BIN/bench_load" e2e --url="$MAIN_URL" --conns=1 --tasks=1 --kind=primes \
      --input="{\"below\":$below}" --timeout=60 --max-time=60 2>/dev/null)
    [[ $(field task_status.succeeded <<<"$line") == 1 ]] || { single_ms=; break; }
    single_ms=$(awk -v u="$(field task_latency_us.p50 <<<"$line")" 'BEGIN { printf "%.3f", u / 1000 }')
    next=$(awk -v b="$below" -v ms="$single_ms" 'BEGIN {
      if (ms >= 250 || b >= 100000000) { print b; exit }
      n = ms > 1 ? b * 400 / ms : b * 10; if (n > 100000000) n = 100000000; printf "%d", n }')
    [[ $next == "$below" ]] && break
    below=$next
  done
  if [[ -n $single_ms ]]; then
    batch=$((8 * CORES))
    meta primes_below "$below"
    # Singles before and after each batch, so that both see the same machine.
    for _ in $(seq "$RUNS"); do
      run_load primes_single e2e --url="$MAIN_URL" --conns=1 --tasks=1 --kind=primes \
        --input="{\"below\":$below}" --timeout=120 >/dev/null
      run_load primes_batch e2e --url="$MAIN_URL" --conns=$batch --tasks=$batch --kind=primes \
        --input="{\"below\":$below}" --timeout=120 >/dev/null
      run_load primes_single e2e --url="$MAIN_URL" --conns=1 --tasks=1 --kind=primes \
        --input="{\"below\":$below}" --timeout=120 >/dev/null
    done
  else
    skip primes_single "a primes task did not succeed: $(field first_error <<<"$line")"
  fi
fi
main_check
stop_server "$MAIN_PID"

# ---- 4. the in-process actor API (bench_actor, when it exists) ---------
if ! wanted actor_e2e; then
  skip actor_e2e "not in BENCH_ONLY"
elif [[ -x $BIN/bench_actor ]]; then
  log "actor API in process"
  for _ in $(seq "$RUNS"); do
    line=$(timeout 120 "$BIN/bench_actor" 2>>"$LOGS/bench_actor.err" | grep -m1 '"actor_e2e"')
    if [[ -n $line ]]; then
      record actor_e2e "$line"
    else
      skip actor_e2e "bench_actor printed no actor_e2e line: $(tail -n1 "$LOGS/bench_actor.err")"
    fi
  done
else
  skip actor_e2e "$BIN/bench_actor does not exist yet"
fi

# ---- 5. memory per retained terminal task (a fresh server) -------------
# In memory only (store.path=:memory:) every task stays in RAM: the figure
# per retained task. With the durable store (the default) ended tasks beyond
# store.memory-tasks leave RAM: the figure is the RSS after as many tasks.
for variant in memory memory_durable; do
  wanted "$variant" || { skip "$variant" "not in BENCH_ONLY"; continue; }
  args=("${ACTORQ[@]}")
  [[ $variant == memory ]] && args+=(--store.path=:memory:)
  if start_server "actorq_$variant" "${args[@]}"; then
    log "$variant: up to $MEM_TASKS tasks, ${MEM_BUDGET}s of submitting at most"
    record "$variant" "$(python3 bench/tools.py memory --url="$SRV_URL" --pid="$SRV_PID" \
      --bench-load="$BIN/bench_load" --tasks="$MEM_TASKS" --budget="$MEM_BUDGET")"
    stop_server "$SRV_PID"
  else
    skip "$variant" "$SRV_ERR"
  fi
done

# ---- 6. supervision: a crashed worker serves again ----------------------
min_backoff_ms=$(python3 bench/tools.py ini "$CONFIG" supervisor.min-backoff --ms --default=50ms)
if wanted supervise; then
  log "supervision (min-backoff $min_backoff_ms ms)"
  record supervise "$(python3 bench/tools.py supervise --runs "$RUNS" --min-backoff-ms="$min_backoff_ms" \
    -- "${ACTORQ[@]}" --pools.io.size=1)"
fi

# ---- 7. cpu pool scaling: tasks/s against --pools.cpu.size --------------
scale_below=$(awk -v b="$below" 'BEGIN { printf "%d", b / 2 }')
meta scaling_below "$scale_below"
for size in 1 2 4; do
  wanted cpu_scaling || break
  if start_server "actorq_cpu$size" "${ACTORQ[@]}" --pools.cpu.size=$size; then
    log "cpu pool size $size"
    for _ in $(seq "$RUNS"); do
      run_load "cpu_scaling_$size" e2e --url="$SRV_URL" --conns=16 --tasks=16 --kind=primes \
        --input="{\"below\":$scale_below}" --timeout=120 >/dev/null
    done
    stop_server "$SRV_PID"
  else
    skip "cpu_scaling_$size" "$SRV_ERR"
  fi
done

# ---- report ---------------------------------------------------------------
meta load_after "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")"
meta suite_s "$(($(date +%s) - SUITE_START))"
# Did anything else use the CPU meanwhile?  (The suite's own CPU is `times`.)
times >"$TMP/times"  # not in $(...): a subshell has its own, empty, times
meta interference "$(python3 bench/tools.py foreign --since="$BUSY_START" \
  --wall="$(($(date +%s) - SUITE_START))" --times="$(cat "$TMP/times")")"
python3 bench/report.py "$RAW" "$OUT" "$TMP" || exit 1
for plot in latency_vs_load cpu_pool_scaling; do
  [[ -n ${BENCH_ONLY:-} ]] && break # a partial run has no curves to plot
  gnuplot -e "out='$OUT/$plot.png'; data='$TMP'" "bench/$plot.gp" 2>"$TMP/gnuplot.err" ||
    { echo "gnuplot $plot failed:" >&2; cat "$TMP/gnuplot.err" >&2; }
done
log "done: $OUT/latest.md"
cat "$OUT/latest.md"
