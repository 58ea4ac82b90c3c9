// Kinds: lookup, input validation, check_task, runs; task ids and statuses.
#include "actors/actors.hpp"
#include "actors/catalog.hpp"
#include "actors/config.hpp"
#include "actors/kinds.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace actorq;

namespace {

/// The built-in catalog: pools io, cpu (dedicated), limited, heavy.
const catalog& test_pools() {
  static catalog c;
  return c;
}

task_spec spec(std::string kind, json input, std::string pool = "io") {
  task_spec s;
  s.kind = std::move(kind);
  s.input.value = std::move(input);
  s.pool = std::move(pool);
  s.max_retries = 0;
  return s;
}

std::string check(std::string kind, json input, std::string pool = "io") {
  auto s = spec(std::move(kind), std::move(input), std::move(pool));
  return check_task(s, test_pools());
}

json run(std::string_view kind, json input, int32_t attempt = 1) {
  auto k = find_kind(kind);
  REQUIRE(k != nullptr);
  auto r = k->run(input, attempt);
  REQUIRE(r.result.ok);
  return r.result.result.value;
}

/// Plain sieve of Eratosthenes, as the reference for count_primes.
int64_t reference_primes_below(int64_t n) {
  if (n <= 2)
    return 0;
  std::vector<bool> composite(n, false);
  int64_t count = 0;
  for (int64_t i = 2; i < n; ++i) {
    if (composite[i])
      continue;
    ++count;
    for (int64_t j = i * i; j < n; j += i)
      composite[j] = true;
  }
  return count;
}

} // namespace

TEST_CASE("find_kind knows every documented kind", "[kinds]") {
  for (auto name : {"double", "square", "primes", "sleep", "echo", "flaky",
                    "crash", "process"}) {
    auto k = find_kind(name);
    REQUIRE(k != nullptr);
    CHECK(k->name == name);
  }
  CHECK(find_kind("nope") == nullptr);
  CHECK(find_kind("") == nullptr);
  CHECK(find_kind("Double") == nullptr);
  CHECK(find_kind("square")->cpu_bound);
  CHECK(find_kind("primes")->cpu_bound);
  CHECK_FALSE(find_kind("sleep")->cpu_bound);
  CHECK(find_kind("square")->pool == "cpu");
  CHECK(find_kind("double")->pool == "io");
  CHECK(find_kind("process")->pool == "limited");
  std::set<std::string_view> names;
  for (auto& k : all_kinds())
    names.insert(k.name);
  CHECK(names.size() == all_kinds().size());
}

TEST_CASE("check_task accepts valid specs", "[kinds]") {
  CHECK(check("double", {{"value", 21}}) == "");
  CHECK(check("double", {{"value", -5}, {"delay_ms", 10}, {"fail_times", 2}})
        == "");
  CHECK(check("sleep", {{"ms", 0}}) == "");
  CHECK(check("sleep", {{"ms", 3600000}}) == "");
  CHECK(check("echo", {{"anything", {1, 2, 3}}}) == "");
  CHECK(check("echo", json::object()) == "");
  CHECK(check("flaky", {{"fail_times", 0}}) == "");
  CHECK(check("crash", json::object()) == "");
  CHECK(check("process", {{"value", 1}}, "limited") == "");
  CHECK(check("square", {{"value", 3}}, "cpu") == "");
  CHECK(check("primes", {{"below", 100000000}}, "cpu") == "");
}

TEST_CASE("check_task rejects unknown kinds and pools", "[kinds]") {
  auto e = check("nope", json::object());
  CHECK(e.rfind("kind: unknown kind 'nope'", 0) == 0);
  CHECK(e.find("double") != std::string::npos); // lists the known kinds
  auto p = check("echo", json::object(), "gpu");
  CHECK(p == "pool: unknown pool 'gpu' (known: io, cpu, limited, heavy)");
}

TEST_CASE("check_task keeps CPU-bound kinds off shared-thread pools",
          "[kinds]") {
  CHECK(check("square", {{"value", 3}}, "io")
        == "pool: kind 'square' is CPU-bound and cannot run on pool 'io' "
           "(use pool 'cpu')");
  CHECK(check("primes", {{"below", 10}}, "limited").rfind("pool: kind "
                                                          "'primes' is "
                                                          "CPU-bound",
                                                          0)
        == 0);
  // I/O kinds may run anywhere, also on a dedicated pool.
  CHECK(check("sleep", {{"ms", 1}}, "cpu") == "");
}

TEST_CASE("check_task checks retries and times", "[kinds]") {
  auto& pools = test_pools();
  auto s = spec("echo", json::object());
  s.max_retries = 101;
  CHECK(check_task(s, pools)
        == "max_retries must be an integer between 0 and 100");
  s.max_retries = 100;
  CHECK(check_task(s, pools) == "");
  s.backoff_ms = 3600001;
  CHECK(check_task(s, pools).rfind("backoff_ms", 0) == 0);
  s.backoff_ms = 3600000;
  CHECK(check_task(s, pools) == "");
  s.timeout_ms = 86400001;
  CHECK(check_task(s, pools).rfind("timeout_ms", 0) == 0);
  s.timeout_ms = 86400000;
  CHECK(check_task(s, pools) == "");
}

TEST_CASE("input validators name the offending field", "[kinds]") {
  CHECK(check("double", json::array()) == "input must be a JSON object");
  CHECK(check("double", 5) == "input must be a JSON object");
  CHECK(check("double", json::object()) == "input.value is required");
  CHECK(check("double", {{"value", "7"}})
        == "input.value must be a number (an integer between "
           "-4611686018427387903 and 4611686018427387903, or a fraction)");
  // Any number, as the seed's data["value"] * 2 takes (1.5 -> 3.0).
  CHECK(check("double", {{"value", 1.5}}) == "");
  CHECK(check("double", {{"value", 1e301}}).rfind("input.value must be", 0) == 0);
  CHECK(check("square", {{"value", 1e151}}, "cpu").rfind("input.value must be", 0) == 0);
  CHECK(check("double", {{"value", 4611686018427387904LL}})
                .rfind("input.value must be", 0)
        == 0);
  CHECK(check("double", {{"value", 18446744073709551615ULL}})
                .rfind("input.value must be", 0)
        == 0);
  CHECK(check("double", {{"value", 1}, {"delay", 5}})
        == "input.delay is not a known field (expected: value, delay_ms, "
           "fail_times)");
  CHECK(check("double", {{"value", 1}, {"delay_ms", -1}})
        == "input.delay_ms must be an integer between 0 and 3600000");
  CHECK(check("double", {{"value", 1}, {"fail_times", 1001}})
        == "input.fail_times must be an integer between 0 and 1000");
  CHECK(check("sleep", {{"ms", 3600001}})
        == "input.ms must be an integer between 0 and 3600000");
  CHECK(check("sleep", json::object()) == "input.ms is required");
  CHECK(check("flaky", json::object()) == "input.fail_times is required");
  CHECK(check("flaky", {{"fail_times", -1}})
        == "input.fail_times must be an integer between 0 and 1000");
  CHECK(check("crash", {{"x", 1}})
        == "input.x is not a known field (expected: )");
  CHECK(check("echo", json::array()) == "input must be a JSON object");
  CHECK(check("primes", {{"below", 100000001}}, "cpu")
        == "input.below must be an integer between 0 and 100000000");
  CHECK(check("primes", {{"below", -1}}, "cpu").rfind("input.below", 0) == 0);
  CHECK(check("process", {{"value", 1}, {"delay_ms", 3600001}}, "limited")
        == "input.delay_ms must be an integer between 0 and 3600000");
}

TEST_CASE("square rejects values whose square overflows int64", "[kinds]") {
  CHECK(check("square", {{"value", 3037000499LL}}, "cpu") == "");
  CHECK(check("square", {{"value", -3037000499LL}}, "cpu") == "");
  CHECK(check("square", {{"value", 3037000500LL}}, "cpu")
        == "input.value must be an integer between -3037000499 and "
           "3037000499");
  CHECK(check("square", {{"value", -3037000500LL}}, "cpu")
                .rfind("input.value must be", 0)
        == 0);
  CHECK(run("square", {{"value", 3037000499LL}})
        == json{{"result", 9223372030926249001LL}});
  CHECK(run("square", {{"value", -12}}) == json{{"result", 144}});
}

TEST_CASE("primes counts the primes below its bound", "[kinds]") {
  auto count = [](int64_t below) {
    return run("primes", {{"below", below}}).at("count").get<int64_t>();
  };
  CHECK(count(0) == 0);
  CHECK(count(1) == 0);
  CHECK(count(2) == 0);
  CHECK(count(3) == 1);
  CHECK(count(4) == 2);
  CHECK(count(10) == 4);
  CHECK(count(11) == 4); // "below" is exclusive
  CHECK(count(12) == 5);
  CHECK(count(100) == 25);
  CHECK(count(1000) == 168);
  CHECK(count(1000000) == 78498);
  CHECK(count(10000000) == 664579);
  // Around the sieve's segment boundaries (segments of 2 * 32768 numbers
  // starting at 3) and squares of primes.
  for (int64_t n : {65535, 65536, 65537, 65538, 65539, 65540, 65541, 131074,
                    131075, 131076, 196611, 196613, 289, 290, 361, 362, 529,
                    65521 * 1 + 2, 251 * 251, 251 * 251 + 1}) {
    INFO("below " << n);
    CHECK(count(n) == reference_primes_below(n));
  }
  for (int64_t n = 0; n < 2000; ++n) {
    INFO("below " << n);
    REQUIRE(count(n) == reference_primes_below(n));
  }
}

TEST_CASE("the other kinds compute what they document", "[kinds]") {
  CHECK(run("double", {{"value", 21}}) == json{{"result", 42}});
  CHECK(run("double", {{"value", 5}, {"fail_times", 1}}, 2)
        == json{{"result", 10}});
  auto d = find_kind("double")->run({{"value", 5}, {"fail_times", 1},
                                     {"delay_ms", 30}},
                                    1);
  CHECK_FALSE(d.result.ok);
  CHECK(d.result.error == "injected failure");
  CHECK(d.delay_ms == 30);
  auto s = find_kind("sleep")->run({{"ms", 250}}, 1);
  CHECK(s.delay_ms == 250);
  CHECK(s.result.result.value == json{{"slept_ms", 250}});
  CHECK(run("echo", {{"a", {1, 2}}}) == json{{"a", {1, 2}}});
  CHECK(run("flaky", {{"fail_times", 2}}, 3) == json{{"attempt", 3}});
  auto f = find_kind("flaky")->run({{"fail_times", 2}}, 2);
  CHECK_FALSE(f.result.ok);
  CHECK(f.result.error == "injected failure");
  auto p = find_kind("process")->run({{"value", 9}, {"delay_ms", 20}}, 1);
  CHECK(p.result.result.value == json{{"processed", 9}});
  CHECK(p.delay_ms == 20);
  CHECK_THROWS(find_kind("crash")->run(json::object(), 1));
}

TEST_CASE("field_error joins paths", "[kinds]") {
  CHECK(field_error("input", "") == "");
  CHECK(field_error("input", "must be a JSON object")
        == "input must be a JSON object");
  CHECK(field_error("input", "value is required") == "input.value is required");
}

TEST_CASE("task ids round-trip through text", "[task_id]") {
  for (int i = 0; i < 1000; ++i) {
    auto id = task_id::random();
    auto text = id.to_string();
    REQUIRE(text.size() == 36);
    CHECK(text[8] == '-');
    CHECK(text[13] == '-');
    CHECK(text[18] == '-');
    CHECK(text[23] == '-');
    CHECK(text[14] == '4'); // version 4
    CHECK(std::string{"89ab"}.find(text[19]) != std::string::npos); // variant
    auto back = task_id::parse(text);
    REQUIRE(back);
    CHECK(*back == id);
  }
  auto id = task_id::parse("0123abcd-4567-89ef-0123-456789abcdef");
  REQUIRE(id);
  CHECK(id->hi == 0x0123abcd456789efull);
  CHECK(id->lo == 0x0123456789abcdefull);
  CHECK(id->to_string() == "0123abcd-4567-89ef-0123-456789abcdef");
  auto upper = task_id::parse("0123ABCD-4567-89EF-0123-456789ABCDEF");
  REQUIRE(upper);
  CHECK(*upper == *id);
  auto zero = task_id::parse("00000000-0000-0000-0000-000000000000");
  REQUIRE(zero);
  CHECK(zero->hi == 0);
  CHECK(zero->lo == 0);
  CHECK(task_id{}.to_string() == "00000000-0000-0000-0000-000000000000");
  CHECK(task_id{~0ull, ~0ull}.to_string()
        == "ffffffff-ffff-ffff-ffff-ffffffffffff");
}

TEST_CASE("malformed task ids are rejected", "[task_id]") {
  for (auto bad : {"",
                   "0123abcd-4567-89ef-0123-456789abcde",   // 35
                   "0123abcd-4567-89ef-0123-456789abcdef0", // 37
                   "0123abcd4567-89ef-0123-456789abcdef0",  // hyphen moved
                   "0123abcd-456789ef-0123-456789abcdef-0",
                   "0123abcd_4567_89ef_0123_456789abcdef",
                   "0123abcg-4567-89ef-0123-456789abcdef", // g
                   "0123abcd-4567-89ef-0123-456789abcde ",
                   " 123abcd-4567-89ef-0123-456789abcdef",
                   "+123abcd-4567-89ef-0123-456789abcdef",
                   "0123abcd-+567-89ef-0123-456789abcdef",
                   "0123abcd-4567-89ef-0123-456789abcdeF\n",
                   "{0123abcd-4567-89ef-0123-456789abcd}",
                   "0123abcd-4567-89ef-0123-4567-9abcdef",
                   "012345678901234567890123456789012345"}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(task_id::parse(bad));
  }
  // Embedded NUL: 36 bytes, but not an id.
  std::string with_nul = "0123abcd-4567-89ef-0123-456789abcdef";
  with_nul[35] = '\0';
  CHECK_FALSE(task_id::parse(with_nul));
}

TEST_CASE("task statuses round-trip through text", "[task_status]") {
  for (auto s : {task_status::queued, task_status::running,
                 task_status::retrying, task_status::succeeded,
                 task_status::failed, task_status::cancelled}) {
    auto back = parse_task_status(to_string(s));
    REQUIRE(back);
    CHECK(*back == s);
  }
  CHECK(std::string{to_string(task_status::retrying)} == "retrying");
  CHECK_FALSE(parse_task_status("done"));
  CHECK_FALSE(parse_task_status("Queued"));
  CHECK_FALSE(parse_task_status(""));
  CHECK_FALSE(is_terminal(task_status::queued));
  CHECK_FALSE(is_terminal(task_status::running));
  CHECK_FALSE(is_terminal(task_status::retrying));
  CHECK(is_terminal(task_status::succeeded));
  CHECK(is_terminal(task_status::failed));
  CHECK(is_terminal(task_status::cancelled));
}
