// The scheduler: fires the periodic schedules ([schedules.NAME]). It keeps
// a schedule_book (actors/schedules.hpp) and ONE timer, for the earliest next
// slot of all schedules, and asks the registry to create each firing's task
// (the registry stores the slot with the task, in one transaction). Skipped
// slots (overlap = skip while the last task has not ended) are written to
// the store directly, so they are not fired again after a restart.
#pragma once

#include "actors/actors.hpp"
#include "actors/schedules.hpp"

#include <vector>

namespace actorq {

/// One schedule as GET /v1/schedules shows it.
struct schedule_view {
  std::string name;
  std::string kind;
  std::string pool;
  std::string every; // as configured; empty for cron
  std::string cron;  // empty for every
  std::string timezone;
  bool overlap = false;  // "allow" when true, else "skip"
  bool catch_up = true;  // "one" when true, else "none"
  int64_t next_run = 0;  // ms since the epoch; 0 = never
  int64_t last_run = 0;  // the last slot fired (or skipped); 0 = never
  caf::optional<task_id> last_task;
  task_status last_status = task_status::queued; // with last_task
  bool last_known = false; // the last task's status could be read
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, schedule_view& x) {
  return f(caf::meta::type_name("schedule_view"), x.name, x.kind, x.pool,
           x.every, x.cron, x.timezone, x.overlap, x.catch_up, x.next_run,
           x.last_run, x.last_task, x.last_status, x.last_known);
}

using tick_atom = caf::atom_constant<caf::atom("tick")>;

using scheduler_actor = caf::typed_actor<
    // Every schedule with its next run and last task (GET /v1/schedules).
    caf::replies_to<list_atom, schedule_atom>::with<std::vector<schedule_view>>,
    // INTERNAL (timer): fire the schedules that are due.
    caf::reacts_to<tick_atom>>;

struct scheduler_settings {
  std::vector<schedule_def> schedules;
  std::vector<schedule_mark> marks; // from the store: the last fired slots
  registry_actor registry;
  store_actor store; // invalid: nothing durable (store.path = :memory:)
};

struct scheduler_state {
  static inline const char* name = "actorq.scheduler";
  scheduler_settings cfg;
  std::optional<schedule_book> book;
  // A firing of schedule i is at the registry (overlap check or create):
  // with overlap = skip, its next slot is skipped meanwhile.
  std::vector<bool> in_flight;
  bool timer_armed = false;
};

scheduler_actor::behavior_type
scheduler(scheduler_actor::stateful_pointer<scheduler_state> self,
          scheduler_settings settings);

} // namespace actorq
