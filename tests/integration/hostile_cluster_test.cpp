// Hostile peers of the cluster port and heavy clients: a plain gateway stays
// on loopback unless the operator accepts the risk; with TLS a forged BASP
// header declaring a 1 GiB payload allocates nothing (the handshake comes
// first); memory taken by large batches goes back to the system.
#include "server.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace itest;

namespace {

/// VmRSS of a process in MiB.
double rss_mib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

/// A CA and a head certificate it signs, made with the openssl CLI.
std::vector<std::string> head_tls(const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto script = "set -e; cd " + dir + R"(;
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=head -keyout head.key \
      -out head.csr 2>/dev/null
    openssl x509 -req -in head.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 2 -out head.pem 2>/dev/null)";
  REQUIRE(std::system(("bash -c '" + script + "'").c_str()) == 0);
  return {"--cluster.tls.certificate=" + dir + "/head.pem",
          "--cluster.tls.key=" + dir + "/head.key",
          "--cluster.tls.ca-file=" + dir + "/ca.pem"};
}

/// Connects to 127.0.0.1:port and sends `bytes`; keeps the socket open.
int send_raw(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL)
          == static_cast<ssize_t>(bytes.size()));
  return fd;
}

/// A 32-byte BASP header (CAF 0.17: operation, 3 padding/flag bytes, payload
/// length, operation data, source and destination actor ids; big endian)
/// declaring a 1 GiB payload.
std::string forged_basp_header() {
  std::string h(32, '\0');
  h[0] = 0x00; // server handshake
  uint32_t len = 1u << 30;
  for (int i = 0; i < 4; ++i)
    h[4 + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xFF);
  return h;
}

} // namespace

TEST_CASE("hostile cluster: a plain gateway listens on loopback only unless "
          "cluster.insecure",
          "[cluster][hostile]") {
  auto port = std::to_string(free_port());
  auto refused = start_expect_failure(
      {"--cluster.port=" + port, "--cluster.host=0.0.0.0"});
  CHECK_FALSE(refused.started);
  CHECK(refused.status.code == 2);
  CHECK(refused.output.find("cluster.host") != std::string::npos);
  CHECK(refused.output.find("cluster.insecure") != std::string::npos);
  Server accepted{{"--cluster.port=" + port, "--cluster.host=0.0.0.0",
                   "--cluster.insecure"}};
  CHECK(accepted.wait_output("\"event\":\"config_warning\""));
  CHECK(accepted.output().find("is plain BASP (cluster.insecure)") != std::string::npos);
  CHECK(accepted.get("/healthz").status == 200);
}

TEST_CASE("hostile cluster: with TLS a forged 1 GiB BASP header allocates "
          "nothing",
          "[cluster][hostile][tls]") {
  auto port = free_port();
  auto args = head_tls(fresh_store_path() + ".tls");
  args.push_back("--cluster.port=" + std::to_string(port));
  args.push_back("--cluster.host=0.0.0.0"); // TLS: allowed off loopback
  Server head{args};
  REQUIRE(head.wait_output("(TLS)"));
  auto before = rss_mib(head.pid());
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i)
    fds.push_back(send_raw(port, forged_basp_header()));
  std::this_thread::sleep_for(1500ms);
  auto after = rss_mib(head.pid());
  INFO("RSS before " << before << " MiB, after " << after << " MiB");
  CHECK(after - before < 100);
  CHECK(head.get("/healthz").status == 200);
  for (auto fd : fds)
    ::close(fd);
  CHECK(head.running());
}

TEST_CASE("hostile cluster: memory taken by large batches goes back to the "
          "system",
          "[memory][hostile]") {
  Server srv{{"--store.path=:memory:", "--http.max-batch-items=100000",
              "--http.max-body-bytes=4194304", "--pools.io.queue-limit=3000000"}};
  std::this_thread::sleep_for(300ms);
  auto idle = rss_mib(srv.pid());
  // 20 concurrent batches of 100 000 items (echo: no delay).
  std::string body;
  {
    json items = json::array();
    for (int i = 0; i < 100000; ++i)
      items.push_back({{"i", i}});
    body = json{{"kind", "echo"}, {"items", items}}.dump();
  }
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i)
    clients.emplace_back([&] {
      auto cli = srv.client(60s);
      auto r = cli.Post("/v1/batches", body, "application/json");
      if (r && r->status == 200)
        ++ok;
    });
  double peak = 0;
  for (int i = 0; i < 40 && ok < 20; ++i) {
    peak = std::max(peak, rss_mib(srv.pid()));
    std::this_thread::sleep_for(100ms);
  }
  for (auto& t : clients)
    t.join();
  CHECK(ok == 20);
  // Freed pages go back within a few release periods.
  double now = 0;
  bool back = wait_until(
      [&] {
        now = rss_mib(srv.pid());
        return now - idle < 100;
      },
      5s, 100ms);
  INFO("idle " << idle << " MiB, peak " << peak << " MiB, after " << now
               << " MiB");
  CHECK(back);
}
