// http runner: real calls over real sockets against a local httplib server on
// 127.0.0.1 (plain and TLS with a throwaway self-signed certificate).
#include "actors/http_runner.hpp"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace actorq;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

int64_t ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now()
                                                               - t)
      .count();
}

/// A server on a free port of 127.0.0.1, stopped at scope exit. Slow
/// handlers wait in nap(), which the teardown cuts short.
template <class Server>
class local_server {
public:
  template <class... Args>
  explicit local_server(Args&&... args) : svr_(std::forward<Args>(args)...) {
    // One thread per connection: 200 concurrent calls need 200 threads.
    svr_.new_task_queue = [] {
      return new httplib::ThreadPool(256);
    };
    // The default (5) would make the runner reconnect every 5 calls.
    svr_.set_keep_alive_max_count(1000000);
    // httplib writes headers and body apart: without this, each answer waits
    // for the client's delayed ACK.
    svr_.set_tcp_nodelay(true);
    svr_.set_socket_options([this](socket_t fd) { listen_fd_ = fd; });
  }

  ~local_server() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_all();
    svr_.stop();
    if (thread_.joinable())
      thread_.join();
  }

  Server& svr() {
    return svr_;
  }

  void start(const char* scheme = "http") {
    scheme_ = scheme;
    port_ = svr_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    // Debian's httplib listens with a backlog of 5: a burst of connects
    // then meets dropped SYNs and failed SYN cookies (resets). Listening
    // again only raises the backlog.
    REQUIRE(::listen(listen_fd_, 1024) == 0);
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    // stop() before listening has begun would be lost.
    while (!svr_.is_running())
      std::this_thread::sleep_for(1ms);
  }

  std::string url(const std::string& path) const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path;
  }

  void nap(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, d, [&] { return closing_; });
  }

private:
  Server svr_;
  std::string scheme_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
};

using plain_server = local_server<httplib::Server>;

std::shared_ptr<http_spec> spec_for(const std::string& url) {
  auto spec = std::make_shared<http_spec>();
  REQUIRE(parse_http_url(url, *spec).empty());
  return spec;
}

run_order order(int64_t timeout_ms = 5000, std::string input = R"({"x":1})") {
  run_order o;
  o.kind = "remote";
  o.input = std::move(input);
  o.attempt = 2;
  o.attempt_id = "attempt-7";
  o.task_id = "task-9";
  o.timeout_ms = timeout_ms;
  return o;
}

/// A started call's `done`, counted: it must come exactly once. (A mutex,
/// not std::promise: ThreadSanitizer cannot see through the latter.)
struct pending {
  struct state {
    std::mutex mutex;
    std::condition_variable cv;
    int dones = 0;
    run_result result;
  };
  std::shared_ptr<state> st = std::make_shared<state>();
  uint64_t handle = 0;

  run_callbacks callbacks() {
    return {[st = st](run_result r) {
              std::lock_guard<std::mutex> lock(st->mutex);
              if (++st->dones == 1)
                st->result = std::move(r);
              st->cv.notify_all();
            },
            {}};
  }

  int dones() const {
    std::lock_guard<std::mutex> lock(st->mutex);
    return st->dones;
  }

  run_result wait(std::chrono::milliseconds limit = 10s) {
    std::unique_lock<std::mutex> lock(st->mutex);
    REQUIRE(st->cv.wait_for(lock, limit, [&] { return st->dones > 0; }));
    return st->result;
  }
};

pending start(http_runner& runner, std::shared_ptr<const http_spec> spec,
              run_order o = order()) {
  pending p;
  p.handle = runner.start(std::move(spec), std::move(o), p.callbacks());
  return p;
}

run_result call(http_runner& runner, std::shared_ptr<const http_spec> spec,
                run_order o = order()) {
  return start(runner, std::move(spec), std::move(o)).wait();
}

/// An HTTP-date `seconds` from now.
std::string http_date_in(int seconds) {
  std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

/// A bound, not listening socket: connecting to its port is refused, and
/// nobody else can take the port meanwhile.
struct refusing_port {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;

  refusing_port() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~refusing_port() {
    ::close(fd);
  }
};

/// A listening socket nobody accepts on. Backlog 0 and two connections made
/// beforehand fill its accept queue, so that later SYNs go unanswered and a
/// connect hangs; otherwise connects complete (in the kernel) and whatever
/// follows, a request or a TLS handshake, gets no answer.
struct silent_listener {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  std::vector<int> fillers;

  explicit silent_listener(bool fill) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
    REQUIRE(::listen(fd, fill ? 0 : 16) == 0);
    for (int i = 0; fill && i < 2; ++i) {
      fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
      ::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), len);
    }
    std::this_thread::sleep_for(50ms); // let the fillers' handshakes finish
  }
  ~silent_listener() {
    for (int f : fillers)
      ::close(f);
    ::close(fd);
  }
  std::string url(const char* scheme) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port) + "/";
  }
};

/// A self-signed certificate for `alt_name` (e.g. IP:127.0.0.1) in a
/// temporary directory.
struct self_signed {
  std::string dir;

  explicit self_signed(const std::string& alt_name) {
    char tmpl[] = "/tmp/actorq-http-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto cmd = "openssl req -x509 -newkey ec -pkeyopt "
               "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=actorq "
               "-addext subjectAltName="
               + alt_name + " -keyout " + key() + " -out " + cert()
               + " 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  ~self_signed() {
    std::system(("rm -rf " + dir).c_str()); // ours: made by mkdtemp
  }
  /// A hashed CA directory (as in /etc/ssl/certs) holding the certificate.
  std::string ca_dir() const {
    auto cmd = "cd " + dir
               + " && mkdir -p ca && cp cert.pem ca/$(openssl "
                 "x509 -hash -noout -in cert.pem).0";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return dir + "/ca";
  }
  std::string key() const {
    return dir + "/key.pem";
  }
  std::string cert() const {
    return dir + "/cert.pem";
  }
};

/// Sets (or, with nullptr, unsets) an environment variable while it lives,
/// then puts back what was there: SSL_CERT_FILE and SSL_CERT_DIR tell OpenSSL
/// and the runner where CAs are, and may be set around the tests.
struct env_override {
  std::string name;
  std::optional<std::string> before;

  env_override(std::string n, const char* value) : name(std::move(n)) {
    if (const char* old = std::getenv(name.c_str()))
      before = old;
    if (value)
      ::setenv(name.c_str(), value, 1);
    else
      ::unsetenv(name.c_str());
  }
  ~env_override() {
    if (before)
      ::setenv(name.c_str(), before->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

using tls_server = local_server<httplib::SSLServer>;

/// Starts `server` answering POST / with the request body.
void start_tls_echo(tls_server& server) {
  REQUIRE(server.svr().is_valid());
  server.svr().Post("/",
                    [](const httplib::Request& req, httplib::Response& res) {
                      res.set_content(req.body, "application/json");
                    });
  server.start("https");
}

} // namespace

TEST_CASE("http runner: parse_http_url", "[http_runner]") {
  http_spec s;
  CHECK(parse_http_url("http://Example.COM:8080/a/b?x=1&y=2#frag", s).empty());
  CHECK(s.scheme == "http");
  CHECK(s.host == "example.com");
  CHECK(s.port == 8080);
  CHECK(s.path == "/a/b?x=1&y=2");
  CHECK(s.url == "http://Example.COM:8080/a/b?x=1&y=2#frag");

  CHECK(parse_http_url("https://jobs.example", s).empty());
  CHECK((s.scheme == "https" && s.port == 443 && s.path == "/"));
  CHECK(parse_http_url("HTTP://h?q=1", s).empty());
  CHECK((s.port == 80 && s.path == "/?q=1"));
  CHECK(parse_http_url("http://[::1]:9000/x", s).empty());
  CHECK((s.host == "::1" && s.port == 9000));

  http_spec untouched;
  CHECK_THAT(parse_http_url("", untouched), Catch::Contains("http://"));
  CHECK_THAT(parse_http_url("ftp://h/", untouched), Catch::Contains("scheme"));
  CHECK_THAT(parse_http_url("http:///path", untouched),
             Catch::Contains("no host"));
  CHECK_THAT(parse_http_url("http://h:0/", untouched), Catch::Contains("port"));
  CHECK_THAT(parse_http_url("http://h:99999/", untouched),
             Catch::Contains("port"));
  CHECK_THAT(parse_http_url("http://h:x/", untouched), Catch::Contains("port"));
  CHECK_THAT(parse_http_url("http://u:p@h/", untouched),
             Catch::Contains("user info"));
  CHECK_THAT(parse_http_url("http://h/a b", untouched),
             Catch::Contains("space"));
  CHECK_THAT(parse_http_url("http://h$/", untouched), Catch::Contains("host"));
  CHECK(untouched.host.empty());
}

TEST_CASE("http runner: a 2xx body is the result", "[http_runner]") {
  plain_server server;
  auto& svr = server.svr();
  svr.Post("/json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"doubled":[2,4]})", "application/json");
  });
  svr.Post("/empty", [](const httplib::Request&, httplib::Response& res) {});
  svr.Post("/no-content", [](const httplib::Request&, httplib::Response& res) {
    res.status = 204;
  });
  svr.Post("/text", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello", "text/plain");
  });
  server.start();
  http_runner runner;

  auto r = call(runner, spec_for(server.url("/json")));
  REQUIRE(r.ok);
  CHECK(r.result == nlohmann::json::parse(R"({"doubled":[2,4]})"));

  r = call(runner, spec_for(server.url("/empty")));
  CHECK(r.ok);
  CHECK(r.result.is_null());
  r = call(runner, spec_for(server.url("/no-content")));
  CHECK(r.ok);
  CHECK(r.result.is_null());

  r = call(runner, spec_for(server.url("/text")));
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.permanent);
  CHECK_THAT(r.error, Catch::Contains("not JSON")
                          && Catch::Contains(server.url("/text"))
                          && Catch::Contains("hello"));
  CHECK(runner.running() == 0);
}

TEST_CASE("http runner: method, body and headers reach the server",
          "[http_runner]") {
  plain_server server;
  std::mutex mutex;
  std::vector<httplib::Request> seen;
  server.svr().Put("/echo",
                   [&](const httplib::Request& req, httplib::Response& res) {
                     std::lock_guard<std::mutex> lock(mutex);
                     seen.push_back(req);
                     res.set_content("{}", "application/json");
                   });
  server.start();
  http_runner runner;
  auto spec = spec_for(server.url("/echo"));
  spec->method = "PUT";
  spec->headers = {{"Authorization", "Bearer s3cret"}, {"X-Extra", "1"}};

  REQUIRE(call(runner, spec, order(5000, R"({"value":21})")).ok);
  auto batch_item = order();
  batch_item.task_id.clear();
  REQUIRE(call(runner, spec, batch_item).ok);

  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(seen.size() == 2);
  const auto& req = seen[0];
  CHECK(req.method == "PUT");
  CHECK(req.body == R"({"value":21})");
  CHECK(req.get_header_value("Content-Type") == "application/json");
  CHECK(req.get_header_value("X-Actorq-Attempt-Id") == "attempt-7");
  CHECK(req.get_header_value("X-Actorq-Attempt") == "2");
  CHECK(req.get_header_value("X-Actorq-Task-Id") == "task-9");
  CHECK(req.get_header_value("Authorization") == "Bearer s3cret");
  CHECK(req.get_header_value("X-Extra") == "1");
  CHECK_FALSE(seen[1].has_header("X-Actorq-Task-Id"));
}

TEST_CASE("http runner: non-2xx answers", "[http_runner]") {
  plain_server server;
  server.svr().Post(R"(/status/(\d+))", [](const httplib::Request& req,
                                           httplib::Response& res) {
    res.status = std::stoi(req.matches[1]);
    if (req.has_header("X-Retry-After"))
      res.set_header("Retry-After", req.get_header_value("X-Retry-After"));
    res.set_content(req.get_header_value("X-Body"), "text/plain");
  });
  server.start();
  http_runner runner;
  auto answer = [&](int status, std::string body = "",
                    std::string retry_after = "") {
    auto spec = spec_for(server.url("/status/" + std::to_string(status)));
    spec->headers = {{"X-Body", body}};
    if (!retry_after.empty())
      spec->headers.emplace_back("X-Retry-After", retry_after);
    return call(runner, spec);
  };

  auto r = answer(404, "no such job");
  CHECK_FALSE(r.ok);
  CHECK(r.permanent);
  CHECK(r.error
        == "HTTP 404 from POST " + server.url("/status/404") + ": no such job");
  CHECK(answer(400).permanent);
  auto with_token = spec_for(server.url("/status/401?token=s3cret"));
  r = call(runner, with_token);
  CHECK(r.error == "HTTP 401 from POST " + server.url("/status/401"));
  CHECK(answer(302).permanent);

  for (int transient : {408, 429, 500, 502, 503}) {
    r = answer(transient, "busy");
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.permanent);
    CHECK_THAT(r.error, Catch::StartsWith("HTTP " + std::to_string(transient)));
  }

  CHECK(answer(429, "", "2").retry_after_ms == 2000);
  auto dated = answer(503, "", http_date_in(3)).retry_after_ms;
  CHECK((dated > 1000 && dated <= 3000));
  CHECK(answer(503, "", "soon").retry_after_ms == 0);
  CHECK(answer(500, "", "2").retry_after_ms == 0); // only 429 and 503

  r = answer(500, std::string(5000, 'x'));
  auto body = r.error.substr(r.error.find(": ") + 2);
  CHECK(body == std::string(1024, 'x') + " ...");
}

TEST_CASE("http runner: configured headers that cannot be sent",
          "[http_runner]") {
  http_runner runner;
  auto spec = spec_for("http://127.0.0.1:9/");
  spec->headers = {{"X-Token", "a\r\nX-Evil: 1"}};
  auto r = call(runner, spec);
  CHECK_FALSE(r.ok);
  CHECK(r.permanent);
  CHECK_THAT(r.error, Catch::Contains("line break"));
}

TEST_CASE("http runner: connection refused", "[http_runner]") {
  refusing_port closed;
  http_runner runner;
  auto r =
      call(runner,
           spec_for("http://127.0.0.1:" + std::to_string(closed.port) + "/x"));
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.permanent);
  CHECK_THAT(r.error, Catch::Contains("connection refused"));
}

TEST_CASE("http runner: the attempt timeout bounds the call", "[http_runner]") {
  plain_server server;
  server.svr().Post("/slow",
                    [&](const httplib::Request&, httplib::Response& res) {
                      server.nap(2s);
                      res.set_content("{}", "application/json");
                    });
  server.start();
  http_runner runner;

  auto t0 = steady::now();
  auto r = call(runner, spec_for(server.url("/slow")), order(300));
  auto took = ms_since(t0);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.permanent);
  CHECK_THAT(r.error, Catch::StartsWith("timed out after 300 ms"));
  CHECK(took >= 290);
  CHECK(took < 1000);
}

TEST_CASE("http runner: cancel", "[http_runner]") {
  plain_server server;
  std::atomic<int> arrived{0};
  server.svr().Post("/slow",
                    [&](const httplib::Request&, httplib::Response& res) {
                      ++arrived;
                      server.nap(5s);
                      res.set_content("{}", "application/json");
                    });
  server.svr().Post("/fast",
                    [](const httplib::Request&, httplib::Response& res) {
                      res.set_content("{}", "application/json");
                    });
  server.start();
  http_runner runner;

  SECTION("during the call") {
    auto p = start(runner, spec_for(server.url("/slow")), order(0));
    while (arrived == 0)
      std::this_thread::sleep_for(1ms);
    auto t0 = steady::now();
    runner.cancel(p.handle);
    auto r = p.wait(2s);
    CHECK(ms_since(t0) < 500);
    CHECK(r.error == "cancelled");
    CHECK(runner.running() == 0);
    // The thread and its client are fine afterwards.
    CHECK(call(runner, spec_for(server.url("/fast"))).ok);
  }
  SECTION("right after start") {
    for (int i = 0; i < 20; ++i) {
      auto p = start(runner, spec_for(server.url("/slow")), order(0));
      runner.cancel(p.handle);
      auto r = p.wait(2s);
      CHECK(r.error == "cancelled");
    }
  }
  SECTION("after done, or of an unknown handle: nothing happens") {
    auto p = start(runner, spec_for(server.url("/fast")));
    CHECK(p.wait().ok);
    runner.cancel(p.handle);
    runner.cancel(987654321);
    std::this_thread::sleep_for(50ms);
    CHECK(p.dones() == 1);
  }
  SECTION("destroying the runner cancels what runs") {
    auto slow = std::make_unique<http_runner>();
    auto p = start(*slow, spec_for(server.url("/slow")), order(0));
    while (arrived == 0)
      std::this_thread::sleep_for(1ms);
    auto t0 = steady::now();
    slow.reset();
    CHECK(ms_since(t0) < 500);
    CHECK(p.wait(0ms).error == "cancelled");
  }
}

TEST_CASE("http runner: cancel and timeout while connecting or in the TLS "
          "handshake",
          "[http_runner]") {
  http_runner runner;
  auto cancel_after_100ms = [&](const std::string& url) {
    auto p = start(runner, spec_for(url), order(0));
    std::this_thread::sleep_for(100ms);
    auto t0 = steady::now();
    runner.cancel(p.handle);
    auto r = p.wait(2s);
    CHECK(ms_since(t0) < 500);
    return r.error;
  };

  SECTION("connect") {
    silent_listener full(true);
    CHECK(cancel_after_100ms(full.url("http")) == "cancelled");
    auto t0 = steady::now();
    auto r = call(runner, spec_for(full.url("http")), order(300));
    CHECK_THAT(r.error, Catch::StartsWith("timed out after 300 ms"));
    CHECK(ms_since(t0) < 1000);
  }
  SECTION("TLS handshake") {
    silent_listener mute(false);
    CHECK(cancel_after_100ms(mute.url("https")) == "cancelled");
  }
  SECTION("waiting for the answer") {
    silent_listener mute(false);
    CHECK(cancel_after_100ms(mute.url("http")) == "cancelled");
  }
}

TEST_CASE("http runner: a server closing kept-alive connections",
          "[http_runner]") {
  plain_server server;
  server.svr().set_keep_alive_max_count(2); // "Connection: close" every 2nd
  std::mutex mutex;
  std::set<int> ports;
  server.svr().Post("/",
                    [&](const httplib::Request& req, httplib::Response& res) {
                      std::lock_guard<std::mutex> lock(mutex);
                      ports.insert(req.remote_port);
                      res.set_content("{}", "application/json");
                    });
  server.start();
  http_runner runner;
  auto spec = spec_for(server.url("/"));
  for (int i = 0; i < 10; ++i)
    REQUIRE(call(runner, spec).ok);
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(ports.size() == 5);
}

TEST_CASE("http runner: sequential calls reuse one connection",
          "[http_runner]") {
  plain_server server;
  std::mutex mutex;
  std::multiset<int> ports;
  server.svr().Post("/",
                    [&](const httplib::Request& req, httplib::Response& res) {
                      std::lock_guard<std::mutex> lock(mutex);
                      ports.insert(req.remote_port);
                      res.set_content("{}", "application/json");
                    });
  server.start();
  http_runner runner;
  auto spec = spec_for(server.url("/"));
  for (int i = 0; i < 50; ++i)
    REQUIRE(call(runner, spec).ok);
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(ports.size() == 50);
  CHECK(std::set<int>(ports.begin(), ports.end()).size() == 1);
}

TEST_CASE("http runner: concurrent calls get threads on demand",
          "[http_runner]") {
  plain_server server;
  server.svr().Post("/", [&](const httplib::Request&, httplib::Response& res) {
    server.nap(200ms);
    res.set_content(R"({"ok":true})", "application/json");
  });
  server.start();
  http_runner runner;
  auto spec = spec_for(server.url("/"));
  std::vector<pending> calls;
  auto t0 = steady::now();
  for (int i = 0; i < 200; ++i)
    calls.push_back(start(runner, spec, order(8000)));
  CHECK(runner.running() == 200);
  int ok = 0;
  for (auto& p : calls) {
    auto r = p.wait();
    ok += r.ok;
    if (!r.ok)
      WARN(r.error);
  }
  auto took = ms_since(t0);
  CHECK(ok == 200);
  // Serially, or on a thread per core, this takes 20-40 s; 8 threads, 5 s.
  CHECK(took < 3000);
  INFO("200 calls of 200 ms took " << took << " ms");
  CHECK(runner.running() == 0);
}

TEST_CASE("http runner: https", "[http_runner]") {
  self_signed cert("IP:127.0.0.1");
  tls_server server(cert.cert().c_str(), cert.key().c_str());
  start_tls_echo(server);
  auto spec = spec_for(server.url("/"));

  SECTION("tls-verify = false takes any certificate") {
    http_runner runner;
    spec->tls_verify = false;
    auto r = call(runner, spec);
    REQUIRE(r.ok);
    CHECK(r.result == nlohmann::json{{"x", 1}});
    CHECK(call(runner, spec).ok); // on the kept-alive TLS connection
  }
  SECTION("verified: a self-signed certificate fails") {
    http_runner runner;
    auto r = call(runner, spec);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.permanent);
    CHECK_THAT(r.error, Catch::StartsWith("TLS certificate verification "
                                          "failed: self"));
  }
  SECTION("verified against a CA directory (the runner's default way)") {
    env_override no_file("SSL_CERT_FILE", nullptr); // else: its defaults
    env_override trusted("SSL_CERT_DIR", cert.ca_dir().c_str());
    http_runner runner; // reads the variables on its first verifying client
    CHECK(call(runner, spec).ok);
    CHECK(call(runner, spec).ok);
  }
  SECTION("verified against a CA file (OpenSSL's defaults)") {
    env_override trusted("SSL_CERT_FILE", cert.cert().c_str());
    http_runner runner;
    CHECK(call(runner, spec).ok);
  }
}

TEST_CASE("http runner: https to a certificate of another name",
          "[http_runner]") {
  self_signed cert("DNS:elsewhere.example");
  tls_server server(cert.cert().c_str(), cert.key().c_str());
  start_tls_echo(server);
  env_override no_file("SSL_CERT_FILE", nullptr);
  env_override trusted("SSL_CERT_DIR", cert.ca_dir().c_str());
  http_runner runner;
  auto r = call(runner, spec_for(server.url("/")));
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("does not name 127.0.0.1"));
}
