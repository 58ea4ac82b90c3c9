// Config kinds with runner = "remote": a head started from
// configs/examples.ini (kind wordcount on pool text of size 0) and the real
// example worker program (examples/worker.cpp, its own CAF process) joining
// its gateway. Also worker nodes whose kinds or pools do not match the head's.
#include "kinds_support.hpp"

#ifndef ACTORQ_EXAMPLE_WORKER_BIN
#error "ACTORQ_EXAMPLE_WORKER_BIN must be defined; see tests/CMakeLists.txt"
#endif

using namespace itest;
using namespace kt;

namespace {

std::vector<std::string> head_args(int port, std::vector<std::string> more = {}) {
  more.push_back("--cluster.port=" + std::to_string(port));
  return examples_args(more);
}

/// The example worker program, joined (REQUIREd) unless told not to wait.
std::unique_ptr<Proc> worker(int port, const std::string& name, int workers = 2,
                             bool wait_joined = true) {
  auto p = std::make_unique<Proc>(std::vector<std::string>{
      ACTORQ_EXAMPLE_WORKER_BIN, "127.0.0.1", std::to_string(port),
      "--workers=" + std::to_string(workers), "--name=" + name});
  if (wait_joined) {
    bool joined = p->wait_output("joined", 15s);
    INFO("worker output: " << p->output());
    REQUIRE(joined);
  }
  return p;
}

/// GET /v1/kinds: the entry of `name` (REQUIREd).
json kind_entry(const Server& srv, const std::string& name) {
  auto r = srv.get("/v1/kinds");
  REQUIRE_STATUS(r, 200);
  REQUIRE(r.j().is_array());
  for (auto& k : r.j())
    if (k.value("name", "") == name) return k;
  INFO("kinds: " << r.body);
  FAIL("no kind " << name);
  return {};
}

long long kind_workers(const Server& srv, const std::string& name) {
  auto k = kind_entry(srv, name);
  INFO(k.dump());
  REQUIRE(k.contains("workers"));
  return k["workers"].get<long long>();
}

std::map<std::string, json> nodes(const Server& head) {
  auto r = head.get("/v1/nodes");
  REQUIRE_STATUS(r, 200);
  std::map<std::string, json> out;
  for (auto& n : r.j()) out[n["id"].get<std::string>()] = n;
  return out;
}

json wc(const std::string& text, std::vector<std::pair<std::string, json>> more = {}) {
  json input{{"text", text}};
  for (auto& [k, v] : more) input[k] = v;
  return input;
}

/// Waits until the task is no longer running after its attempt was lost.
json wait_attempt_lost(const Server& head, const std::string& id, int attempts) {
  json t;
  bool ok = wait_until(
      [&] {
        t = get_task(head, id);
        return t["status"] != "running" && t["attempts"] == attempts;
      },
      10s, 20ms);
  INFO("task: " << t.dump());
  REQUIRE(ok);
  return t;
}

}  // namespace

TEST_CASE("remote kinds: tasks queue while no worker is connected and run when a worker "
          "program joins",
          "[remote][kinds]") {
  auto port = free_port();
  Server head{head_args(port)};
  auto id = submit(head, {{"kind", "wordcount"}, {"input", wc("the quick brown fox")}});
  std::this_thread::sleep_for(300ms);
  auto q = get_task(head, id);
  INFO(q.dump());
  CHECK(q["status"] == "queued");
  CHECK(q["pool"] == "text");
  CHECK(kind_workers(head, "wordcount") == 0);
  CHECK(kind_entry(head, "wordcount")["runner"] == "remote");

  auto w = worker(port, "wc-a", 2);
  auto t = wait_terminal(head, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == json{{"words", 4}});
  CHECK(t["attempts"] == 1);
  CHECK(kind_workers(head, "wordcount") == 2);
  auto all = nodes(head);
  REQUIRE(all.count("wc-a") == 1);
  CHECK(all["wc-a"]["state"] == "up");
  CHECK(pools(head)["text"]["size"] == 2);

  SECTION("an input without text fails at once; a failing attempt is retried") {
    auto bad = submit(head, {{"kind", "wordcount"}, {"input", {{"words", "x"}}}, {"max_retries", 3}});
    auto b = wait_terminal(head, bad, 15s);
    INFO(b.dump());
    CHECK(b["status"] == "failed");
    CHECK(b["attempts"] == 1);
    CHECK_THAT(error_of(b), Catch::Contains("text"));
    auto flaky = submit(head, {{"kind", "wordcount"},
                               {"input", wc("a b", {{"fail", true}})},
                               {"max_retries", 1},
                               {"backoff_ms", 10}});
    auto f = wait_terminal(head, flaky, 15s);
    INFO(f.dump());
    CHECK(f["status"] == "failed");
    CHECK(f["attempts"] == 2);
    CHECK_THAT(error_of(f), Catch::Contains("failed as asked"));
  }
  SECTION("the head's nodes and kinds forget the program when it stops") {
    w->kill(SIGTERM);
    auto st = w->wait_exit(10s);
    CHECK(st.exited);
    REQUIRE(wait_until([&] { return kind_workers(head, "wordcount") == 0; }, 10s));
    CHECK(nodes(head)["wc-a"]["state"] == "down");
  }
}

TEST_CASE("remote kinds: progress is visible and a 200-item batch runs through a worker program",
          "[remote][kinds][progress]") {
  auto port = free_port();
  Server head{head_args(port)};
  auto w = worker(port, "wc-b", 4);
  auto id = submit(head, {{"kind", "wordcount"}, {"input", wc("one two three", {{"delay_ms", 1600}})}});
  json half;
  REQUIRE(wait_until(
      [&] {
        auto t = get_task(head, id);
        auto p = progress_of(t);
        if (t["status"] == "running" && p.is_object() && p.value("fraction", 0.0) == 0.5) {
          half = t;
          return true;
        }
        return is_terminal(t["status"].get<std::string>());
      },
      15s, 20ms));
  INFO("halfway: " << half.dump());
  REQUIRE(half.is_object());
  check_progress_shape(progress_of(half));
  CHECK(progress_of(half)["message"] == "halfway there");
  auto t = wait_terminal(head, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["result"] == json{{"words", 3}});
  check_progress_shape(progress_of(t));
  CHECK(progress_of(t)["fraction"].get<double>() == Approx(1.0));
  CHECK(progress_of(t)["message"] == "done");

  json items = json::array();
  for (int i = 0; i < 200; ++i) {
    std::string text;
    for (int k = 0; k <= i % 7; ++k) text += "w" + std::to_string(k) + " ";
    items.push_back(wc(text));
  }
  auto r = head.post("/v1/batches", json{{"kind", "wordcount"}, {"items", items}});
  REQUIRE_STATUS(r, 200);
  CHECK(r.j()["succeeded"] == 200);
  REQUIRE(r.j()["results"].size() == 200);
  size_t wrong = 0;
  for (int i = 0; i < 200; ++i)
    if (r.j()["results"][i] != json{{"words", i % 7 + 1}}) ++wrong;
  CHECK(wrong == 0);
}

TEST_CASE("remote kinds: a worker program killed mid-attempt loses the attempt, which counts, and "
          "the task reruns on the next program",
          "[remote][kinds][kill]") {
  auto port = free_port();
  Server head{head_args(port)};
  auto w1 = worker(port, "wc-k1", 1);
  auto id = submit(head, {{"kind", "wordcount"},
                          {"input", wc("lost once", {{"delay_ms", 2500}})},
                          {"max_retries", 3},
                          {"backoff_ms", 10}});
  wait_status(head, id, "running");
  std::this_thread::sleep_for(200ms);
  w1->kill(SIGKILL);
  w1->wait_exit();
  auto lost = wait_attempt_lost(head, id, 1);
  CHECK_THAT(error_of(lost), Catch::Contains("lost"));
  CHECK(!is_terminal(lost["status"].get<std::string>()));
  REQUIRE(wait_until([&] { return kind_workers(head, "wordcount") == 0; }, 10s));
  // Nobody to run it: it waits.
  std::this_thread::sleep_for(300ms);
  CHECK(get_task(head, id)["status"] != "running");
  auto w2 = worker(port, "wc-k2", 1);
  auto t = wait_terminal(head, id, 15s);
  INFO(t.dump());
  CHECK(t["status"] == "succeeded");
  CHECK(t["attempts"] == 2);
  CHECK(t["result"] == json{{"words", 2}});
}

TEST_CASE("remote kinds: a task whose every attempt is lost ends failed after max_retries",
          "[remote][kinds][kill]") {
  auto port = free_port();
  Server head{head_args(port)};
  auto id = submit(head, {{"kind", "wordcount"},
                          {"input", wc("never", {{"delay_ms", 20000}})},
                          {"max_retries", 1},
                          {"backoff_ms", 10}});
  {
    auto w1 = worker(port, "wc-l1", 1);
    wait_status(head, id, "running");
    std::this_thread::sleep_for(100ms);
    w1->kill(SIGKILL);
    w1->wait_exit();
    wait_attempt_lost(head, id, 1);
  }
  {
    auto w2 = worker(port, "wc-l2", 1);
    wait_status(head, id, "running");
    std::this_thread::sleep_for(100ms);
    w2->kill(SIGKILL);
    w2->wait_exit();
  }
  auto t = wait_terminal(head, id, 10s);
  INFO(t.dump());
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 2);
  CHECK_THAT(error_of(t), Catch::Contains("lost"));
}

TEST_CASE("remote kinds: a worker program offering a kind the head does not declare as remote "
          "is refused",
          "[remote][kinds][refuse]") {
  SECTION("a head without the kind") {
    auto port = free_port();
    Server plain{{"--cluster.port=" + std::to_string(port)}};
    auto w = worker(port, "wc-x", 1, false);
    bool said = w->wait_output("the head refused", 15s);
    auto st = w->wait_exit(10s);
    INFO("worker output: " << w->output());
    INFO("worker ended: " << st.describe());
    CHECK(said);
    CHECK_THAT(w->output(), Catch::Contains("wordcount"));
    CHECK_FALSE(st.timed_out);
    CHECK(st.exited);
    CHECK(st.code != 0);  // a refusal is a failure for whoever started it
    CHECK(plain.wait_output("refused worker program wc-x", 5s));
    CHECK(nodes(plain).count("wc-x") == 0);
  }
  SECTION("a head that runs the kind with another runner") {
    auto port = free_port();
    Server other{{"--cluster.port=" + std::to_string(port), "--kinds.wordcount.runner=exec",
                  "--kinds.wordcount.pool=io", R"(--kinds.wordcount.command=["/bin/cat"])"}};
    auto w = worker(port, "wc-y", 1, false);
    bool said = w->wait_output("the head refused", 15s);
    auto st = w->wait_exit(10s);  // the whole message is out
    INFO("worker output: " << w->output());
    CHECK(said);
    CHECK_FALSE(st.timed_out);
    CHECK_THAT(w->output(), Catch::Contains("wordcount"));
    CHECK(other.wait_output("refused worker program wc-y", 5s));
  }
}

TEST_CASE("remote kinds: a worker node whose kinds or pools differ from the head's is refused "
          "with a message on both sides",
          "[remote][kinds][refuse][cluster]") {
  auto port = free_port();
  Server head{head_args(port)};
  auto join = "--cluster.join=127.0.0.1:" + std::to_string(port);
  {
    // cat is an exec kind on the head.
    Server node{{join, "--cluster.name=n-runner", "--pools.jobs.size=1", "--kinds.cat.runner=http",
                 "--kinds.cat.pool=jobs", "--kinds.cat.url=http://127.0.0.1:9/x"}};
    bool said = node.wait_output("refused", 15s);
    INFO("node output: " << node.output());
    CHECK(said);
    CHECK_THAT(node.output(), Catch::Contains("cat"));
    CHECK_THAT(node.output(), Catch::Contains("runner"));
    CHECK(head.wait_output("refused worker node n-runner", 5s));
  }
  {
    Server node{{join, "--cluster.name=n-pool", "--pools.extra.size=2"}};
    bool said = node.wait_output("refused", 15s);
    INFO("node output: " << node.output());
    CHECK(said);
    CHECK_THAT(node.output(), Catch::Contains("extra"));
    CHECK(head.wait_output("refused worker node n-pool", 5s));
  }
  {
    Server node{{join, "--cluster.name=n-kind", "--kinds.extra.runner=exec", "--kinds.extra.pool=io",
                 R"(--kinds.extra.command=["/bin/cat"])"}};
    bool said = node.wait_output("refused", 15s);
    INFO("node output: " << node.output());
    CHECK(said);
    CHECK_THAT(node.output(), Catch::Contains("extra"));
    CHECK(head.wait_output("refused worker node n-kind", 5s));
  }
  auto all = nodes(head);
  for (auto name : {"n-runner", "n-pool", "n-kind"})
    CHECK((all.count(name) == 0 || all[name]["state"] == "down"));
  // The same config joins.
  Server good{examples_args({join, "--cluster.name=n-ok"})};
  bool joined = good.wait_output("joined", 15s);
  INFO("node output: " << good.output());
  REQUIRE(joined);
  CHECK(nodes(head)["n-ok"]["state"] == "up");
  // Its exec workers serve the head's batch.
  json items = json::array();
  for (int i = 0; i < 40; ++i) items.push_back({{"i", i}});
  auto r = head.post("/v1/batches", json{{"kind", "cat"}, {"items", items}});
  REQUIRE_STATUS(r, 200);
  CHECK(r.j()["results"] == items);
}
