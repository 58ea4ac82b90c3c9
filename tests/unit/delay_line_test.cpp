// The results a pool holds for their simulated delay: due ones come out
// earliest first, removed ones never, and the earliest due time is known
// (time passed in).
#include "actors/delay_line.hpp"

#include <catch2/catch.hpp>

using namespace actorq;

namespace {

delay_line::time_point at(std::chrono::milliseconds ms) {
  return delay_line::time_point{} + ms;
}

attempt_done done(uint64_t seq) {
  return attempt_done{7, seq, outcome{true, {}, {}}};
}

std::vector<uint64_t> seqs(const std::vector<attempt_done>& xs) {
  std::vector<uint64_t> out;
  for (auto& x : xs)
    out.push_back(x.seq);
  return out;
}

} // namespace

TEST_CASE("held results come out when due, earliest first", "[delay_line]") {
  using namespace std::chrono_literals;
  delay_line line;
  CHECK_FALSE(line.next());
  line.push(at(300ms), done(3));
  line.push(at(100ms), done(1));
  line.push(at(200ms), done(2));
  line.push(at(100ms), done(4));
  CHECK(line.size() == 4);
  REQUIRE(line.next());
  CHECK(*line.next() == at(100ms));
  CHECK(line.pop_due(at(99ms)).empty());
  CHECK(seqs(line.pop_due(at(100ms))) == std::vector<uint64_t>{1, 4});
  CHECK(*line.next() == at(200ms));
  auto late = line.pop_due(at(1000ms));
  CHECK(seqs(late) == std::vector<uint64_t>{2, 3});
  CHECK(late[0].slot == 7);
  CHECK(late[0].result.ok);
  CHECK(line.size() == 0);
  CHECK_FALSE(line.next());
}

TEST_CASE("a removed result never comes out", "[delay_line]") {
  using namespace std::chrono_literals;
  delay_line line;
  line.push(at(100ms), done(1));
  line.push(at(200ms), done(2));
  CHECK(line.remove(1));
  CHECK_FALSE(line.remove(1));
  CHECK_FALSE(line.remove(9));
  CHECK(line.size() == 1);
  // The earliest is now the one left.
  CHECK(*line.next() == at(200ms));
  CHECK(seqs(line.pop_due(at(1000ms))) == std::vector<uint64_t>{2});
  CHECK(line.remove(2) == false);
  CHECK_FALSE(line.next());
}
