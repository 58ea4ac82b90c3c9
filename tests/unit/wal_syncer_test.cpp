// wal_syncer: the store's fdatasync on a thread of its own.
#include "actors/wal_syncer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

using namespace actorq;

namespace {

/// What the syncer reported, for a test to wait on.
struct reports {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<uint64_t, std::string>> seen;

  wal_syncer::callback callback() {
    return [this](uint64_t ticket, std::string error) {
      std::lock_guard<std::mutex> guard{mutex};
      seen.emplace_back(ticket, std::move(error));
      changed.notify_all();
    };
  }

  /// Waits until `ticket` was reported; false after 10 s.
  bool wait_for(uint64_t ticket) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, std::chrono::seconds{10}, [&] {
      return !seen.empty() && seen.back().first >= ticket;
    });
  }
};

} // namespace

TEST_CASE("wal_syncer: flushes reach every ticket, rising, and one flush "
          "may cover several",
          "[store][wal_syncer]") {
  char path[] = "/tmp/actorq-syncer.XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  reports r;
  {
    wal_syncer syncer{r.callback()};
    for (uint64_t t = 1; t <= 20; ++t) {
      REQUIRE(::write(fd, "x", 1) == 1);
      syncer.request(fd, t);
    }
    REQUIRE(r.wait_for(20));
    std::lock_guard<std::mutex> guard{r.mutex};
    REQUIRE(!r.seen.empty());
    CHECK(r.seen.size() <= 20);
    for (size_t i = 0; i < r.seen.size(); ++i) {
      CHECK(r.seen[i].second.empty());
      if (i > 0)
        CHECK(r.seen[i].first > r.seen[i - 1].first);
    }
    CHECK(r.seen.back().first == 20);
  }
  ::close(fd);
  ::unlink(path);
}

TEST_CASE("wal_syncer: a failed fdatasync is reported with its ticket",
          "[store][wal_syncer]") {
  reports r;
  wal_syncer syncer{r.callback()};
  syncer.request(-1, 7); // not a file: fdatasync fails (EBADF)
  REQUIRE(r.wait_for(7));
  std::lock_guard<std::mutex> guard{r.mutex};
  CHECK(r.seen.back().first == 7);
  CHECK(r.seen.back().second.find("fdatasync") != std::string::npos);
}
