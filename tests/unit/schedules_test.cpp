#include "actors/schedules.hpp"

#include "actors/catalog.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace actorq;

namespace {

schedule_def every(const std::string& name, int64_t ms, bool catch_up = true) {
  schedule_def d;
  d.name = name;
  d.spec.kind = "echo";
  d.spec.schedule = name;
  d.every_ms = ms;
  d.catch_up = catch_up;
  return d;
}

task_id some_task() {
  return task_id{1, 2};
}

/// Reads [schedules.*] from INI text, returning the problems.
std::vector<std::string> problems_of(const std::string& ini,
                                     std::vector<schedule_def>* out = nullptr) {
  // CAF's INI reader fills `content` with every key as written.
  caf::actor_system_config cfg;
  std::istringstream in{ini};
  REQUIRE_FALSE(cfg.parse(caf::actor_system_config::string_list{}, in));
  std::vector<std::string> problems;
  auto xs = read_schedules(cfg.content, catalog{}, problems);
  if (out != nullptr)
    *out = std::move(xs);
  return problems;
}

} // namespace

TEST_CASE("schedule_book: a new schedule starts with the next slot",
          "[schedules]") {
  schedule_book book{{every("a", 1000)}};
  CHECK(book.start(10'500).empty());
  CHECK(book.earliest() == 11'000);
  CHECK(book.take_due(10'999).empty());
  auto due = book.take_due(11'000);
  REQUIRE(due.size() == 1);
  CHECK(due[0].slot == 11'000);
  CHECK(book.earliest() == 12'000);
}

TEST_CASE("schedule_book: a late timer fires once, for the latest slot",
          "[schedules]") {
  schedule_book book{{every("a", 1000)}};
  book.start(10'500);
  auto due = book.take_due(14'200);
  REQUIRE(due.size() == 1);
  CHECK(due[0].slot == 14'000);
  CHECK(book.earliest() == 15'000);
}

TEST_CASE("schedule_book: slots missed while down fire once (catch-up one)",
          "[schedules]") {
  schedule_book book{{every("a", 2000), every("b", 2000, false),
                      every("c", 2000)}};
  book.restore({"a", 10'000, some_task()});
  book.restore({"b", 10'000, {}});
  book.restore({"c", 18'000, {}}); // nothing missed
  book.restore({"gone", 10'000, {}}); // no longer configured: ignored
  auto due = book.start(19'300);
  REQUIRE(due.size() == 1);
  CHECK(due[0].index == 0);
  CHECK(due[0].slot == 18'000); // the latest missed slot, once
  CHECK(book.entries()[0].last_task == some_task());
  CHECK(book.entries()[0].next == 20'000);
  CHECK(book.entries()[1].next == 20'000); // none: skipped
  CHECK(book.entries()[2].next == 20'000);
  book.fired(0, 18'000, task_id{3, 4});
  CHECK(book.entries()[0].last_slot == 18'000);
  CHECK(book.entries()[0].last_task == (task_id{3, 4}));
  book.fired(0, 20'000, {}); // skipped: the last task stays
  CHECK(book.entries()[0].last_slot == 20'000);
  CHECK(book.entries()[0].last_task == (task_id{3, 4}));
}

TEST_CASE("schedule_book: cron slots in a time zone", "[schedules]") {
  std::string error;
  schedule_def d;
  d.name = "c";
  d.cron = cron_expr::parse("*/15 * * * *", error);
  auto z = time_zone::load("Europe/Berlin", error);
  REQUIRE(z);
  d.zone = std::make_shared<time_zone>(*z);
  auto t = days_from_civil(2026, 3, 29) * 86400'000LL;
  // 00:45 UTC = 01:45 CET; 02:00-02:45 local do not exist: one slot at 03:00
  // CEST (01:00 UTC), then 03:15.
  CHECK(d.next_slot(t + 45 * 60'000) == t + 60 * 60'000);
  CHECK(d.next_slot(t + 60 * 60'000) == t + 75 * 60'000);
  schedule_book book{{d}};
  book.restore({"c", t, {}});
  auto due = book.start(t + 50 * 60'000 + 1);
  REQUIRE(due.size() == 1);
  CHECK(due[0].slot == t + 45 * 60'000);
  CHECK(book.earliest() == t + 60 * 60'000);
}

TEST_CASE("schedule_book: a year down, an every-minute cron catches up once, for the last minute",
          "[schedules]") {
  std::string error;
  schedule_def d;
  d.name = "m";
  d.cron = cron_expr::parse("* * * * *", error);
  schedule_book book{{d}};
  auto now = days_from_civil(2026, 6, 1) * 86400'000LL + 12'345;
  book.restore({"m", now - 366LL * 86400'000, {}});
  auto due = book.start(now);
  REQUIRE(due.size() == 1);
  CHECK(due[0].slot == now - 12'345);
  CHECK(book.earliest() == now - 12'345 + 60'000);
}

TEST_CASE("read_schedules: keys, defaults and problems naming the key",
          "[schedules]") {
  std::vector<schedule_def> xs;
  auto problems = problems_of("[schedules.tick]\nkind = \"echo\"\n"
                              "every = \"5m\"\ninput = \"{\\\"n\\\": 1}\"\n"
                              "[schedules.night]\nkind = \"echo\"\n"
                              "cron = \"0 3 * * *\"\ntimezone = \"America/New_York\"\n"
                              "overlap = \"allow\"\ncatch-up = \"none\"\n",
                              &xs);
  CHECK(problems.empty());
  REQUIRE(xs.size() == 2);
  auto& night = xs[0]; // name order
  CHECK(night.name == "night");
  CHECK(night.overlap);
  CHECK_FALSE(night.catch_up);
  CHECK(night.zone->name() == "America/New_York");
  auto& tick = xs[1];
  CHECK(tick.every_ms == 300'000);
  CHECK(tick.spec.pool == "io");
  CHECK(tick.spec.schedule == "tick");
  CHECK(tick.spec.input.value == json{{"n", 1}});
  CHECK_FALSE(tick.overlap);
  CHECK(tick.catch_up);

  auto one = [](const std::string& ini) {
    auto p = problems_of(ini);
    REQUIRE(p.size() >= 1);
    return p[0];
  };
  CHECK(one("[schedules.a]\nkind = \"echo\"\nevery = \"1s\"\novrlap = \"skip\"\n")
            .find("'schedules.a.ovrlap' (did you mean 'schedules.a.overlap'") 
        != std::string::npos);
  CHECK(one("[schedules.a]\nevery = \"1s\"\n").find("needs a kind")
        != std::string::npos);
  CHECK(one("[schedules.a]\nkind = \"echo\"\n").find("exactly one")
        != std::string::npos);
  CHECK(one("[schedules.a]\nkind = \"echo\"\nevery = \"10ms\"\n")
            .find("schedules.a.every") != std::string::npos);
  CHECK(one("[schedules.a]\nkind = \"echo\"\ncron = \"0 0 30 2 *\"\n")
            .find("never fires") != std::string::npos);
  CHECK(one("[schedules.a]\nkind = \"echo\"\nevery = \"1s\"\npool = \"nope\"\n")
            .find("unknown pool 'nope'") != std::string::npos);
  CHECK(one("[schedules.a]\nkind = \"echo\"\nevery = \"1s\"\noverlap = \"maybe\"\n")
            .find("schedules.a.overlap") != std::string::npos);
}
