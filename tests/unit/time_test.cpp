#include "actors/time.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <ctime>
#include <vector>

using actorq::iso8601;
using actorq::parse_rfc3339;

TEST_CASE("time: parse_rfc3339 reads Z and numeric offsets", "[time]") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2026-11-25T13:00:39.123Z") == 1795611639123);
  CHECK(iso8601(*parse_rfc3339("2026-11-25T13:00:39.123Z"))
        == "2026-11-25T13:00:39.123Z");
  CHECK(parse_rfc3339("2026-11-25T14:00:39.123+01:00") == 1795611639123);
  CHECK(parse_rfc3339("2026-11-25T08:30:39.123-04:30") == 1795611639123);
  CHECK(parse_rfc3339("2026-11-25t13:00:39.1234567z") == 1795611639123);
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z") == 1709164800000);
  CHECK(parse_rfc3339("2000-03-01T00:00:00Z") == 951868800000);
}

TEST_CASE("time: parse_rfc3339 refuses what is not RFC 3339", "[time]") {
  for (auto bad : {"", "2026-11-25", "2026-11-25T13:00:39", // no offset
                   "2026-11-25T13:00Z", "2026-13-01T00:00:00Z",
                   "2026-02-29T00:00:00Z", "2026-11-25T24:00:00Z",
                   "2026-11-25T13:00:39.Z", "2026-11-25T13:00:39+0100",
                   "2026-11-25T13:00:39Z ", "tomorrow", "1795611639123"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
}

TEST_CASE("time: iso8601 agrees with gmtime_r, also before 1970 and in leap "
          "years",
          "[time]") {
  auto by_libc = [](int64_t ms) {
    auto secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - static_cast<int64_t>(secs) * 1000));
    return std::string{buf};
  };
  std::vector<int64_t> samples{0, 1, 999, 1000, -1, -1000, -1001,
                               951782400000,   // 2000-02-29
                               1709164800000,  // 2024-02-29
                               4107542399999,  // 2100-02-28T23:59:59.999
                               -2208988800000, // 1900-01-01
                               253402300799999}; // 9999-12-31T23:59:59.999
  // Every 37 hours and 123 ms from 1900 to 2300: all days of the month and
  // hours of the day come by.
  for (int64_t ms = -2208988800000; ms < 10413792000000; ms += 133200123)
    samples.push_back(ms);
  for (auto ms : samples) {
    INFO(ms);
    REQUIRE(iso8601(ms) == by_libc(ms));
  }
  CHECK(samples.size() > 90000);
}
