// Rate limits: the token bucket's arithmetic (time passed in), the `rate`
// and `burst` keys, and a pool starting a limited kind's attempts no faster
// than its rate while other kinds go ahead (CAF's test scheduler).
#include "actors/catalog.hpp"
#include "actors/rate_limiter.hpp"

#include "fixture.hpp"

using namespace actorq;
using namespace actorq::test;

namespace {

using clock_type = rate_limiter::clock;

clock_type::time_point at(std::chrono::milliseconds ms) {
  return clock_type::time_point{} + ms;
}

/// A catalog from `key = value` settings ("kinds.echo.rate", "10/s").
std::shared_ptr<catalog>
build(std::vector<std::pair<std::string, caf::config_value>> keys,
      std::vector<std::string>& problems) {
  caf::settings content;
  for (auto& [key, v] : keys)
    caf::put(content, key, v);
  return catalog::build(content, catalog_defaults{}, problems);
}

} // namespace

TEST_CASE("rate limiter refills at its rate up to the burst",
          "[rate_limiter]") {
  rate_limiter b{10.0, 3.0}; // 10/s, bucket of 3, starts full
  auto t0 = at(1000ms);
  CHECK(b.try_take(t0));
  CHECK(b.try_take(t0));
  CHECK(b.try_take(t0));
  CHECK_FALSE(b.try_take(t0));
  CHECK(b.until_next(t0) == std::chrono::milliseconds{100});
  CHECK(b.until_next(t0 + 40ms) == std::chrono::milliseconds{60});
  CHECK_FALSE(b.try_take(t0 + 99ms));
  CHECK(b.try_take(t0 + 100ms));
  CHECK_FALSE(b.ready(t0 + 150ms));
  // A long quiet spell refills only up to the burst.
  auto later = t0 + 10s;
  CHECK(b.ready(later));
  CHECK(b.until_next(later) == clock_type::duration::zero());
  int taken = 0;
  while (b.try_take(later))
    ++taken;
  CHECK(taken == 3);
}

TEST_CASE("rate limiter with burst 1 spaces starts evenly", "[rate_limiter]") {
  rate_limiter b{20.0, 1.0};
  auto t = at(0ms);
  int started = 0;
  // Over 3 s of 1 ms steps: one at once, then one every 50 ms.
  for (int ms = 0; ms <= 3000; ++ms)
    if (b.try_take(t + std::chrono::milliseconds{ms}))
      ++started;
  CHECK(started == 61);
}

TEST_CASE("rate limiter carries a late timer's delay to the next start",
          "[rate_limiter]") {
  // A pool waits until_next() and wakes up 1 ms late every time: the
  // lateness is not lost, so 10 s at 50/s still start 500 attempts.
  rate_limiter b{50.0, 1.0};
  auto t0 = at(0ms);
  auto t = t0;
  int started = 0;
  while (t - t0 < 10s) {
    if (b.try_take(t))
      ++started;
    t += b.until_next(t) + 1ms;
  }
  CHECK(started == 500);
  // Idle, it still holds one start at once, not two.
  auto later = t + 60s;
  CHECK(b.try_take(later));
  CHECK_FALSE(b.try_take(later));
}

TEST_CASE("rate values are checked and shown", "[rate_limiter]") {
  std::string problem;
  auto r = parse_rate("100/s", problem);
  REQUIRE(r);
  CHECK(r->per_second() == 100.0);
  CHECK(parse_rate("30/m", problem)->per_second() == 0.5);
  CHECK(parse_rate("7200/h", problem)->per_second() == 2.0);
  for (auto bad : {"fast", "0/s", "10/d", "-1/s", "10 / s", "1.5/s", ""}) {
    problem.clear();
    CHECK_FALSE(parse_rate(bad, problem));
    CHECK(problem.find("expected a rate such as") != std::string::npos);
  }
}

TEST_CASE("rate and burst keys for config and built-in kinds",
          "[rate_limiter][catalog]") {
  std::vector<std::string> problems;
  auto cat = build({{"kinds.double.rate", caf::config_value{"5/s"}},
                    {"kinds.echo.rate", caf::config_value{"100/m"}},
                    {"kinds.echo.burst", caf::config_value{int64_t{10}}}},
                   problems);
  REQUIRE(problems.empty());
  auto d = cat->find_kind("double");
  REQUIRE(d->rate);
  CHECK(d->rate->text == "5/s");
  CHECK(d->rate->burst == 1);
  CHECK(d->limiter != nullptr);
  CHECK(cat->find_kind("echo")->rate->burst == 10);
  CHECK_FALSE(cat->find_kind("sleep")->rate);
  CHECK(cat->find_kind("sleep")->limiter == nullptr);

  problems.clear();
  build({{"kinds.double.rate", caf::config_value{"10/d"}},
         {"kinds.echo.burst", caf::config_value{int64_t{3}}},
         {"kinds.sleep.rate", caf::config_value{"5/s"}},
         {"kinds.sleep.burst", caf::config_value{int64_t{0}}}},
        problems);
  auto has = [&](const std::string& needle) {
    for (auto& p : problems)
      if (p.find(needle) != std::string::npos)
        return true;
    return false;
  };
  CHECK(has("'kinds.double.rate': expected a rate such as"));
  CHECK(has("'kinds.echo.burst': burst sizes a rate's bucket"));
  CHECK(has("'kinds.sleep.burst'"));
}

namespace {

/// Installs a catalog for one test and puts the built-ins back after it.
struct catalog_scope {
  explicit catalog_scope(std::shared_ptr<catalog> c) {
    install_catalog(std::move(c));
  }
  ~catalog_scope() {
    install_catalog(std::make_shared<catalog>());
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "pool starts a limited kind no faster than its rate",
                 "[rate_limiter][pool]") {
  std::vector<std::string> problems;
  catalog_scope scope{build({{"kinds.echo.rate", caf::config_value{"10/s"}},
                             {"kinds.echo.burst", caf::config_value{int64_t{2}}}},
                            problems)};
  REQUIRE(problems.empty());
  auto p = spawn_pool(make_settings("test", 4));
  for (uint64_t k = 1; k <= 6; ++k)
    submit(p, make_job(k, "echo", json::object()));
  // Queued behind the limited jobs: not held up by them.
  submit(p, make_job(100, "double", {{"value", 1}}));
  submit(p, make_job(101, "double", {{"value", 2}}));
  run();
  auto started = keys_of(events(), job_phase::started);
  // The burst (2 echo) and both doubles, nothing more.
  CHECK(started == std::vector<uint64_t>{1, 2, 100, 101});
  CHECK(stats(p).queued == 4);
  // One timer for the next token, not one per job or per dispatch.
  CHECK(sched.clock().schedule().size() == 1);
  sched.advance_time(99ms);
  run();
  CHECK(keys_of(events(), job_phase::started).empty());
  sched.advance_time(1ms);
  run();
  CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{3});
  // The rest follow one per 100 ms.
  for (uint64_t k = 4; k <= 6; ++k) {
    advance(100ms);
    CHECK(keys_of(events(), job_phase::started) == std::vector<uint64_t>{k});
  }
  CHECK(stats(p).queued == 0);
}
