// Periodic schedules: the [schedules.NAME] sections (each key defined once,
// in the key table of schedules.cpp) and the schedule_book, which knows each
// schedule's last fired slot and next one and decides what fires when.
//
// A slot is the instant (ms since the epoch) a schedule is due: multiples of
// `every` since the epoch, or the instants its cron expression names in its
// time zone. Each slot fires at most once: the scheduler records the slot
// with the task it creates, in the same store transaction, and a slot missed
// while actorq was down fires once at start (catch-up = "one"), or not at
// all ("none"), never once per missed slot.
#pragma once

#include "actors/cron.hpp"
#include "actors/tzfile.hpp"
#include "actors/actors.hpp"

#include <caf/all.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actorq {

class catalog;
struct section_key_doc;

/// One [schedules.NAME] section, checked.
struct schedule_def {
  std::string name;
  task_spec spec;        // checked by check_task; spec.schedule = name
  std::string input_text = "{}"; // as configured
  int64_t every_ms = 0;  // > 0: every this long (slots aligned to the epoch)
  std::string every_text; // as configured
  std::string cron_text; // else: this cron expression in `zone`
  std::optional<cron_expr> cron;
  std::shared_ptr<const time_zone> zone = std::make_shared<time_zone>();
  bool overlap = false;  // true: fire even while the last task runs
  bool catch_up = true;  // a slot missed while down fires once at start

  /// The first slot strictly after `after_ms`; nullopt if none (a cron
  /// expression that never matches again).
  std::optional<int64_t> next_slot(int64_t after_ms) const;
};

/// Reads every [schedules.NAME] of a configuration's content against the
/// catalog (kinds and pools). Each problem names the key or the schedule.
std::vector<schedule_def> read_schedules(const caf::settings& content,
                                         const catalog& cat,
                                         std::vector<std::string>& problems);

/// The keys of a [schedules.NAME] section, for actorq --help.
std::vector<section_key_doc> schedule_key_docs();

/// What the scheduler should do now for one schedule.
struct firing {
  size_t index = 0; // into the book's entries
  int64_t slot = 0;
};

class schedule_book {
public:
  struct entry {
    schedule_def def;
    int64_t last_slot = 0; // 0 = never fired
    task_id last_task;     // zero = none
    std::optional<int64_t> next; // the next slot to fire; none = never
  };

  explicit schedule_book(std::vector<schedule_def> defs);

  /// What the store remembers of a schedule (before start()); unknown
  /// names (schedules removed from the configuration) are ignored.
  void restore(const schedule_mark& mark);

  /// Computes every next slot as of `now`: a schedule that never fired
  /// starts with the first slot after now; one whose slots passed while
  /// actorq was down fires the latest of them now (catch-up one) or skips
  /// them (none). Returns the catch-up firings.
  std::vector<firing> start(int64_t now);

  /// The schedules due at `now`, each once, for its latest slot <= now
  /// (a late timer never fires a schedule twice); their next slots move
  /// past now.
  std::vector<firing> take_due(int64_t now);

  /// Records that the slot fired (task created, or zero = skipped).
  void fired(size_t index, int64_t slot, const task_id& task);

  /// The earliest next slot of all schedules, if any.
  std::optional<int64_t> earliest() const;

  const std::vector<entry>& entries() const {
    return entries_;
  }

private:
  /// The latest slot <= now of entry `e`, whose next slot is <= now.
  int64_t latest_due(const entry& e, int64_t now) const;

  std::vector<entry> entries_;
};

} // namespace actorq
