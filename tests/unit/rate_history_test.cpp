// The dashboard's throughput history: per-second counts in a ring, summed
// into buckets; and turning cumulative pool counters into increments.
#include "actors/rate_history.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

TEST_CASE("rate history: counts land in their second and sum per bucket",
          "[rate_history]") {
  rate_history h{60};
  h.add(1000, 3, 1);
  h.add(1000, 2, 0); // same second: added
  h.add(1001, 4, 0);
  h.add(1004, 0, 2);
  auto xs = h.series(1005, 5, 1);
  REQUIRE(xs.size() == 5);
  CHECK(xs[0].start == 1000);
  CHECK(xs[0].completed == 5);
  CHECK(xs[0].failed == 1);
  CHECK(xs[1].completed == 4);
  CHECK(xs[2].completed == 0); // nobody recorded 1002 and 1003: zero
  CHECK(xs[3].completed == 0);
  CHECK(xs[4].failed == 2);
  auto wide = h.series(1005, 5, 5);
  REQUIRE(wide.size() == 1);
  CHECK(wide[0].start == 1000);
  CHECK(wide[0].completed == 9);
  CHECK(wide[0].failed == 3);
}

TEST_CASE("rate history: buckets end at `end`, oldest first",
          "[rate_history]") {
  rate_history h{900};
  for (int64_t s = 0; s < 900; ++s)
    h.add(10'000 + s, 1, s % 10 == 0 ? 1 : 0);
  auto xs = h.series(10'900, 300, 10);
  REQUIRE(xs.size() == 30);
  CHECK(xs.front().start == 10'600);
  CHECK(xs.back().start == 10'890);
  for (auto& b : xs) {
    CHECK(b.completed == 10);
    CHECK(b.failed == 1);
  }
}

TEST_CASE("rate history: the ring forgets what is older than its capacity",
          "[rate_history]") {
  rate_history h{10};
  h.add(100, 7, 7);
  h.add(110, 1, 0); // same slot as 100, ten seconds later: replaces it
  auto xs = h.series(111, 10, 1);
  REQUIRE(xs.size() == 10);
  CHECK(xs.front().start == 101);
  uint64_t completed = 0, failed = 0;
  for (auto& b : xs) {
    completed += b.completed;
    failed += b.failed;
  }
  CHECK(completed == 1);
  CHECK(failed == 0);
  // A late count for a second that has left the ring is dropped, not
  // written over the newer second sharing its slot.
  h.add(100, 5, 5);
  CHECK(h.series(111, 1, 1)[0].completed == 1);
  // Asking for the past that the ring no longer holds reads zero.
  CHECK(h.series(101, 1, 1)[0].completed == 0);
}

TEST_CASE("rate history: window and step are clamped", "[rate_history]") {
  rate_history h{60};
  h.add(50, 1, 0);
  CHECK(h.series(60, 1000, 1).size() == 60); // at most the capacity
  CHECK(h.series(60, 7, 3).size() == 2);     // rounded down to the step
  CHECK(h.series(60, 2, 5).size() == 1);     // at least one bucket
  CHECK(h.series(60, 10, 0).size() == 10);   // step 0 counts as 1
  CHECK(h.series(51, 1, 1)[0].completed == 1);
}

TEST_CASE("rate history: seconds before the epoch still map into the ring",
          "[rate_history]") {
  rate_history h{10};
  h.add(-3, 2, 0);
  CHECK(h.series(-2, 1, 1)[0].completed == 2);
}

TEST_CASE("counter delta: increments of a cumulative counter",
          "[rate_history]") {
  counter_delta d;
  CHECK(d.advance(500) == 0); // baseline: counted before we watched
  CHECK(d.advance(503) == 3);
  CHECK(d.advance(503) == 0);
  CHECK(d.advance(2) == 2); // started over
  CHECK(d.advance(10) == 8);
}
