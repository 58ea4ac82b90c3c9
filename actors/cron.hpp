// Five-field cron expressions (minute hour day-of-month month day-of-week)
// and the next time one fires, in a time zone.
//
// Fields take `*`, numbers, lists (1,15), ranges (1-5), steps (*/5, 10-30/10)
// and names (JAN..DEC, SUN..SAT; 7 is Sunday too). As in standard (Vixie)
// cron, when both day-of-month and day-of-week are restricted (neither
// starts with `*`), a day matching either fires.
//
// Time zones: a local time skipped by a DST change fires at the next valid
// instant (the end of the gap), a repeated local time fires once (at its
// first occurrence).
#pragma once

#include "actors/tzfile.hpp"

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace actorq {

class cron_expr {
public:
  /// Parses `text`; nullopt with `error` naming the field and the problem.
  static std::optional<cron_expr> parse(std::string_view text,
                                        std::string& error);

  /// The first firing strictly after `after` (seconds since the epoch, UTC)
  /// with local times read in `zone`; nullopt if none within ~5 years (e.g.
  /// "0 0 30 2 *").
  std::optional<int64_t> next_after(int64_t after, const time_zone& zone) const;

  /// Whether a local day (days since the epoch) matches the day fields.
  bool day_matches(int64_t days) const;

private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> mdays_; // 1..31
  std::bitset<13> months_; // 1..12
  std::bitset<7> wdays_;   // 0 = Sunday
  bool mday_star_ = false;
  bool wday_star_ = false;
};

} // namespace actorq
