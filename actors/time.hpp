// Wall-clock helpers: task timestamps are milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace actorq {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

/// ISO-8601 UTC with milliseconds, e.g. 2026-11-25T13:00:39.123Z.
std::string iso8601(int64_t ms);
/// The same 24 characters appended to `out` (rendering appends them to the
/// answer without a string of their own).
void append_iso8601(std::string& out, int64_t ms);

/// As Python's datetime.isoformat() of an aware UTC time, which
/// datetime.fromisoformat() parses on every Python 3.7+ (a "Z" only from
/// 3.11): 2026-11-25T13:00:39.123000+00:00.
std::string iso8601_python(int64_t ms);

/// An RFC 3339 date-time with `Z` or a numeric offset (e.g.
/// 2026-11-25T13:00:39.5+01:00) as ms since the Unix epoch; nullopt if it is
/// not one. Fractions beyond the millisecond are dropped; a leap second
/// (:60) counts as :59.
std::optional<int64_t> parse_rfc3339(std::string_view text);

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// days_from_civil): month 1..12, day 1..31.
int64_t days_from_civil(int64_t y, int m, int d);

// -- the civil calendar (proleptic Gregorian, days since 1970-01-01; Howard
// Hinnant's algorithms) --------------------------------------------------------

struct civil_date {
  int64_t year = 1970;
  int month = 1; // 1..12
  int day = 1;   // 1..31
};

/// The date of a day, the inverse of days_from_civil.
civil_date civil_from_days(int64_t days);
/// 0 = Sunday .. 6 = Saturday.
int weekday_from_days(int64_t days);
/// Floor division of seconds into days (negative times too).
int64_t days_of(int64_t seconds);

} // namespace actorq
