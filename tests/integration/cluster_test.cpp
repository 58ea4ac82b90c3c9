// Cluster over CAF's network layer: a head, worker nodes that lend it their
// workers, node loss mid-batch, rejoining, the actorq-cli client, and TLS with
// mutual certificate verification. Every process runs on loopback.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <map>
#include <memory>

#ifndef ACTORQ_CLI_BIN
#error "ACTORQ_CLI_BIN must be defined; see tests/CMakeLists.txt"
#endif

using namespace itest;

namespace {

/// Runs a shell command; returns its exit status and standard output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  auto pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    out.append(buf.data(), n);
  auto status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string cli(int port, const std::string& args,
                const std::string& tls = "") {
  return std::string{ACTORQ_CLI_BIN} + " --connect=127.0.0.1:"
         + std::to_string(port) + " " + tls + " " + args;
}

/// The nodes of GET /v1/nodes by id.
std::map<std::string, json> nodes(const Server& head) {
  auto r = head.get("/v1/nodes");
  REQUIRE_STATUS(r, 200);
  std::map<std::string, json> out;
  for (auto& n : r.j())
    out[n["id"].get<std::string>()] = n;
  return out;
}

bool node_is(const Server& head, const std::string& id,
             const std::string& state) {
  auto all = nodes(head);
  return all.count(id) > 0 && all[id]["state"] == state;
}

std::vector<std::string> worker_args(int port, const std::string& name,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--cluster.join=127.0.0.1:" + std::to_string(port),
                                "--cluster.name=" + name, "--pools.cpu.size=2",
                                "--pools.io.size=4"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// primes below these, for checking results.
const std::map<int, int> prime_counts{{100000, 9592},   {200000, 17984},
                                      {300000, 25997},  {2000000, 148933},
                                      {10000000, 664579}};

json primes_batch(const std::vector<int>& belows, size_t n) {
  json items = json::array();
  for (size_t i = 0; i < n; ++i)
    items.push_back({{"below", belows[i % belows.size()]}});
  return {{"kind", "primes"}, {"items", items}};
}

void check_primes(const json& reply, const std::vector<int>& belows, size_t n) {
  REQUIRE(reply["results"].size() == n);
  CHECK(reply["succeeded"] == n);
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i)
    if (reply["results"][i] != json{{"count", prime_counts.at(belows[i % belows.size()])}})
      ++wrong;
  CHECK(wrong == 0);
}

} // namespace

TEST_CASE("cluster: a head and two worker nodes serve one batch together",
          "[cluster]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.cpu.size=2"}};
  CHECK(head.output().find("gateway on 127.0.0.1:" + std::to_string(port))
        != std::string::npos);
  Server w1{worker_args(port, "w1")};
  Server w2{worker_args(port, "w2")};
  REQUIRE(w1.wait_output("joined"));
  REQUIRE(w2.wait_output("joined"));
  auto all = nodes(head);
  REQUIRE(all.size() == 3);
  for (auto id : {"head", "w1", "w2"}) {
    INFO(id);
    CHECK(all[id]["state"] == "up");
    CHECK(all[id]["pools"]["cpu"] == 2);
  }
  // A pool's capacity is the sum over the nodes.
  CHECK(pools(head)["cpu"]["size"] == 6);

  std::vector<int> belows{2000000, 300000, 100000};
  auto r = head.post("/v1/batches", primes_batch(belows, 1000));
  REQUIRE_STATUS(r, 200);
  check_primes(r.j(), belows, 1000);
  all = nodes(head);
  uint64_t total = 0;
  for (auto id : {"head", "w1", "w2"}) {
    INFO(id << ": " << all[id]);
    CHECK(all[id]["completed"] > 0); // every node served part of it
    total += all[id]["completed"].get<uint64_t>();
  }
  CHECK(total == 1000);
}

TEST_CASE("cluster: a worker node killed mid-batch loses nothing and rejoins",
          "[cluster][kill]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.cpu.size=1"}};
  auto w1 = std::make_unique<Server>(worker_args(port, "w1"));
  Server w2{worker_args(port, "w2")};
  REQUIRE(w1->wait_output("joined"));
  REQUIRE(w2.wait_output("joined"));
  std::vector<int> belows{10000000, 2000000};
  json reply;
  std::thread batch{[&] {
    reply = head.post("/v1/batches", primes_batch(belows, 300)).j();
  }};
  // Kill w1 once it is busy with its share.
  REQUIRE(wait_until([&] { return nodes(head)["w1"]["completed"] > 5; }, 30s));
  w1->kill(SIGKILL);
  REQUIRE(wait_until([&] { return node_is(head, "w1", "down"); }, 10s));
  batch.join();
  check_primes(reply, belows, 300);
  // Exactly once: the attempts lost with w1 ran again elsewhere, and the
  // completions counted over all nodes are exactly the batch.
  uint64_t total = 0;
  for (auto& [id, n] : nodes(head))
    total += n["completed"].get<uint64_t>();
  CHECK(total == 300);
  CHECK(pools(head)["cpu"]["failed"] == 0);
  // The node comes back under its name.
  w1 = std::make_unique<Server>(worker_args(port, "w1"));
  REQUIRE(w1->wait_output("joined"));
  CHECK(node_is(head, "w1", "up"));
  CHECK(pools(head)["cpu"]["size"] == 5);
}

TEST_CASE("cluster: a worker node rejoins a head that restarted",
          "[cluster]") {
  auto port = free_port();
  auto store = fresh_store_path();
  std::vector<std::string> head_args{"--cluster.port=" + std::to_string(port),
                                     "--store.path=" + store};
  auto head = std::make_unique<Server>(head_args);
  Server w1{worker_args(port, "w1")};
  REQUIRE(w1.wait_output("joined"));
  head->kill(SIGKILL);
  head->wait_exit();
  REQUIRE(w1.wait_output("lost the head"));
  head = std::make_unique<Server>(head_args);
  REQUIRE(w1.wait_output("joined", 15s, 2));
  CHECK(node_is(*head, "w1", "up"));
}

TEST_CASE("cluster: actorq-cli submits, waits and reads the tasks HTTP sees",
          "[cluster][cli]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port)}};
  auto [rc, out] = run(cli(port, "submit square '{\"value\":12}'"));
  REQUIRE(rc == 0);
  auto submitted = json::parse(out);
  auto id = submitted["id"].get<std::string>();
  CHECK(is_uuid4(id));
  auto [rc2, waited] = run(cli(port, "wait " + id));
  REQUIRE(rc2 == 0);
  auto done = json::parse(waited);
  CHECK(done["status"] == "succeeded");
  CHECK(done["result"] == json{{"result", 144}});
  // One registry, one id space: HTTP shows the same task, byte for byte.
  CHECK(get_task(head, id) == done);
  auto via_http = submit(head, {{"kind", "double"}, {"input", {{"value", 4}}}});
  wait_terminal(head, via_http);
  auto [rc3, status] = run(cli(port, "status " + via_http));
  REQUIRE(rc3 == 0);
  CHECK(json::parse(status) == get_task(head, via_http));
  // A batch from a file, results in input order.
  auto file = fresh_store_path() + ".jsonl";
  {
    std::ofstream f{file};
    for (int i = 0; i < 2500; ++i)
      f << json{{"value", i}}.dump() << "\n";
  }
  auto [rc4, batch] = run(cli(port, "batch square " + file));
  REQUIRE(rc4 == 0);
  auto b = json::parse(batch);
  REQUIRE(b["results"].size() == 2500);
  CHECK(b["results"][2499] == json{{"result", 2499 * 2499}});
  CHECK(b["succeeded"] == 2500);
  // Errors come back as the HTTP API's JSON, with a non-zero exit status.
  auto [rc5, missing] = run(cli(port, "status " + random_uuid4()));
  CHECK(rc5 == 1);
  CHECK(json::parse(missing)["code"] == "not_found");
  auto [rc6, invalid] = run(cli(port, "submit square '{\"value\":\"x\"}'"));
  CHECK(rc6 == 1);
  CHECK(json::parse(invalid)["code"] == "invalid");
  auto [rc7, nodes_out] = run(cli(port, "nodes"));
  CHECK(rc7 == 0);
  CHECK(json::parse(nodes_out)[0]["id"] == "head");
}

TEST_CASE("cluster: with TLS only nodes and clients with a certificate from "
          "the CA get in",
          "[cluster][tls]") {
  auto dir = fresh_store_path() + ".tls";
  std::filesystem::create_directories(dir);
  // A CA, certificates it signs for the head, a node and the CLI, and a
  // second CA whose certificate must be refused.
  auto script = "set -e; cd " + dir + R"(;
    mk_ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
                -keyout $1.key -out $1.pem 2>/dev/null; }
    mk_cert() { openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout $1.key \
                  -out $1.csr 2>/dev/null
                openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key \
                  -CAcreateserial -days 2 -out $1.pem 2>/dev/null; }
    mk_ca ca; mk_ca rogue-ca
    mk_cert head ca; mk_cert node ca; mk_cert cli ca; mk_cert rogue rogue-ca)";
  auto [rc, out] = run("bash -c '" + script + "'");
  REQUIRE(rc == 0);
  auto tls = [&](const std::string& who, const std::string& ca = "ca") {
    return std::vector<std::string>{"--cluster.tls.certificate=" + dir + "/" + who + ".pem",
                                    "--cluster.tls.key=" + dir + "/" + who + ".key",
                                    "--cluster.tls.ca-file=" + dir + "/" + ca + ".pem"};
  };
  auto port = free_port();
  auto head_args = tls("head");
  head_args.push_back("--cluster.port=" + std::to_string(port));
  Server head{head_args};
  CHECK(head.output().find("(TLS)") != std::string::npos);

  Server good{worker_args(port, "good", tls("node"))};
  REQUIRE(good.wait_output("joined"));
  Server plain{worker_args(port, "plain")};
  Server rogue{worker_args(port, "rogue", tls("rogue", "ca"))};
  // Refused: they keep retrying and never join.
  CHECK(plain.wait_output("retrying", 10s));
  CHECK(rogue.wait_output("retrying", 10s));
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(plain.wait_output("joined", 100ms));
  CHECK_FALSE(rogue.wait_output("joined", 100ms));
  auto all = nodes(head);
  CHECK(all.size() == 2);
  CHECK(all.count("good") == 1);
  check_alive(head);

  // The work is served over TLS too.
  auto r = head.post("/v1/batches", primes_batch({100000}, 200));
  REQUIRE_STATUS(r, 200);
  check_primes(r.j(), {100000}, 200);

  auto cli_tls = "--tls.certificate=" + dir + "/cli.pem --tls.key=" + dir
                 + "/cli.key --tls.ca-file=" + dir + "/ca.pem";
  auto [rc1, ok] = run(cli(port, "submit square '{\"value\":3}'", cli_tls));
  CHECK(rc1 == 0);
  CHECK(json::parse(ok, nullptr, false)["kind"] == "square");
  auto [rc2, refused] = run("timeout 20 " + cli(port, "nodes"));
  CHECK(rc2 == 1);
  auto rogue_tls = "--tls.certificate=" + dir + "/rogue.pem --tls.key=" + dir
                   + "/rogue.key --tls.ca-file=" + dir + "/ca.pem";
  auto [rc3, refused2] = run("timeout 20 " + cli(port, "nodes", rogue_tls));
  CHECK(rc3 == 1);
  check_alive(head);
  // Unusable files stop start-up with a message instead of failing at the
  // first handshake.
  auto bad = start_expect_failure({"--cluster.port=" + std::to_string(free_port()),
                                   "--cluster.tls.certificate=" + dir + "/ca.key",
                                   "--cluster.tls.key=" + dir + "/head.key",
                                   "--cluster.tls.ca-file=" + dir + "/ca.pem"});
  CHECK_FALSE(bad.started);
  CHECK(bad.status.code == 2);
  CHECK(bad.output.find("not a usable PEM certificate") != std::string::npos);
  auto half = start_expect_failure({"--cluster.port=" + std::to_string(free_port()),
                                    "--cluster.tls.certificate=" + dir + "/head.pem"});
  CHECK(half.status.code == 2);
  CHECK(half.output.find("key is missing") != std::string::npos);
}

TEST_CASE("cluster: the example client in examples/ works against a head",
          "[cluster][cli]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port)}};
  auto [rc, out] = run(std::string{ACTORQ_EXAMPLE_BIN} + " 127.0.0.1 "
                       + std::to_string(port));
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("succeeded: {\"result\":144}") != std::string::npos);
  CHECK(out.find("{\"result\":25}") != std::string::npos);
}

TEST_CASE("cluster: a node that stops answering (network cut) is given up "
          "after the heartbeat timeout and its attempts run elsewhere",
          "[cluster][cut]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.io.size=2"}};
  Server w1{worker_args(port, "w1")};
  REQUIRE(w1.wait_output("joined"));
  // SIGSTOP freezes the node with its connection open, like a cut cable:
  // only the missing heartbeats tell.
  json items = json::array();
  for (int i = 0; i < 30; ++i)
    items.push_back({{"value", i}, {"delay_ms", 300}});
  json reply;
  std::thread batch{[&] {
    reply = head.post("/v1/batches", json{{"kind", "double"}, {"items", items}}).j();
  }};
  REQUIRE(wait_until([&] { return pools(head)["io"]["busy"] >= 5; }, 10s));
  auto start = Clock::now();
  w1.kill(SIGSTOP);
  REQUIRE(wait_until([&] { return node_is(head, "w1", "down"); }, 15s, 100ms));
  auto detected = ms_since(start);
  batch.join();
  w1.kill(SIGCONT);
  CHECK(detected < 10000);
  REQUIRE(reply["results"].size() == 30);
  CHECK(reply["succeeded"] == 30);
  for (int i = 0; i < 30; ++i)
    CHECK(reply["results"][i] == json{{"result", 2 * i}});
  // The frozen node comes back and rejoins.
  REQUIRE(w1.wait_output("joined", 20s, 2));
  CHECK(node_is(head, "w1", "up"));
}

TEST_CASE("cluster: configs/head.ini and configs/worker.ini start a cluster",
          "[cluster][config]") {
  auto port = std::to_string(free_port());
  Server head{{"--config-file=" + source_dir() + "/configs/head.ini", "--http.port=0",
               "--cluster.port=" + port}};
  Server node{{"--config-file=" + source_dir() + "/configs/worker.ini",
               "--cluster.join=127.0.0.1:" + port, "--cluster.name=from-config"}};
  REQUIRE(node.wait_output("joined"));
  auto all = nodes(head);
  REQUIRE(all.count("from-config") == 1);
  CHECK(all["from-config"]["pools"]["io"] == 1000);
  CHECK(all["from-config"]["state"] == "up");
}

TEST_CASE("cluster: a worker node serves /healthz only when asked",
          "[cluster][config]") {
  auto port = free_port();
  auto http_port = free_port();
  auto health = [&]() -> std::pair<int, json> {
    httplib::Client c{"127.0.0.1", http_port};
    c.set_connection_timeout(1);
    auto res = c.Get("/healthz");
    if (!res)
      return {0, json{}};
    return {res->status, json::parse(res->body, nullptr, false)};
  };
  // No head yet: the node says it is joining.
  Server node{worker_args(port, "healthy", {"--cluster.worker-http",
                                            "--http.port=" + std::to_string(http_port)})};
  REQUIRE(node.wait_output("health on http://"));
  auto [s1, b1] = health();
  CHECK(s1 == 503);
  CHECK(b1["status"] == "joining");
  Server head{{"--cluster.port=" + std::to_string(port)}};
  REQUIRE(node.wait_output("joined", 15s));
  auto [s2, b2] = health();
  CHECK(s2 == 200);
  CHECK(b2["status"] == "ok");
  CHECK(b2["node"] == "healthy");
  // By default a worker node opens no HTTP port.
  Server quiet{worker_args(port, "quiet", {"--http.port=" + std::to_string(http_port + 0)})};
  REQUIRE(quiet.wait_output("joined"));
  CHECK(quiet.output().find("health on") == std::string::npos);
}

TEST_CASE("cluster: the gateway checks what CAF clients send like HTTP does",
          "[cluster][cli]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--http.max-batch-items=10"}};
  auto file = fresh_store_path() + ".json";
  {
    std::ofstream f{file};
    json items = json::array();
    for (int i = 0; i < 25; ++i)
      items.push_back({{"value", i}});
    f << items.dump();
  }
  auto [rc, out] = run(cli(port, "batch square " + file));
  CHECK(rc == 1);
  CHECK(json::parse(out, nullptr, false)["code"] == "invalid");
  CHECK(out.find("at most 10") != std::string::npos);
  auto [rc2, out2] = run(cli(port, "batch square " + file + " --chunk=10"));
  CHECK(rc2 == 0);
  CHECK(json::parse(out2, nullptr, false)["succeeded"] == 25);
  auto [rc3, out3] = run(cli(port, "submit primes '{\"below\":1000000000000}'"));
  CHECK(rc3 == 1);
  CHECK(json::parse(out3, nullptr, false)["code"] == "invalid");
  auto [rc4, out4] = run(cli(port, "submit square '{\"value\":2}' --pool=nosuch"));
  CHECK(rc4 == 1);
  CHECK(out4.find("pool") != std::string::npos);
  check_alive(head);
}

TEST_CASE("cluster: a worker that crashes on a worker node fails its attempt "
          "once and is restarted there",
          "[cluster]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.io.size=1",
               "--supervisor.min-backoff=20ms"}};
  Server w1{worker_args(port, "w1", {"--pools.io.size=1", "--supervisor.min-backoff=20ms"})};
  REQUIRE(w1.wait_output("joined"));
  // Idle workers are taken last-in first-out: w1's joined last, so the next
  // io attempt goes to w1.
  auto crash = submit(head, {{"kind", "crash"}, {"max_retries", 0}});
  auto t = wait_terminal(head, crash);
  CHECK(t["status"] == "failed");
  CHECK(t["attempts"] == 1);
  CHECK(nodes(head)["w1"]["failed"] == 1);
  // Reported once (by w1's supervisor or the head's own monitor, not both).
  REQUIRE(wait_until([&] { return pools(head)["io"]["restarts"] == 1; }, 5s));
  std::this_thread::sleep_for(200ms);
  CHECK(pools(head)["io"]["restarts"] == 1);
  // w1 restarted its worker: it serves again.
  auto after = submit(head, {{"kind", "double"}, {"input", {{"value", 5}}}});
  auto done = wait_terminal(head, after);
  CHECK(done["status"] == "succeeded");
  CHECK(nodes(head)["w1"]["completed"] == 1);
}

TEST_CASE("cluster: a paused pool gives its worker nodes no work until it "
          "resumes",
          "[cluster][operator]") {
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.io.size=1"}};
  Server w1{worker_args(port, "w1", {"--pools.io.size=2"})};
  REQUIRE(w1.wait_output("joined"));
  REQUIRE_STATUS(head.post("/v1/pools/io/pause", ""), 200);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.push_back(
        submit(head, {{"kind", "double"}, {"input", {{"value", i}}}}));
  std::this_thread::sleep_for(300ms);
  for (auto& id : ids)
    CHECK(get_task(head, id)["status"] == "queued");
  CHECK(nodes(head)["w1"]["completed"] == 0);
  CHECK(pools(head)["io"]["queued"] == 4);
  REQUIRE_STATUS(head.post("/v1/pools/io/resume", ""), 200);
  for (auto& id : ids)
    CHECK(wait_terminal(head, id)["status"] == "succeeded");
  CHECK(nodes(head)["w1"]["completed"].get<int>() >= 1);
}

TEST_CASE("cluster: a kind's rate limit holds for the whole cluster, worker "
          "nodes included",
          "[cluster][rate]") {
  // 20/s, decided by the head: the head's one io worker and w1's four all
  // take sleep attempts, but no faster together than 20 per second.
  auto port = free_port();
  Server head{{"--cluster.port=" + std::to_string(port), "--pools.io.size=1",
               "--kinds.sleep.rate=20/s"}};
  Server w1{worker_args(port, "w1", {"--pools.io.size=4"})};
  REQUIRE(w1.wait_output("joined"));
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back(submit(head, {{"kind", "sleep"}, {"input", {{"ms", 150}}}}));
  std::vector<long long> starts;
  for (auto& id : ids) {
    auto t = wait_terminal(head, id, 20s);
    CHECK(t["status"] == "succeeded");
    REQUIRE(t["started_at"].is_string());
    starts.push_back(iso8601_to_epoch_ms(t["started_at"].get<std::string>()));
  }
  std::sort(starts.begin(), starts.end());
  // Start i at least (i - 1) * 50 ms after the first (20 ms slack for the
  // millisecond timestamps taken on two processes' clocks).
  for (size_t i = 1; i < starts.size(); ++i) {
    INFO("start " << i << " at +" << starts[i] - starts[0] << " ms");
    CHECK(starts[i] - starts[0] >= static_cast<long long>(i - 1) * 50 - 20);
  }
  CHECK(starts.back() - starts.front() >= 1900);
  // Each attempt sleeps 150 ms and one starts every 50 ms: the head's one
  // worker cannot take them all, so the worker node ran some.
  CHECK(nodes(head)["w1"]["completed"].get<int>() > 0);
}
