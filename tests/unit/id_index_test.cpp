// The store's id index file (actors/id_index): ids findable at once, in the
// file after a flush or a full bulk, removed, and what a reopen finds.
#include "fixture.hpp"

#include "actors/id_index.hpp"
#include "actors/store.hpp" // store_error

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

using namespace actorq;
using namespace std::chrono_literals;

namespace {

struct temp_folder {
  std::string path;
  temp_folder() {
    char tmpl[] = "/tmp/actorq-ids.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~temp_folder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<std::pair<task_id, uint64_t>> tasks(uint64_t from, uint64_t to) {
  std::vector<std::pair<task_id, uint64_t>> out;
  for (auto seq = from; seq <= to; ++seq)
    out.emplace_back(task_id::random(), seq);
  return out;
}

} // namespace

TEST_CASE("id_index: added ids are found at once and after a flush, removed "
          "ones not",
          "[id_index]") {
  temp_folder tmp;
  auto path = tmp.path + "/x-ids";
  auto first = tasks(1, 50);
  {
    id_index ids{path};
    CHECK(ids.indexed_through() == 0);
    ids.add(first);
    CHECK(ids.pending() == 50);
    CHECK(ids.find(first[3].first) == 4);
    ids.flush();
    CHECK(ids.pending() == 0);
    CHECK(ids.find(first[3].first) == 4);
    CHECK(ids.find(first[49].first) == 50);
    CHECK_FALSE(ids.find(task_id::random()));
    ids.remove({first[3].first, first[10].first});
    CHECK_FALSE(ids.find(first[3].first));
    ids.flush();
    CHECK_FALSE(ids.find(first[10].first));
    // Removed while still pending: never written.
    auto more = tasks(51, 52);
    ids.add(more);
    ids.remove({more[0].first});
    CHECK_FALSE(ids.find(more[0].first));
    CHECK(ids.find(more[1].first) == 52);
  } // closing writes what is pending
  id_index again{path};
  CHECK(again.indexed_through() == 52);
  CHECK(again.pending() == 0);
  CHECK(again.find(first[49].first) == 50);
  CHECK_FALSE(again.find(first[3].first));
}

TEST_CASE("id_index: a full bulk is written without a flush", "[id_index]") {
  temp_folder tmp;
  id_index ids{tmp.path + "/x-ids", 8};
  ids.add(tasks(1, 7));
  std::this_thread::sleep_for(50ms);
  CHECK(ids.pending() == 7); // waits for a bulk (or max_delay)
  ids.add(tasks(8, 9));
  for (int i = 0; i < 200 && ids.pending() > 0; ++i)
    std::this_thread::sleep_for(5ms);
  CHECK(ids.pending() == 0);
}

TEST_CASE("id_index: a file of another version is started afresh, another "
          "program's file is refused and kept",
          "[id_index]") {
  temp_folder tmp;
  auto path = tmp.path + "/x-ids";
  {
    id_index ids{path};
    ids.add(tasks(1, 3));
  }
  auto run = [&](const char* sql) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  };
  run("PRAGMA user_version = 99");
  {
    id_index ids{path};
    CHECK(ids.indexed_through() == 0);
  }
  run("PRAGMA application_id = 7");
  CHECK_THROWS_AS(id_index{path}, store_error);
  // Another program's database without an application id: refused, kept.
  std::filesystem::remove(path);
  run("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')");
  CHECK_THROWS_AS(id_index{path}, store_error);
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "SELECT text FROM notes", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  std::filesystem::remove(path);
  { std::ofstream{path} << "not a database, but some text that is long enough"; }
  CHECK_THROWS_AS(id_index{path}, store_error);
}

TEST_CASE("id_index: add waits while too many ids are pending, so memory "
          "stays bounded",
          "[id_index]") {
  temp_folder tmp;
  id_index ids{tmp.path + "/x-ids", 4}; // waits at 32 pending
  std::vector<std::pair<task_id, uint64_t>> all;
  size_t most = 0;
  for (uint64_t seq = 1; seq <= 2000; seq += 10) {
    auto some = tasks(seq, seq + 9);
    ids.add(some);
    most = std::max(most, ids.pending());
    all.insert(all.end(), some.begin(), some.end());
  }
  CHECK(most <= 32 + 10);
  for (auto& [id, seq] : all)
    CHECK(ids.find(id) == seq);
}
