// The registry owns every task's state. It creates tasks, hands them to their
// pool, follows their progress (job_event) and answers reads, long-polls
// (wait) and cancellations. Nothing else touches task state.
#pragma once

#include "actors/actors.hpp"
#include "actors/pool.hpp"

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace actorq {

struct registry_state {
  static inline const char* name = "actorq.registry";

  /// One task, kept compact (~72 bytes + its result text): millions of
  /// terminal tasks stay in memory.
  struct record {
    task_id id;
    int64_t created_at = 0;
    int64_t started_at = 0;
    int64_t finished_at = 0;
    uint64_t result_offset = 0; // into `results`
    uint32_t result_size = 0;   // 0 = null
    int32_t attempts = 0;
    int32_t max_retries = 0;
    uint16_t kind = 0; // index into all_kinds()
    uint8_t pool = 0;  // index into pools
    task_status status = task_status::queued;
    bool cancel_requested = false;
    std::unique_ptr<std::string> error; // null = no error (the common case)
  };

  struct waiter {
    uint64_t id;
    caf::typed_response_promise<task_view> promise;
  };

  std::vector<pool_ref> pools;
  std::deque<record> records; // records[seq - 1]
  std::string results;        // every result's compact JSON text, appended
  // Open-addressing index id → seq (0 = empty slot), at most half full: 16
  // bytes per task instead of a node-based map's ~56.
  std::vector<uint64_t> slots;
  std::unordered_map<uint64_t, std::vector<waiter>> waiters; // seq → waiters
  std::unordered_map<std::string, uint64_t> by_key; // idempotency key → seq
  uint64_t next_waiter = 0;

  /// The seq of the task with this id, or 0.
  uint64_t lookup(const task_id& id) const;
  /// Adds records[seq - 1] to the index.
  void index(uint64_t seq);
  void set_result(record& r, const json& result);
  void set_error(record& r, std::string error);

  record* find(const task_id& id);
  task_view view(const record& r) const;
};

registry_actor::behavior_type
registry(registry_actor::stateful_pointer<registry_state> self,
         std::vector<pool_ref> pools);

} // namespace actorq
