// The registry owns every task's state. It creates tasks, hands them to their
// pool, follows their progress (job_event) and answers reads, long-polls
// (wait) and cancellations. Nothing else touches task state.
//
// With a store, every change is written to it in batches (group commit): a
// submission is answered only once its task is committed, and the task goes
// to its pool only then. Terminal tasks beyond `memory_tasks` are dropped
// from memory and read back from the store on demand.
//
// Chains: a task submitted with `after` is `waiting`; the registry holds its
// spec and a dependency_index of what it waits for, and queues (or cancels)
// it when those ended (finish() notifies); after a restart the index is
// rebuilt from the recovered tasks and the store.
#pragma once

#include "actors/actors.hpp"
#include "actors/dependency_index.hpp"
#include "actors/pool.hpp"
#include "actors/registry_reads.hpp"
#include "actors/result_arena.hpp"
#include "actors/schedule_index.hpp"
#include "actors/sync_queue.hpp"
#include "actors/task_index.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorq {

class metrics;

struct registry_settings {
  std::vector<pool_ref> pools;
  store_actor store; // invalid: tasks live in memory only (store.path=:memory:)
  std::chrono::milliseconds result_ttl{0}; // 0 = keep terminal tasks forever
  size_t memory_tasks = 100000; // with a store: most recent tasks kept in RAM
  std::vector<task_row> recovered; // tasks that had not ended, from the store
  uint64_t last_seq = 0;           // highest seq in the store
  // A batch at the store longer than this: its submitters (and new ones)
  // get 503 until it completes (store.write-timeout; 0 = wait for ever).
  std::chrono::milliseconds write_timeout{5000};
  std::shared_ptr<metrics> meters; // null: metrics off
  // Delivers completion callbacks (invalid: tasks with a callback_url keep
  // it pending); tasks that ended with theirs pending, from the store.
  callback_sender_actor callbacks;
  std::vector<task_row> pending_callbacks;
  // Where HTTP threads read task state (registry_impl publishes it there;
  // null: nobody reads around the mailbox, as in tests that spawn registry()).
  std::shared_ptr<registry_reads> reads;
};

struct registry_state {
  static inline const char* name = "actorq.registry";

  /// One task, kept compact (~88 bytes + its result text): millions of
  /// terminal tasks fit in memory.
  struct record {
    task_id id;
    int64_t created_at = 0;
    int64_t started_at = 0; // while scheduled: its run_at (see run_ats)
    int64_t finished_at = 0;
    result_arena::entry result; // into `results`; empty = null
    int32_t attempts = 0;
    int32_t max_retries = 0;
    uint16_t kind = 0; // kind_name(): the catalog's kinds, then retired
    uint8_t pool = 0;  // pool_name(): cfg.pools, then retired
    uint8_t priority = default_priority;
    task_status status = task_status::queued;
    bool cancel_requested = false;
    bool dirty = false; // changed since the last batch sent to the store
    std::unique_ptr<std::string> error; // null = no error (the common case)
    std::unique_ptr<std::string> key;   // idempotency key; null = none

    /// A task whose insert failed: removed, its slot kept (records are
    /// indexed by seq) until evict drops it. Real ids are never zero.
    bool removed() const {
      return id.hi == 0 && id.lo == 0;
    }
  };

  struct waiter {
    int64_t deadline; // ms on the actor clock: answered then at the latest
    caf::typed_response_promise<task_view> promise;
  };

  using promise_type = caf::typed_response_promise<task_view>;

  /// A keyed submission waiting for the store to say whether its key is new.
  struct keyed_submission {
    promise_type promise;
    task_spec spec;
  };

  registry_settings cfg;
  // Tasks by seq: records[seq - base - 1] for seq > base; older tasks that
  // have not ended wait in `pinned`; older ended ones are in the store only
  // (or expired).
  std::deque<record> records;
  uint64_t base = 0;
  std::map<uint64_t, record> pinned;
  result_arena results; // result JSON texts, appended
  // Index id → seq of every task in memory (records and pinned): 16 bytes
  // per task instead of a node-based map's ~56.
  task_index ids;
  std::unordered_map<uint64_t, std::vector<waiter>> waiters; // seq → waiters
  /// (deadline, seq) of every long-poll, under one timer for the earliest
  /// (armed for `wait_armed`): one clock entry per earlier deadline, not
  /// one per long-poll. Lazy: answered waiters stay until their deadline.
  schedule_index wait_deadlines;
  int64_t wait_armed = INT64_MAX;
  /// The task an idempotency key made, and the request_hash of its spec.
  struct keyed_task {
    uint64_t seq;
    uint64_t hash;
  };
  std::unordered_map<std::string, keyed_task> by_key; // idempotency key → task
  std::unordered_map<std::string, std::vector<keyed_submission>> key_lookups;

  // Group commit (only with a store).
  std::vector<std::pair<uint64_t, task_spec>> created; // to insert
  std::vector<uint64_t> changed;                       // to update
  // Batches sent to the store and not yet written: up to two, so that the
  // store starts the next as soon as one is written instead of idling while
  // its answer crosses to the registry. A written batch waits in
  // `written_batches` for its WAL sync, and the next batch goes out at
  // once: writes overlap the fdatasync, which covers every batch written
  // before it began (sync_queue.hpp).
  static constexpr size_t max_batches_at_store = 2;
  size_t at_store = 0;
  sync_queue written_batches;
  // When each batch not yet on disk was sent, oldest first (write timeout).
  std::deque<std::chrono::steady_clock::time_point> writing;
  bool flush_scheduled = false;
  uint64_t committed = 0; // every task with seq <= committed is stored
  std::vector<std::pair<uint64_t, promise_type>> acks; // answered at commit
  // Write timeout (measured from writing.front()): whether a check is
  // pending; whether the oldest batch is overdue (submissions get 503
  // until the store answers).
  bool stall_check_pending = false;
  bool stalled = false;

  bool durable() const {
    return static_cast<bool>(cfg.store);
  }
  uint64_t last_seq() const {
    return base + records.size();
  }

  /// The record of `seq`, or null if it is not in memory (or was removed).
  record* at(uint64_t seq);
  const record* at(uint64_t seq) const;
  /// The seq of the task with this id if it is in memory, or 0.
  uint64_t lookup(const task_id& id) const;
  /// The view GET /v1/tasks/{id} answers, as far as memory knows it: one
  /// rule for the registry's get handler and for readers on other threads
  /// (registry_reads). A task not yet committed is not found: it is not
  /// acknowledged either.
  view_source find_view(const task_id& id, int64_t now, task_view& out) const;
  /// The same rule without the view: the task's seq in `seq` when memory.
  view_source locate(const task_id& id, int64_t now, uint64_t& seq) const;
  /// Indexes the task `seq` (already in memory) under its id.
  void index(uint64_t seq, const task_id& id);
  void set_result(record& r, const json& result);
  void set_error(record& r, std::string error);
  /// Terminal and past the result TTL: answers as if it never existed.
  bool expired(const record& r, int64_t now) const;
  /// Frees what `r` holds outside the record (index, key, result).
  void forget(uint64_t seq, record& r);
  /// Rewrites `results` when most of it is no longer referenced: the live
  /// entries are those of the records in memory.
  void compact_results();

  task_view view(uint64_t seq, const record& r) const;

  // Kinds and pools of recovered tasks that the configuration no longer
  // has: such tasks end failed, and their views keep the names.
  std::vector<std::string> retired_kinds;
  std::vector<std::string> retired_pools;
  const std::string& kind_name(uint16_t kind) const;
  const std::string& pool_name(uint8_t pool) const;
  /// The catalog index of `name`, else a retired one (added if new).
  uint16_t kind_index(const std::string& name);
  uint8_t pool_index(const std::string& name);

  // Progress reports of tasks that made some (few do): seq → progress.
  std::unordered_map<uint64_t, task_progress> progress;

  // Delayed tasks (run_at / countdown_ms). The scheduled ones wait in
  // `schedule` by due time under ONE timer, armed for the earliest
  // wake-up (`armed`: the time it fires for; none = no timer pending).
  // `run_ats`: the run_at of each delayed task in memory that is no longer
  // scheduled, for its view (seq → ms; most tasks have none). A scheduled
  // task keeps it in its record's started_at instead, unused until it
  // starts, so waiting tasks need no map entry (≤ 300 bytes each).
  // `scheduled_specs`: without a store, the specs of scheduled tasks (with
  // one, the store keeps the spec and the registry reads it back just
  // before it is due).
  // `ready`: scheduled tasks due within prefetch_ms whose spec is at hand,
  // by run_at (a few at a time); the timer also fires for the earliest.
  schedule_index schedule;
  std::multimap<int64_t, std::pair<uint64_t, task_spec>> ready;
  std::optional<int64_t> armed;
  std::unordered_map<uint64_t, int64_t> run_ats;
  std::unordered_map<uint64_t, task_spec> scheduled_specs;
  // Chains (tasks submitted with `after`; none: all of these stay empty).
  // A waiting task's spec is held here until the tasks it waits for ended
  // (then it goes to its pool, with `_after` in its input if pass_results).
  dependency_index deps;
  struct held_task {
    task_spec spec;
    int32_t attempts = 0;
  };
  std::unordered_map<uint64_t, held_task> held; // seq → spec, while waiting
  // The `after` lists of the chained tasks in memory, for their views.
  std::unordered_map<uint64_t, std::vector<task_id>> afters;
  // Completion callbacks of tasks that asked for one (few do): seq → its
  // state, in the view and the store. A task that ended stays in memory
  // until its callback is delivered or failed.
  std::unordered_map<uint64_t, callback_view> callbacks;
  bool awaits_callback(uint64_t seq) const {
    if (callbacks.empty())
      return false;
    auto i = callbacks.find(seq);
    return i != callbacks.end() && i->second.status == "pending";
  }
  // Tasks created by periodic schedules: seq → index into schedule_names
  // (the record has no room for it).
  std::unordered_map<uint64_t, uint16_t> schedule_of;
  std::vector<std::string> schedule_names;
  void note_schedule(uint64_t seq, const std::string& name);
  // Scheduled tasks not yet sent to the store: seq → the slot they fire,
  // stored with their insert (store_batch.marks).
  std::unordered_map<uint64_t, int64_t> fired_slots;

  // Attempts made before the current cycle of retried tasks (few are):
  // seq → attempts when POST .../retry started the cycle.
  std::unordered_map<uint64_t, int32_t> cycle_starts;
  int32_t cycle_start(uint64_t seq) const {
    if (cycle_starts.empty())
      return 0;
    auto i = cycle_starts.find(seq);
    return i == cycle_starts.end() ? 0 : i->second;
  }
};

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         registry_settings settings);

/// The registry as a class (how actorq spawns it): registry()'s behavior,
/// with each message handled under its registry_reads' gate, and the state
/// published there while it lives.
class registry_impl
    : public caf::stateful_actor<registry_state, registry_actor::base> {
public:
  registry_impl(caf::actor_config& cfg, registry_settings settings);

  behavior_type make_behavior() override;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;
  bool cleanup(caf::error&& reason, caf::execution_unit* host) override;

private:
  registry_settings settings_; // moved into the state by make_behavior
  std::shared_ptr<registry_reads> reads_;
};

} // namespace actorq
