// dependency_index: which waiting task waits for which (chains, fan-in).
#include "actors/dependency_index.hpp"

#include <catch2/catch.hpp>

using namespace actorq;
using verdict = dependency_index::verdict;

namespace {

task_id id_of(uint64_t n) {
  task_id id;
  id.hi = 1;
  id.lo = n;
  return id;
}

} // namespace

TEST_CASE("dependency_index: a chain link is ready once its task ended",
          "[dependency_index]") {
  dependency_index deps;
  CHECK(deps.empty());
  deps.add(2, {id_of(1)}, after_policy::succeeded, true);
  deps.await(2, 0, 1);
  CHECK(deps.awaited(1));
  CHECK(deps.judge(2) == verdict::pending);
  CHECK(deps.ended(7, task_status::succeeded, "1").empty()); // not awaited
  auto decided = deps.ended(1, task_status::succeeded, "{\"x\":1}");
  REQUIRE(decided.size() == 1);
  CHECK(decided[0] == std::make_pair(uint64_t{2}, verdict::ready));
  CHECK_FALSE(deps.awaited(1));
  auto e = deps.take(2);
  CHECK(deps.empty());
  auto results = after_results(e);
  REQUIRE(results.size() == 1);
  CHECK(results[0]["id"] == id_of(1).to_string());
  CHECK(results[0]["status"] == "succeeded");
  CHECK(results[0]["result"]["x"] == 1);
}

TEST_CASE("dependency_index: fan-in under policy succeeded breaks at the "
          "first member that fails",
          "[dependency_index]") {
  dependency_index deps;
  deps.add(10, {id_of(1), id_of(2), id_of(3)}, after_policy::succeeded, false);
  for (uint64_t awaited = 1; awaited <= 3; ++awaited)
    deps.await(10, awaited - 1, awaited);
  CHECK(deps.ended(1, task_status::succeeded, "1").empty());
  auto decided = deps.ended(2, task_status::failed, "");
  REQUIRE(decided.size() == 1);
  CHECK(decided[0].second == verdict::broken);
  auto e = deps.take(10);
  auto bad = first_unsuccessful(e);
  REQUIRE(bad != nullptr);
  CHECK(after_error(*bad) == "after: task " + id_of(2).to_string() + " failed");
  CHECK(e.slots[0].result.empty()); // results kept with pass_results only
  // Taken: its remaining link (to 3) is gone too.
  CHECK_FALSE(deps.awaited(3));
  CHECK(deps.ended(3, task_status::succeeded, "1").empty());
}

TEST_CASE("dependency_index: fan-in under policy ended runs with every "
          "outcome, in the order of after",
          "[dependency_index]") {
  dependency_index deps;
  deps.add(10, {id_of(3), id_of(1), id_of(2)}, after_policy::ended, true);
  // Task 3 ended before the dependent was made: settled at once.
  CHECK(deps.settle(10, 0, task_status::cancelled, "") == verdict::pending);
  deps.await(10, 1, 1);
  deps.await(10, 2, 2);
  CHECK(deps.ended(2, task_status::failed, "").empty());
  auto decided = deps.ended(1, task_status::succeeded, "42");
  REQUIRE(decided.size() == 1);
  CHECK(decided[0].second == verdict::ready);
  auto results = after_results(deps.take(10));
  REQUIRE(results.size() == 3);
  CHECK(results[0]["status"] == "cancelled");
  CHECK(results[0]["result"].is_null());
  CHECK(results[1]["status"] == "succeeded");
  CHECK(results[1]["result"] == 42);
  CHECK(results[2]["status"] == "failed");
}

TEST_CASE("dependency_index: one task awaited by many, and twice by one",
          "[dependency_index]") {
  dependency_index deps;
  deps.add(5, {id_of(1), id_of(1)}, after_policy::succeeded, false);
  deps.await(5, 0, 1);
  deps.await(5, 1, 1);
  deps.add(6, {id_of(1), id_of(4)}, after_policy::succeeded, false);
  deps.await(6, 0, 1);
  deps.await(6, 1, 4);
  CHECK(deps.size() == 2);
  auto decided = deps.ended(1, task_status::succeeded, "1");
  REQUIRE(decided.size() == 1); // 5 once; 6 still waits for 4
  CHECK(decided[0] == std::make_pair(uint64_t{5}, verdict::ready));
  deps.take(5);
  // Cancelling 6 while it waits unlinks it from 4.
  deps.take(6);
  CHECK(deps.empty());
  CHECK_FALSE(deps.awaited(4));
}

TEST_CASE("dependency_index: a lost outcome counts as ended, not succeeded",
          "[dependency_index]") {
  dependency_index deps;
  deps.add(3, {id_of(1)}, after_policy::succeeded, true);
  CHECK(deps.settle(3, 0, task_status::succeeded, "", true) == verdict::broken);
  auto e = deps.take(3);
  CHECK(after_error(*first_unsuccessful(e)).find("expired") != std::string::npos);
  deps.add(4, {id_of(1)}, after_policy::ended, true);
  CHECK(deps.settle(4, 0, task_status::succeeded, "", true) == verdict::ready);
  CHECK(after_results(deps.take(4))[0]["status"] == "expired");
}
