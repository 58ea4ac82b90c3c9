// result_arena: the registry's appended result texts (append, view, release,
// compaction).
#include "actors/result_arena.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace actorq;

namespace {

std::string text_of(size_t i, size_t size) {
  auto prefix = "{\"n\":" + std::to_string(i) + ",\"pad\":\"";
  std::string out = prefix;
  out.append(size > prefix.size() + 2 ? size - prefix.size() - 2 : 0,
             static_cast<char>('a' + i % 26));
  return out + "\"}";
}

} // namespace

TEST_CASE("result_arena: append and view", "[result_arena]") {
  result_arena arena;
  CHECK(arena.size() == 0);
  CHECK(arena.live_bytes() == 0);
  auto a = arena.append(R"({"result":2})");
  auto b = arena.append(R"({"result":4})");
  auto c = arena.append("null");
  CHECK(a.offset == 0);
  CHECK(a.size == 12);
  CHECK(b.offset == 12);
  CHECK(c.offset == 24);
  CHECK(arena.view(a) == R"({"result":2})");
  CHECK(arena.view(b) == R"({"result":4})");
  CHECK(arena.view(c) == "null");
  CHECK(arena.size() == 28);
  CHECK(arena.live_bytes() == 28);
  // An empty text makes an empty entry (the registry's "no result").
  auto e = arena.append("");
  CHECK(e.empty());
  CHECK(arena.view(e).empty());
  CHECK(arena.view(result_arena::entry{}).empty());
}

TEST_CASE("result_arena: release", "[result_arena]") {
  result_arena arena;
  auto a = arena.append("aaaa");
  auto b = arena.append("bbbbbb");
  arena.release(a);
  CHECK(a.empty());
  CHECK(arena.live_bytes() == 6);
  CHECK(arena.size() == 10); // the bytes stay until a compaction
  CHECK(arena.view(b) == "bbbbbb");
  // Releasing an empty entry does nothing.
  arena.release(a);
  result_arena::entry none;
  arena.release(none);
  CHECK(arena.live_bytes() == 6);
  // Replacing a text: release, then append (as the registry's set_result).
  arena.release(b);
  b = arena.append("cc");
  CHECK(arena.view(b) == "cc");
  CHECK(arena.live_bytes() == 2);
  CHECK(arena.size() == 12);
}

TEST_CASE("result_arena: compaction is only wanted past 1 MiB with less "
          "than half live",
          "[result_arena]") {
  result_arena arena;
  std::vector<result_arena::entry> entries;
  // Everything dead but below the threshold: not worth it.
  for (size_t i = 0; i < 100; ++i)
    entries.push_back(arena.append(text_of(i, 1000)));
  for (auto& e : entries)
    arena.release(e);
  CHECK_FALSE(arena.wants_compaction());
  // Past 1 MiB, all live: no.
  entries.clear();
  while (arena.size() < result_arena::min_compaction_bytes)
    entries.push_back(arena.append(text_of(entries.size(), 1000)));
  CHECK_FALSE(arena.wants_compaction());
  // Release until less than half is live: yes.
  for (auto& e : entries) {
    if (arena.wants_compaction())
      break;
    arena.release(e);
  }
  CHECK(arena.wants_compaction());
  CHECK(2 * arena.live_bytes() <= arena.size());
}

TEST_CASE("result_arena: compaction keeps live texts and drops dead ones",
          "[result_arena]") {
  result_arena arena;
  std::vector<result_arena::entry> entries;
  std::vector<std::string> texts;
  for (size_t i = 0; i < 3000; ++i) {
    texts.push_back(text_of(i, 100 + i % 900));
    entries.push_back(arena.append(texts.back()));
  }
  // Two thirds die; one of the live ones is replaced by a newer text.
  size_t live = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i % 3 != 0)
      arena.release(entries[i]);
    else
      live += texts[i].size();
  }
  arena.release(entries[3]);
  live -= texts[3].size();
  texts[3] = "{\"replaced\":true}";
  entries[3] = arena.append(texts[3]);
  live += texts[3].size();
  REQUIRE(arena.live_bytes() == live);
  REQUIRE(arena.wants_compaction());
  auto before = arena.size();

  // The owner passes every entry; released (empty) ones are skipped.
  size_t passed = 0;
  arena.compact([&](result_arena::keep_fn keep) {
    for (auto& e : entries) {
      keep(e);
      ++passed;
    }
  });
  CHECK(passed == entries.size());
  CHECK(arena.size() == live); // nothing dead is left
  CHECK(arena.size() < before);
  CHECK(arena.live_bytes() == live);
  CHECK_FALSE(arena.wants_compaction());
  uint64_t offset = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i % 3 != 0) {
      CHECK(entries[i].empty());
      continue;
    }
    // Live texts are intact, packed in the order they were kept.
    CHECK(entries[i].offset == offset);
    CHECK(arena.view(entries[i]) == texts[i]);
    offset += entries[i].size;
  }

  // Appending after a compaction goes on behind the live texts.
  auto more = arena.append("tail");
  CHECK(more.offset == live);
  CHECK(arena.view(more) == "tail");
  CHECK(arena.view(entries[0]) == texts[0]);

  // A compaction with nothing live empties the buffer.
  for (auto& e : entries)
    arena.release(e);
  arena.release(more);
  arena.compact([](result_arena::keep_fn) {});
  CHECK(arena.size() == 0);
  CHECK(arena.live_bytes() == 0);
}
