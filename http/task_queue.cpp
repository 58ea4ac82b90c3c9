#include "http/task_queue.hpp"

#include <algorithm>
#include <sched.h>
#include <system_error>

namespace actorq::http {

elastic_task_queue::elastic_task_queue(settings cfg) : cfg_(cfg) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto n = std::max<size_t>(1, cfg_.min_threads);
  for (size_t i = 0; i < n; ++i)
    spawn_locked();
}

elastic_task_queue::~elastic_task_queue() {
  shutdown();
}

void elastic_task_queue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock{mtx_};
  if (stopping_ && threads_.empty()) {
    // Too late for a thread of ours: run it here rather than drop it.
    lock.unlock();
    fn();
    return;
  }
  jobs_.push_back(std::move(fn));
  // Idle threads already woken count in idle_ until they take a job, so
  // more jobs than idle threads means this one would wait.
  if (jobs_.size() > idle_ && threads_.size() < cfg_.max_threads)
    spawn_locked();
  lock.unlock();
  work_.notify_one();
}

void elastic_task_queue::spawn_locked() {
  auto self = threads_.emplace(threads_.end());
  try {
    // run() takes the lock before it touches `self`, which is set by then.
    *self = std::thread{[this, self] { run(self); }};
  } catch (const std::system_error&) {
    // Out of threads: the job waits for a running thread instead.
    threads_.erase(self);
    return;
  }
  peak_ = std::max(peak_, threads_.size());
}

void elastic_task_queue::run(thread_list::iterator self) {
  if (cfg_.batch_scheduling) {
    // A handler thread woken by an actor's reply used to preempt that
    // actor's thread at once (CFS wakeup preemption), often while it held
    // the registry's read gate: every reader then waited out a whole time
    // slice (under `bench_load e2e` the gate was held 40 % of the time, 87 %
    // of that by a preempted registry). SCHED_BATCH threads never preempt on
    // wakeup; they run when the current thread blocks or its slice ends.
    // Measured on 2 cores: +15-25 % submissions and submit + wait, +8 % GET,
    // lower p99 at every offered load (README, Performance). Allowed
    // without privileges; if refused, the thread runs as before.
    sched_param normal{};
    ::sched_setscheduler(0, SCHED_BATCH, &normal);
  }
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    if (jobs_.empty()) {
      if (stopping_)
        break;
      ++idle_;
      auto woken = work_.wait_for(lock, cfg_.idle_timeout, [this] {
        return !jobs_.empty() || stopping_;
      });
      --idle_;
      if (!woken && threads_.size() > cfg_.min_threads)
        break; // idle too long and not needed: shrink
      continue;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    try {
      job();
    } catch (...) {
      // httplib's jobs do not throw; nothing to report to anyway.
    }
    job = nullptr; // release what the job holds outside the lock
    lock.lock();
  }
  // Leave: hand this thread's handle on and join the one that left before.
  auto previous = std::move(exited_);
  exited_ = std::move(*self);
  threads_.erase(self);
  bool last = threads_.empty();
  lock.unlock();
  // shutdown() joins exited_ (this thread or a later one, which joins this
  // one first), so `this` outlives the code below.
  if (last)
    empty_.notify_all();
  if (previous.joinable())
    previous.join();
}

void elastic_task_queue::shutdown() {
  std::unique_lock<std::mutex> lock{mtx_};
  if (joined_)
    return;
  stopping_ = true;
  work_.notify_all();
  empty_.wait(lock, [this] { return threads_.empty(); });
  auto last = std::move(exited_);
  joined_ = true;
  lock.unlock();
  if (last.joinable())
    last.join();
}

elastic_task_queue::counts elastic_task_queue::snapshot() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {threads_.size(), idle_, jobs_.size(), peak_};
}

} // namespace actorq::http
