// task_index: the registry's id → seq table (open addressing, backward-shift
// deletion, growth).
#include "actors/task_index.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

using namespace actorq;

namespace {

constexpr uint64_t golden = 0x9E3779B97F4A7C15ull; // as in task_id_hash

/// An id whose task_id_hash is exactly `hash`; `n` tells ids apart.
task_id id_with_hash(uint64_t hash, uint64_t n) {
  task_id id;
  id.lo = n;
  id.hi = hash ^ (n * golden);
  return id;
}

/// Seqs and their ids, as the registry's records would hold them.
struct tasks {
  std::unordered_map<uint64_t, task_id> by_seq;
  task_index index;
  uint64_t next = 0;

  auto id_of() {
    return [this](uint64_t seq) {
      auto i = by_seq.find(seq);
      REQUIRE(i != by_seq.end()); // the index only asks about its own seqs
      return i->second;
    };
  }

  uint64_t add(const task_id& id) {
    auto seq = ++next;
    by_seq[seq] = id;
    index.insert(seq, id, id_of());
    return seq;
  }

  bool remove(uint64_t seq) {
    auto ok = index.erase(seq, by_seq.at(seq), id_of());
    by_seq.erase(seq);
    return ok;
  }

  uint64_t find(const task_id& id) {
    return index.find(id, id_of());
  }

  /// Every live seq is found under its id, and the count matches.
  void check_all() {
    CHECK(index.size() == by_seq.size());
    for (auto& [seq, id] : by_seq)
      REQUIRE(find(id) == seq);
  }
};

} // namespace

TEST_CASE("task_index: an empty index finds nothing and erases nothing",
          "[task_index]") {
  tasks t;
  CHECK(t.index.size() == 0);
  CHECK(t.index.capacity() == 0);
  CHECK(t.find(task_id{1, 2}) == 0);
  CHECK_FALSE(t.index.erase(1, task_id{1, 2}, t.id_of()));
}

TEST_CASE("task_index: insert, lookup and erase many", "[task_index]") {
  tasks t;
  std::vector<std::pair<uint64_t, task_id>> all;
  for (int i = 0; i < 20000; ++i) {
    auto id = task_id::random();
    all.emplace_back(t.add(id), id);
  }
  t.check_all();
  CHECK(t.find(task_id::random()) == 0);
  // At most half full, a power of two.
  CHECK(2 * t.index.size() <= t.index.capacity());
  CHECK((t.index.capacity() & (t.index.capacity() - 1)) == 0);
  // Erase every other one, in a shuffled order.
  std::mt19937_64 rng{42};
  std::shuffle(all.begin(), all.end(), rng);
  for (size_t i = 0; i < all.size(); i += 2)
    CHECK(t.remove(all[i].first));
  t.check_all();
  for (size_t i = 0; i < all.size(); i += 2)
    CHECK(t.find(all[i].second) == 0);
  // Erase the rest.
  for (size_t i = 1; i < all.size(); i += 2)
    CHECK(t.remove(all[i].first));
  CHECK(t.index.size() == 0);
  for (auto& [seq, id] : all)
    CHECK(t.find(id) == 0);
}

TEST_CASE("task_index: erase of an absent seq or id changes nothing",
          "[task_index]") {
  tasks t;
  auto a = task_id::random();
  auto b = id_with_hash(task_id_hash{}(a), 7); // same home as `a`
  auto sa = t.add(a);
  auto sb = t.add(b);
  // Never indexed: another id, an id with the same home, a wrong seq.
  CHECK_FALSE(t.index.erase(99, task_id::random(), t.id_of()));
  CHECK_FALSE(t.index.erase(99, id_with_hash(task_id_hash{}(a), 8), t.id_of()));
  CHECK_FALSE(t.index.erase(99, a, t.id_of()));
  CHECK_FALSE(t.index.erase(0, a, t.id_of()));
  CHECK(t.index.size() == 2);
  CHECK(t.find(a) == sa);
  CHECK(t.find(b) == sb);
  // Erased twice: the second time is absent.
  CHECK(t.index.erase(sa, a, t.id_of()));
  CHECK_FALSE(t.index.erase(sa, a, t.id_of()));
  t.by_seq.erase(sa);
  t.check_all();
}

TEST_CASE("task_index: backward shift keeps colliding ids reachable",
          "[task_index]") {
  auto erase_orders = [](size_t n) {
    std::vector<std::vector<size_t>> orders;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i)
      order[i] = i;
    orders.push_back(order); // first to last
    std::reverse(order.begin(), order.end());
    orders.push_back(order); // last to first
    std::mt19937_64 rng{7};
    for (int k = 0; k < 20; ++k) {
      std::shuffle(order.begin(), order.end(), rng);
      orders.push_back(order);
    }
    return orders;
  };

  SECTION("one probe run of equal hashes") {
    for (auto& order : erase_orders(40)) {
      tasks t;
      std::vector<uint64_t> seqs;
      for (uint64_t n = 0; n < 40; ++n)
        seqs.push_back(t.add(id_with_hash(100, n)));
      t.check_all();
      for (auto i : order) {
        REQUIRE(t.remove(seqs[i]));
        t.check_all();
      }
      CHECK(t.index.size() == 0);
    }
  }

  SECTION("interleaved runs of neighbouring homes") {
    // Homes 100, 101, 102 inserted round-robin: entries sit after their home
    // and after other homes' entries, so a shift must not move an entry
    // before its home.
    for (auto& order : erase_orders(45)) {
      tasks t;
      std::vector<uint64_t> seqs;
      for (uint64_t n = 0; n < 45; ++n)
        seqs.push_back(t.add(id_with_hash(100 + n % 3, n)));
      t.check_all();
      for (auto i : order) {
        REQUIRE(t.remove(seqs[i]));
        t.check_all();
      }
    }
  }

  SECTION("a probe run that wraps around the end of the table") {
    // The table has min_capacity slots: homes at the last slots wrap to 0.
    auto last = task_index::min_capacity - 1;
    for (auto& order : erase_orders(30)) {
      tasks t;
      std::vector<uint64_t> seqs;
      for (uint64_t n = 0; n < 30; ++n)
        seqs.push_back(t.add(id_with_hash(last - n % 4, n)));
      // Also ids whose home is slot 0 or 1, behind the wrapped entries.
      std::vector<uint64_t> low;
      for (uint64_t n = 100; n < 110; ++n)
        low.push_back(t.add(id_with_hash(n % 2, n)));
      REQUIRE(t.index.capacity() == task_index::min_capacity);
      t.check_all();
      for (auto i : order) {
        REQUIRE(t.remove(seqs[i]));
        t.check_all();
      }
      for (auto seq : low)
        REQUIRE(t.remove(seq));
      CHECK(t.index.size() == 0);
    }
  }
}

TEST_CASE("task_index: grows before it is more than half full",
          "[task_index]") {
  tasks t;
  auto home = uint64_t{5};
  // The first insert allocates min_capacity slots.
  t.add(id_with_hash(home, 0));
  CHECK(t.index.capacity() == task_index::min_capacity);
  // Up to half full, no growth; colliding ids included.
  while (t.index.size() < task_index::min_capacity / 2)
    t.add(t.index.size() % 2 == 0 ? id_with_hash(home, t.next)
                                  : task_id::random());
  CHECK(t.index.capacity() == task_index::min_capacity);
  t.check_all();
  // One more: grows so that it is at most a quarter full.
  t.add(id_with_hash(home, t.next));
  CHECK(t.index.capacity() == 4 * task_index::min_capacity);
  CHECK(4 * t.index.size() <= t.index.capacity());
  t.check_all();
  // Erasing does not shrink; the ids re-inserted on growth still erase.
  auto seqs = std::vector<uint64_t>{};
  for (auto& [seq, id] : t.by_seq)
    seqs.push_back(seq);
  for (auto seq : seqs)
    REQUIRE(t.remove(seq));
  CHECK(t.index.size() == 0);
  CHECK(t.index.capacity() == 4 * task_index::min_capacity);
  // Growing again from many inserts.
  for (int i = 0; i < 5000; ++i)
    t.add(task_id::random());
  CHECK(2 * t.index.size() <= t.index.capacity());
  t.check_all();
}
