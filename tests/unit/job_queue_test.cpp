// The pool's job queue: FIFO overall, oldest runnable job per kind set.
#include "actors/job_queue.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

namespace {

job make(uint64_t key) {
  job j;
  j.key = key;
  return j;
}

job_queue::kind_mask mask(std::initializer_list<bool> xs) {
  return job_queue::kind_mask(xs);
}

} // namespace

TEST_CASE("job queue: first in, first out over all kinds", "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1));
  q.push_back(1, make(2));
  q.push_back(0, make(3));
  q.push_back(2, make(4));
  CHECK(q.size() == 4);
  auto all = mask({true, true, true});
  for (uint64_t k = 1; k <= 4; ++k) {
    auto j = q.pop(all);
    REQUIRE(j);
    CHECK(j->key == k);
  }
  CHECK(q.empty());
  CHECK_FALSE(q.pop(all));
}

TEST_CASE("job queue: a worker takes the oldest job it can run",
          "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1));
  q.push_back(1, make(2));
  q.push_back(1, make(3));
  q.push_back(0, make(4));
  auto only1 = mask({false, true});
  CHECK(q.peek(only1)->key == 2);
  CHECK(q.pop(only1)->key == 2);
  CHECK(q.pop(only1)->key == 3);
  CHECK_FALSE(q.pop(only1)); // kind 0 waits for its workers
  CHECK(q.size() == 2);
  CHECK_FALSE(q.pop(mask({})));       // runs nothing
  CHECK_FALSE(q.pop(mask({false})));  // mask shorter than the kinds
  CHECK(q.pop(mask({true}))->key == 1);
}

TEST_CASE("job queue: push_front goes before every other", "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1));
  q.push_back(1, make(2));
  q.push_front(1, make(9));
  q.push_front(0, make(8)); // the latest lost attempt goes first
  auto all = mask({true, true});
  CHECK(q.pop(all)->key == 8);
  CHECK(q.pop(all)->key == 9);
  CHECK(q.pop(all)->key == 1);
  CHECK(q.pop(all)->key == 2);
}

TEST_CASE("job queue: remove by listener and key", "[job_queue]") {
  job_queue q;
  for (uint64_t k = 1; k <= 5; ++k)
    q.push_back(k % 2, make(k));
  CHECK(q.remove(caf::actor_addr{}, 3)->key == 3);
  CHECK_FALSE(q.remove(caf::actor_addr{}, 3));
  CHECK(q.size() == 4);
  auto all = mask({true, true});
  std::vector<uint64_t> order;
  while (auto j = q.pop(all))
    order.push_back(j->key);
  CHECK(order == std::vector<uint64_t>{1, 2, 4, 5});
}
