// Store migrations: a store written by the build before config kinds (schema
// version 1, checked in as tests/fixtures/store-v1.sql) is migrated in place
// at start, after a copy to <store>.bak-v1, and every task reads back as it
// was; a store of a newer version is refused untouched.
#include "server.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>

using namespace itest;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// Runs SQL on a (new) database file.
void run_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  auto rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

/// One integer a query returns.
int64_t query_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr)
          == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  auto v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/// A version-1 store made from the fixture.
std::string v1_store() {
  auto path = fresh_store_path();
  run_sql(path, slurp(source_dir() + "/tests/fixtures/store-v1.sql"));
  REQUIRE(query_int(path, "PRAGMA user_version") == 1);
  return path;
}

const std::string echo_id = "e3ddd145-84ae-4bea-931a-6846c130259a";
const std::string flaky_id = "c79d272a-21c4-4e72-9706-91679fa141b9";
const std::string cancelled_id = "2f6f0d33-cdc4-4155-a3ae-55efaebfb9c2";
const std::string running_id = "247d4e46-64d6-44e3-86cd-56e144ec1456";
const std::string seed_id = "2515ee16-57fd-4aab-8c5c-f81849b7455c";

} // namespace

TEST_CASE("migration: a version-1 store is migrated in place and reads back",
          "[migration]") {
  auto path = v1_store();
  {
    // result-ttl 0: the fixture's tasks ended long before this test runs.
    Server srv({"--store.path=" + path, "--store.result-ttl=0",
                "--seed.delay-scale=0.05"});
    CHECK(srv.wait_output("migrated store " + path
                          + " from schema version 1 to 7"));
    // The copy is the old store, byte for byte in content.
    auto backup = path + ".bak-v1";
    REQUIRE(std::filesystem::exists(backup));
    CHECK(query_int(backup, "PRAGMA user_version") == 1);
    CHECK(query_int(backup, "SELECT count(*) FROM tasks") == 5);
    CHECK(query_int(backup, "PRAGMA application_id") == 1633907825);

    auto echo = get_task(srv, echo_id);
    CHECK(echo["status"] == "succeeded");
    CHECK(echo["kind"] == "echo");
    CHECK(echo["result"] == json{{"hello", "world"}});
    CHECK(echo["progress"].is_null());
    CHECK(echo["created_at"] == "2026-11-25T22:23:27.109Z");
    CHECK(echo["priority"] == 5); // schema 4's default for older tasks
    auto flaky = get_task(srv, flaky_id);
    CHECK(flaky["status"] == "failed");
    CHECK(flaky["attempts"] == 2);
    CHECK(flaky["error"] == "injected failure");
    CHECK(get_task(srv, cancelled_id)["status"] == "cancelled");
    // Running when the old actorq was killed: resumed, the lost run counted.
    auto running = get_task(srv, running_id);
    CHECK(running["attempts"].get<int>() >= 2);
    CHECK_FALSE(is_terminal(running["status"].get<std::string>()));
    auto seed = srv.get("/task-status/" + seed_id);
    REQUIRE_STATUS(seed, 200);
    CHECK(seed.j()["status"] == "completed");
    CHECK(seed.j()["result"] == json{{"result", 42}});
    // Its idempotency key still answers with its task.
    auto cli = srv.client();
    auto again = cli.Post("/v1/tasks", {{"Idempotency-Key", "fixture-key-1"}},
                          R"({"kind":"echo","input":{"hello":"world"}})",
                          "application/json");
    REQUIRE(again);
    CHECK(json::parse(again->body)["id"] == echo_id);
    // New work is stored in the new schema.
    auto id = submit(srv, {{"kind", "echo"}, {"input", {{"x", 1}}}});
    CHECK(wait_terminal(srv, id)["status"] == "succeeded");
    CHECK_STATUS(srv.del("/v1/tasks/" + running_id), 202);
    wait_terminal(srv, running_id);
    srv.kill(SIGTERM);
    CHECK(srv.wait_exit(15s).code == 0);
  }
  CHECK(query_int(path, "PRAGMA user_version") == 7);
  // Schema 6: no partial index evaluates an IN list (a temporary b-tree
  // per insert and update), and the live and expiry indexes still exist.
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                        " AND sql LIKE '%IN (%'") == 0);
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                        " ('tasks_live', 'tasks_by_end')") == 2);
  // Schema 7: no UNIQUE index on the random ids; they are in the id index
  // file, built from the store at the first start (and the new task).
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE name LIKE"
                        " 'sqlite_autoindex_tasks%'") == 0);
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                        " ('tasks_by_key', 'tasks_callback_pending')") == 2);
  CHECK(query_int(path + "-ids", "SELECT count(*) FROM ids") == 6);
  CHECK(query_int(path + "-ids", "SELECT through FROM watermark")
        == query_int(path, "SELECT max(seq) FROM tasks"));
  // Schema 3: operator actions (a retried task's cycle, paused pools).
  CHECK(query_int(path, "SELECT count(*) FROM paused_pools") == 0);
  CHECK(query_int(path, "SELECT max(cycle_start) FROM tasks") == 0);
  CHECK(query_int(path, "SELECT count(*) FROM tasks") == 6);
  // Schema 4: task priorities, the default for the tasks before it.
  CHECK(query_int(path, "SELECT count(*) FROM tasks WHERE priority = 5") == 6);
  // Schema 5: nothing delayed, chained or called back; the live index names
  // the non-terminal statuses.
  CHECK(query_int(path, "SELECT count(*) FROM tasks WHERE run_at = 0 AND after IS NULL AND callback_status = 0") == 6);
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'tasks_callback_pending'") == 1);
  // A second start finds nothing to migrate.
  Server again({"--store.path=" + path, "--store.result-ttl=0"});
  CHECK(get_task(again, echo_id)["result"] == json{{"hello", "world"}});
  CHECK(again.output().find("migrated") == std::string::npos);
}

TEST_CASE("migration: a store of a newer version is refused untouched",
          "[migration]") {
  auto path = v1_store();
  run_sql(path, "PRAGMA user_version = 99;");
  auto before = slurp(path);
  auto fs = start_expect_failure({"--store.path=" + path});
  CHECK_FALSE(fs.started);
  CHECK(fs.status.exited);
  CHECK(fs.status.code == 1);
  CHECK(fs.output.find("schema version 99") != std::string::npos);
  CHECK(fs.output.find("newer actorq") != std::string::npos);
  CHECK(slurp(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + ".bak-v99"));
}
