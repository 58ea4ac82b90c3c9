// socket_stream: the HTTP server's connection stream, over a real loopback
// TCP connection.
#include "http/socket_stream.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

using namespace actorq::http;
using namespace std::chrono_literals;

namespace {

/// A connected pair of loopback TCP sockets: `server` (accepted) and `client`.
struct tcp_pair {
  int server = -1;
  int client = -1;

  tcp_pair() {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len)
            == 0);
    client = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    server = ::accept(listener, nullptr, nullptr);
    REQUIRE(server >= 0);
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::close(listener);
  }

  ~tcp_pair() {
    ::close(server);
    if (client >= 0)
      ::close(client);
  }

  void send(const std::string& s) const {
    REQUIRE(::send(client, s.data(), s.size(), 0)
            == static_cast<ssize_t>(s.size()));
  }

  /// What the client has received within `wait`, up to `n` bytes.
  std::string receive(size_t n, std::chrono::milliseconds wait = 2s) const {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      auto got = ::recv(client, buf, sizeof(buf), MSG_DONTWAIT);
      if (got > 0)
        out.append(buf, static_cast<size_t>(got));
      else
        std::this_thread::sleep_for(1ms);
    }
    return out;
  }
};

const socket_stream::timeouts short_waits{200ms, 200ms};

std::string read_all(socket_stream& s, size_t n, size_t step) {
  std::string out;
  char buf[64];
  while (out.size() < n) {
    auto got = s.read(buf, std::min(step, sizeof(buf)));
    if (got <= 0)
      break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

} // namespace

TEST_CASE("socket_stream reads byte by byte what one recv brought, and keeps "
          "the rest for the next request",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  p.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  REQUIRE(s.wait_request(1s, -1) == socket_stream::wait_result::request);
  CHECK(read_all(s, 19, 1) == "GET /a HTTP/1.1\r\n\r\n");
  // The second (pipelined) request is buffered already: no wait.
  CHECK(s.wait_request(0ms, -1) == socket_stream::wait_result::request);
  CHECK(read_all(s, 19, 7) == "GET /b HTTP/1.1\r\n\r\n");
}

TEST_CASE("socket_stream reads large bodies straight into the caller's buffer",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  std::string body(100 * 1024, 'x');
  std::thread sender{[&] { p.send(body); }};
  std::string got;
  std::vector<char> buf(32 * 1024);
  while (got.size() < body.size()) {
    auto n = s.read(buf.data(), buf.size());
    REQUIRE(n > 0);
    got.append(buf.data(), static_cast<size_t>(n));
  }
  sender.join();
  CHECK(got == body);
}

TEST_CASE("socket_stream's read times out with -1 and reports the end of "
          "stream with 0",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  char c;
  auto start = std::chrono::steady_clock::now();
  CHECK(s.read(&c, 1) == -1);
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  CHECK_FALSE(s.is_readable());
  ::shutdown(p.client, SHUT_WR);
  CHECK(s.is_readable());
  CHECK(s.read(&c, 1) == 0);
}

TEST_CASE("socket_stream holds a response's head and sends it with the body",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  CHECK(s.write(head.data(), head.size())
        == static_cast<ssize_t>(head.size()));
  // Held: nothing has been sent yet.
  CHECK(p.receive(1, 50ms).empty());
  CHECK(s.write("ok", 2) == 2);
  CHECK(p.receive(head.size() + 2) == head + "ok");
  // A head alone (no body) goes out with flush().
  CHECK(s.write(head.data(), head.size())
        == static_cast<ssize_t>(head.size()));
  CHECK(s.flush());
  CHECK(p.receive(head.size()) == head);
}

TEST_CASE("socket_stream sends what it holds before it waits to read "
          "(100 Continue)",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, {2s, 2s}};
  std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  s.write(interim.data(), interim.size());
  std::thread client{[&] {
    // The client sends its body only once it has the interim answer.
    auto got = p.receive(interim.size());
    if (got == interim)
      p.send("body");
  }};
  char buf[4];
  CHECK(read_all(s, 4, sizeof(buf)) == "body");
  client.join();
}

TEST_CASE("socket_stream's write fails once the peer is gone",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  ::close(p.client);
  p.client = -1;
  std::string chunk(64 * 1024, 'y');
  ssize_t last = 0;
  // The first send may still be accepted by the kernel; a reset follows.
  for (int i = 0; i < 50 && last >= 0; ++i) {
    s.write(chunk.data(), chunk.size()); // held or sent
    last = s.write(chunk.data(), chunk.size());
    std::this_thread::sleep_for(1ms);
  }
  CHECK(last == -1);
}

TEST_CASE("socket_stream's wait for the next request ends on data, on its "
          "timeout, on the stop signal and on the wake-up signal",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  int stop = ::eventfd(0, EFD_CLOEXEC);
  auto start = std::chrono::steady_clock::now();
  CHECK(s.wait_request(100ms, stop) == socket_stream::wait_result::timeout);
  CHECK(std::chrono::steady_clock::now() - start >= 90ms);
  std::thread stopper{[&] {
    std::this_thread::sleep_for(50ms);
    uint64_t one = 1;
    CHECK(::write(stop, &one, sizeof(one)) == sizeof(one));
  }};
  start = std::chrono::steady_clock::now();
  CHECK(s.wait_request(10s, stop) == socket_stream::wait_result::stopped);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  stopper.join();
  ::close(stop);
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  uint64_t one = 1;
  CHECK(::write(wake, &one, sizeof(one)) == sizeof(one));
  CHECK(s.wait_request(1s, -1, wake) == socket_stream::wait_result::woken);
  // Read by wait_request: no longer readable.
  CHECK(s.wait_request(50ms, -1, wake) == socket_stream::wait_result::timeout);
  ::close(wake);
  p.send("G");
  CHECK(s.wait_request(1s, -1) == socket_stream::wait_result::request);
}

TEST_CASE("socket_stream reports both numeric addresses of the connection",
          "[socket_stream]") {
  tcp_pair p;
  socket_stream s{p.server, short_waits};
  std::string ip;
  int port = 0;
  s.get_remote_ip_and_port(ip, port);
  CHECK(ip == "127.0.0.1");
  sockaddr_in client{};
  socklen_t len = sizeof(client);
  ::getsockname(p.client, reinterpret_cast<sockaddr*>(&client), &len);
  CHECK(port == ntohs(client.sin_port));
  s.get_local_ip_and_port(ip, port);
  CHECK(ip == "127.0.0.1");
  CHECK(port > 0);
  CHECK(s.socket() == p.server);
}
