// The pool's job queue: highest priority first, FIFO within one, oldest
// runnable job per kind set, the starvation guard on injected times.
#include "actors/job_queue.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

namespace {

job make(uint64_t key, int32_t priority = default_priority,
         job_queue::clock::time_point since = {}) {
  job j;
  j.key = key;
  j.spec.priority = priority;
  j.queued_since = since;
  return j;
}

using std::chrono::seconds;
const job_queue::clock::time_point t0 =
    job_queue::clock::time_point{} + std::chrono::hours{1};

std::vector<uint64_t> drain(job_queue& q, const job_queue::kind_mask& m,
                            job_queue::clock::time_point now) {
  std::vector<uint64_t> out;
  while (auto j = q.pop(m, now))
    out.push_back(j->key);
  return out;
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
  CHECK_FALSE(q.pop(mask({})));      // runs nothing
  CHECK_FALSE(q.pop(mask({false}))); // mask shorter than the kinds
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

TEST_CASE("job queue: the highest priority first, FIFO within one",
          "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1, 5, t0));
  q.push_back(0, make(2, 0, t0));
  q.push_back(0, make(3, 9, t0));
  q.push_back(0, make(4, 5, t0));
  q.push_back(0, make(5, 9, t0));
  q.push_back(0, make(6, 0, t0));
  CHECK(q.size() == 6);
  CHECK(q.peek(mask({true}), t0)->key == 3);
  CHECK(drain(q, mask({true}), t0) == std::vector<uint64_t>{3, 5, 1, 4, 2, 6});
  CHECK(q.empty());
  CHECK_FALSE(q.has(0));
}

TEST_CASE("job queue: priorities across kinds and worker kind sets",
          "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1, 5, t0));
  q.push_back(1, make(2, 3, t0));
  q.push_back(1, make(3, 7, t0));
  q.push_back(2, make(4, 7, t0));
  q.push_back(0, make(5, 8, t0));
  CHECK(q.has(0));
  CHECK(q.has(1));
  CHECK(q.has(2));
  CHECK_FALSE(q.has(3));
  // A worker of kind 1 only: its highest level first.
  CHECK(q.pop(mask({false, true}), t0)->key == 3);
  CHECK(q.pop(mask({false, true}), t0)->key == 2);
  CHECK_FALSE(q.has(1));
  CHECK_FALSE(q.pop(mask({false, true}), t0));
  CHECK(drain(q, mask({true, true, true}), t0)
        == std::vector<uint64_t>{5, 4, 1});
  CHECK_FALSE(q.has(0));
  CHECK_FALSE(q.has(2));
}

TEST_CASE("job queue: push_front goes first within its priority only",
          "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1, 5, t0));
  q.push_back(0, make(2, 7, t0));
  q.push_front(0, make(3, 5, t0));
  q.push_front(0, make(4, 2, t0));
  CHECK(drain(q, mask({true}), t0) == std::vector<uint64_t>{2, 3, 1, 4});
}

TEST_CASE("job queue: a waiting job is raised one level per boost period",
          "[job_queue]") {
  job_queue q{seconds{60}};
  q.push_back(0, make(1, 2, t0)); // waits longest
  q.push_back(0, make(2, 5, t0 + seconds{170}));
  q.push_back(0, make(3, 4, t0 + seconds{175}));
  auto all = mask({true});
  // At t0+175s job 1 has waited two periods (2 -> 4): job 2 still goes
  // first, and job 1 before job 3 (same level, older).
  CHECK(q.peek(all, t0 + seconds{175})->key == 2);
  // At t0+180s job 1 has waited three periods (2 -> 5), job 2 none: the
  // same level, job 1 is older and goes first.
  CHECK(q.peek(all, t0 + seconds{180})->key == 1);
  // Long waits stop at the top level; ties go to the older job.
  q.push_back(0, make(4, 9, t0 + seconds{1000}));
  CHECK(q.peek(all, t0 + seconds{1000})->key == 1);
  CHECK(drain(q, all, t0 + seconds{1000}) == std::vector<uint64_t>{1, 2, 3, 4});
}

TEST_CASE("job queue: no boost when the period is zero", "[job_queue]") {
  job_queue q{seconds{0}};
  q.push_back(0, make(1, 0, t0));
  q.push_back(0, make(2, 1, t0 + seconds{1}));
  CHECK(drain(q, mask({true}), t0 + std::chrono::hours{100})
        == std::vector<uint64_t>{2, 1});
}

TEST_CASE("job queue: remove finds a job at any priority", "[job_queue]") {
  job_queue q;
  q.push_back(0, make(1, 1, t0));
  q.push_back(1, make(2, 9, t0));
  q.push_back(1, make(3, 4, t0));
  CHECK(q.remove(caf::actor_addr{}, 3)->key == 3);
  CHECK(q.remove(caf::actor_addr{}, 2)->key == 2);
  CHECK_FALSE(q.has(1));
  CHECK(q.size() == 1);
  CHECK(drain(q, mask({true, true}), t0) == std::vector<uint64_t>{1});
}
