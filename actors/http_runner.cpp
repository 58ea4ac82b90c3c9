// The http runner (see http_runner.hpp): threads of its own, each running one
// call at a time on keep-alive clients of its own (one per target), plus a
// watchdog thread that ends calls at their deadline.
//
// Cancelling. httplib's ClientImpl::stop() does not fit: it takes the
// client's socket mutex, which send() holds while it resolves, connects and
// does the TLS handshake, so a cancel would block its caller for up to the
// connect timeout; between two calls it only closes the idle connection and
// the next call runs anyway; and a late stop() hits whatever call the thread
// runs next on that client. Instead every call holds a dup of its
// connection's socket: taken before send() for a kept-alive connection, and
// in the client's socket-options hook (which runs before connect()) for a new
// one. cancel() and the watchdog shutdown() that dup under the runner's
// mutex. The dup is closed only under that mutex, so its descriptor can never
// name another socket by then, and shutdown() acts on the socket itself: the
// connect, handshake, write or read blocked in httplib fails at once. A
// socket shut down before connect() still connects but cannot write, so a
// cancel landing between the hook and connect() ends the call as well.
#include "actors/http_runner.hpp"

#include "actors/text.hpp"
#include "actors/time.hpp"

#include <httplib.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace actorq {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// A sanity limit only: the callers' pools bound how many calls run at once.
constexpr size_t max_threads = 4096;
constexpr auto idle_thread_lifetime = std::chrono::seconds(30);
constexpr size_t error_body_bytes = 1024;
/// Results are rendered recursively later on; same limit as request bodies.
constexpr int max_result_depth = 64;
constexpr int64_t default_connect_ms = 10'000;
constexpr int64_t default_io_ms = 3'600'000;
/// Only guards against absurd values (and overflow); callers cap backoff.
constexpr int64_t max_retry_after_ms = 24LL * 3600 * 1000;

run_result failure(std::string error, bool permanent = false) {
  run_result r;
  r.error = std::move(error);
  r.permanent = permanent;
  return r;
}

// --- text helpers ----------------------------------------------------------

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

/// At most the first `max` bytes of `text` as valid UTF-8: errors end up
/// in JSON, which refuses to render invalid UTF-8.
std::string utf8_prefix(std::string_view text, size_t max) {
  return valid_utf8(text, max);
}

// --- Retry-After -----------------------------------------------------------


int month_number(const char* name) {
  static const char* const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec"};
  auto n = lower(name);
  for (int i = 0; i < 12; ++i)
    if (n == names[i])
      return i + 1;
  return 0;
}

/// An HTTP-date (IMF-fixdate, RFC 850 or asctime) as seconds since the epoch.
/// sscanf, not strptime: day and month names must not depend on the locale.
bool parse_http_date(const std::string& text, int64_t& epoch_s) {
  char day[16] = {};
  char mon[4] = {};
  int d = 0, y = 0, hh = 0, mm = 0, ss = 0;
  const char* s = text.c_str();
  bool ok = (std::sscanf(s, "%15[A-Za-z], %d %3s %d %d:%d:%d", day, &d, mon, &y,
                         &hh, &mm, &ss)
                 == 7
             && month_number(mon))
            || (std::sscanf(s, "%15[A-Za-z], %d-%3s-%d %d:%d:%d", day, &d, mon,
                            &y, &hh, &mm, &ss)
                    == 7
                && month_number(mon))
            || (std::sscanf(s, "%15[A-Za-z] %3s %d %d:%d:%d %d", day, mon, &d,
                            &hh, &mm, &ss, &y)
                    == 7
                && month_number(mon));
  if (!ok || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || hh < 0
      || mm < 0 || ss < 0 || y < 0)
    return false;
  if (y < 100) // RFC 850's two-digit years
    y += y < 70 ? 2000 : 1900;
  epoch_s = days_from_civil(y, month_number(mon), d) * 86400 + hh * 3600
            + mm * 60 + ss;
  return true;
}

/// Retry-After (delta-seconds or an HTTP-date) in ms from now; 0 if absent or
/// not understood.
int64_t retry_after_ms(const std::string& header) {
  auto value = trim(header);
  if (all_digits(value)) {
    if (value.size() > 9) // more than 31 years: clamp, don't overflow
      return max_retry_after_ms;
    return std::min<int64_t>(std::stoll(std::string(value)) * 1000,
                             max_retry_after_ms);
  }
  int64_t at_s = 0;
  if (!parse_http_date(std::string(value), at_s))
    return 0;
  auto now = std::chrono::duration_cast<milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return std::clamp<int64_t>(at_s * 1000 - now, 0, max_retry_after_ms);
}

// --- requests and answers --------------------------------------------------

const std::string& method_of(const http_spec& spec) {
  static const std::string post = "POST";
  return spec.method.empty() ? post : spec.method;
}

/// "POST https://host/path", for error messages. Without the query: tokens
/// often ride in it, and errors are shown to whoever may read the task.
std::string describe(const http_spec& spec) {
  std::string url = spec.url;
  if (url.empty())
    url = spec.scheme + "://" + spec.host + ":" + std::to_string(spec.port)
          + spec.path;
  return method_of(spec) + " " + url.substr(0, url.find_first_of("?#"));
}

/// Why a configured header cannot be sent, or "". Values are not quoted:
/// they often hold tokens.
std::string bad_header(const http_spec& spec) {
  for (const auto& [name, value] : spec.headers) {
    if (name.empty() || name.find_first_of(": \t\r\n") != std::string::npos)
      return "header name '" + utf8_prefix(name, 64) + "' is not valid";
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      return "header " + name + " contains a line break or NUL";
  }
  return "";
}

httplib::Request make_request(const http_spec& spec, run_order& order) {
  httplib::Request req;
  req.method = method_of(spec);
  req.path = spec.path.empty() ? "/" : spec.path;
  req.body = std::move(order.input);
  for (const auto& [name, value] : spec.headers)
    req.headers.emplace(name, value);
  if (!req.has_header("Content-Type"))
    req.headers.emplace("Content-Type", "application/json");
  if (spec.host.find(':') != std::string::npos && !req.has_header("Host"))
    // httplib would write an IPv6 literal without its brackets.
    req.headers.emplace("Host",
                        "[" + spec.host + "]:" + std::to_string(spec.port));
  req.headers.emplace("X-Actorq-Attempt-Id", order.attempt_id);
  req.headers.emplace("X-Actorq-Attempt", std::to_string(order.attempt));
  if (!order.task_id.empty())
    req.headers.emplace("X-Actorq-Task-Id", order.task_id);
  return req;
}

std::string body_part(std::string_view body) {
  return body.empty() ? "" : ": " + utf8_prefix(body, error_body_bytes);
}

run_result parse_result(const http_spec& spec, const std::string& body) {
  run_result r;
  r.ok = true;
  if (blank(body))
    return r; // result stays null
  if (json_nesting_depth(body, max_result_depth) > max_result_depth)
    return failure("the response of " + describe(spec)
                   + " is nested deeper than "
                   + std::to_string(max_result_depth) + " levels");
  try {
    r.result = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception&) {
    return failure("the response of " + describe(spec) + " is not JSON"
                   + body_part(body));
  }
  return r;
}

run_result judge(const http_spec& spec, const httplib::Response& res) {
  if (res.status >= 200 && res.status < 300)
    return parse_result(spec, res.body);
  auto r = failure("HTTP " + std::to_string(res.status) + " from "
                   + describe(spec) + body_part(res.body));
  // Worth retrying: the server says "later" or "not now"; any other answer
  // will not change (httplib does not follow redirects).
  r.permanent = !(res.status == 408 || res.status == 429 || res.status >= 500);
  if (res.status == 429 || res.status == 503)
    r.retry_after_ms = retry_after_ms(res.get_header_value("Retry-After"));
  return r;
}

/// $SSL_CERT_DIR, else Debian's OpenSSL default (what
/// X509_get_default_cert_dir() says there; actorq_core does not link
/// libcrypto itself, so no OpenSSL function is called here). "" leaves
/// OpenSSL's defaults: with $SSL_CERT_FILE set, or without that directory.
std::string find_ca_directory() {
  if (std::getenv("SSL_CERT_FILE"))
    return "";
  if (const char* dir = std::getenv("SSL_CERT_DIR"))
    return dir;
  const char* debian = "/usr/lib/ssl/certs";
  struct stat st {};
  return ::stat(debian, &st) == 0 && S_ISDIR(st.st_mode) ? debian : "";
}

/// OpenSSL's words for the usual verification errors
/// (X509_verify_cert_error_string would need libcrypto, see above).
std::string verify_error(long code) {
  switch (code) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate in certificate chain";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      return "unable to get local issuer certificate";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      return "unable to get issuer certificate";
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "unable to verify the first certificate";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid";
    case X509_V_ERR_CERT_REVOKED:
      return "certificate revoked";
    case X509_V_ERR_INVALID_CA:
      return "invalid CA certificate";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate signature failure";
    default:
      return "X.509 error " + std::to_string(code);
  }
}

/// What httplib's transport error means, as far as one can tell.
struct transport_facts {
  httplib::Error error = httplib::Error::Success;
  int sys_errno = 0;     // errno right after send()
  bool resolved = false; // a socket was made, so the host resolved
  int last_fd = -1;      // the last socket httplib made
  long tls_verify_result = X509_V_OK;
  int64_t elapsed_ms = 0;
  int64_t connect_ms = 0;
  int64_t io_ms = 0;
};

std::string connect_failure(const http_spec& spec, const transport_facts& f) {
  if (!f.resolved)
    return "cannot resolve host " + spec.host;
  if (f.last_fd >= FD_SETSIZE)
    // Debian builds httplib with select(), which cannot wait on it.
    return "socket descriptor " + std::to_string(f.last_fd)
           + " is beyond httplib's select() limit";
  // A refusal seen by connect() itself leaves errno; one seen later does not
  // (httplib reads and clears SO_ERROR), and it is refused or unreachable.
  if (f.sys_errno != 0 && f.sys_errno != EINPROGRESS)
    return lower(std::strerror(f.sys_errno));
  return "connection refused (or host unreachable)";
}

std::string tls_failure(const http_spec& spec, const transport_facts& f) {
  if (f.tls_verify_result != X509_V_OK)
    return "TLS certificate verification failed: "
           + verify_error(f.tls_verify_result);
  return "TLS certificate verification failed: the certificate does not "
         "name "
         + spec.host;
}

std::string transport_failure(const http_spec& spec, const transport_facts& f) {
  using E = httplib::Error;
  switch (f.error) {
    case E::Connection:
      return connect_failure(spec, f);
    case E::ConnectionTimeout:
      return "timed out after " + std::to_string(f.connect_ms)
             + " ms connecting";
    case E::Read:
      return f.elapsed_ms >= f.io_ms
                 ? "timed out after " + std::to_string(f.io_ms)
                       + " ms waiting for the response"
                 : "connection closed or reset before a complete response";
    case E::Write:
      return "connection closed or reset while sending the request";
    case E::SSLConnection:
      return "TLS handshake failed";
    case E::SSLServerVerification:
      return tls_failure(spec, f);
    case E::SSLLoadingCerts:
      return "cannot load the system's CA certificates";
    default:
      return "call failed: " + httplib::to_string(f.error);
  }
}

/// The target's key in a thread's clients: one keep-alive client each.
std::string target_key(const http_spec& spec) {
  return spec.scheme + "://" + spec.host + ":" + std::to_string(spec.port)
         + (spec.tls_verify ? "" : " no-verify");
}

/// A close-on-exec dup of `fd`, numbered from FD_SETSIZE when the limit
/// allows: low numbers stay free for httplib's select()-bound sockets.
int dup_high(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
  return copy >= 0 ? copy : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/// httplib writes with plain send() and OpenSSL with write(), so a peer's
/// reset raises SIGPIPE: keep it from killing a process that does not ignore
/// it (actorq's main does; tests and other embedders may not).
void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int64_t ms_since(steady::time_point t) {
  return std::chrono::duration_cast<milliseconds>(steady::now() - t).count();
}

// --- URL parsing -----------------------------------------------------------

bool host_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || c == '-' || c == '.' || c == '_';
}

std::string parse_port(std::string_view text, int& port) {
  if (!all_digits(text) || text.size() > 5)
    return "the port must be a number";
  port = std::stoi(std::string(text));
  if (port < 1 || port > 65535)
    return "the port must be within 1-65535";
  return "";
}

/// Splits "host[:port]" or "[v6]:port" into spec.host and spec.port.
std::string parse_authority(std::string_view auth, http_spec& spec) {
  if (auth.find('@') != std::string_view::npos)
    return "user info in the URL is not supported (use headers)";
  std::string_view host = auth;
  std::string_view port;
  bool has_port = false;
  if (!auth.empty() && auth[0] == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos)
      return "the host's '[' is not closed";
    host = auth.substr(1, close - 1);
    auto rest = auth.substr(close + 1);
    if (!rest.empty() && rest[0] != ':')
      return "unexpected text after the host";
    has_port = !rest.empty();
    port = has_port ? rest.substr(1) : rest;
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != host.npos)
      return "the host is not a valid IPv6 address";
  } else {
    auto colon = auth.find(':');
    has_port = colon != std::string_view::npos;
    host = auth.substr(0, colon);
    port = has_port ? auth.substr(colon + 1) : std::string_view();
    if (!std::all_of(host.begin(), host.end(), host_char))
      return "the host contains characters a host name cannot have";
  }
  if (host.empty())
    return "the URL has no host";
  spec.host = lower(host);
  spec.port = spec.scheme == "https" ? 443 : 80;
  return has_port ? parse_port(port, spec.port) : "";
}

} // namespace

std::string parse_http_url(const std::string& url, http_spec& spec) {
  for (char c : url)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return "the URL contains a space or a control character";
  auto sep = url.find("://");
  if (sep == std::string::npos)
    return "the URL must start with http:// or https://";
  http_spec parsed = spec;
  parsed.scheme = lower(std::string_view(url).substr(0, sep));
  if (parsed.scheme != "http" && parsed.scheme != "https")
    return "the URL's scheme must be http or https, not " + parsed.scheme;
  auto rest = std::string_view(url).substr(sep + 3);
  auto authority_end = rest.find_first_of("/?#");
  auto target = authority_end == std::string_view::npos
                    ? std::string_view()
                    : rest.substr(authority_end);
  target = target.substr(0, target.find('#')); // fragments are never sent
  if (auto why = parse_authority(rest.substr(0, authority_end), parsed);
      !why.empty())
    return why;
  parsed.path = target.empty()     ? "/"
                : target[0] == '?' ? "/" + std::string(target)
                                   : std::string(target);
  parsed.url = url;
  spec = std::move(parsed);
  return "";
}

// --- the runner ------------------------------------------------------------

namespace {

enum class stop_reason { none, cancelled, timed_out };

/// One call, from start() until done.
struct call {
  uint64_t handle = 0;
  std::shared_ptr<const http_spec> spec;
  run_order order;
  run_callbacks callbacks;
  steady::time_point deadline = steady::time_point::max();
  // Guarded by the runner's mutex while the call is registered:
  stop_reason stop = stop_reason::none;
  int sock = -1;         // our dup of the socket the call uses, or -1
  bool resolved = false; // httplib made a socket: the host resolved
  int last_fd = -1;      // httplib's descriptor of that socket
  int dup_errno = 0;     // a dup failed: the call was not sent
};

run_result timed_out(const call& c) {
  return failure("timed out after " + std::to_string(c.order.timeout_ms) + " ms"
                 + (c.spec ? " (" + describe(*c.spec) + ")" : ""));
}

/// One runner thread's keep-alive clients, one per target.
struct connections {
  std::map<std::string, std::unique_ptr<httplib::ClientImpl>> clients;
  call* current = nullptr; // what the socket hook attributes sockets to
};

} // namespace

struct http_runner::impl {
  /// One runner thread.
  struct slot {
    std::condition_variable wake;
    std::unique_ptr<call> job; // handed over by dispatch()
    bool available = false;    // on the idle stack
    std::thread thread;
  };

  std::mutex mutex;
  uint64_t next_handle = 1;
  std::unordered_map<uint64_t, call*> calls; // started, done not yet called
  std::list<slot> slots;                     // stable addresses
  // Idle threads, most recently idle last: handing work to the warmest
  // thread reuses its connections and lets the others run out their idle
  // time and exit.
  std::vector<slot*> idle;
  std::deque<std::unique_ptr<call>> backlog; // only when at max_threads
  std::vector<std::thread> exited;           // to join
  std::condition_variable gone;              // a thread exited
  std::set<std::pair<steady::time_point, uint64_t>> deadlines;
  std::condition_variable watchdog_wake;
  bool stopping = false;
  std::once_flag ca_dir_found;
  std::string ca_dir; // where verifying clients look up CAs; "": defaults
  std::thread watchdog;

  impl() : watchdog([this] { watch(); }) {}
  ~impl();

  uint64_t start(std::unique_ptr<call> c);
  void cancel(uint64_t handle);
  size_t running();

private:
  bool dispatch(std::unique_ptr<call>& c);
  bool spawn(std::unique_ptr<call>& c);
  void serve(slot& s);
  std::unique_ptr<call> next_job(slot& s, std::unique_lock<std::mutex>& lock);
  void drop_idle(slot& s);
  void finish(slot& s, call& c, run_result& result);
  void leave(slot& s);
  void watch();
  void abort(call& c, stop_reason why);

  run_result run_guarded(connections& conns, call& c);
  run_result run(connections& conns, call& c);
  bool send(connections& conns, call& c, httplib::ClientImpl& cli,
            httplib::Request& req, httplib::Response& res,
            transport_facts& facts);
  httplib::ClientImpl& client_for(connections& conns, const http_spec& spec);
  void use_ca_directory(httplib::SSLClient& tls);
  bool attach(connections& conns, call& c, httplib::ClientImpl& cli);
  void on_socket(connections& conns, int fd);
  void detach(connections& conns, call& c);
};

uint64_t http_runner::impl::start(std::unique_ptr<call> c) {
  if (c->order.timeout_ms > 0)
    c->deadline = steady::now() + milliseconds(c->order.timeout_ms);
  std::unique_lock<std::mutex> lock(mutex);
  auto handle = c->handle = next_handle++;
  calls.emplace(handle, c.get());
  if (stopping)
    c->stop = stop_reason::cancelled;
  if (c->deadline != steady::time_point::max()
      && deadlines.emplace(c->deadline, handle).first == deadlines.begin())
    watchdog_wake.notify_one();
  if (dispatch(c))
    return handle;
  // No thread could be made and none runs: nobody else can end the call.
  calls.erase(handle);
  deadlines.erase({c->deadline, handle});
  lock.unlock();
  if (c->callbacks.done)
    c->callbacks.done(failure("cannot start a thread for the HTTP call"));
  return handle;
}

/// Hands `c` to an idle thread, a new one or the backlog; false (and `c`
/// kept) if no thread can take it ever.
bool http_runner::impl::dispatch(std::unique_ptr<call>& c) {
  if (!idle.empty()) {
    slot* s = idle.back();
    idle.pop_back();
    s->available = false;
    s->job = std::move(c);
    s->wake.notify_one();
    return true;
  }
  if (slots.size() < max_threads && spawn(c))
    return true;
  if (slots.empty())
    return false;
  backlog.push_back(std::move(c));
  return true;
}

bool http_runner::impl::spawn(std::unique_ptr<call>& c) {
  slots.emplace_back();
  slot& s = slots.back();
  s.job = std::move(c);
  try {
    s.thread = std::thread([this, &s] { serve(s); });
    return true;
  } catch (const std::system_error&) {
    c = std::move(s.job);
    slots.pop_back();
    return false;
  }
}

void http_runner::impl::serve(slot& s) {
  block_sigpipe();
  connections conns;
  std::unique_lock<std::mutex> lock(mutex);
  while (auto c = next_job(s, lock)) {
    lock.unlock();
    auto result = run_guarded(conns, *c);
    lock.lock();
    finish(s, *c, result);
    lock.unlock();
    if (c->callbacks.done)
      c->callbacks.done(std::move(result));
    c.reset(); // the callbacks' captures go outside the lock
    lock.lock();
  }
  lock.unlock();
  conns.clients.clear(); // close the kept-alive connections now
  leave(s);
}

std::unique_ptr<call>
http_runner::impl::next_job(slot& s, std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (s.job)
      return std::move(s.job);
    // Non-empty only while no thread is idle (dispatch() prefers idle ones,
    // finish() makes a thread available only when it is empty).
    if (!backlog.empty()) {
      auto c = std::move(backlog.front());
      backlog.pop_front();
      return c;
    }
    if (stopping) {
      drop_idle(s);
      return nullptr;
    }
    if (!s.available) {
      idle.push_back(&s);
      s.available = true;
    }
    if (s.wake.wait_for(lock, idle_thread_lifetime) == std::cv_status::timeout
        && !s.job) {
      drop_idle(s);
      return nullptr;
    }
  }
}

void http_runner::impl::drop_idle(slot& s) {
  if (!s.available)
    return;
  idle.erase(std::find(idle.begin(), idle.end(), &s));
  s.available = false;
}

/// Unregisters the call (cancel() no longer finds it) and decides what a stop
/// means for its result: once cancel() found the call, done says so.
void http_runner::impl::finish(slot& s, call& c, run_result& result) {
  calls.erase(c.handle);
  deadlines.erase({c.deadline, c.handle});
  if (c.stop == stop_reason::cancelled)
    result = failure("cancelled");
  else if (c.stop == stop_reason::timed_out)
    result = timed_out(c);
  // Available before `done` runs: whoever `done` wakes may start the next
  // call at once, and it should land here, on warm connections.
  if (backlog.empty() && !stopping && !s.available) {
    idle.push_back(&s);
    s.available = true;
  }
}

/// The thread's last steps: join threads that left before, then hand our
/// own std::thread to whoever comes next (or the destructor).
void http_runner::impl::leave(slot& s) {
  std::vector<std::thread> earlier;
  {
    std::lock_guard<std::mutex> lock(mutex);
    earlier.swap(exited);
  }
  for (auto& t : earlier)
    t.join();
  std::lock_guard<std::mutex> lock(mutex);
  exited.push_back(std::move(s.thread));
  slots.remove_if([&](const slot& x) { return &x == &s; });
  gone.notify_all();
}

void http_runner::impl::watch() {
  std::unique_lock<std::mutex> lock(mutex);
  while (!stopping) {
    if (deadlines.empty()) {
      watchdog_wake.wait(lock);
      continue;
    }
    auto [when, handle] = *deadlines.begin();
    if (steady::now() < when) {
      watchdog_wake.wait_until(lock, when);
      continue;
    }
    deadlines.erase(deadlines.begin());
    if (auto it = calls.find(handle); it != calls.end())
      abort(*it->second, stop_reason::timed_out);
  }
}

/// Under the mutex. See the top of the file for why this is safe.
void http_runner::impl::abort(call& c, stop_reason why) {
  if (c.stop != stop_reason::none)
    return;
  c.stop = why;
  if (c.sock >= 0)
    ::shutdown(c.sock, SHUT_RDWR);
}

void http_runner::impl::cancel(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = calls.find(handle); it != calls.end())
    abort(*it->second, stop_reason::cancelled);
}

size_t http_runner::impl::running() {
  std::lock_guard<std::mutex> lock(mutex);
  return calls.size();
}

http_runner::impl::~impl() {
  {
    std::unique_lock<std::mutex> lock(mutex);
    stopping = true;
    for (auto& [handle, c] : calls)
      abort(*c, stop_reason::cancelled);
    for (auto& s : slots)
      s.wake.notify_one();
    watchdog_wake.notify_one();
    gone.wait(lock, [&] { return slots.empty(); });
  }
  watchdog.join();
  for (auto& t : exited)
    t.join();
}

// --- one call --------------------------------------------------------------

run_result http_runner::impl::run_guarded(connections& conns, call& c) {
  try {
    return run(conns, c);
  } catch (const std::exception& e) {
    return failure(std::string("HTTP call failed: ") + e.what());
  }
}

run_result http_runner::impl::run(connections& conns, call& c) {
  if (!c.spec)
    return failure("no HTTP endpoint", true);
  const http_spec& spec = *c.spec;
  if (auto why = bad_header(spec); !why.empty())
    return failure(why, true);
  auto& cli = client_for(conns, spec);
  transport_facts facts;
  facts.connect_ms = default_connect_ms;
  facts.io_ms = default_io_ms;
  if (c.order.timeout_ms > 0) {
    // The watchdog ends the call at its deadline. These only back it up, a
    // little later, so that a timeout always reads "timed out after N ms".
    auto left =
        std::chrono::duration_cast<milliseconds>(c.deadline - steady::now());
    facts.connect_ms = facts.io_ms = std::max<int64_t>(0, left.count()) + 100;
  }
  cli.set_connection_timeout(milliseconds(facts.connect_ms));
  cli.set_read_timeout(milliseconds(facts.io_ms));
  cli.set_write_timeout(milliseconds(facts.io_ms));
  auto req = make_request(spec, c.order);
  httplib::Response res;
  auto started = steady::now();
  if (send(conns, c, cli, req, res, facts))
    return judge(spec, res);
  if (c.dup_errno != 0)
    return failure(std::string("cannot track the HTTP connection: ")
                   + std::strerror(c.dup_errno));
  if (c.order.timeout_ms > 0 && steady::now() >= c.deadline)
    return timed_out(c);
  facts.elapsed_ms = ms_since(started);
  facts.resolved = c.resolved;
  facts.last_fd = c.last_fd;
  if (spec.scheme == "https")
    facts.tls_verify_result =
        static_cast<httplib::SSLClient&>(cli).get_openssl_verify_result();
  return failure(transport_failure(spec, facts) + " (" + describe(spec) + ")");
}

/// send() between attach() and detach(), whatever happens.
bool http_runner::impl::send(connections& conns, call& c,
                             httplib::ClientImpl& cli, httplib::Request& req,
                             httplib::Response& res, transport_facts& facts) {
  struct detacher {
    impl& self;
    connections& conns;
    call& c;
    ~detacher() {
      self.detach(conns, c);
    }
  } guard{*this, conns, c};
  if (!attach(conns, c, cli))
    return false;
  bool sent = cli.send(req, res, facts.error);
  facts.sys_errno = errno;
  return sent;
}

httplib::ClientImpl& http_runner::impl::client_for(connections& conns,
                                                   const http_spec& spec) {
  auto& cli = conns.clients[target_key(spec)];
  if (cli)
    return *cli;
  if (spec.scheme == "https") {
    auto tls = std::make_unique<httplib::SSLClient>(spec.host, spec.port);
    tls->enable_server_certificate_verification(spec.tls_verify);
    if (spec.tls_verify)
      use_ca_directory(*tls);
    cli = std::move(tls);
  } else {
    cli = std::make_unique<httplib::ClientImpl>(spec.host, spec.port);
  }
  cli->set_keep_alive(true);
  // httplib writes the headers and the body separately; without this Nagle
  // holds the body back until the headers are acknowledged.
  cli->set_tcp_nodelay(true);
  cli->set_socket_options(
      [this, &conns](socket_t fd) { on_socket(conns, fd); });
  return *cli;
}

/// Left to itself, every SSLClient loads the whole system CA bundle into a
/// store of its own: ~0.9 MB for each thread and target (100 threads on one
/// https endpoint: +100 MB). Pointed at the hashed CA directory instead, it
/// loads only the CAs its peers need, when they need them; Debian's
/// update-ca-certificates keeps that directory and the bundle in step.
void http_runner::impl::use_ca_directory(httplib::SSLClient& tls) {
  std::call_once(ca_dir_found, [&] { ca_dir = find_ca_directory(); });
  if (!ca_dir.empty())
    tls.set_ca_cert_path("", ca_dir);
}

/// Before send(): makes the call cancellable; false if it must not be sent.
bool http_runner::impl::attach(connections& conns, call& c,
                               httplib::ClientImpl& cli) {
  // Only this thread uses `cli`, so its socket cannot change meanwhile.
  int kept = cli.is_socket_open() ? cli.socket() : -1;
  std::lock_guard<std::mutex> lock(mutex);
  conns.current = &c;
  if (c.stop != stop_reason::none)
    return false;
  if (kept >= 0) {
    c.sock = dup_high(kept);
    if (c.sock < 0) {
      c.dup_errno = errno;
      return false;
    }
  }
  return true;
}

/// httplib's socket-options hook: a new socket, about to connect.
void http_runner::impl::on_socket(connections& conns, int fd) {
  std::lock_guard<std::mutex> lock(mutex);
  call* c = conns.current;
  if (!c)
    return;
  c->resolved = true;
  c->last_fd = fd;
  if (c->sock >= 0)
    ::close(c->sock);
  c->sock = dup_high(fd);
  if (c->sock < 0) {
    // Uncancellable otherwise: make the call fail rather than run unguarded.
    c->dup_errno = errno;
    ::shutdown(fd, SHUT_RDWR);
  } else if (c->stop != stop_reason::none) {
    ::shutdown(c->sock, SHUT_RDWR);
  }
}

void http_runner::impl::detach(connections& conns, call& c) {
  std::lock_guard<std::mutex> lock(mutex);
  conns.current = nullptr;
  if (c.sock >= 0)
    ::close(c.sock);
  c.sock = -1;
}

// --- public face -----------------------------------------------------------

http_runner::http_runner() : impl_(std::make_unique<impl>()) {}

http_runner::~http_runner() = default;

uint64_t http_runner::start(std::shared_ptr<const http_spec> spec,
                            run_order order, run_callbacks callbacks) {
  auto c = std::make_unique<call>();
  c->spec = std::move(spec);
  c->order = std::move(order);
  c->callbacks = std::move(callbacks);
  return impl_->start(std::move(c));
}

void http_runner::cancel(uint64_t handle) {
  impl_->cancel(handle);
}

size_t http_runner::running() const {
  return impl_->running();
}

} // namespace actorq
