#include "actors/wal_syncer.hpp"

#include <cerrno>
#include <pthread.h>
#include <cstring>
#include <unistd.h>

namespace actorq {

namespace {

/// fdatasync, retried when a signal interrupts it: "" or why it failed.
std::string flush(int fd) {
  int rc;
  do
    rc = ::fdatasync(fd);
  while (rc != 0 && errno == EINTR);
  return rc == 0 ? std::string{}
                 : std::string{"fdatasync of the WAL failed: "}
                     + std::strerror(errno);
}

} // namespace

wal_syncer::wal_syncer(callback synced) : synced_(std::move(synced)) {
  thread_ = std::thread{[this] {
    pthread_setname_np(pthread_self(), "actorq.walsync"); // for top and perf
    run();
  }};
}

wal_syncer::~wal_syncer() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void wal_syncer::request(int fd, uint64_t ticket) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    fd_ = fd;
    requested_ = ticket;
  }
  wake_.notify_one();
}

void wal_syncer::run() {
  std::unique_lock<std::mutex> lock{mutex_};
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || requested_ > done_; });
    if (requested_ <= done_)
      return; // stopping, nothing left to flush
    auto ticket = requested_;
    auto fd = fd_;
    auto stopping = stop_;
    lock.unlock();
    auto error = flush(fd);
    if (!stopping)
      synced_(ticket, std::move(error));
    lock.lock();
    done_ = ticket;
  }
}

} // namespace actorq
