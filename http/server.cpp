#include "http/server.hpp"

#include <thread>

#include "actors/kinds.hpp"
#include "actors/metrics.hpp"
#include "actors/store.hpp"
#include "http/dashboard_assets.hpp"
#include "http/late_answer.hpp"
#include "http/routes.hpp"
#include "http/socket_stream.hpp"
#include "http/task_queue.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <regex>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace actorq::http {

namespace {

/// "Authorization: Bearer TOKEN": the scheme in any case (RFC 9110), the
/// token compared in constant time.
bool bearer_ok(const httplib::Request& req, const std::string& token) {
  auto given = req.get_header_value("Authorization");
  constexpr size_t scheme = 6; // "Bearer"
  size_t at = scheme;
  bool ok = given.size() > scheme
            && ::strncasecmp(given.c_str(), "Bearer", scheme) == 0
            && (given[at] == ' ' || given[at] == '\t');
  while (at < given.size() && (given[at] == ' ' || given[at] == '\t'))
    ++at;
  ok = ok && given.size() - at == token.size();
  unsigned char diff = ok ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    auto c = at + i < given.size() ? given[at + i] : '\0';
    diff |= static_cast<unsigned char>(c ^ token[i]);
  }
  return diff == 0;
}

// -- request framing ----------------------------------------------------------

/// Checks how a request says its body ends, before anything reads it, and
/// answers (closing the connection) when it will not be read:
/// - more than one Content-Length (equal or not), one that is not a decimal
///   number, or Content-Length together with Transfer-Encoding: 400 (the
///   ways requests are smuggled past proxies);
/// - Transfer-Encoding other than one "chunked": 400;
/// - a declared length over http.max-body-bytes: 413 (read and dropped
///   by httplib up to drain_bytes past the limit, else unread);
/// - a body on GET or HEAD: 400 (httplib never reads it);
/// - a chunked body, or a POST/PUT/PATCH body without a length, on a route
///   without our counting reader (POST routes have one): httplib would read
///   it whole into memory, so 404, 405 or 400 without reading it.
/// Returns true when it answered.
bool refuse_framing(const httplib::Request& req, httplib::Response& res,
                    uint64_t max_body, const route_table& table) {
  auto lengths = req.get_header_value_count("Content-Length");
  auto encodings = req.get_header_value_count("Transfer-Encoding");
  const auto& m = req.method;
  bool body_method =
      m == "POST" || m == "PUT" || m == "PATCH" || m == "PRI" || m == "DELETE";
  if (lengths > 1) {
    reply_and_close(res, {400, "bad_request",
                          "the request has more than one Content-Length "
                          "header"});
    return true;
  }
  if (lengths == 1) {
    auto value = req.get_header_value("Content-Length");
    bool digits = !value.empty() && value.size() <= 18
                  && value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || encodings > 0) {
      reply_and_close(res, {400, "bad_request",
                            digits ? "the request has both Content-Length and "
                                     "Transfer-Encoding"
                                   : "Content-Length must be a decimal number"});
      return true;
    }
    auto length = std::stoull(value);
    if (length > max_body + drain_bytes) {
      reply_and_close(res, body_too_large);
      return true;
    }
    if (length > 0 && !body_method) {
      reply_and_close(res, {400, "bad_request",
                            "a " + m.substr(0, 16)
                                + " request must not have a body"});
      return true;
    }
    return false;
  }
  if (encodings > 0) {
    if (encodings > 1
        || ::strcasecmp(req.get_header_value("Transfer-Encoding").c_str(),
                        "chunked")
             != 0) {
      reply_and_close(res, {400, "bad_request",
                            "only 'Transfer-Encoding: chunked' is accepted"});
      return true;
    }
  } else if (!body_method || m == "DELETE" || m == "POST") {
    // No body: httplib reads none for DELETE, our POST reader none either.
    return false;
  }
  // A body that only a counting reader may read.
  if (m == "POST" && table.serves(req.path, m))
    return false;
  auto allowed = table.allowed(req.path);
  if (allowed.empty()) {
    reply_and_close(res, {404, "not_found",
                          "no route for " + m.substr(0, 16) + " "
                              + req.path.substr(0, 200)});
  } else if (allowed.find(m) == std::string::npos) {
    res.set_header("Allow", allowed);
    reply_and_close(res, {405, "method_not_allowed",
                          m.substr(0, 16) + " is not allowed on "
                              + req.path.substr(0, 200)
                              + "; allowed: " + allowed});
  } else {
    reply_and_close(res, {400, "bad_request",
                          "a " + m + " request takes no chunked body"});
  }
  return true;
}

/// When routing of this thread's current request began.
std::chrono::steady_clock::time_point& request_started() {
  thread_local std::chrono::steady_clock::time_point t;
  return t;
}

/// Before any route: with a token configured, every route but the public
/// ones needs "Authorization: Bearer TOKEN" (compared in constant time; never logged);
/// while draining, POSTs (new work) get 503, reads and cancels go on.
/// Refusals before the body is read end the connection (its body unread).
/// Then the GET routes served by prefix (`segments`) are answered here,
/// without httplib's regex dispatch.
void pre_routing(http_server& http, std::string token,
                 const std::atomic<bool>* draining, uint64_t max_body,
                 std::shared_ptr<const route_table> table, bool metrics_public,
                 std::shared_ptr<const segment_dispatch> segments) {
  http.set_pre_routing_handler([token, draining, max_body, table,
                                metrics_public, segments](
                                   const httplib::Request& req,
                                   httplib::Response& res) {
    current_route() = nullptr;
    segment_at() = 0;
    request_started() = std::chrono::steady_clock::now();
    if (refuse_framing(req, res, max_body, *table))
      return httplib::Server::HandlerResponse::Handled;
    // metrics.public: scrapers read /metrics without the token.
    bool open = public_path(req.path)
                || (metrics_public && req.path == "/metrics");
    if (!token.empty() && !open && !bearer_ok(req, token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_early(req, res,
                  http_error{401, "unauthorized",
                             "this route needs the header 'Authorization: "
                             "Bearer <token>' with the configured token"});
      return httplib::Server::HandlerResponse::Handled;
    }
    // Shutting down: no new work; reads, cancels and settling leases (the
    // work already handed out) go on.
    if (*draining && req.method == "POST"
        && req.path.rfind("/v1/leases/", 0) != 0) {
      reply_early(req, res,
                  http_error{503, "shutting_down",
                             "the service is shutting down; retry against "
                             "the next instance"});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "GET") {
      if (auto route = segments->routes.find(req.path); route.index >= 0) {
        segment_at() = route.segment_at;
        segments->handlers[static_cast<size_t>(route.index)](req, res);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

/// A known path with another method: 405 with an Allow header. Registered
/// after every route, for each method a path does not serve.
void method_not_allowed(http_server& http,
                        const std::shared_ptr<route_table>& table) {
  auto not_allowed = [table](const httplib::Request& req,
                             httplib::Response& res) {
    auto allowed = table->allowed(req.path);
    res.set_header("Allow", allowed);
    reply(res, http_error{405, "method_not_allowed",
                          req.method + " is not allowed on " + req.path
                              + "; allowed: " + allowed});
  };
  for (auto& pattern : table->patterns()) {
    for (auto method : {"GET", "POST", "DELETE", "PUT", "PATCH"}) {
      if (table->has(pattern, method))
        continue;
      if (method == std::string{"GET"})
        http.Get(pattern, not_allowed);
      else if (method == std::string{"POST"})
        http.Post(pattern, not_allowed);
      else if (method == std::string{"DELETE"})
        http.Delete(pattern, not_allowed);
      else if (method == std::string{"PUT"})
        http.Put(pattern, not_allowed);
      else
        http.Patch(pattern, not_allowed);
    }
  }
}

/// Every error answer is JSON: fills in the ones httplib produced itself,
/// and answers exceptions from handlers with 500.
void error_handlers(http_server& http,
                    const std::shared_ptr<route_table>& table) {
  using error_handler = httplib::Server::HandlerWithResponse;
  http.set_error_handler(error_handler{[table](const httplib::Request& req,
                                               httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ > 0) // answered already
      return httplib::Server::HandlerResponse::Unhandled;
    http_error e{res.status, "error", "request failed"};
    switch (res.status) {
      case 404:
        e = {404, "not_found",
             "no route for " + req.method + " " + req.path.substr(0, 200)};
        break;
      case 413:
        e = {413, "too_large", "the request body is larger than allowed"};
        break;
      case 414:
        e = {414, "too_large", "the request URI is too long"};
        break;
      case 400: {
        // httplib answers 400 to a PUT or PATCH without a body before any
        // routing: still say what is wrong with the route.
        auto allowed = table->allowed(req.path);
        if (!allowed.empty() && allowed.find(req.method) == std::string::npos) {
          res.set_header("Allow", allowed);
          e = {405, "method_not_allowed",
               req.method + " is not allowed on " + req.path
                   + "; allowed: " + allowed};
        } else if (allowed.empty() && !req.method.empty() && req.path.size() > 0
                   && req.path[0] == '/') {
          e = {404, "not_found",
               "no route for " + req.method + " " + req.path.substr(0, 200)};
        } else {
          e = {400, "bad_request", "the HTTP request is malformed"};
        }
        break;
      }
      default:
        break;
    }
    reply(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }});
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) {
    }
    reply(res, http_error{500, "internal", "internal error: " + what});
  });
}

} // namespace

/// Routes served without the token: probes that hold no data, the dashboard's
/// page and static files (no data either: the page asks for the token and
/// sends it with each API call it makes), and the API's description.
bool public_path(const std::string& path) {
  static const char* const paths[] = {"/healthz", "/readyz", "/", "/docs",
                                      "/openapi.json"};
  for (auto p : paths)
    if (path == p)
      return true;
  return is_dashboard_asset(path);
}

server::server(caf::actor_system& sys, const actorq_config& cfg, backend actors)
    : sys_(sys), cfg_(cfg), actors_(std::move(actors)),
      waits_(cfg.http_max_waiting >= 0
                 ? cfg.http_max_waiting
                 : actorq_config::default_max_waiting(std::max(
                     cfg.http_threads, cfg.http_max_threads))) {
  codec_.kinds = cfg.kinds();
  codec_.max_batch_items = cfg.http_max_batch_items;
  codec_.seed_delay_scale = cfg.seed_delay_scale;
  // Threads on demand: from http.threads up to http.max-threads when all
  // are busy (each open connection holds one), back down when idle.
  elastic_task_queue::settings threads;
  threads.min_threads = static_cast<size_t>(cfg.http_threads);
  threads.max_threads = static_cast<size_t>(
      std::max(cfg.http_threads, cfg.http_max_threads));
  threads.idle_timeout = std::chrono::seconds{3};
  http_.new_task_queue = [threads] { return new elastic_task_queue(threads); };
  // Without TCP_NODELAY every response waits ~40 ms for Nagle.
  http_.set_tcp_nodelay(true);
  http_.set_keep_alive_max_count(1'000'000);
  http_.set_keep_alive_timeout(5);
  http_.set_read_timeout(30, 0);
  http_.set_write_timeout(30, 0);
  http_.set_payload_max_length(static_cast<size_t>(cfg.http_max_body_bytes));
  routes();
}

server::~server() {
  stop();
}

http_server::http_server() : stop_fd_(::eventfd(0, EFD_CLOEXEC)) {}

http_server::~http_server() {
  if (stop_fd_ >= 0)
    ::close(stop_fd_);
}

bool http_server::set_backlog(int backlog) {
  return ::listen(svr_sock_, backlog) == 0;
}

void http_server::stop_serving() {
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof(one));
  }
  stop();
}

namespace {

std::chrono::milliseconds to_ms(time_t sec, time_t usec) {
  return std::chrono::milliseconds{sec * 1000 + usec / 1000};
}

} // namespace

/// Waits for the connection's next request, for the keep-alive time since
/// its last answer; meanwhile writes what a late answer left. False: close.
bool http_server::next_request(socket_stream& strm, late_answer& late) {
  using wait = socket_stream::wait_result;
  using clock = std::chrono::steady_clock;
  auto idle = to_ms(keep_alive_timeout_sec_, 0);
  auto write_timeout = to_ms(write_timeout_sec_, write_timeout_usec_);
  auto since = clock::now();
  std::chrono::nanoseconds left = idle;
  for (;;) {
    auto why = strm.wait_request(
        std::chrono::duration_cast<std::chrono::milliseconds>(left), stop_fd_,
        late.wake_fd());
    if (why == wait::woken) { // a late answer left bytes to write
      if (!late.settle(stop_fd_, write_timeout))
        return false;
      continue;
    }
    if (why != wait::timeout) // a pipelined request waits for the answer
      return why == wait::request && late.settle(stop_fd_, write_timeout);
    // The client waits for a late answer: so do we (up to its deadline).
    if (late.answering() && !late.expire_if_due()) {
      left = std::min<std::chrono::nanoseconds>(idle,
                                                late.deadline() - clock::now());
      continue;
    }
    // The idle time counts from the last answer.
    left = idle - (clock::now() - std::max(since, late.answered_at()));
    if (left < std::chrono::milliseconds{1})
      return false;
  }
}

/// httplib 0.11's keep-alive loop (detail::process_server_socket), over one
/// socket_stream for the connection's life, with late answers (see
/// late_answer.hpp): an answer a handler left to an actor's reply is written
/// before the next request is read and before the connection closes.
bool http_server::process_and_close_socket(int sock) {
  auto write_timeout = to_ms(write_timeout_sec_, write_timeout_usec_);
  socket_stream strm{
      sock, {to_ms(read_timeout_sec_, read_timeout_usec_), write_timeout}};
  late_answer late{sock,
                   "timeout=" + std::to_string(keep_alive_timeout_sec_)
                       + ", max=" + std::to_string(keep_alive_max_count_),
                   &on_late_answer};
  auto ret = false;
  for (auto count = keep_alive_max_count_; svr_sock_ != INVALID_SOCKET
                                           && count > 0
                                           && next_request(strm, late);
       --count) {
    // httplib calls this only for a request it could parse. After one it
    // could not (a 400 or 414 for its request line or headers), the bytes
    // that follow are no request: the connection ends with the answer.
    auto parsed = false;
    auto closed = false;
    late.begin(count == 1);
    ret = process_request(strm, count == 1, closed,
                          [&](httplib::Request&) { parsed = true; });
    late.end();
    if (late.deferred())
      strm.drop_held(); // httplib's placeholder; the real answer comes later
    else
      ret = strm.flush() && ret;
    if (!ret || closed || !parsed)
      break;
  }
  late.settle(stop_fd_, write_timeout);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

int server::bind() {
  auto host = cfg_.http_host;
  int port = -1;
  if (cfg_.http_port == 0)
    port = http_.bind_to_any_port(host);
  else if (http_.bind_to_port(host, static_cast<int>(cfg_.http_port)))
    port = static_cast<int>(cfg_.http_port);
  if (port > 0)
    http_.set_backlog(SOMAXCONN);
  return port;
}

void server::run() {
  if (!stopping_)
    http_.listen_after_bind();
  run_done_ = true;
}

void server::stop() {
  stopping_ = true;
  while (!http_.is_running() && !run_done_)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  http_.stop_serving();
}

void server::drain() {
  draining_ = true;
}

void server::set_ready() {
  ready_ = true;
}

void server::observe(request_observer f) {
  observers_.push_back(std::move(f));
}

void server::routes() {
  auto max_body = static_cast<uint64_t>(cfg_.http_max_body_bytes);
  router r{http_, max_body};
  route_context c{&sys_,   &codec_,    &actors_, cfg_.http_batch_timeout,
                  &waits_, &draining_, &ready_};
  // In this order: httplib tries routes in the order they were registered.
  task_routes(r, c);
  operator_routes(r, c);
  batch_routes(r, c);
  info_routes(r, c);
  lease_routes(r, c);
  dashboard_routes(r, c);
  metrics_routes(r, c);
  seed_routes(r, c);
  openapi_routes(r); // last: documents every route above

  auto token = cfg_.http_auth_token;
  if (token.empty())
    if (auto env = std::getenv("ACTORQ_AUTH_TOKEN"))
      token = env;
  pre_routing(http_, std::move(token), &draining_, max_body, r.table,
              cfg_.metrics_public, r.segments);
  method_not_allowed(http_, r.table);
  error_handlers(http_, r.table);
  if (auto m = actors_.meters) {
    for (auto& pattern : r.table->patterns())
      m->add_route(pattern);
    observe([m](const request_record& rec) {
      m->request_done(rec.route, rec.res.status, rec.duration);
    });
  }
  // After each answer (httplib's logger hook runs on the handler thread once
  // the response is written): tell the observers which route and how long.
  http_.set_logger([this](const httplib::Request& req,
                          const httplib::Response& res) {
    // A late answer's placeholder: reported once the answer is written.
    if (observers_.empty() || late_answer::deferring())
      return;
    static const std::string unmatched;
    auto route = current_route();
    request_record rec{req, res, route ? *route : unmatched,
                       std::chrono::steady_clock::now() - request_started()};
    for (auto& f : observers_)
      f(rec);
  });
  http_.on_late_answer = [this](const httplib::Request& req,
                                const httplib::Response& res,
                                const std::string& route,
                                std::chrono::nanoseconds took) {
    request_record rec{req, res, route, took};
    for (auto& f : observers_)
      f(rec);
  };
}

} // namespace actorq::http
