#include "actors/tzfile.hpp"

#include <catch2/catch.hpp>

using actorq::days_from_civil;
using actorq::time_zone;

namespace {

int64_t utc(int64_t y, int m, int d, int h = 0, int mi = 0, int s = 0) {
  return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

time_zone zone(const std::string& name) {
  std::string error;
  auto z = time_zone::load(name, error);
  INFO(error);
  REQUIRE(z);
  return *z;
}

} // namespace

TEST_CASE("tzfile: civil calendar round trips", "[tzfile]") {
  CHECK(days_from_civil(1970, 1, 1) == 0);
  CHECK(actorq::weekday_from_days(0) == 4); // a Thursday
  CHECK(actorq::weekday_from_days(days_from_civil(2026, 3, 29)) == 0);
  for (int64_t d = -800000; d < 800000; d += 997) {
    auto c = actorq::civil_from_days(d);
    CHECK(days_from_civil(c.year, c.month, c.day) == d);
  }
  CHECK(actorq::days_of(-1) == -1);
  CHECK(actorq::days_of(86399) == 0);
}

TEST_CASE("tzfile: Europe/Berlin offsets around the 2026 transitions",
          "[tzfile]") {
  auto berlin = zone("Europe/Berlin");
  CHECK(berlin.offset_at(utc(2026, 1, 15, 12)) == 3600);
  CHECK(berlin.offset_at(utc(2026, 7, 1)) == 7200);
  CHECK(berlin.offset_at(utc(2026, 3, 29, 0, 59, 59)) == 3600);
  CHECK(berlin.offset_at(utc(2026, 3, 29, 1)) == 7200);
  CHECK(berlin.offset_at(utc(2026, 10, 25, 0, 59, 59)) == 7200);
  CHECK(berlin.offset_at(utc(2026, 10, 25, 1)) == 3600);
  // Far beyond the file's transitions: the POSIX footer's rule.
  CHECK(berlin.offset_at(utc(2095, 7, 1)) == 7200);
  CHECK(berlin.offset_at(utc(2095, 12, 1)) == 3600);
  CHECK(berlin.offset_at(utc(2095, 3, 27, 0, 59, 59)) == 3600); // last Sun
  CHECK(berlin.offset_at(utc(2095, 3, 27, 1)) == 7200);
}

TEST_CASE("tzfile: local times skipped and repeated by DST map back to UTC",
          "[tzfile]") {
  auto berlin = zone("Europe/Berlin");
  auto m = berlin.to_utc(utc(2026, 6, 1, 12)); // local noon
  CHECK(m.kind == time_zone::mapping::unique);
  CHECK(m.first == utc(2026, 6, 1, 10));
  m = berlin.to_utc(utc(2026, 3, 29, 2, 30)); // does not exist
  CHECK(m.kind == time_zone::mapping::skipped);
  CHECK(m.first == utc(2026, 3, 29, 1)); // 03:00 CEST, the gap's end
  m = berlin.to_utc(utc(2026, 10, 25, 2, 30)); // happens twice
  CHECK(m.kind == time_zone::mapping::repeated);
  CHECK(m.first == utc(2026, 10, 25, 0, 30));
  CHECK(m.second == utc(2026, 10, 25, 1, 30));

  auto ny = zone("America/New_York");
  CHECK(ny.offset_at(utc(2026, 3, 8, 6, 59)) == -5 * 3600);
  CHECK(ny.offset_at(utc(2026, 3, 8, 7)) == -4 * 3600);
  CHECK(ny.offset_at(utc(2026, 11, 1, 5, 59)) == -4 * 3600);
  CHECK(ny.offset_at(utc(2026, 11, 1, 6)) == -5 * 3600);
  m = ny.to_utc(utc(2026, 3, 8, 2, 15));
  CHECK(m.kind == time_zone::mapping::skipped);
  CHECK(m.first == utc(2026, 3, 8, 7));
  m = ny.to_utc(utc(2026, 11, 1, 1, 15));
  CHECK(m.kind == time_zone::mapping::repeated);
  CHECK(m.first == utc(2026, 11, 1, 5, 15));
  CHECK(m.second == utc(2026, 11, 1, 6, 15));
}

TEST_CASE("tzfile: POSIX TZ strings alone, northern and southern",
          "[tzfile]") {
  std::string error;
  auto ny = time_zone::from_posix("EST5EDT,M3.2.0,M11.1.0", error);
  REQUIRE(ny);
  CHECK(ny->offset_at(utc(2026, 3, 8, 6, 59)) == -5 * 3600);
  CHECK(ny->offset_at(utc(2026, 3, 8, 7)) == -4 * 3600);
  CHECK(ny->offset_at(utc(2026, 11, 1, 6)) == -5 * 3600);
  auto sydney = time_zone::from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", error);
  REQUIRE(sydney);
  CHECK(sydney->offset_at(utc(2026, 1, 15)) == 11 * 3600);
  CHECK(sydney->offset_at(utc(2026, 7, 15)) == 10 * 3600);
  auto india = time_zone::from_posix("<+0530>-5:30", error);
  REQUIRE(india);
  CHECK(india->offset_at(utc(2026, 7, 15)) == 5 * 3600 + 1800);
  CHECK_FALSE(time_zone::from_posix("CET-1CEST,M13.5.0,M10.5.0", error));
  auto sydney_file = zone("Australia/Sydney");
  CHECK(sydney_file.offset_at(utc(2026, 1, 15)) == 11 * 3600);
  CHECK(sydney_file.offset_at(utc(2026, 7, 15)) == 10 * 3600);
}

TEST_CASE("tzfile: UTC, unknown names and hostile names", "[tzfile]") {
  auto u = zone("UTC");
  CHECK(u.offset_at(utc(2026, 7, 1)) == 0);
  CHECK(u.to_utc(12345).first == 12345);
  std::string error;
  CHECK_FALSE(time_zone::load("Mars/Olympus_Mons", error));
  CHECK(error.find("Mars/Olympus_Mons") != std::string::npos);
  CHECK_FALSE(time_zone::load("../../etc/passwd", error));
  CHECK_FALSE(time_zone::load("/etc/passwd", error));
  CHECK_FALSE(time_zone::parse("not a zone file", error));
  CHECK_FALSE(time_zone::parse(std::string(44, 'x'), error));
}
