// The log module's lines: one JSON object (or one text line) per event,
// whatever the fields hold, and every queued line written by stop().
#include "actors/log.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace actorq;
using nlohmann::json;

namespace {

// 2026-11-26T04:31:02.123Z
constexpr int64_t ts = 1795667462123;

} // namespace

TEST_CASE("log: a JSON line holds ts, level, event and the fields in order") {
  auto line = log::format_line(
      log::format::json, ts, log::level::warn, "task_failed",
      {{"msg", "a task failed"},
       {"id", std::string{"0b6f"}},
       {"attempts", 3},
       {"seq", uint64_t{18446744073709551615u}},
       {"ms", 1.25},
       {"retried", true},
       {"pools", log::raw_json{R"([{"name":"io","size":2}])"}}});
  INFO(line);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.rfind(R"({"ts":"2026-11-26T04:31:02.123Z","level":"warn",)"
                   R"("event":"task_failed","msg":"a task failed",)",
                   0)
        == 0);
  auto j = json::parse(line);
  CHECK(j["attempts"] == 3);
  CHECK(j["seq"] == 18446744073709551615u);
  CHECK(j["ms"] == 1.25);
  CHECK(j["retried"] == true);
  CHECK(j["pools"][0]["size"] == 2);
  CHECK(j["id"] == "0b6f");
}

TEST_CASE("log: strings are escaped so one event stays one valid JSON line") {
  std::string nasty = "say \"hi\"\\\n\r\t\x01\x7f end";
  std::string broken = "bad \xff\xfe utf-8";
  auto line = log::format_line(log::format::json, ts, log::level::error,
                               "store_error",
                               {{"error", nasty}, {"path", broken},
                                {"key\"odd", "v"}, {"nan", 0.0 / 0.0}});
  INFO(line);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\r') == std::string::npos);
  auto j = json::parse(line); // throws on invalid JSON or UTF-8
  CHECK(j["error"] == nasty);
  CHECK(j["path"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
  CHECK(j["key\"odd"] == "v");
  CHECK(j["nan"].is_null());
}

TEST_CASE("log: a text line is TS LEVEL event key=value, quoted when needed") {
  auto line = log::format_line(
      log::format::text, ts, log::level::info, "task_failed",
      {{"id", "abc"}, {"attempts", 3}, {"error", "exit 1: \"no\"\nmore"},
       {"empty", ""}, {"ok", false},
       {"kinds", log::raw_json{R"(["a","b"])"}}});
  CHECK(line
        == "2026-11-26T04:31:02.123Z INFO task_failed id=abc attempts=3 "
           "error=\"exit 1: \\\"no\\\"\\nmore\" empty=\"\" ok=false "
           "kinds=[\"a\",\"b\"]");
  CHECK_THROWS(json::parse(line));
}

TEST_CASE("log: level and format names") {
  CHECK(log::parse_level("debug") == log::level::debug);
  CHECK(log::parse_level("off") == log::level::off);
  CHECK_FALSE(log::parse_level("loud"));
  CHECK_FALSE(log::parse_level("INFO"));
  CHECK(log::to_string(log::level::warn) == "warn");
  CHECK(log::level_names() == "trace, debug, info, warn, error, off");
  CHECK(log::parse_format("json") == log::format::json);
  CHECK(log::parse_format("text") == log::format::text);
  CHECK_FALSE(log::parse_format("xml"));
}

TEST_CASE("log: events below the level are dropped and stop writes the rest") {
  // stderr into a file for the duration of the test.
  char path[] = "/tmp/actorq-log-test.XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(stderr);
  int saved = ::dup(2);
  ::dup2(fd, 2);
  CHECK_FALSE(log::enabled(log::level::error)); // not started: nothing
  log::start(log::level::info, log::format::json);
  CHECK(log::enabled(log::level::info));
  CHECK_FALSE(log::enabled(log::level::debug));
  log::event(log::level::debug, "hidden");
  for (int i = 0; i < 100; ++i)
    log::event(log::level::info, "shown", {{"i", i}});
  log::stop();
  CHECK_FALSE(log::enabled(log::level::error));
  log::event(log::level::error, "after_stop");
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in{path};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    INFO(line);
    auto j = json::parse(line);
    CHECK(j["event"] == "shown");
    CHECK(j["i"] == n);
    ++n;
  }
  CHECK(n == 100);
  ::unlink(path);
}
