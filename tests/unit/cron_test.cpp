#include "actors/cron.hpp"

#include <catch2/catch.hpp>

using actorq::cron_expr;
using actorq::days_from_civil;
using actorq::time_zone;

namespace {

int64_t utc(int64_t y, int m, int d, int h = 0, int mi = 0, int s = 0) {
  return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

cron_expr cron(const std::string& text) {
  std::string error;
  auto x = cron_expr::parse(text, error);
  INFO(text << ": " << error);
  REQUIRE(x);
  return *x;
}

time_zone zone(const std::string& name) {
  std::string error;
  auto z = time_zone::load(name, error);
  REQUIRE(z);
  return *z;
}

std::string parse_error(const std::string& text) {
  std::string error;
  CHECK_FALSE(cron_expr::parse(text, error));
  return error;
}

} // namespace

TEST_CASE("cron: malformed expressions name the field", "[cron]") {
  CHECK(parse_error("* * * *").find("five fields") != std::string::npos);
  CHECK(parse_error("60 * * * *").find("minute") != std::string::npos);
  CHECK(parse_error("* 24 * * *").find("hour") != std::string::npos);
  CHECK(parse_error("*/0 * * * *").find("step") != std::string::npos);
  CHECK(parse_error("5-1 * * * *").find("backwards") != std::string::npos);
  CHECK(parse_error("* * 0 * *").find("day-of-month") != std::string::npos);
  CHECK(parse_error("* * * FOO *").find("month") != std::string::npos);
  CHECK(parse_error("* * * * 8").find("day-of-week") != std::string::npos);
  CHECK(parse_error("*/x * * * *").find("step") != std::string::npos);
  CHECK(parse_error("1,,2 * * * *").find("minute") != std::string::npos);
}

TEST_CASE("cron: next firing in UTC", "[cron]") {
  time_zone u;
  CHECK(cron("*/5 * * * *").next_after(utc(2026, 5, 4, 12, 3, 10), u)
        == utc(2026, 5, 4, 12, 5));
  CHECK(cron("*/5 * * * *").next_after(utc(2026, 5, 4, 12, 5), u)
        == utc(2026, 5, 4, 12, 10));
  CHECK(cron("0 0 1 1 *").next_after(utc(2026, 5, 4), u) == utc(2027, 1, 1));
  // Friday 2026-05-08 10:00 → Monday 09:00.
  CHECK(cron("0 9 * * MON-FRI").next_after(utc(2026, 5, 8, 10), u)
        == utc(2026, 5, 11, 9));
  CHECK(cron("0 9 * * 1-5").next_after(utc(2026, 5, 8, 8), u)
        == utc(2026, 5, 8, 9));
  CHECK(cron("15,45 8-10/2 * JAN,jul *").next_after(utc(2026, 5, 4), u)
        == utc(2026, 7, 1, 8, 15));
  CHECK(cron("0 12 * * 7").next_after(utc(2026, 5, 4), u)
        == utc(2026, 5, 10, 12)); // 7 = Sunday
  CHECK(cron("@hourly").next_after(utc(2026, 5, 4, 12, 0, 1), u)
        == utc(2026, 5, 4, 13));
  CHECK(cron("0 0 29 2 *").next_after(utc(2026, 5, 4), u) == utc(2028, 2, 29));
  CHECK_FALSE(cron("0 0 30 2 *").next_after(utc(2026, 5, 4), u));
}

TEST_CASE("cron: day-of-month and day-of-week restricted means either",
          "[cron]") {
  time_zone u;
  auto x = cron("0 0 13 * FRI"); // 2026-01-01 is a Thursday
  CHECK(x.next_after(utc(2026, 1, 1), u) == utc(2026, 1, 2));
  CHECK(x.next_after(utc(2026, 1, 2), u) == utc(2026, 1, 9));
  CHECK(x.next_after(utc(2026, 1, 9), u) == utc(2026, 1, 13)); // a Tuesday
  // One of them `*`: both must match (every Friday; every 13th).
  CHECK(cron("0 0 * * FRI").next_after(utc(2026, 1, 9), u) == utc(2026, 1, 16));
  CHECK(cron("0 0 13 * *").next_after(utc(2026, 1, 1), u) == utc(2026, 1, 13));
}

TEST_CASE("cron: a local time skipped by DST fires at the next valid time",
          "[cron]") {
  auto berlin = zone("Europe/Berlin");
  auto x = cron("30 2 * * *");
  // 2026-03-29 02:30 does not exist in Berlin: fires at 03:00 CEST.
  CHECK(x.next_after(utc(2026, 3, 28, 2), berlin) == utc(2026, 3, 29, 1));
  CHECK(x.next_after(utc(2026, 3, 29, 1), berlin) == utc(2026, 3, 30, 0, 30));
  // Every 15 minutes: the skipped hour's four slots fire once, at 03:00.
  auto q = cron("*/15 * * * *");
  CHECK(q.next_after(utc(2026, 3, 29, 0, 45), berlin) == utc(2026, 3, 29, 1));
  CHECK(q.next_after(utc(2026, 3, 29, 1), berlin) == utc(2026, 3, 29, 1, 15));
  auto ny = zone("America/New_York");
  CHECK(cron("0 2 * * *").next_after(utc(2026, 3, 7, 12), ny)
        == utc(2026, 3, 8, 7));
}

TEST_CASE("cron: a local time repeated by DST fires once", "[cron]") {
  auto berlin = zone("Europe/Berlin");
  auto x = cron("30 2 * * *");
  // 2026-10-25 02:30 happens twice in Berlin: only the first fires.
  CHECK(x.next_after(utc(2026, 10, 24, 12), berlin)
        == utc(2026, 10, 25, 0, 30));
  CHECK(x.next_after(utc(2026, 10, 25, 0, 30), berlin)
        == utc(2026, 10, 26, 1, 30));
  auto q = cron("*/30 * * * *");
  CHECK(q.next_after(utc(2026, 10, 25, 0), berlin) == utc(2026, 10, 25, 0, 30));
  CHECK(q.next_after(utc(2026, 10, 25, 0, 30), berlin)
        == utc(2026, 10, 25, 2)); // 03:00 CET: the repeated hour is skipped
  // Started during the repeat (after a restart): its slots already fired.
  CHECK(q.next_after(utc(2026, 10, 25, 1, 10), berlin) == utc(2026, 10, 25, 2));
  auto ny = zone("America/New_York");
  CHECK(cron("30 1 * * *").next_after(utc(2026, 10, 31, 12), ny)
        == utc(2026, 11, 1, 5, 30));
  CHECK(cron("30 1 * * *").next_after(utc(2026, 11, 1, 5, 30), ny)
        == utc(2026, 11, 2, 6, 30));
}
