// Wall-clock helpers: task timestamps are milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace actorq {

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
      .count();
}

/// ISO-8601 UTC with milliseconds, e.g. 2026-11-25T13:00:39.123Z.
std::string iso8601(int64_t ms);

/// As Python's datetime.isoformat() of an aware UTC time, which
/// datetime.fromisoformat() parses on every Python 3.7+ (a "Z" only from
/// 3.11): 2026-11-25T13:00:39.123000+00:00.
std::string iso8601_python(int64_t ms);

} // namespace actorq
