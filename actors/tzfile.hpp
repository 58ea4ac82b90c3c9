// Time zones without a library: a reader of the system's TZif files
// (/usr/share/zoneinfo, Debian's tzdata) mapping UTC to local time and back.
//
// Supported: TZif versions 1 to 4 (the 64-bit block of v2+ is used when
// present), every transition in the file, and beyond the last one the POSIX
// TZ footer ("CET-1CEST,M3.5.0,M10.5.0/3"): std/dst names and offsets,
// rules in the Mm.w.d, Jn and n forms, with rule times that may be negative
// or beyond 24h (v3). Leap seconds are ignored (actorq's clock is POSIX
// time). Without a footer, the last transition's offset holds for ever.
#pragma once

#include "actors/time.hpp" // days_from_civil

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace actorq {

// The civil calendar (civil_from_days, weekday_from_days, days_of) is in
// actors/time.hpp.

class time_zone {
public:
  /// UTC: no offset, no transitions.
  time_zone() = default;

  /// The zone `name` (e.g. "Europe/Berlin") from `dir` (default:
  /// $TZDIR, else /usr/share/zoneinfo); nullopt with `error` set if the name
  /// is not a zone (no "..", no leading '/') or its file cannot be read.
  static std::optional<time_zone> load(const std::string& name,
                                       std::string& error,
                                       const std::string& dir = "");

  /// A zone from the bytes of a TZif file; nullopt with `error` set.
  static std::optional<time_zone> parse(std::string_view bytes,
                                        std::string& error);

  /// A zone from a POSIX TZ string alone (tests, and the footer).
  static std::optional<time_zone> from_posix(std::string_view tz,
                                             std::string& error);

  const std::string& name() const {
    return name_;
  }

  /// Seconds east of UTC in effect at `utc` (seconds since the epoch).
  int32_t offset_at(int64_t utc) const;

  /// Local wall-clock seconds (the civil time counted as if it were UTC).
  int64_t to_local(int64_t utc) const {
    return utc + offset_at(utc);
  }

  /// How a local wall-clock time maps back to UTC.
  struct mapping {
    enum kind_t { unique, skipped, repeated } kind = unique;
    int64_t first = 0;  // the earliest instant showing it; skipped: the
                        // instant the gap ends (the next valid local time)
    int64_t second = 0; // repeated: the later instant; else = first
  };
  mapping to_utc(int64_t local) const;

private:
  struct rule_date {
    char form = 'M'; // 'M' (month.week.day), 'J' (1..365, no Feb 29), 'n'
    int month = 0, week = 0, wday = 0, day = 0;
    int64_t time = 7200; // seconds after local midnight
  };
  struct posix_rule {
    int32_t std_offset = 0; // seconds east
    bool has_dst = false;
    int32_t dst_offset = 0;
    rule_date start, end;
  };
  static bool parse_posix(std::string_view tz, posix_rule& out);
  /// The UTC instant the rule date of `year` happens at, under `offset`.
  static int64_t rule_instant(const rule_date& r, int64_t year,
                              int32_t offset);
  int32_t rule_offset(int64_t utc) const;

  std::string name_ = "UTC";
  std::vector<int64_t> times_;   // transition instants, ascending
  std::vector<int32_t> offsets_; // offset from times_[i] on
  int32_t initial_offset_ = 0;   // before the first transition
  std::optional<posix_rule> rule_; // after the last transition
};

} // namespace actorq
