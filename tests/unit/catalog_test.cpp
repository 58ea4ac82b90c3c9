// The catalog: pools and kinds from config sections, their checks, and the
// defaults check_task fills in (task, else kind, else pool, else [retry]).
#include "actors/catalog.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <unistd.h>
#include <string>
#include <vector>

using namespace actorq;

namespace {

/// Parses INI text the way actorq reads its config file.
caf::settings ini(const std::string& text) {
  caf::actor_system_config cfg;
  auto path = std::string{"/tmp/actorq-catalog-test-"}
              + std::to_string(::getpid()) + ".ini";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  std::string arg = "--config-file=" + path;
  char* argv[] = {const_cast<char*>("test"), arg.data(), nullptr};
  auto err = cfg.parse(2, argv);
  std::remove(path.c_str());
  REQUIRE_FALSE(err);
  return cfg.content;
}

struct built {
  std::shared_ptr<catalog> cat;
  std::vector<std::string> problems;

  bool mentions(const std::string& needle) const {
    for (auto& p : problems)
      if (p.find(needle) != std::string::npos)
        return true;
    UNSCOPED_INFO("problems: " << all());
    return false;
  }

  std::string all() const {
    std::string out;
    for (auto& p : problems)
      out += p + "\n";
    return out;
  }
};

built build(const std::string& text) {
  built b;
  catalog_defaults defaults;
  defaults.config_dir = "/tmp";
  b.cat = catalog::build(ini(text), defaults, b.problems);
  return b;
}

} // namespace

TEST_CASE("pools are data: built-ins changed, new ones added", "[catalog]") {
  auto b = build(R"(
[pools.io]
size = 7
[pools.gpu]
size = 3
threads = "dedicated"
queue-limit = 50
max-retries = 1
backoff = 250ms
timeout = 30s
[pools.remote-only]
size = 0
)");
  REQUIRE(b.problems.empty());
  auto& cat = *b.cat;
  CHECK(cat.find_pool("io")->size == 7);
  auto gpu = cat.find_pool("gpu");
  REQUIRE(gpu != nullptr);
  CHECK(gpu->size == 3);
  CHECK(gpu->dedicated_threads);
  CHECK(gpu->gauge->limit() == 50);
  CHECK(gpu->retry.max_retries == 1);
  CHECK(gpu->retry.backoff.count() == 250);
  CHECK(gpu->timeout_ms == 30000);
  CHECK(cat.find_pool("remote-only")->size == 0);
  CHECK(cat.pool_names() == "io, cpu, limited, heavy, gpu, remote-only");
}

TEST_CASE("bad pool sections name the key", "[catalog]") {
  auto b = build(R"(
[pools.gpu]
sise = 3
threads = "many"
[pools.GPU]
size = 1
[pools.io]
size = -1
)");
  CHECK(b.mentions("unknown configuration key 'pools.gpu.sise'"));
  CHECK(b.mentions("'pools.gpu.threads'"));
  CHECK(b.mentions("bad pool name 'GPU'"));
  CHECK(b.mentions("'pools.io.size'"));
}

TEST_CASE("kinds are data: exec, http and remote", "[catalog]") {
  ::setenv("JOBTEST_TOKEN", "s3cret", 1);
  ::setenv("JOBTEST_PASS", "through", 1);
  auto b = build(R"(
[pools.text]
size = 0
[kinds.cat]
runner = "exec"
pool = "io"
command = ["cat", "-"]
env = ["JOBTEST_PASS", "A=b", "NOT_SET_ANYWHERE_X"]
max-retries = 0
timeout = 5s
rlimits = { cpu = 10, open-files = 64, address-space = "1GiB" }
[kinds.hook]
runner = "http"
pool = "io"
url = "https://example.invalid:8443/hook?x=1"
headers = ["Authorization: Bearer ${JOBTEST_TOKEN}"]
tls-verify = false
[kinds.wordcount]
runner = "remote"
pool = "text"
[kinds.echo]
pool = "limited"
description = "moved"
)");
  INFO(b.all());
  REQUIRE(b.problems.empty());
  auto& cat = *b.cat;
  auto k = cat.find_kind("cat");
  REQUIRE(k != nullptr);
  CHECK(k->runner == runner_type::exec);
  CHECK(k->exec->program.size() > 4);
  CHECK(k->exec->program.compare(k->exec->program.size() - 4, 4, "/cat") == 0);
  CHECK(k->exec->argv == std::vector<std::string>{"cat", "-"});
  CHECK(k->exec->workdir == "/tmp");
  CHECK(k->exec->env
        == std::vector<std::string>{"JOBTEST_PASS=through", "A=b"});
  CHECK(k->exec->rlimit_cpu_seconds == 10);
  CHECK(k->exec->rlimit_open_files == 64);
  CHECK(k->exec->rlimit_address_space_bytes == int64_t{1} << 30);
  auto h = cat.find_kind("hook");
  REQUIRE(h != nullptr);
  CHECK(h->http->host == "example.invalid");
  CHECK(h->http->port == 8443);
  CHECK_FALSE(h->http->tls_verify);
  REQUIRE(h->http->headers.size() == 1);
  CHECK(h->http->headers[0].second == "Bearer s3cret");
  CHECK(cat.find_kind("wordcount")->runner == runner_type::remote);
  CHECK_FALSE(cat.find_kind("wordcount")->runs_locally());
  CHECK(cat.find_kind("echo")->pool == "limited");
  CHECK(cat.find_kind("echo")->description == "moved");
  CHECK(cat.config_kinds().size() == 2); // cat and hook, not remote ones
}

TEST_CASE("bad kind sections stop start-up naming the key", "[catalog]") {
  auto b = build(R"(
[kinds.a]
runner = "rpc"
pool = "io"
[kinds.b]
runner = "exec"
pool = "io"
command = []
[kinds.c]
runner = "exec"
command = ["/bin/true"]
[kinds.d]
runner = "http"
pool = "nope"
url = "ftp://x/y"
[kinds.e]
runner = "http"
pool = "io"
url = "http://x/"
headers = ["X: ${ACTORQ_SURELY_UNSET_VAR}"]
[kinds.f]
runner = "exec"
pool = "io"
command = ["./does-not-exist.sh"]
url = "http://x/"
[kinds.echo]
runner = "exec"
[kinds.square]
pool = "io"
[kinds.Bad]
runner = "remote"
pool = "io"
[kinds.g]
pool = "io"
)");
  CHECK(b.mentions("'kinds.a.runner'"));
  CHECK(b.mentions("'kinds.b.command'"));
  CHECK(b.mentions("'kinds.c.pool': a kind needs a pool"));
  CHECK(b.mentions("'kinds.d.url'"));
  CHECK(b.mentions("'kinds.d.pool': no pool named 'nope'"));
  CHECK(b.mentions("${ACTORQ_SURELY_UNSET_VAR} is not set"));
  CHECK(b.mentions("'kinds.f.command': /tmp/does-not-exist.sh"));
  CHECK(b.mentions("'kinds.f.url': not a key of runner = \"exec\""));
  CHECK(b.mentions("'kinds.echo.runner'"));
  CHECK(b.mentions("'kinds.square.pool'")); // CPU-bound on a shared pool
  CHECK(b.mentions("bad kind name 'Bad'"));
  CHECK(b.mentions("'kinds.g.runner': a kind needs a runner"));
}

TEST_CASE("check_task fills defaults: task, kind, pool, the retry section",
          "[catalog]") {
  auto b = build(R"(
[pools.jobs]
size = 2
max-retries = 7
backoff = 300ms
timeout = 9s
[kinds.j]
runner = "exec"
pool = "jobs"
command = ["/bin/true"]
max-retries = 1
[kinds.k]
runner = "exec"
pool = "jobs"
command = ["/bin/true"]
)");
  REQUIRE(b.problems.empty());
  auto& cat = *b.cat;
  task_spec s;
  s.kind = "j";
  s.input.value = json::object();
  CHECK(check_task(s, cat) == "");
  CHECK(s.pool == "jobs");
  CHECK(s.max_retries == 1);     // the kind's
  CHECK(s.backoff_ms == 300);    // the pool's
  CHECK(s.timeout_ms == 9000);   // the pool's
  task_spec t;
  t.kind = "k";
  t.input.value = json::object();
  t.max_retries = 0;
  t.timeout_ms = 0;
  CHECK(check_task(t, cat) == "");
  CHECK(t.max_retries == 0); // the task's own
  CHECK(t.timeout_ms == 0);
  task_spec u;
  u.kind = "echo";
  u.input.value = json::object();
  CHECK(check_task(u, cat) == "");
  CHECK(u.pool == "io");
  CHECK(u.max_retries == 3);    // [retry]
  CHECK(u.backoff_ms == 1000);
  // Config kinds take any JSON object; the job checks its fields.
  task_spec v;
  v.kind = "k";
  v.input.value = json::array();
  CHECK(check_task(v, cat) == "input must be a JSON object");
}
