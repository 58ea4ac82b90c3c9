#include "actors/schedule_index.hpp"

#include <catch2/catch.hpp>

#include <random>

using actorq::schedule_index;

TEST_CASE("schedule_index: take_due returns due tasks earliest first",
          "[schedule_index]") {
  schedule_index idx;
  CHECK_FALSE(idx.earliest());
  idx.push(300, 3);
  idx.push(100, 1);
  idx.push(200, 2);
  idx.push(100, 4); // same time as seq 1: lower seq first
  CHECK(idx.earliest() == 100);
  CHECK(idx.take_due(50).empty());
  CHECK(idx.take_due(100) == std::vector<uint64_t>{1, 4});
  CHECK(idx.earliest() == 200);
  CHECK(idx.take_due(1000) == std::vector<uint64_t>{2, 3});
  CHECK_FALSE(idx.earliest());
  CHECK(idx.size() == 0);
}

TEST_CASE("schedule_index: many random times come out sorted",
          "[schedule_index]") {
  schedule_index idx;
  std::mt19937_64 rng{42};
  for (uint64_t seq = 1; seq <= 10000; ++seq)
    idx.push(static_cast<int64_t>(rng() % 100000), seq);
  int64_t last = -1;
  size_t taken = 0;
  for (int64_t now = 0; now < 100000 + 997; now += 997) { // past the last
    for (auto seq : idx.take_due(now)) {
      (void) seq;
      ++taken;
    }
    if (auto e = idx.earliest()) {
      CHECK(*e > now);
      CHECK(*e >= last);
      last = *e;
    }
  }
  CHECK(taken == 10000);
}
