// The HTTP server's threads: cpp-httplib hands every accepted connection to a
// TaskQueue as one job that owns the connection for its whole life
// (keep-alive included). httplib's own ThreadPool has a fixed number of
// threads, so a burst of new clients waits behind idle keep-alive
// connections. This queue starts `min_threads`, adds a thread whenever a job
// would otherwise wait (up to `max_threads`), and lets threads above
// `min_threads` exit after `idle_timeout` without work.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace actorq::http {

class elastic_task_queue : public httplib::TaskQueue {
public:
  struct settings {
    size_t min_threads = 128; // started at once, kept until shutdown
    size_t max_threads = 1024; // jobs beyond wait in FIFO order
    std::chrono::milliseconds idle_timeout{3000}; // extra threads exit after
    // Threads run under SCHED_BATCH: woken (by a socket or an actor's
    // reply) they wait for the running thread's time slice instead of
    // preempting it. See run() for why.
    bool batch_scheduling = true;
  };

  struct counts {
    size_t threads = 0; // alive
    size_t idle = 0;    // waiting for a job
    size_t queued = 0;  // jobs no thread has taken yet
    size_t peak = 0;    // most threads alive at once so far
  };

  explicit elastic_task_queue(settings cfg);

  /// Calls shutdown() if it was not called.
  ~elastic_task_queue() override;

  elastic_task_queue(const elastic_task_queue&) = delete;
  elastic_task_queue& operator=(const elastic_task_queue&) = delete;

  /// Never refuses (httplib 0.11's enqueue returns void: a job that never
  /// ran would leak its socket). Jobs run in FIFO order; a thread is added
  /// when queued jobs outnumber idle threads and fewer than max_threads run.
  void enqueue(std::function<void()> fn) override;

  /// Runs every job already queued, then ends and joins all threads.
  void shutdown() override;

  counts snapshot() const;

private:
  using thread_list = std::list<std::thread>;

  void spawn_locked();
  void run(thread_list::iterator self);

  const settings cfg_;
  mutable std::mutex mtx_;
  std::condition_variable work_;  // jobs queued or stopping
  std::condition_variable empty_; // threads_ became empty
  std::deque<std::function<void()>> jobs_;
  thread_list threads_;
  // The last thread that left; it joins the one before it, so joining this
  // one joins every thread that ever left.
  std::thread exited_;
  size_t idle_ = 0;
  size_t peak_ = 0;
  bool stopping_ = false;
  bool joined_ = false;
};

} // namespace actorq::http
