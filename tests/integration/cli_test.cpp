// The command lines against the real binaries: actorq's --help, its
// "did you mean" for options and config keys, INI errors with file and line;
// actorq-cli's errors (exit 2), its HTTP mode against a real daemon (submit,
// wait, status, cancel, batch, list, kinds, pools, workers, nodes, tokens)
// and its CAF mode (--connect) against a real gateway.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#ifndef ACTORQ_CLI_BIN
#error "ACTORQ_CLI_BIN must be defined; see tests/CMakeLists.txt"
#endif

using namespace itest;

namespace {

struct Run {
  int rc = -1;
  std::string out; // stdout
  std::string err; // stderr
  json j() const { return json::parse(out, nullptr, false); }
};

std::ostream& operator<<(std::ostream& os, const Run& r) {
  return os << "exit " << r.rc << "\nstdout: " << r.out << "\nstderr: " << r.err;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs `bin` with `args` (and `env`, "NAME=value" each) without the
/// caller's ACTORQ_URL and ACTORQ_AUTH_TOKEN; stdout and stderr apart.
Run run(const std::string& bin, const std::vector<std::string>& args,
        const std::vector<std::string>& env = {}) {
  auto base = fresh_store_path();
  std::string cmd = "env -u ACTORQ_URL -u ACTORQ_AUTH_TOKEN";
  for (auto& e : env)
    cmd += " " + quote(e);
  cmd += " timeout 60 " + quote(bin);
  for (auto& a : args)
    cmd += " " + quote(a);
  cmd += " >" + base + ".out 2>" + base + ".err </dev/null";
  int st = std::system(cmd.c_str());
  Run r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

Run cli(const std::vector<std::string>& args,
        const std::vector<std::string>& env = {}) {
  return run(ACTORQ_CLI_BIN, args, env);
}

std::string url(const Server& srv) {
  return "--url=http://" + srv.connect_host() + ":" + std::to_string(srv.port());
}

/// A config file removed at scope exit.
struct IniFile {
  std::string path;
  explicit IniFile(const std::string& content)
      : path(fresh_store_path() + ".ini") {
    std::ofstream(path) << content;
  }
  ~IniFile() { std::remove(path.c_str()); }
};

/// Starts actorq with `args`, expecting exit status 2 and `text` in its
/// output.
void check_config_error(const std::vector<std::string>& args,
                        const std::string& text) {
  auto fs = start_expect_failure(args);
  INFO(fs.status << "\noutput:\n" << fs.output);
  CHECK_FALSE(fs.started);
  CHECK(fs.status.exited);
  CHECK(fs.status.code == 2);
  CHECK_THAT(fs.output, Catch::Contains(text));
}

} // namespace

// -- actorq -------------------------------------------------------------------

TEST_CASE("cli: actorq --help lists its own options grouped, with defaults",
          "[cli]") {
  auto r = run(ACTORQ_BIN, {"--help"});
  INFO(r);
  CHECK(r.rc == 0);
  for (auto group : {"[http]", "[store]", "[cluster]", "[cluster.tls]",
                     "[shutdown]", "[seed]", "[retry]", "[supervisor]",
                     "[pools.NAME]", "[kinds.NAME]"})
    CHECK_THAT(r.out, Catch::Contains(group));
  // One line each: the option, its placeholder, its default, its meaning.
  CHECK_THAT(r.out, Catch::Matches(
                        R"((.|\n)*\n  --http\.port=INT +8080 +TCP port[^\n]*\n(.|\n)*)"));
  CHECK_THAT(r.out, Catch::Matches(
                        R"((.|\n)*\n  --shutdown\.grace=DURATION +10s +on SIGTERM[^\n]*\n(.|\n)*)"));
  CHECK_THAT(r.out, Catch::Matches(
                        R"((.|\n)*\n  --retry\.max-retries=INT +3 +[^\n]*\n(.|\n)*)"));
  // The section keys come from the catalog's key tables.
  CHECK_THAT(r.out, Catch::Contains("queue-limit"));
  CHECK_THAT(r.out, Catch::Contains("command (exec)"));
  // CAF's own options only behind --long-help.
  CHECK_THAT(r.out, !Catch::Contains("work-stealing"));
  CHECK_THAT(r.out, !Catch::Contains("middleman.heartbeat-interval"));
  CHECK_THAT(r.out, Catch::Contains("--long-help"));
  auto all = run(ACTORQ_BIN, {"--long-help"});
  CHECK(all.rc == 0);
  CHECK_THAT(all.out, Catch::Contains("middleman.heartbeat-interval"));
  CHECK(run(ACTORQ_BIN, {"-h"}).out == r.out);
}

TEST_CASE("cli: actorq names the closest option for an unknown one (exit 2)",
          "[cli]") {
  check_config_error({"--http.prot=9000"},
                     "unknown option --http.prot (did you mean --http.port?)");
  // A key without its group is matched against the keys alone.
  check_config_error({"--max-retry=0"},
                     "unknown option --max-retry (did you mean "
                     "--retry.max-retries?)");
  check_config_error({"--pools.io.sise=3"},
                     "unknown configuration key 'pools.io.sise' (did you mean "
                     "'pools.io.size'?)");
  check_config_error({"--kinds.echo.pol=io"}, "did you mean 'kinds.echo.pool'?");
  check_config_error({"--http.port=abc"},
                     "bad value for --http.port: expected an integer, got abc");
  check_config_error({"--http.threads"}, "option --http.threads needs a value");
  check_config_error({"serve"}, "unexpected argument 'serve'");
  // Durations need a unit; a bare number only for 0 (documented).
  check_config_error({"--shutdown.grace=5"},
                     "5 has no unit: write 5s or 5ms");
  Server zero{{"--shutdown.grace=0", "--store.result-ttl", "0"}};
  // "--key value" as well as "--key=value".
  Server spaced{{"--http.port", "0", "--seed.delay-scale", "0.5"}};
  CHECK(spaced.port() > 0);
}

TEST_CASE("cli: actorq names the line of the config file for a bad key or value",
          "[cli]") {
  IniFile typo{"[http]\nport = 0\nprot = 80\n"};
  check_config_error({"--config-file=" + typo.path},
                     typo.path + ":3: unknown configuration key 'http.prot' "
                                 "(did you mean 'http.port'?)");
  IniFile section{"[htp]\nport = 80\n"};
  check_config_error({"--config-file=" + section.path},
                     section.path + ":2: unknown configuration key 'htp.port' "
                                    "(did you mean 'http.port'?)");
  IniFile pool{"[pools.io]\nsize = 4\nqueue-limt = 10\n"};
  check_config_error({"--config-file=" + pool.path},
                     pool.path + ":3: unknown configuration key "
                                 "'pools.io.queue-limt' (did you mean "
                                 "'pools.io.queue-limit'?)");
  // CAF 0.17 drops values of the wrong type without a word: not here.
  IniFile quoted{"[http]\nport = \"80\"\n"};
  check_config_error({"--config-file=" + quoted.path},
                     quoted.path + ":2: bad value for 'http.port': expected "
                                   "an integer, got \"80\"");
  IniFile bare{"[shutdown]\ngrace = 5\n"};
  check_config_error({"--config-file=" + bare.path},
                     bare.path + ":2: bad value for 'shutdown.grace': 5 has "
                                 "no unit");
  IniFile zero{"[store]\nresult-ttl = 0\n"};
  Server ok{{"--config-file=" + zero.path}};
}

TEST_CASE("cli: INI syntax errors name the file, the line and what was "
          "expected",
          "[cli]") {
  IniFile unquoted{"; actorq\n[http]\nhost = localhost\n"};
  check_config_error({"--config-file=" + unquoted.path},
                     unquoted.path + ":3: cannot read `host = localhost`: "
                                     "strings need double quotes: host = "
                                     "\"localhost\"");
  IniFile address{"[http]\nhost = 0.0.0.0\n"};
  check_config_error({"--config-file=" + address.path},
                     address.path + ":2: cannot read `host = 0.0.0.0`: "
                                    "strings need double quotes");
  IniFile number{"[http]\nport = 80x\n"};
  check_config_error({"--config-file=" + number.path},
                     number.path + ":2: cannot read `port = 80x`: port takes "
                                   "an integer");
  IniFile open_string{"[store]\npath = \"data/x.db\nsync = \"full\"\n"};
  check_config_error({"--config-file=" + open_string.path},
                     open_string.path + ":2: cannot read `path = \"data/x.db`: "
                                        "the string is not closed");
  IniFile header{"[http\nport = 80\n"};
  check_config_error({"--config-file=" + header.path},
                     header.path + ":1: cannot read `[http`: a section "
                                   "header needs its closing ']'");
  IniFile list{"[kinds.job]\nrunner = \"exec\"\npool = \"io\"\ncommand = "
               "[\"true\",\n\n"};
  check_config_error({"--config-file=" + list.path},
                     list.path + ":4: the file ends inside the list or map "
                                 "opened here");
  IniFile words{"[kinds.job]\nrunner = \"exec\"\npool = \"io\"\ncommand = "
                "[\"echo\", hello]\n"};
  check_config_error({"--config-file=" + words.path},
                     words.path + ":4: cannot read `command = [\"echo\", "
                                  "hello]`: inside [ ] and { } too, strings "
                                  "need double quotes");
  // A token never reaches the output, even in an error.
  IniFile token{"[http]\nauth-token = very secret\n"};
  auto fs = start_expect_failure({"--config-file=" + token.path});
  CHECK(fs.status.code == 2);
  CHECK_THAT(fs.output, Catch::Contains(token.path + ":2:"));
  CHECK_THAT(fs.output, !Catch::Contains("secret"));
  check_config_error({"--config-file=/nonexistent/actorq.ini"},
                     "cannot open the config file '/nonexistent/actorq.ini'");
}

// -- actorq-cli: the command line ---------------------------------------------

TEST_CASE("cli: actorq-cli refuses a wrong command line with exit status 2",
          "[cli]") {
  auto check = [](const std::vector<std::string>& args,
                  const std::string& text) {
    auto r = cli(args);
    INFO(r);
    CHECK(r.rc == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::Contains(text));
  };
  // The issue's typo: an unknown flag is an error, never ignored.
  check({"submit", "double", "{\"value\":1}", "--max-retry=0"},
        "unknown option --max-retry=0 for submit (did you mean "
        "--max-retries?)");
  check({"submit", "double", "--max-retry", "0"},
        "unknown option --max-retry for submit");
  check({"--urll=http://x", "kinds"}, "did you mean --url?");
  check({}, "no command given");
  check({"sumbit", "double"}, "unknown command 'sumbit' (did you mean "
                              "'submit'?)");
  check({"submit"}, "kind is required");
  check({"status"}, "id is required");
  check({"status", "1234"}, "not a task id: '1234'");
  check({"status", random_uuid4(), "extra"}, "unexpected argument 'extra'");
  check({"submit", "double", "{not json"}, "INPUT is not JSON");
  check({"submit", "double", "--max-retries=-1"}, "--max-retries");
  check({"submit", "double", "--max-retries", "lots"}, "--max-retries");
  check({"list", "--status", "done"}, "--status");
  check({"batch", "square", "/nonexistent.jsonl"}, "cannot read "
                                                   "/nonexistent.jsonl");
  check({"--url=ftp://127.0.0.1:1", "kinds"},
        "--url must be http://HOST[:PORT] or https://HOST[:PORT]");
  check({"--url=http://127.0.0.1:1", "--connect=127.0.0.1:1", "nodes"},
        "not both");
  check({"--connect=nohostport", "nodes"}, "--connect must be HOST:PORT");
  // Help: per command, on stdout, exit 0.
  auto help = cli({"--help"});
  CHECK(help.rc == 0);
  for (auto c : {"submit", "status", "wait", "cancel", "batch", "nodes",
                 "list", "kinds", "pools", "workers", "--url", "--connect",
                 "--token", "ACTORQ_AUTH_TOKEN"})
    CHECK_THAT(help.out, Catch::Contains(c));
  auto sub = cli({"submit", "--help"});
  CHECK(sub.rc == 0);
  for (auto f : {"--max-retries", "--backoff-ms", "--timeout-ms", "--pool",
                 "--idempotency-key", "--wait"})
    CHECK_THAT(sub.out, Catch::Contains(f));
  CHECK_THAT(cli({"list", "--help"}).out, Catch::Contains("--cursor"));
}

TEST_CASE("cli: actorq-cli says which address it could not reach and what to "
          "check",
          "[cli]") {
  auto port = std::to_string(free_port());
  auto http = cli({"--url=http://127.0.0.1:" + port, "kinds"});
  INFO(http);
  CHECK(http.rc == 1);
  CHECK_THAT(http.err, Catch::Contains("cannot reach actorq at http://127.0.0.1:"
                                       + port));
  CHECK_THAT(http.err, Catch::Contains("--url names it"));
  auto env = cli({"pools"}, {"ACTORQ_URL=http://127.0.0.1:" + port});
  CHECK(env.rc == 1);
  CHECK_THAT(env.err, Catch::Contains("ACTORQ_URL names it"));
  auto gateway = cli({"--connect=127.0.0.1:" + port, "nodes"});
  INFO(gateway);
  CHECK(gateway.rc == 1);
  CHECK_THAT(gateway.err, Catch::Contains("cannot connect to actorq's gateway "
                                          "at 127.0.0.1:" + port));
  CHECK_THAT(gateway.err, Catch::Contains("--cluster.port=" + port));
}

// -- actorq-cli against a real daemon -----------------------------------------

TEST_CASE("cli: actorq-cli over HTTP submits, waits, lists and reads pools, "
          "kinds and workers",
          "[cli]") {
  Server srv{{"--seed.delay-scale=0.05"}};
  auto u = url(srv);
  // --flag value and --flag=value; numbers left out come from the server.
  auto submitted = cli({u, "submit", "square", "{\"value\": 12}", "--pool",
                        "cpu", "--max-retries=1"});
  INFO(submitted);
  REQUIRE(submitted.rc == 0);
  auto id = submitted.j()["id"].get<std::string>();
  CHECK(is_uuid4(id));
  CHECK(submitted.j()["max_retries"] == 1);
  auto waited = cli({u, "wait", id});
  REQUIRE(waited.rc == 0);
  CHECK(waited.j()["status"] == "succeeded");
  CHECK(waited.j()["result"] == json{{"result", 144}});
  CHECK(waited.j() == get_task(srv, id));
  CHECK(cli({u, "get", id}).j() == get_task(srv, id));
  CHECK(cli({u, "status", id}).j() == get_task(srv, id));
  // Left out, max_retries is the server's default ([retry]: 3).
  auto defaults = cli({u, "submit", "double", "{\"value\": 2}", "--wait", "10"});
  INFO(defaults);
  REQUIRE(defaults.rc == 0);
  CHECK(defaults.j()["status"] == "succeeded");
  CHECK(defaults.j()["max_retries"] == 3);
  CHECK(cli({u, "submit", "double", "{\"value\":1}", "--max-retries", "0"})
          .j()["max_retries"] == 0);
  CHECK(defaults.j()["priority"] == 5);
  CHECK(cli({u, "submit", "double", "--priority=10"}).rc == 2);
  // Errors: the API's JSON on stdout, exit 1.
  auto missing = cli({u, "status", random_uuid4()});
  CHECK(missing.rc == 1);
  CHECK(missing.j()["code"] == "not_found");
  auto invalid = cli({u, "submit", "square", "{\"value\": \"x\"}"});
  CHECK(invalid.rc == 1);
  CHECK(invalid.j()["code"] == "invalid");
  // Cancel a task that sleeps.
  auto slow = cli({u, "submit", "sleep", "{\"ms\": 60000}"}).j();
  auto cancelled = cli({u, "cancel", slow["id"].get<std::string>()});
  CHECK(cancelled.rc == 0);
  CHECK(wait_terminal(srv, slow["id"])["status"] == "cancelled");
  // A batch from a file, in chunks, results in input order.
  auto file = fresh_store_path() + ".jsonl";
  {
    std::ofstream f{file};
    for (int i = 0; i < 250; ++i)
      f << json{{"value", i}}.dump() << "\n";
  }
  auto batch = cli({u, "batch", "square", file, "--chunk=100"});
  INFO(batch.err);
  REQUIRE(batch.rc == 0);
  REQUIRE(batch.j()["results"].size() == 250);
  CHECK(batch.j()["results"][249] == json{{"result", 249 * 249}});
  CHECK(batch.j()["succeeded"] == 250);
  // list: filters and paging.
  auto squares = cli({u, "list", "--kind", "square", "--status=succeeded"});
  REQUIRE(squares.rc == 0);
  REQUIRE(squares.j()["tasks"].size() == 1);
  CHECK(squares.j()["tasks"][0]["id"] == id);
  auto page = cli({u, "list", "--limit", "2"}).j();
  CHECK(page["tasks"].size() == 2);
  REQUIRE(page["next"].is_string());
  auto next = cli({u, "list", "--limit=2", "--cursor",
                   page["next"].get<std::string>()}).j();
  CHECK(next["tasks"][0]["id"] != page["tasks"][0]["id"]);
  auto all = cli({u, "list", "--all", "--limit=2"}).j();
  CHECK(all["tasks"] == srv.get("/v1/tasks?limit=1000").j()["tasks"]);
  CHECK(all["tasks"].size() == 4);
  CHECK(all["next"].is_null());
  CHECK(cli({u, "submit", "double", "{\"value\":1}", "--priority", "8"})
          .j()["priority"] == 8);
  // kinds, pools, workers, nodes: what HTTP answers.
  auto kinds = cli({u, "kinds"});
  REQUIRE(kinds.rc == 0);
  CHECK(kinds.j() == srv.get("/v1/kinds").j());
  auto pools = cli({u, "pools"});
  REQUIRE(pools.rc == 0);
  CHECK(pools.j().size() == srv.get("/v1/pools").j().size());
  CHECK(pools.j()[0]["name"] == "io");
  auto workers = cli({u, "workers"});
  REQUIRE(workers.rc == 0);
  CHECK(workers.j() == json{{"workers", json::array()}});
  auto nodes = cli({u, "nodes"});
  REQUIRE(nodes.rc == 0);
  CHECK(nodes.j()[0]["id"] == "head");
  // ACTORQ_URL instead of --url.
  auto env = cli({"kinds"}, {"ACTORQ_URL=http://" + srv.connect_host() + ":"
                                 + std::to_string(srv.port())});
  CHECK(env.rc == 0);
  CHECK(env.j() == kinds.j());
}

TEST_CASE("cli: actorq-cli sends the token of --token or ACTORQ_AUTH_TOKEN",
          "[cli]") {
  Server srv{{"--http.auth-token=s3cret"}};
  auto u = url(srv);
  auto refused = cli({u, "kinds"});
  INFO(refused);
  CHECK(refused.rc == 1);
  CHECK(refused.j()["code"] == "unauthorized");
  CHECK_THAT(refused.err, Catch::Contains("pass --token or set "
                                          "ACTORQ_AUTH_TOKEN"));
  CHECK(cli({u, "--token", "wrong", "kinds"}).rc == 1);
  CHECK(cli({u, "--token=s3cret", "kinds"}).rc == 0);
  auto env = cli({u, "submit", "double", "{\"value\": 4}", "--wait=10"},
                 {"ACTORQ_AUTH_TOKEN=s3cret"});
  INFO(env);
  CHECK(env.rc == 0);
  CHECK(env.j()["result"] == json{{"result", 8}});
}

TEST_CASE("cli: actorq-cli retries a task, cancels many and pauses and "
          "resumes a pool over HTTP",
          "[cli]") {
  Server srv{{"--retry.backoff=10ms"}};
  auto u = url(srv);
  // retry: a failed task runs again, its attempts going on.
  auto failed = cli({u, "submit", "flaky", R"({"fail_times": 1})",
                     "--max-retries=0", "--wait", "10"});
  REQUIRE(failed.rc == 0);
  REQUIRE(failed.j()["status"] == "failed");
  auto id = failed.j()["id"].get<std::string>();
  auto retried = cli({u, "retry", id});
  INFO(retried);
  REQUIRE(retried.rc == 0);
  CHECK(retried.j()["status"] == "queued");
  auto done = wait_terminal(srv, id);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 2);
  auto again = cli({u, "retry", id});
  CHECK(again.rc == 1);
  CHECK(again.j()["code"] == "conflict");
  // pause: submissions queue; cancel many; resume.
  auto paused = cli({u, "pause", "io"});
  INFO(paused);
  REQUIRE(paused.rc == 0);
  CHECK(paused.j()["paused"] == true);
  auto queued = submit(srv, {{"kind", "echo"}, {"input", {{"x", 1}}}});
  auto kept = submit(srv, {{"kind", "sleep"}, {"input", {{"ms", 1}}}});
  auto cancelled = cli({u, "cancel", "--status", "queued", "--kind=echo"});
  INFO(cancelled);
  REQUIRE(cancelled.rc == 0);
  CHECK(cancelled.j() == json{{"cancelled", 1}});
  CHECK(get_task(srv, queued)["status"] == "cancelled");
  CHECK(get_task(srv, kept)["status"] == "queued");
  auto resumed = cli({u, "resume", "io"});
  REQUIRE(resumed.rc == 0);
  CHECK(resumed.j()["paused"] == false);
  CHECK(wait_terminal(srv, kept)["status"] == "succeeded");
  CHECK(cli({u, "pause", "no-such-pool"}).rc == 1);
  // Wrong command lines: exit 2 before anything is sent.
  CHECK(cli({u, "cancel"}).rc == 2);
  CHECK(cli({u, "cancel", id, "--status", "queued"}).rc == 2);
  CHECK(cli({u, "cancel", "--status", "succeeded"}).rc == 2);
  CHECK(cli({u, "retry"}).rc == 2);
  CHECK(cli({u, "pause"}).rc == 2);
}

TEST_CASE("cli: actorq-cli over CAF (--connect) runs the same commands",
          "[cli]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port)}};
  auto c = "--connect=127.0.0.1:" + std::to_string(port);
  auto submitted = cli({"submit", "square", "{\"value\":7}", c,
                        "--max-retries", "2", "--wait", "10"});
  INFO(submitted);
  REQUIRE(submitted.rc == 0);
  CHECK(submitted.j()["status"] == "succeeded");
  CHECK(submitted.j()["max_retries"] == 2);
  auto id = submitted.j()["id"].get<std::string>();
  // The same JSON as HTTP gives, whichever way it is asked.
  CHECK(cli({c, "status", id}).j() == cli({url(head), "status", id}).j());
  auto defaults = cli({c, "submit", "double", "{\"value\":1}"});
  CHECK(defaults.j()["max_retries"] == 3);
  CHECK(defaults.j()["priority"] == 5);
  // The gateway's task_spec carries the priority too.
  CHECK(cli({c, "submit", "double", "{\"value\":1}", "--priority=2"})
          .j()["priority"] == 2);
  auto unknown = cli({c, "submit", "double", "--max-retry=0"});
  CHECK(unknown.rc == 2);
  auto list = cli({c, "list"});
  INFO(list);
  CHECK(list.rc == 2);
  CHECK_THAT(list.err, Catch::Contains("needs the HTTP API"));
  // Operator actions are HTTP routes: the CLI says so.
  for (auto args : std::vector<std::vector<std::string>>{
           {c, "retry", id}, {c, "pause", "io"}, {c, "resume", "io"},
           {c, "cancel", "--status", "queued"}}) {
    auto r = cli(args);
    INFO(r);
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("needs the HTTP API (--url"));
  }
}

TEST_CASE("cli: actorq-cli submits delayed tasks over HTTP and CAF",
          "[cli][delayed]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port)}};
  auto c = "--connect=127.0.0.1:" + std::to_string(port);
  for (auto& via : {url(head), c}) {
    INFO(via);
    auto later = cli({via, "submit", "echo", "{}", "--countdown-ms", "60000"});
    REQUIRE(later.rc == 0);
    CHECK(later.j()["status"] == "scheduled");
    CHECK(iso8601_to_epoch_ms(later.j()["run_at"].get<std::string>())
          == iso8601_to_epoch_ms(later.j()["created_at"].get<std::string>())
               + 60000);
    auto past = cli({via, "submit", "echo", "{}", "--run-at",
                     "2020-01-01T01:00:00+01:00", "--wait", "10"});
    REQUIRE(past.rc == 0);
    CHECK(past.j()["status"] == "succeeded");
    CHECK(past.j()["run_at"] == "2020-01-01T00:00:00.000Z");
    CHECK(cli({via, "submit", "echo", "{}", "--run-at", "soon"}).rc == 2);
    // Too far ahead: the server (HTTP) or the gateway (CAF) refuses it.
    auto far = cli({via, "submit", "echo", "{}", "--run-at",
                    "2999-01-01T00:00:00Z"});
    CHECK(far.rc == 1);
    CHECK_THAT(far.out + far.err, Catch::Contains("366 days"));
    CHECK(cli({via, "submit", "echo", "{}", "--countdown-ms", "5", "--run-at",
               "2020-01-01T00:00:00Z"})
            .rc
          == 2);
  }
  // Out of range: refused by the command line already.
  CHECK(cli({c, "submit", "echo", "{}", "--countdown-ms", "31622400001"}).rc
        == 2);
}

TEST_CASE("cli: actorq-cli submits chains with --after over HTTP and CAF",
          "[cli]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port)}};
  auto c = "--connect=127.0.0.1:" + std::to_string(port);
  auto first = cli({url(head), "submit", "echo", "{\"n\":1}", "--wait", "10"});
  REQUIRE(first.rc == 0);
  auto a = first.j()["id"].get<std::string>();
  for (auto& via : {url(head), std::string{c}}) {
    auto then = cli({via, "submit", "echo", "{\"n\":2}", "--after", a,
                     "--after", a, "--after-policy", "ended",
                     "--pass-results", "--wait", "10"});
    INFO(then);
    REQUIRE(then.rc == 0);
    CHECK(then.j()["status"] == "succeeded");
    CHECK(then.j()["after"] == json::array({a, a}));
    CHECK(then.j()["result"]["_after"][1]["result"] == json{{"n", 1}});
  }
  auto bad = cli({url(head), "submit", "echo", "--after", "nope"});
  CHECK(bad.rc == 2);
  auto unknown = cli({c, "submit", "echo", "--after", random_uuid4()});
  CHECK(unknown.rc == 1);
  CHECK_THAT(unknown.out, Catch::Contains("after"));
}
