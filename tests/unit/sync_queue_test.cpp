// sync_queue: pairs the store's early answers with the WAL syncer's reports,
// whichever comes first, and releases batches in the order written.
#include "actors/sync_queue.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace actorq;

namespace {

/// A written batch holding task `seq`, on disk once synced up to `ticket`
/// (0: settled already, failed if `error` is set).
store_batch written(uint64_t seq, uint64_t ticket, std::string error = {}) {
  store_batch b;
  b.rows.push_back({seq, true, {}, {}});
  b.early = true;
  b.ticket = ticket;
  b.error = std::move(error);
  return b;
}

/// The settled batches' tasks and errors, in the order released.
std::vector<std::pair<uint64_t, std::string>> take(sync_queue& q) {
  std::vector<std::pair<uint64_t, std::string>> out;
  for (auto& b : q.take_settled())
    out.emplace_back(b.rows.front().seq, b.error);
  return out;
}

using released = std::vector<std::pair<uint64_t, std::string>>;

} // namespace

TEST_CASE("sync_queue: a batch is released once a report reaches its ticket",
          "[sync_queue]") {
  sync_queue q;
  q.written(written(1, 1));
  q.written(written(2, 2));
  CHECK(take(q).empty());
  q.synced(1, "");
  CHECK(take(q) == released{{1, ""}});
  CHECK(q.size() == 1);
  q.synced(2, "");
  CHECK(take(q) == released{{2, ""}});
  CHECK(q.size() == 0);
}

TEST_CASE("sync_queue: a report that overtook the store's answers settles "
          "them as they arrive",
          "[sync_queue]") {
  sync_queue q;
  q.written(written(1, 1));
  q.synced(3, ""); // the syncer flushed tickets 2 and 3 before their answers
  CHECK(take(q) == released{{1, ""}});
  q.written(written(2, 2));
  CHECK(take(q) == released{{2, ""}});
  q.written(written(3, 3));
  CHECK(take(q) == released{{3, ""}});
  q.written(written(4, 4)); // past every report: waits
  CHECK(take(q).empty());
  q.synced(4, "");
  CHECK(take(q) == released{{4, ""}});
}

TEST_CASE("sync_queue: batches leave in the order written, a settled one "
          "behind those still waiting",
          "[sync_queue]") {
  sync_queue q;
  q.written(written(1, 1));
  q.written(written(2, 0, "cannot insert")); // failed at once
  q.written(written(3, 2));
  CHECK(take(q).empty());
  q.synced(2, "");
  CHECK(take(q) == released{{1, ""}, {2, "cannot insert"}, {3, ""}});
}

TEST_CASE("sync_queue: a failed flush fails exactly the batches it covers",
          "[sync_queue]") {
  sync_queue q;
  q.written(written(1, 1));
  q.written(written(2, 2));
  q.synced(1, "fdatasync failed");
  q.synced(2, "");
  CHECK(take(q) == released{{1, "fdatasync failed"}, {2, ""}});
  // The same two reports ahead of the answers they cover.
  q.synced(3, "fdatasync failed");
  q.synced(4, "");
  q.written(written(3, 3));
  q.written(written(4, 4));
  CHECK(take(q) == released{{3, "fdatasync failed"}, {4, ""}});
}

TEST_CASE("sync_queue: when the store is gone, every waiting batch fails",
          "[sync_queue]") {
  sync_queue q;
  q.written(written(1, 1));
  q.written(written(2, 2));
  q.fail_all("store gone");
  q.written(written(3, 0, "store gone")); // the batch whose request failed
  CHECK(take(q)
        == released{{1, "store gone"}, {2, "store gone"}, {3, "store gone"}});
}
