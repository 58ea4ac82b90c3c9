// A pool: a fixed set of workers (its size is the concurrency limit), a
// priority queue (FIFO within one; job_queue) and demand-driven dispatch: a
// job goes to a worker only when that worker is idle, so a long job never
// holds up the jobs queued behind it.
// The pool also owns per-attempt timeouts and retries with backoff.
#pragma once

#include "actors/actors.hpp"
#include "actors/config.hpp"
#include "actors/delay_line.hpp"
#include "actors/job_queue.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace actorq {

struct pool_meters;

struct pool_state {
  static inline const char* name = "actorq.pool";

  /// An attempt handed to a worker and not yet answered.
  struct running {
    uint64_t seq;
    std::optional<job> owner; // empty once abandoned (timeout, cancel)
  };

  struct slot {
    worker_actor worker;           // invalid while the supervisor restarts it
    std::vector<running> attempts; // non-empty = busy; >1 only for chunks
    uint32_t node = 0;             // 0 = this process; else a worker node
    uint32_t kinds = 0;            // index into worker_kinds: what it runs
    bool gone = false;             // its worker node is down
  };

  /// Workers that run the same kinds, and those of them that are idle.
  struct worker_kinds {
    job_queue::kind_mask runs; // by the catalog's kind index
    std::vector<uint32_t> idle; // slots with a live, idle worker
  };

  pool_settings settings;
  pool_meters* meters = nullptr; // this pool's in settings.meters, if any
  supervisor_actor supervisor; // held: an unreferenced actor is collected
  std::vector<slot> slots;
  // [0]: local workers (every kind but remote ones); then one entry per
  // distinct set a worker node or remote program brought.
  std::vector<worker_kinds> kinds;
  job_queue queue;
  uint32_t busy = 0; // slots with attempts out
  bool paused = false; // shutting down: start nothing new
  bool held = false;   // paused by an operator (hold_atom): start nothing new

  /// Neither queued jobs nor leases start (draining or paused).
  bool starts_nothing() const {
    return paused || held;
  }
  uint64_t next_seq = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t restarts = 0;
  std::vector<node_counts> per_node; // attempts ended, by node index
  int64_t degraded_until = 0; // actor-clock ticks since its epoch
  bool degraded_logged = false; // the last pool_degraded/recovered line said so
  // Jobs waiting for a retry (listener, key); the ones among them that were
  // cancelled meanwhile are dropped when their retry comes up.
  std::set<std::pair<caf::actor_addr, uint64_t>> backing_off;
  std::set<std::pair<caf::actor_addr, uint64_t>> cancelled;
  // Job events not sent yet, per listener; flushed by a message to self, so
  // everything that arrives meanwhile goes out in the same batch.
  std::vector<std::pair<job_listener_actor, std::vector<job_event>>> outbox;
  std::mt19937_64 rng{std::random_device{}()};
  // When the one pending token timer fires (rate-limited kinds waiting for
  // a token); none pending if empty.
  std::optional<caf::actor_clock::time_point> token_due;
  // Results held for their simulated delay, and when the earliest pending
  // timer for them fires (none pending if empty).
  delay_line delays;
  std::optional<caf::actor_clock::time_point> delay_due;

  // -- leases: attempts of lease kinds, started when the lease desk takes
  // them for an HTTP worker, never pushed to one.
  lease_desk_actor desk;
  uint32_t index = 0;               // in the catalog, as the desk names it
  job_queue::kind_mask lease_kinds; // this pool's lease kinds
  // Leased attempts by seq; an empty owner was abandoned (timeout, cancel)
  // and still holds its room until the desk releases it.
  std::unordered_map<uint64_t, std::optional<job>> leased;
  bool lease_wanted = false; // a take came back short: say when there is more

  /// How many more attempts may be leased out now.
  uint64_t lease_room() const;

  /// The delay before retrying a job that has made `attempts` attempts (at
  /// least `at_least_ms`, e.g. an HTTP endpoint's Retry-After).
  caf::timespan retry_delay(const job& j, int64_t at_least_ms = 0);
};

pool_actor::behavior_type pool(pool_actor::stateful_pointer<pool_state> self,
                               pool_settings settings);

/// What the actors that hand work to a pool need to know of it.
struct pool_ref {
  std::string name;
  pool_actor handle;
  std::shared_ptr<pool_gauge> gauge; // null: no admission control

  /// Reserves queue room for `n` jobs, or says why not (empty = admitted).
  std::string admit(int64_t n) const;
};

} // namespace actorq
