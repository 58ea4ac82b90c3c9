// actorq's whole message flow in one file: the message structs and the typed
// actor interfaces. Read this first.
//
//   HTTP bridge ──submit/get/wait/list/cancel──▶ registry ──job──▶ pool ──attempt──▶ worker
//        │                                          ▲              │ ▲                 │
//        │                                          └──job_events──┘ └─attempt_done────┘
//        └──batch──▶ coordinator (one per request) ──jobs──▶ pool ──job_event──▶ coordinator
//                                                    supervisor ──worker_up/down──▶ pool
//   registry ──store_batch (group commit), reads of evicted tasks──▶ store (SQLite, own thread)
//     ◀──the batch, once written── store; its wal_syncer (fdatasync of the
//     WAL on a thread of its own) ──synced (up to a ticket)──▶ registry
//     store ──new ids──▶ its id_index (<store>-ids, written in bulk on a
//     thread of its own; not an actor)
//   HTTP threads ┄read one task (registry_reads: a shared lock; the registry
//     holds it exclusively per message)┄▶ registry's state, no message
//   other CAF nodes ──submit/get/wait/cancel/batch/join──▶ gateway ──▶ registry, coordinator, pools
//   worker node: supervisor ──worker_up/down──▶ head's pool ──attempt──▶ remote worker
//   worker program (remote kinds): kind_worker ◀──work_item── proxy (a worker
//     in the head's pool, one per offered actor) ◀──attempt── pool
//   worker ──exec/http kinds──▶ exec_runner / http_runner (threads of their
//     own) ──finish, progress──▶ worker
//   lease workers (any language, HTTP) ──POST /v1/leases, complete/fail/
//     heartbeat──▶ HTTP bridge ──▶ lease desk ──take──▶ pool ──attempts──▶
//     lease desk; settles go back as attempt_done (slot lease_slot)
//   rate sampler ──stats, once a second──▶ pools (GET /v1/stats: jobs ended per second)
//   metrics (actors/metrics.hpp, not an actor): registry, pools, supervisors,
//     store and the HTTP observer count into it; GET /metrics renders it
//   delayed tasks (run_at, countdown_ms): the registry keeps them
//     `scheduled` in a schedule_index under one timer (due_atom) for the
//     earliest, reads its spec back from the store just before its run_at
//     and queues it on its pool at run_at
//   registry ──callback_delivery (a task with a callback_url ended)──▶
//     callback sender ──POST (own threads: posters)──▶ receiver; each
//     attempt's outcome ──callback_view──▶ registry (view + store)
//   operator actions (HTTP): retry, cancel many ──▶ registry; pause/resume a
//     pool ──hold──▶ registry ──hold──▶ store (paused_pools), then ──▶ pool
//   scheduler (actors/scheduler.hpp; one timer for all [schedules.NAME])
//     ──submit (schedule, slot)──▶ registry, which stores the slot with the
//     task (store_batch.marks); skipped slots ──store_batch──▶ store;
//     GET /v1/schedules ──list──▶ scheduler
//
// Handlers tagged INTERNAL are sent by actorq's own actors only.
#pragma once

#include "actorq/gateway.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorq {

// The value types clients see (task_spec, task_view, task_id, batch_spec,
// batch_result, error_code, ...) and the gateway interface are in
// include/actorq/gateway.hpp; this file adds actorq's internal messages.

// -- value types --------------------------------------------------------------

/// A query over the registry: newest first, paged by an opaque cursor.
struct task_filter {
  caf::optional<task_status> status;
  std::string kind; // empty = any
  uint32_t limit = 100;
  uint64_t cursor = 0; // 0 = from the newest
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_filter& x) {
  return f(caf::meta::type_name("task_filter"), x.status, x.kind, x.limit,
           x.cursor);
}

struct task_page {
  std::vector<task_view> tasks;
  uint64_t next = 0; // 0 = no more pages
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_page& x) {
  return f(caf::meta::type_name("task_page"), x.tasks, x.next);
}

/// A pool's counters, as served by GET /v1/pools.
struct pool_stats {
  std::string name;
  uint32_t size = 0;
  uint32_t busy = 0;
  uint64_t queued = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t restarts = 0;
  bool degraded = false;
  bool paused = false; // by an operator (hold_atom), not by draining
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pool_stats& x) {
  return f(caf::meta::type_name("pool_stats"), x.name, x.size, x.busy, x.queued,
           x.completed, x.failed, x.restarts, x.degraded,
           x.paused);
}

/// The outcome of one attempt: a result, or an error message.
struct outcome {
  bool ok = false;
  json_value result;
  std::string error;
  bool permanent = false;     // !ok: fail the job now, no more retries
  int64_t retry_after_ms = 0; // !ok: least delay before the next attempt
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outcome& x) {
  return f(caf::meta::type_name("outcome"), x.ok, x.result, x.error,
           x.permanent, x.retry_after_ms);
}

/// One attempt of a job, handed by a pool to one of its workers.
struct attempt {
  uint64_t seq = 0; // the pool's attempt number; stale replies are dropped
  std::string kind;
  json_value input;
  int32_t number = 1;     // 1 for the first attempt of a job
  std::string id;         // unique per attempt (ACTORQ_ATTEMPT_ID)
  std::string task;       // the task's id; empty for batch items
  int64_t timeout_ms = 0; // the pool enforces it; runners may use it
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt& x) {
  return f(caf::meta::type_name("attempt"), x.seq, x.kind, x.input, x.number,
           x.id, x.task, x.timeout_ms);
}

/// The slot number of attempts leased to HTTP workers (attempt_done and
/// progress from the lease desk).
constexpr uint32_t lease_slot = UINT32_MAX;

/// A worker's report of a finished (or dropped) attempt.
struct attempt_done {
  uint32_t slot = 0;
  uint64_t seq = 0;
  outcome result;
  // A built-in kind's simulated delay: the pool holds the result and keeps
  // the slot busy this long before it settles the attempt (delay_line).
  int64_t delay_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attempt_done& x) {
  return f(caf::meta::type_name("attempt_done"), x.slot, x.seq, x.result,
           x.delay_ms);
}

/// What a job's listener hears from the pool.
enum class job_phase : uint8_t {
  started,   // an attempt began (progress listeners only)
  retrying,  // an attempt failed; another follows after a backoff
  succeeded, // terminal
  failed,    // terminal: the last allowed attempt failed
  cancelled, // terminal: cancelled while running or backing off
  progress,  // the running attempt reported progress (result: {fraction,
             // message}; progress listeners only)
};

struct job_event {
  uint64_t key = 0; // the listener's own key for the job
  job_phase phase = job_phase::started;
  int32_t attempts = 0;
  int64_t at = 0; // ms since epoch
  outcome result; // succeeded: result; retrying/failed: error
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_event& x) {
  return f(caf::meta::type_name("job_event"), x.key, x.phase, x.attempts, x.at,
           x.result);
}

/// One task as the store keeps it: its state, plus what it takes to run it
/// again after a restart (`spec`, written once with the first row).
struct task_row {
  uint64_t seq = 0;    // the registry's sequence number: creation order
  bool insert = false; // first write of this task: `spec` is set
  task_view state;
  task_spec spec;
  // Attempts made before the task's current cycle (POST .../retry starts a
  // new one): the cycle may make 1 + max_retries attempts of its own.
  int32_t cycle_start = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_row& x) {
  return f(caf::meta::type_name("task_row"), x.seq, x.insert, x.state, x.spec,
           x.cycle_start);
}

/// A periodic schedule's latest fired slot (the `schedules` table): written
/// in the same transaction as the task it created, so each slot fires once.
struct schedule_mark {
  std::string name;
  int64_t slot = 0; // ms since the epoch
  task_id task;     // zero: the slot was skipped (overlap = skip)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_mark& x) {
  return f(caf::meta::type_name("schedule_mark"), x.name, x.slot, x.task);
}

/// Task rows written in one transaction (group commit). The store answers
/// with the same batch once it is committed and on disk, or with `error`
/// set. With `early` (the registry's batches) and a WAL syncer at the store,
/// it answers as soon as the rows are written, with `ticket` set: they are
/// on disk once the sender gets (synced_atom, t >= ticket, "") from the
/// syncer's thread (actors/sync_queue.hpp).
struct store_batch {
  std::vector<task_row> rows;
  std::string error; // empty = committed
  std::vector<schedule_mark> marks; // schedules' fired slots, same transaction
  bool early = false;  // answer once written (see above)
  uint64_t ticket = 0; // in an early answer: 0 = settled already
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_batch& x) {
  return f(caf::meta::type_name("store_batch"), x.rows, x.error, x.marks,
           x.early, x.ticket);
}

/// Attempts that ended on one node, as a pool counts them.
struct node_counts {
  uint32_t node = 0; // index into the gateway's nodes; 0 = the head
  uint64_t completed = 0;
  uint64_t failed = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_counts& x) {
  return f(caf::meta::type_name("node_counts"), x.node, x.completed, x.failed);
}

/// POST /v1/leases, checked by the codec: lease kinds only, max 1..1000.
struct lease_request {
  std::vector<std::string> kinds;
  uint32_t max = 1;
  int64_t wait_ms = 0; // long-poll for a first attempt
  std::string worker;  // its name in GET /v1/workers
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_request& x) {
  return f(caf::meta::type_name("lease_request"), x.kinds, x.max, x.wait_ms,
           x.worker);
}

/// One attempt leased to an HTTP worker.
struct lease_grant {
  task_id lease;
  attempt work;
  int64_t expires_at = 0; // ms since epoch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_grant& x) {
  return f(caf::meta::type_name("lease_grant"), x.lease, x.work, x.expires_at);
}

/// What a worker does with a lease.
enum class lease_op : uint8_t { complete, fail, heartbeat };

struct lease_call {
  task_id lease;
  lease_op op = lease_op::complete;
  json_value result;         // complete
  std::string error;         // fail
  bool retry = true;         // fail: false = no more attempts
  bool has_progress = false; // heartbeat
  double fraction = 0;
  std::string message;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_call& x) {
  return f(caf::meta::type_name("lease_call"), x.lease, x.op, x.result,
           x.error, x.retry, x.has_progress, x.fraction, x.message);
}

/// The answer to one lease_call: status 200, or why not (404 not_found,
/// 409 conflict or cancelled).
struct lease_answer {
  task_id lease;
  uint16_t status = 200;
  std::string code;
  std::string detail;
  int64_t expires_at = 0; // ms since epoch, after a heartbeat
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_answer& x) {
  return f(caf::meta::type_name("lease_answer"), x.lease, x.status, x.code,
           x.detail, x.expires_at);
}

/// A lease worker, as GET /v1/workers shows it.
struct lease_worker_view {
  std::string name;
  std::vector<std::string> kinds;
  uint64_t leases = 0; // held now
  uint64_t completed = 0;
  uint64_t failed = 0;
  int64_t last_seen = 0; // ms since epoch
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_worker_view& x) {
  return f(caf::meta::type_name("lease_worker_view"), x.name, x.kinds,
           x.leases, x.completed, x.failed, x.last_seen);
}

/// Jobs that ended per bucket of `step` seconds, oldest first, the last
/// bucket ending at `end` (GET /v1/stats).
struct rate_series {
  int64_t end = 0; // s since epoch, exclusive: just after the newest sample
  uint32_t step = 1;
  std::vector<uint64_t> completed;
  std::vector<uint64_t> failed;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rate_series& x) {
  return f(caf::meta::type_name("rate_series"), x.end, x.step, x.completed,
           x.failed);
}

// -- atoms --------------------------------------------------------------------

using list_atom = caf::atom_constant<caf::atom("list")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using worker_up_atom = caf::atom_constant<caf::atom("worker_up")>;
using worker_dn_atom = caf::atom_constant<caf::atom("worker_dn")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using key_atom = caf::atom_constant<caf::atom("key")>;
using add_slots_atom = caf::atom_constant<caf::atom("add_slots")>;
using node_down_atom = caf::atom_constant<caf::atom("node_down")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using workers_atom = caf::atom_constant<caf::atom("workers")>;
using sample_atom = caf::atom_constant<caf::atom("sample")>;
using input_atom = caf::atom_constant<caf::atom("input")>;
using token_atom = caf::atom_constant<caf::atom("token")>;
// The registry's timer for the earliest scheduled (delayed) task.
using due_atom = caf::atom_constant<caf::atom("due")>;
using callback_atom = caf::atom_constant<caf::atom("callback")>;
// A periodic schedule's firing ([schedules.NAME], actors/scheduler.hpp).
using schedule_atom = caf::atom_constant<caf::atom("schedule")>;
// An operator's pause of a pool (POST /v1/pools/{name}/pause, durable),
// distinct from pause_atom (draining): (hold_atom, true) pauses, false resumes.
using hold_atom = caf::atom_constant<caf::atom("hold")>;
// The store's WAL is flushed up to a ticket (actors/wal_syncer.hpp).
using synced_atom = caf::atom_constant<caf::atom("synced")>;

// -- interfaces ---------------------------------------------------------------

/// Anyone who hands jobs to a pool and wants to hear how they end.
using job_listener_actor = caf::typed_actor<
    // Jobs made progress or ended: a pool sends its events in batches, one per
    // burst of work, so a busy listener handles one message for many jobs.
    caf::reacts_to<std::vector<job_event>>>;

/// A job inside a pool: one registry task or one item of a batch.
struct job {
  uint64_t key = 0; // opaque to the pool, echoed in job_event
  task_spec spec;   // checked: pool and defaults filled in
  int32_t attempts = 0;  // attempts already made (resumed tasks start > 0)
  bool progress = false; // also report `started`, `retrying`, `progress`
  job_listener_actor listener;
  task_id task; // the registry's task; zero for batch items
  // The pool's own clock readings for metrics (never sent between nodes):
  // when the job entered the queue, when its current attempt began.
  std::chrono::steady_clock::time_point queued_since, attempt_since;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job& x) {
  return f(caf::meta::type_name("job"), x.key, x.spec, x.attempts, x.progress,
           x.listener, x.task);
}

/// Runs one attempt at a time; a kind that throws kills it.
using worker_actor = caf::typed_actor<
    // Run an attempt and answer the pool with attempt_done.
    caf::reacts_to<attempt>,
    // Run a chunk of CPU-bound attempts back to back (dedicated-thread pools:
    // one wake-up per chunk instead of per attempt); answer with all results.
    caf::reacts_to<std::vector<attempt>>,
    // Drop the attempt with this seq if it is still pending (answer attempt_done).
    caf::reacts_to<cancel_atom, uint64_t>,
    // INTERNAL: a simulated delay of the running attempt has elapsed, or its
    // runner (exec, http) reports the end.
    caf::reacts_to<finish_atom, uint64_t, outcome>,
    // INTERNAL (runner): the attempt `seq` reports progress.
    caf::reacts_to<progress_atom, uint64_t, double, std::string>,
    // A remote kind's worker reports progress (proxies of remote workers).
    caf::reacts_to<work_progress>>;

/// Hands attempts of lease kinds to HTTP workers and settles them (one per
/// process; see docs/leases.md). Pools keep the jobs: the desk takes
/// attempts from them only when a worker asks, so leases are the pools'
/// demand, and reports each lease's end back as attempt_done.
using lease_desk_actor = caf::typed_actor<
    // A worker asks for attempts: answered with up to `max` grants as soon as
    // there is one, or with none after wait_ms.
    caf::replies_to<lease_atom, lease_request>::with<std::vector<lease_grant>>,
    // Complete, fail or renew leases; one answer per call, in order.
    caf::replies_to<std::vector<lease_call>>::with<std::vector<lease_answer>>,
    // The lease workers seen lately (GET /v1/workers).
    caf::replies_to<workers_atom>::with<std::vector<lease_worker_view>>,
    // INTERNAL (pool): pool `index` has attempts of these kinds (catalog
    // indices) for waiting requests.
    caf::reacts_to<lease_atom, uint32_t, std::vector<uint32_t>>,
    // INTERNAL (pool): the answer to take `take`: attempts now started, and
    // the kinds of which more wait that the pool has room for.
    caf::reacts_to<lease_atom, uint64_t, std::vector<attempt>,
                   std::vector<uint32_t>>,
    // INTERNAL (pool): attempt `seq` of pool `index` can no longer be
    // settled (code "cancelled" or "conflict", and why).
    caf::reacts_to<cancel_atom, uint32_t, uint64_t, std::string, std::string>,
    // INTERNAL: the long-poll of lease request `id` is over.
    caf::reacts_to<timeout_atom, uint64_t>,
    // INTERNAL (timer): expire leases nobody renewed; forget old ones.
    caf::reacts_to<sweep_atom>,
    // Draining: answer waiting requests now, and later ones at once.
    caf::reacts_to<pause_atom>,
    // These leases never reached their worker (it went away while waiting):
    // their attempts go back to the front of the queue, not counted.
    caf::reacts_to<cancel_atom, std::vector<task_id>>>;

/// A fixed set of workers with a priority queue (FIFO within a priority),
/// demand-driven dispatch, per-attempt timeouts and retries with exponential
/// backoff.
using pool_actor = caf::typed_actor<
    // Enqueue one job.
    caf::reacts_to<submit_atom, job>,
    // Enqueue many jobs at once (a coordinator's fan-out).
    caf::reacts_to<submit_atom, std::vector<job>>,
    // Cancel the job of this listener and key, wherever it is.
    caf::reacts_to<cancel_atom, job_listener_actor, uint64_t>,
    // Report counters.
    caf::replies_to<stats_atom>::with<pool_stats>,
    // Start no more attempts (shutdown): running ones finish, queued wait.
    caf::reacts_to<pause_atom>,
    // An operator pauses (true) or resumes (false) the pool: while paused it
    // starts nothing queued (nor leases it), running attempts finish and
    // submissions still queue. Independent of pause_atom. Answers the stats.
    caf::replies_to<hold_atom, bool>::with<pool_stats>,
    // INTERNAL (worker): an attempt ended.
    caf::reacts_to<attempt_done>,
    // INTERNAL (worker): attempts of a chunk ended (all, or those before a crash).
    caf::reacts_to<std::vector<attempt_done>>,
    // INTERNAL (worker): the attempt `seq` on `slot` reports progress.
    caf::reacts_to<progress_atom, uint32_t, uint64_t, double, std::string>,
    // INTERNAL (supervisor): slot now has a live worker.
    caf::reacts_to<worker_up_atom, uint32_t, worker_actor>,
    // INTERNAL (supervisor, at its start): slots first, first + 1, ... have
    // these workers (in chunks, not one message per worker: 10 000 small
    // messages left 1 MB of freed memory in the allocator's caches).
    caf::reacts_to<worker_up_atom, uint32_t, std::vector<worker_actor>>,
    // INTERNAL (supervisor): slot's worker died (reason, restarts so far,
    // degraded until this actor-clock time, in ticks since its epoch).
    caf::reacts_to<worker_dn_atom, uint32_t, std::string, uint64_t, int64_t>,
    // INTERNAL: a job's backoff elapsed; requeue it.
    caf::reacts_to<retry_atom, job>,
    // INTERNAL: the attempt `seq` on `slot` ran out of time.
    caf::reacts_to<timeout_atom, uint32_t, uint64_t>,
    // INTERNAL (timer): results held for their delay are due (delay_line).
    caf::reacts_to<due_atom>,
    // INTERNAL: send the job events gathered since the last flush.
    caf::reacts_to<flush_atom>,
    // INTERNAL: a rate-limited kind's next token is due; start what waits.
    caf::reacts_to<token_atom>,
    // Attempts ended per node (for GET /v1/nodes).
    caf::replies_to<nodes_atom>::with<std::vector<node_counts>>,
    // Node `node` lends `n` workers that run these kinds (empty: every kind
    // local workers run); answers the first of their slots.
    caf::replies_to<add_slots_atom, uint32_t, uint32_t,
                    std::vector<std::string>>::with<uint32_t>,
    // That node is gone: its running attempts count as failed (lost), its
    // slots are dropped.
    caf::reacts_to<node_down_atom, uint32_t>,
    // The lease desk introduces itself; `index` is this pool's place in the
    // catalog (the desk's name for it).
    caf::reacts_to<lease_atom, lease_desk_actor, uint32_t>,
    // INTERNAL (lease desk): take `take`: start up to `max` attempts of these
    // kinds (catalog indices) as leases, within the pool's size; answered at
    // once with (lease_atom, take, attempts, kinds still waiting) to the desk.
    caf::reacts_to<lease_atom, uint64_t, std::vector<uint32_t>, uint32_t>,
    // INTERNAL (lease desk): leased attempt `seq` never reached a worker:
    // requeue it in front, its attempt not counted.
    caf::reacts_to<lease_atom, uint64_t>>;

/// Spawns and monitors a pool's workers; respawns dead ones with backoff.
using supervisor_actor = caf::typed_actor<
    // INTERNAL: the backoff for `slot` elapsed; respawn if `generation` is current.
    caf::reacts_to<restart_atom, uint32_t, uint64_t>>;

/// Fans one batch out to a pool and answers with all results in input order.
using coordinator_actor = caf::typed_actor<
    // Run the batch; answered once, then the coordinator exits.
    caf::replies_to<batch_spec>::with<batch_result>,
    // INTERNAL (pool): items ended.
    caf::reacts_to<std::vector<job_event>>>;

/// Anyone who hands completion callbacks to the sender and wants to hear
/// how each attempt went (the registry).
using callback_listener_actor = caf::typed_actor<
    // The callback of task `key` (the listener's seq) after an attempt: its
    // status ("pending" while retrying, "delivered", "failed"), attempts and
    // last error.
    caf::reacts_to<callback_atom, uint64_t, callback_view>>;

/// One completion callback to deliver: POST `body` (the task's final view)
/// to `url`, signed; `attempts` were made before (a restart resumes).
struct callback_delivery {
  uint64_t key = 0; // echoed to the listener
  task_id task;
  std::string url;
  std::string body;
  int32_t attempts = 0;
  callback_listener_actor listener;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, callback_delivery& x) {
  return f(caf::meta::type_name("callback_delivery"), x.key, x.task, x.url,
           x.body, x.attempts, x.listener);
}

/// Delivers completion callbacks with retries and backoff, a bounded number
/// at once, each POST on a poster's own thread (actors/callbacks.hpp).
using callback_sender_actor = caf::typed_actor<
    // Deliver this callback; outcomes go to its listener, one per attempt.
    caf::reacts_to<callback_atom, callback_delivery>,
    // INTERNAL (timer): the backoff of this delivery elapsed; try again.
    caf::reacts_to<retry_atom, callback_delivery>>;

/// One thread that POSTs callbacks, one at a time (spawned detached by the
/// sender): answers "" when the receiver said 2xx, else why not.
using callback_poster_actor
  = caf::typed_actor<caf::replies_to<callback_delivery>::with<std::string>>;

/// The durable task store: one SQLite file, written and read on its own
/// thread so that disk waits never hold up an actor scheduler thread.
using store_actor = caf::typed_actor<
    // Write these rows in one transaction; answer with the batch when
    // committed (an early batch: when written, see store_batch).
    caf::replies_to<store_batch>::with<store_batch>,
    // Read one task that is not kept in memory; error: not_found.
    caf::replies_to<get_atom, task_id>::with<task_view>,
    // Find the task created with this idempotency key, with its spec (to
    // compare requests); error: not_found.
    caf::replies_to<get_atom, key_atom, std::string>::with<task_row>,
    // Page through tasks with seq < filter.cursor, newest first.
    caf::replies_to<list_atom, task_filter>::with<task_page>,
    // Delete terminal tasks that finished before this time (ms since epoch).
    caf::reacts_to<sweep_atom, int64_t>,
    // The input a task was submitted with (the registry keeps none in
    // memory; for the dashboard's task detail); error: not_found.
    caf::replies_to<get_atom, input_atom, task_id>::with<raw_json>,
    // The whole row of task `id`, spec included (to run it again: retry);
    // error: not_found.
    caf::replies_to<retry_atom, task_id>::with<task_row>,
    // Remember that the pool of this name is paused (true) or not (false).
    caf::replies_to<hold_atom, std::string, bool>::with<bool>,
    // INTERNAL (its wal_syncer's thread): the WAL is on disk up to this
    // ticket (error empty), or its fdatasync failed: answer the batches
    // written up to it.
    caf::reacts_to<synced_atom, uint64_t, std::string>>;

/// Owns every task's state; the only place tasks are created or read.
using registry_actor = caf::typed_actor<
    // Create a task and enqueue it on its pool (or keep it scheduled until
    // its run_at / countdown_ms).
    caf::replies_to<submit_atom, task_spec>::with<task_view>,
    // INTERNAL (scheduler): create the task schedule `spec.schedule` fired
    // for `slot` (ms); the slot is stored in the task's insert transaction.
    caf::replies_to<submit_atom, task_spec, schedule_atom,
                    int64_t>::with<task_view>,
    // Read one task.
    caf::replies_to<get_atom, task_id>::with<task_view>,
    // Read one task once it is terminal or after at most `ms` milliseconds.
    caf::replies_to<wait_atom, task_id, int64_t>::with<task_view>,
    // Page through tasks, newest first.
    caf::replies_to<list_atom, task_filter>::with<task_page>,
    // Cancel a task (see README for the status codes); errors: not_found, conflict.
    caf::replies_to<cancel_atom, task_id>::with<task_view>,
    // Cancel every unfinished task matching the filter (its status and/or
    // kind; limit and cursor unused); answers how many.
    caf::replies_to<cancel_atom, task_filter>::with<uint64_t>,
    // Run a failed or cancelled task again: a new cycle of attempts, same
    // id, attempts counting on; errors: not_found, conflict (other status,
    // or no store to read its input from).
    caf::replies_to<retry_atom, task_id>::with<task_view>,
    // Pause (true) or resume (false) the named pool, durably (the store
    // first); answers its stats. Error: not_found.
    caf::replies_to<hold_atom, std::string, bool>::with<pool_stats>,
    // INTERNAL (pool): tasks made progress or ended.
    caf::reacts_to<std::vector<job_event>>,
    // INTERNAL (callback sender): an attempt to deliver the completion
    // callback of task `seq` ended; its new state goes to the view and store.
    caf::reacts_to<callback_atom, uint64_t, callback_view>,
    // INTERNAL: a waiter's time is up.
    caf::reacts_to<timeout_atom, uint64_t>,
    // INTERNAL: write the task changes gathered since the last batch.
    caf::reacts_to<flush_atom>,
    // INTERNAL (the store's WAL syncer thread): the batches written up to
    // this ticket are on disk (error empty), or their fdatasync failed.
    caf::reacts_to<synced_atom, uint64_t, std::string>,
    // INTERNAL (timer): drop expired tasks, keep memory within its bound.
    caf::reacts_to<sweep_atom>,
    // INTERNAL (timer): the wake-up armed for this time (ms since epoch):
    // queue the scheduled tasks now due, read back the specs of those due
    // soon, arm for the next one.
    caf::reacts_to<due_atom, int64_t>>;

/// Samples every pool's completed and failed counters once a second into a
/// rate_history (actors/rate_sampler.hpp), for GET /v1/stats.
using rate_sampler_actor = caf::typed_actor<
    // Jobs ended in the last `window` seconds, summed per `step` seconds.
    caf::replies_to<stats_atom, uint32_t, uint32_t>::with<rate_series>,
    // INTERNAL (timer): read the pools' counters.
    caf::reacts_to<sample_atom>>;

/// Registers actorq's message types and error category with a CAF config.
void register_types(caf::actor_system_config& cfg);

} // namespace actorq
