// late_answer: an HTTP answer rendered and written by the thread that
// delivers an actor's reply, over a real socket pair, on CAF's test
// scheduler. Each case runs on a fresh thread: the answer actor is
// per thread, and per actor system.
#include "fixture.hpp"
#include "http/late_answer.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

using namespace actorq;
using namespace actorq::http;

namespace {

/// A connected socket pair: the server end for late_answer, the client end
/// to read what it wrote.
struct sockets {
  int pair[2] = {-1, -1};
  sockets() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0); }
  ~sockets() {
    ::close(pair[0]);
    ::close(pair[1]);
  }
  int server() const { return pair[0]; }
  /// What the client end can read now.
  std::string received() const {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(pair[1], buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

/// Renders an int reply as {"doubled": N}; errors as blocking handlers do.
late_answer::finish_fn<int> render_int = [](parsed<int>& x,
                                            httplib::Response& res) {
  if (auto err = std::get_if<http_error>(&x)) {
    res.status = err->status;
    res.set_content(render_error(*err), "application/json");
    return;
  }
  res.status = 202;
  res.set_header("Location", "/v1/x");
  res.set_content("{\"doubled\":" + std::to_string(std::get<int>(x)) + "}",
                  "application/json");
};

/// Runs `f` on a fresh thread and waits for it.
template <class F>
void on_fresh_thread(F f) {
  std::thread t{f};
  t.join();
}

/// An actor that keeps the promise of the request it gets (answered only
/// when the test delivers it); stopped at the end of the test.
struct promise_keeper {
  std::shared_ptr<caf::response_promise> promise
    = std::make_shared<caf::response_promise>();
  caf::actor actor;

  explicit promise_keeper(caf::actor_system& sys) {
    actor = sys.spawn([p = promise](caf::event_based_actor* self) {
      return caf::behavior{
          [=](int) -> caf::result<int> {
            *p = self->make_response_promise();
            return *p;
          },
      };
    });
  }

  ~promise_keeper() {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  }

  /// Starts a request on `la` that only the test's delivery answers.
  void ask(late_answer& la, late_answer::clock::time_point deadline) {
    la.begin(false);
    httplib::Request req;
    la.ask<int>(actor.home_system(), req, nullptr, deadline, render_int,
                actor, 1);
    la.end();
  }
};

struct seen_answer {
  int calls = 0;
  int status = 0;
  std::string route, method;
};

} // namespace

TEST_CASE("late answer: the reply is rendered, written by the replying "
          "thread and reported",
          "[late_answer]") {
  test::fixture fx;
  auto doubler = fx.sys.spawn([]() -> caf::behavior {
    return {[](int x) { return x * 2; }};
  });
  on_fresh_thread([&] {
    sockets s;
    seen_answer seen;
    late_observer observe = [&](const httplib::Request& req,
                                const httplib::Response& res,
                                const std::string& route,
                                std::chrono::nanoseconds) {
      ++seen.calls;
      seen.status = res.status;
      seen.route = route;
      seen.method = req.method;
    };
    late_answer la{s.server(), "timeout=5, max=9", &observe};
    la.begin(false);
    REQUIRE(late_answer::here() == &la);
    httplib::Request req;
    req.method = "POST";
    const std::string route = "/v1/x";
    la.ask<int>(fx.sys, req, &route, late_answer::clock::time_point::max(),
               render_int, doubler, 21);
    CHECK(la.deferred());
    CHECK(late_answer::deferring());
    CHECK(late_answer::here() == nullptr); // one late answer per request
    la.end();
    CHECK(s.received().empty()); // the actor has not run yet
    fx.sched.run();
    auto got = s.received();
    INFO(got);
    CHECK(got.rfind("HTTP/1.1 202 Accepted\r\n", 0) == 0);
    CHECK(got.find("Content-Length: 14\r\n") != std::string::npos);
    CHECK(got.find("Keep-Alive: timeout=5, max=9\r\n") != std::string::npos);
    CHECK(got.find("Location: /v1/x\r\n") != std::string::npos);
    CHECK(got.substr(got.size() - 18) == "\r\n\r\n{\"doubled\":42}");
    CHECK(la.settle(-1, std::chrono::seconds{1}));
    CHECK(seen.calls == 1);
    CHECK(seen.status == 202);
    CHECK(seen.route == route);
    CHECK(seen.method == "POST");
  });
  caf::anon_send_exit(doubler, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

TEST_CASE("late answer: an error reply is rendered as a blocking handler's, "
          "and a request that asked to close gets Connection: close",
          "[late_answer]") {
  test::fixture fx;
  auto failing = fx.sys.spawn([]() -> caf::behavior {
    return {[](int) -> caf::result<int> {
      return make_error(error_code::not_found, "no such thing");
    }};
  });
  on_fresh_thread([&] {
    sockets s;
    late_answer la{s.server(), "timeout=5, max=9", nullptr};
    la.begin(false);
    httplib::Request req;
    req.method = "POST";
    req.headers.emplace("Connection", "close");
    la.ask<int>(fx.sys, req, nullptr, late_answer::clock::time_point::max(),
               render_int, failing, 1);
    la.end();
    fx.sched.run();
    auto got = s.received();
    INFO(got);
    CHECK(got.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(got.find("Connection: close\r\n") != std::string::npos);
    CHECK(got.find("Keep-Alive") == std::string::npos);
    CHECK(got.find("no such thing") != std::string::npos);
    CHECK(la.settle(-1, std::chrono::seconds{1}));
  });
  caf::anon_send_exit(failing, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

/// Asks a promise_keeper with `deadline` on a fresh thread, runs `check`
/// while the reply is still coming, then delivers the reply: it must not be
/// written any more.
template <class F>
void with_reply_held(late_answer::clock::time_point deadline, F check) {
  test::fixture fx;
  promise_keeper keeper{fx.sys};
  on_fresh_thread([&] {
    sockets s;
    late_answer la{s.server(), "timeout=5, max=9", nullptr};
    keeper.ask(la, deadline);
    fx.sched.run(); // the actor holds the promise
    check(la, s);
    keeper.promise->deliver(7); // too late
    fx.sched.run();
    CHECK(s.received().empty());
  });
  fx.sched.run();
}

TEST_CASE("late answer: a stop abandons an answer not given yet, and its "
          "reply is then never written",
          "[late_answer]") {
  with_reply_held(late_answer::clock::time_point::max(),
                  [](late_answer& la, sockets& s) {
                    int stop = ::eventfd(1, EFD_CLOEXEC); // readable: stop
                    auto start = std::chrono::steady_clock::now();
                    CHECK_FALSE(la.settle(stop, std::chrono::seconds{1}));
                    CHECK(std::chrono::steady_clock::now() - start
                          < std::chrono::seconds{2});
                    ::close(stop);
                    CHECK(s.received().empty());
                  });
}

TEST_CASE("late answer: past its deadline without a reply, it answers 504 as "
          "a blocking ask's timeout does",
          "[late_answer]") {
  auto deadline = late_answer::clock::now() + std::chrono::seconds{1};
  with_reply_held(deadline, [deadline](late_answer& la, sockets& s) {
    CHECK_FALSE(la.expire_if_due()); // not yet
    CHECK(la.answering());
    CHECK(la.settle(-1, std::chrono::seconds{5})); // waits out the deadline
    CHECK(late_answer::clock::now() >= deadline);
    CHECK_FALSE(la.answering());
    auto got = s.received();
    INFO(got);
    CHECK(got.rfind("HTTP/1.1 504 Gateway Timeout\r\n", 0) == 0);
  });
}
