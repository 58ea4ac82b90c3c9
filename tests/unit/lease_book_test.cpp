// lease_book: the lease desk's books (leases, deadlines, settled leases,
// workers), driven with explicit times.
#include "actors/lease_book.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

TEST_CASE("lease_book: issue, find by id and by attempt, close with a remembered refusal",
          "[lease_book]") {
  lease_book book;
  auto w = book.touch("w1", {"resize"}, 1000);
  auto& l = book.issue(3, 42, w, 500, 1000);
  auto id = l.id;
  CHECK(l.deadline == 1500);
  lease_book::refusal why;
  REQUIRE(book.find(id, why) != nullptr);
  REQUIRE(book.find(3, 42) != nullptr);
  CHECK(book.find(3, 43) == nullptr);
  CHECK(book.find(2, 42) == nullptr);
  CHECK(book.workers(1000).at(0).leases == 1);

  book.close(id, {409, "conflict", "completed already"}, true);
  CHECK(book.size() == 0);
  CHECK(book.find(id, why) == nullptr);
  CHECK(why.status == 409);
  CHECK(why.code == "conflict");
  CHECK(book.find(3, 42) == nullptr);
  auto ws = book.workers(1000);
  REQUIRE(ws.size() == 1);
  CHECK(ws[0].leases == 0);
  CHECK(ws[0].completed == 1);
  CHECK(ws[0].kinds == std::vector<std::string>{"resize"});

  // Never issued: 404.
  CHECK(book.find(task_id::random(), why) == nullptr);
  CHECK(why.status == 404);
}

TEST_CASE("lease_book: renewals move the deadline, only leases past theirs expire",
          "[lease_book]") {
  lease_book book;
  auto w = book.touch("w", {}, 0);
  auto a = book.issue(0, 1, w, 100, 0).id;
  auto b = book.issue(0, 2, w, 100, 0).id;
  lease_book::refusal why;
  book.renew(*book.find(a, why), 80); // a now ends at 180
  auto gone = book.expired(120);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].id == b);
  CHECK(book.expired(120).empty()); // reported once
  CHECK(book.size() == 2);           // and still in the book until closed
  book.close(b, {409, "conflict", "expired"}, false);
  CHECK(book.expired(179).empty());
  auto later = book.expired(180);
  REQUIRE(later.size() == 1);
  CHECK(later[0].id == a);
  book.close(a, {409, "conflict", "expired"}, false);
  CHECK(book.workers(180).at(0).failed == 2);
  CHECK(book.expired(10'000).empty());
}

TEST_CASE("lease_book: settled leases are forgotten after remember_ms, idle workers after a minute",
          "[lease_book]") {
  lease_book book;
  auto w = book.touch("w", {"k"}, 0);
  auto id = book.issue(0, 1, w, 100, 0).id;
  book.close(id, {409, "conflict", "done"}, true);
  lease_book::refusal why;
  book.trim(lease_book::remember_ms - 1);
  book.find(id, why);
  CHECK(why.status == 409);
  book.trim(lease_book::remember_ms + 1);
  book.find(id, why);
  CHECK(why.status == 404);
  CHECK(book.workers(lease_book::remember_ms + 1).empty()); // not seen for > 1 min
  // Its entry is reused by the next new name.
  book.touch("v", {}, lease_book::remember_ms + 2);
  auto ws = book.workers(lease_book::remember_ms + 2);
  REQUIRE(ws.size() == 1);
  CHECK(ws[0].name == "v");
  CHECK(ws[0].completed == 0);
}

TEST_CASE("lease_book: a worker holding leases stays listed, worker names are bounded",
          "[lease_book]") {
  lease_book book;
  auto w = book.touch("holder", {}, 0);
  book.issue(0, 1, w, 10'000'000, 0);
  book.trim(lease_book::worker_seen_ms * 10);
  CHECK(book.workers(lease_book::worker_seen_ms * 10).size() == 1);
  for (size_t i = 0; i < lease_book::max_workers + 10; ++i)
    book.touch("w" + std::to_string(i), {}, 1);
  auto ws = book.workers(1);
  CHECK(ws.size() <= lease_book::max_workers + 1);
  CHECK(std::any_of(ws.begin(), ws.end(), [](auto& x) { return x.name == "(more workers)"; }));
}
