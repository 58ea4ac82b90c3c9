// The HTTP server's elastic task queue and the wait budget.
#include "http/task_queue.hpp"
#include "http/wait_budget.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <sched.h>
#include <thread>

using namespace actorq::http;
using namespace std::chrono_literals;

namespace {

/// Jobs block on this until opened.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;

  void wait() {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [this] { return open; });
  }

  void release() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      open = true;
    }
    cv.notify_all();
  }
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

} // namespace

TEST_CASE("task queue: starts min threads and runs every job",
          "[http_task_queue]") {
  elastic_task_queue q{{2, 8, 1000ms}};
  CHECK(q.snapshot().threads == 2);
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i)
    q.enqueue([&] { ++done; });
  CHECK(eventually([&] { return done == 1000; }));
  CHECK(q.snapshot().threads <= 8);
}

TEST_CASE("task queue: jobs run under SCHED_BATCH unless told otherwise",
          "[http_task_queue]") {
  auto policy_of_a_job = [](bool batch) {
    elastic_task_queue::settings cfg;
    cfg.min_threads = 1;
    cfg.batch_scheduling = batch;
    elastic_task_queue q{cfg};
    std::atomic<int> policy{-2};
    q.enqueue([&] { policy = ::sched_getscheduler(0); });
    q.shutdown();
    return policy.load();
  };
  CHECK(policy_of_a_job(true) == SCHED_BATCH);
  CHECK(policy_of_a_job(false) == SCHED_OTHER);
}

TEST_CASE("task queue: grows when every thread is busy, up to max",
          "[http_task_queue]") {
  elastic_task_queue q{{2, 6, 200ms}};
  gate g;
  std::atomic<int> running{0}, done{0};
  for (int i = 0; i < 10; ++i)
    q.enqueue([&] {
      ++running;
      g.wait();
      ++done;
    });
  // Six threads take six jobs; four wait for a free thread.
  CHECK(eventually([&] { return running == 6; }));
  std::this_thread::sleep_for(50ms);
  auto c = q.snapshot();
  CHECK(running == 6);
  CHECK(c.threads == 6);
  CHECK(c.peak == 6);
  CHECK(c.queued == 4);
  g.release();
  CHECK(eventually([&] { return done == 10; }));
}

TEST_CASE("task queue: a blocked job does not hold up the next one",
          "[http_task_queue]") {
  elastic_task_queue q{{1, 4, 200ms}};
  gate g;
  std::atomic<bool> second{false};
  q.enqueue([&] { g.wait(); });
  q.enqueue([&] { second = true; });
  CHECK(eventually([&] { return second.load(); }, 2s));
  g.release();
}

TEST_CASE("task queue: threads above min exit when idle", "[http_task_queue]") {
  elastic_task_queue q{{2, 16, 100ms}};
  gate g;
  std::atomic<int> running{0};
  for (int i = 0; i < 12; ++i)
    q.enqueue([&] {
      ++running;
      g.wait();
    });
  CHECK(eventually([&] { return running == 12; }));
  CHECK(q.snapshot().threads >= 12);
  g.release();
  CHECK(eventually([&] { return q.snapshot().threads == 2; }, 5s));
  // It grows again when needed.
  gate g2;
  std::atomic<int> again{0};
  for (int i = 0; i < 5; ++i)
    q.enqueue([&] {
      ++again;
      g2.wait();
    });
  CHECK(eventually([&] { return again == 5; }));
  g2.release();
}

TEST_CASE("task queue: shutdown runs the queued jobs and joins",
          "[http_task_queue]") {
  std::atomic<int> done{0};
  {
    elastic_task_queue q{{1, 1, 1000ms}};
    for (int i = 0; i < 50; ++i)
      q.enqueue([&] {
        std::this_thread::sleep_for(1ms);
        ++done;
      });
    q.shutdown();
    CHECK(done == 50);
    q.shutdown(); // twice is fine
    // A job after shutdown still runs (on the caller's thread).
    q.enqueue([&] { ++done; });
    CHECK(done == 51);
  }
  // Destroyed with threads that shrank away meanwhile: nothing left behind.
  {
    elastic_task_queue q{{1, 8, 20ms}};
    for (int i = 0; i < 8; ++i)
      q.enqueue([] { std::this_thread::sleep_for(30ms); });
    std::this_thread::sleep_for(200ms);
  }
}

TEST_CASE("wait budget: at most limit places, given back by the guard",
          "[http_task_queue][wait_budget]") {
  wait_budget b{2};
  CHECK(b.limit() == 2);
  CHECK(b.try_acquire());
  {
    wait_budget::guard g{b};
    CHECK(static_cast<bool>(g));
    CHECK(b.in_use() == 2);
    wait_budget::guard full{b};
    CHECK_FALSE(static_cast<bool>(full));
    CHECK(b.in_use() == 2);
    auto moved = std::move(g);
    CHECK(static_cast<bool>(moved));
    CHECK(b.in_use() == 2);
  }
  CHECK(b.in_use() == 1);
  b.release();
  CHECK(b.in_use() == 0);
  wait_budget none{0};
  CHECK_FALSE(none.try_acquire());
  CHECK(none.in_use() == 0);
}

TEST_CASE("wait budget: never over the limit under contention",
          "[http_task_queue][wait_budget]") {
  wait_budget b{10};
  std::atomic<int> held{0}, max_held{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        wait_budget::guard g{b};
        if (!g) {
          ++refused;
          continue;
        }
        auto now = ++held;
        int seen = max_held;
        while (now > seen && !max_held.compare_exchange_weak(seen, now)) {
        }
        --held;
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(max_held <= 10);
  CHECK(b.in_use() == 0);
}
