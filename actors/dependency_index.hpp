// Chains: which waiting task waits for which, and what the tasks it waits for
// ended with. The registry composes it: a task submitted with `after` is added
// here (status waiting); each of its `after` entries is either settled at once
// (that task already ended) or awaits the seq of a task that has not ended;
// when a task ends, the registry calls ended() and acts on the verdicts
// (queue the ready ones, cancel the broken ones).
//
// Only tasks that wait (and the tasks they wait for) cost anything here: a
// registry with no chains checks empty() and nothing else.
#pragma once

#include "actorq/gateway.hpp" // task_id, task_status, after_policy

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorq {

class dependency_index {
public:
  /// One entry of a waiting task's `after` list, in the client's order.
  struct slot {
    task_id id;
    bool settled = false;
    // Settled without an outcome: the task expired from the store (result
    // TTL) before its outcome could be read (only after a restart).
    bool unknown = false;
    task_status status = task_status::waiting;
    std::string result; // its result JSON text (pass_results only); "" = null
  };

  /// A waiting task.
  struct entry {
    after_policy policy = after_policy::succeeded;
    bool keep_results = false;   // pass_results: the slots keep results
    uint32_t remaining = 0;      // slots not settled yet
    std::vector<slot> slots;     // by position in `after`
    std::vector<uint64_t> links; // seqs awaited (for unlinking)
  };

  /// What a waiting task's slots say so far.
  enum class verdict {
    pending, // some slots are not settled (and none broke the policy)
    ready,   // all settled, the policy holds: queue it
    broken,  // policy succeeded and a slot did not succeed: cancel it
  };

  /// Adds waiting task `dependent` with its `after` list (no slot settled).
  void add(uint64_t dependent, const std::vector<task_id>& after,
           after_policy policy, bool keep_results);

  /// Slot `at` of `dependent` waits for the task `awaited` (not ended).
  void await(uint64_t dependent, size_t at, uint64_t awaited);

  /// Slot `at` of `dependent` ended (known at once, e.g. read from the
  /// store). `unknown`: it expired, its outcome is lost.
  verdict settle(uint64_t dependent, size_t at, task_status status,
                 std::string_view result, bool unknown = false);

  /// Task `awaited` ended: settles every slot waiting for it. Answers the
  /// dependents whose verdict is no longer pending.
  std::vector<std::pair<uint64_t, verdict>>
  ended(uint64_t awaited, task_status status, std::string_view result);

  /// The verdict of `dependent` as its slots stand.
  verdict judge(uint64_t dependent) const;

  /// Removes `dependent` (queued, cancelled) and answers its entry.
  entry take(uint64_t dependent);

  /// The entry of `dependent`, or null.
  const entry* find(uint64_t dependent) const;

  bool empty() const {
    return dependents_.empty();
  }
  size_t size() const {
    return dependents_.size();
  }
  /// Whether some waiting task waits for `awaited`.
  bool awaited(uint64_t awaited) const {
    return links_.count(awaited) > 0;
  }

private:
  struct link {
    uint64_t dependent;
    uint32_t at;
  };
  verdict settle_slot(entry& e, slot& s, task_status status,
                      std::string_view result, bool unknown);
  static verdict judge(const entry& e);

  std::unordered_map<uint64_t, entry> dependents_;
  std::unordered_map<uint64_t, std::vector<link>> links_; // awaited → slots
};

/// The first slot that breaks policy `succeeded` (did not succeed), or null.
const dependency_index::slot*
first_unsuccessful(const dependency_index::entry& e);

/// The error of a task cancelled because `s` did not succeed, e.g.
/// "after: task <id> failed".
std::string after_error(const dependency_index::slot& s);

/// The `_after` array passed to a task with pass_results:
/// [{id, status, result}, ...] in the order of its `after` list (status
/// "expired" and result null for an outcome that was lost).
json after_results(const dependency_index::entry& e);

} // namespace actorq
