#include "actors/time.hpp"

#include <catch2/catch.hpp>

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
