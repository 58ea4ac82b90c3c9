// Harness implementation; see server.hpp.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <cstring>
#include <ctime>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace itest {

namespace {

// Keep output bounded even if the daemon logs a lot.
constexpr size_t kMaxKept = 4u << 20;
// How much of a daemon's output is printed when a test case fails.
constexpr size_t kDumpTail = 24u << 10;

// A client writing to a socket the server already closed must not kill
// the test process (httplib 0.11 does not use MSG_NOSIGNAL).
struct IgnoreSigpipe {
  IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
} ignore_sigpipe;

// Outputs of the daemons started by the current test case.
std::mutex g_dump_mu;
std::vector<std::string> g_dumps;

void record_dump(std::string text) {
  std::lock_guard<std::mutex> lk(g_dump_mu);
  if (g_dumps.size() < 64) g_dumps.push_back(std::move(text));
}

struct DumpOnFailure : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    std::lock_guard<std::mutex> lk(g_dump_mu);
    g_dumps.clear();
    TestEventListenerBase::testCaseStarting(info);
  }
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    std::lock_guard<std::mutex> lk(g_dump_mu);
    if (stats.totals.assertions.failed > 0 && !g_dumps.empty()) {
      std::cerr << "\n----- actorq output for failed test case '" << stats.testInfo.name
                << "' -----\n";
      for (auto& d : g_dumps) std::cerr << d << "\n";
      std::cerr << "----- end of actorq output -----\n";
    }
    g_dumps.clear();
    TestEventListenerBase::testCaseEnded(stats);
  }
};

void append_bounded(std::string& dst, const char* data, size_t n) {
  dst.append(data, n);
  if (dst.size() > kMaxKept) dst.erase(0, dst.size() - kMaxKept);
}

std::string tail(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return "[... " + std::to_string(s.size() - n) + " bytes cut ...]\n" + s.substr(s.size() - n);
}

std::string join_args(const std::vector<std::string>& args) {
  std::string s = ACTORQ_BIN;
  for (auto& a : args) s += " " + a;
  return s;
}

// Every daemon gets a store file of its own in a folder removed when the test
// process ends (tests that restart on one store pass --store.path).
struct StoreFolder {
  std::string path;
  StoreFolder() {
    char tmpl[] = "/tmp/actorq-itest.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~StoreFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<std::string> with_port(std::vector<std::string> args) {
  auto has = [&](const char* prefix) {
    return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
      return a.rfind(prefix, 0) == 0;
    });
  };
  if (!has("--http.port")) args.insert(args.begin(), "--http.port=0");
  if (!has("--store.path")) args.insert(args.begin(), "--store.path=" + fresh_store_path());
  return args;
}

ExitStatus decode_status(int st) {
  ExitStatus e;
  if (WIFEXITED(st)) {
    e.exited = true;
    e.code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    e.signal = WTERMSIG(st);
  }
  return e;
}

// fork + execv with stdin from /dev/null and stdout/stderr to the given fds.
pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  std::vector<std::string> full;
  full.push_back(ACTORQ_BIN);
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until execv.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test run
    if (::getppid() != parent) ::_exit(126);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execv(argv[0], argv.data());
    const char msg[] = "integration harness: execv failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  return pid;
}

const std::regex& listening_re() {
  static const std::regex re(R"(actorq listening on http://(\[[^\]]+\]|[^:/\s]+):(\d+))");
  return re;
}

}  // namespace

CATCH_REGISTER_LISTENER(DumpOnFailure)

bool Server::wait_output(const std::string& text, std::chrono::milliseconds timeout,
                         size_t occurrences) {
  auto count = [&] {
    std::lock_guard<std::mutex> lk(mu_);
    size_t n = 0;
    for (auto pos = all_.find(text); pos != std::string::npos; pos = all_.find(text, pos + 1))
      ++n;
    return n;
  };
  return wait_until([&] { return count() >= occurrences; }, timeout, 10ms);
}

std::string fresh_store_path() {
  static StoreFolder folder;
  static std::atomic<int> next{0};
  return folder.path + "/store-" + std::to_string(++next) + ".db";
}

// ------------------------------------------------------------- ExitStatus

std::string ExitStatus::describe() const {
  std::ostringstream os;
  if (timed_out) os << "did not exit in time";
  else if (exited) os << "exited with code " << code;
  else if (signal) os << "killed by signal " << signal << " (" << strsignal(signal) << ")";
  else os << "unknown";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const ExitStatus& st) { return os << st.describe(); }

// ------------------------------------------------------------------ Reply

std::string Reply::header(const std::string& key) const {
  for (auto& kv : headers)
    if (strcasecmp(kv.first.c_str(), key.c_str()) == 0) return kv.second;
  return "";
}

std::ostream& operator<<(std::ostream& os, const Reply& r) {
  os << r.method << " " << (r.path.size() > 300 ? r.path.substr(0, 300) + "...(" +
                                                     std::to_string(r.path.size()) + " chars)"
                                               : r.path)
     << " -> ";
  if (r.status == 0) return os << "no response (" << r.error << ")";
  os << r.status << " [" << r.header("Content-Type") << "] " << r.elapsed.count() << "ms ";
  if (r.body.size() > 2000)
    os << r.body.substr(0, 2000) << "...(" << r.body.size() << " bytes)";
  else
    os << r.body;
  return os;
}

// ----------------------------------------------------------------- Server

Server::Server(std::vector<std::string> args, std::chrono::milliseconds startup_timeout)
    : args_(with_port(std::move(args))) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    throw std::runtime_error("pipe2 failed");
  }
  try {
    pid_ = spawn(args_, out_pipe[1], err_pipe[1]);
  } catch (...) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    throw;
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  drain_ = std::thread([this, o = out_pipe[0], e = err_pipe[0]] { drain_loop(o, e); });

  // A worker node (--cluster.join) serves no HTTP: the test waits for what it
  // needs (e.g. the "joined" line, see wait_output).
  if (std::any_of(args_.begin(), args_.end(), [](const std::string& a) {
        return a.rfind("--cluster.join=", 0) == 0;
      }))
    return;
  // Wait for the listening line on stdout.
  auto deadline = Clock::now() + startup_timeout;
  std::smatch m;
  std::string problem;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      auto nl = out_.find('\n', out_.find("actorq listening on "));
      auto pos = out_.find("actorq listening on ");
      if (pos != std::string::npos && nl != std::string::npos) {
        listening_line_ = out_.substr(pos, nl - pos);
        if (!listening_line_.empty() && listening_line_.back() == '\r') listening_line_.pop_back();
        if (std::regex_search(listening_line_, m, listening_re())) {
          host_ = m[1].str();
          port_ = std::stoi(m[2].str());
          break;
        }
        problem = "could not parse the listening line '" + listening_line_ + "'";
        break;
      }
      cv_.wait_for(lk, 20ms);
    }
    if (try_reap(false)) {
      problem = "actorq ended before printing its listening line: " + status_.describe();
      break;
    }
    if (Clock::now() > deadline) {
      problem = "actorq did not print 'actorq listening on http://HOST:PORT' within " +
                std::to_string(startup_timeout.count()) + " ms";
      break;
    }
  }
  if (!problem.empty() || port_ <= 0) {
    if (problem.empty()) problem = "invalid port in '" + listening_line_ + "'";
    stop_child();
    std::string msg = problem + "\ncommand: " + join_args(args_) + "\noutput:\n" + tail(output(), 8000);
    throw std::runtime_error(msg);
  }
  connect_host_ = host_;
  if (connect_host_.size() > 1 && connect_host_.front() == '[')
    connect_host_ = connect_host_.substr(1, connect_host_.size() - 2);
  if (connect_host_ == "0.0.0.0" || connect_host_ == "localhost") connect_host_ = "127.0.0.1";
  if (connect_host_ == "::") connect_host_ = "::1";
}

Server::~Server() {
  stop_child();
  record_dump("=== " + join_args(args_) + " (pid " + std::to_string(pid_) + ", " +
              status_.describe() + ") ===\n" + tail(output(), kDumpTail));
}

void Server::stop_child() {
  if (!reaped_) {
    kill(SIGTERM);
    auto st = wait_exit(10s);
    if (st.timed_out) {
      kill(SIGKILL);
      try_reap(true);
    }
  }
  // The child is gone: let the drain thread read what is left, then stop it.
  if (drain_.joinable()) {
    stop_drain_ = true;
    drain_.join();
  }
}

void Server::drain_loop(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  bool open_[2] = {true, true};
  char buf[65536];
  Clock::time_point stop_seen{};
  bool stopping = false;
  while (open_[0] || open_[1]) {
    if (stop_drain_ && !stopping) {
      stopping = true;
      stop_seen = Clock::now();
    }
    // After the child is reaped, give grandchildren (if any) 500 ms at most.
    if (stopping && Clock::now() - stop_seen > 500ms) break;
    for (int i = 0; i < 2; ++i) fds[i].fd = open_[i] ? (i == 0 ? out_fd : err_fd) : -1;
    int n = ::poll(fds, 2, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!open_[i] || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        std::lock_guard<std::mutex> lk(mu_);
        append_bounded(i == 0 ? out_ : err_, buf, static_cast<size_t>(got));
        append_bounded(all_, buf, static_cast<size_t>(got));
        cv_.notify_all();
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        open_[i] = false;
      }
    }
  }
  ::close(out_fd);
  ::close(err_fd);
  std::lock_guard<std::mutex> lk(mu_);
  drain_done_ = true;
  cv_.notify_all();
}

bool Server::try_reap(bool block) {
  if (reaped_) return true;
  if (pid_ <= 0) return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode_status(st);
    reaped_ = true;
    return true;
  }
  if (r < 0) {  // ECHILD: should not happen, treat as gone
    reaped_ = true;
    return true;
  }
  return false;
}

void Server::kill(int sig) {
  if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

ExitStatus Server::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!try_reap(false)) {
    if (Clock::now() >= deadline) {
      ExitStatus st;
      st.timed_out = true;
      return st;
    }
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

bool Server::running() { return !try_reap(false); }

std::string Server::output() const {
  std::lock_guard<std::mutex> lk(mu_);
  return all_;
}
std::string Server::stdout_text() const {
  std::lock_guard<std::mutex> lk(mu_);
  return out_;
}
std::string Server::stderr_text() const {
  std::lock_guard<std::mutex> lk(mu_);
  return err_;
}

httplib::Client Server::client(std::chrono::seconds read_timeout) const {
  httplib::Client cli(connect_host_, port_);
  cli.set_connection_timeout(10, 0);
  cli.set_read_timeout(read_timeout.count(), 0);
  cli.set_write_timeout(30, 0);
  cli.set_keep_alive(false);
  return cli;
}

Reply Server::request(const std::string& method, const std::string& path,
                      const std::string& body, const std::string& content_type) const {
  Reply r;
  r.method = method;
  r.path = path;
  auto cli = client();
  auto t0 = Clock::now();
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (method == "GET") res = cli.Get(path);
  else if (method == "POST") res = cli.Post(path, body, content_type.c_str());
  else if (method == "PUT") res = cli.Put(path, body, content_type.c_str());
  else if (method == "PATCH") res = cli.Patch(path, body, content_type.c_str());
  else if (method == "DELETE") res = cli.Delete(path);
  else if (method == "OPTIONS") res = cli.Options(path);
  else if (method == "HEAD") res = cli.Head(path);
  else throw std::invalid_argument("unsupported method " + method);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  if (!res) {
    r.error = httplib::to_string(res.error());
    return r;
  }
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  try {
    if (!r.body.empty()) {
      r.body_json = json::parse(r.body);
      r.is_json = true;
    }
  } catch (const std::exception&) {
    r.is_json = false;
  }
  return r;
}

// ----------------------------------------------------- start_expect_failure

FailedStart start_expect_failure(std::vector<std::string> args,
                                 std::chrono::milliseconds timeout) {
  args = with_port(std::move(args));
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t pid;
  try {
    pid = spawn(args, p[1], p[1]);
  } catch (...) {
    ::close(p[0]);
    ::close(p[1]);
    throw;
  }
  ::close(p[1]);
  FailedStart fs;
  auto deadline = Clock::now() + timeout;
  bool eof = false, reaped = false;
  char buf[65536];
  while (!(eof && reaped)) {
    if (!reaped) {
      int st = 0;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        fs.status = decode_status(st);
        reaped = true;
      }
    }
    if (!eof) {
      pollfd pfd{p[0], POLLIN, 0};
      int n = ::poll(&pfd, 1, 20);
      if (n > 0) {
        ssize_t got = ::read(p[0], buf, sizeof buf);
        if (got > 0) append_bounded(fs.output, buf, static_cast<size_t>(got));
        else if (got == 0 || errno != EINTR) eof = true;
      }
    } else if (!reaped) {
      std::this_thread::sleep_for(5ms);
    }
    if (!reaped && fs.output.find("actorq listening on ") != std::string::npos) {
      fs.started = true;
      ::kill(pid, SIGKILL);
      int st = 0;
      ::waitpid(pid, &st, 0);
      fs.status = decode_status(st);
      reaped = true;
      eof = true;  // do not wait for more output
    }
    if (!reaped && Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      int st = 0;
      ::waitpid(pid, &st, 0);
      fs.status = ExitStatus{};
      fs.status.timed_out = true;
      reaped = true;
    }
    if (reaped && !eof && Clock::now() > deadline + 1s) break;
  }
  ::close(p[0]);
  record_dump("=== " + join_args(args) + " (expected to fail: " + fs.status.describe() +
              ") ===\n" + tail(fs.output, kDumpTail));
  return fs;
}

// ---------------------------------------------------------------- helpers

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string random_uuid4() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lk(mu);
  unsigned char b[16];
  for (auto& x : b) x = static_cast<unsigned char>(rng());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return out;
}

bool is_uuid4(const std::string& s) {
  static const std::regex re(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s, re);
}

bool is_iso8601_utc(const std::string& s) {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$)");
  return std::regex_match(s, re) && iso8601_to_epoch_ms(s) >= 0;
}

long long iso8601_to_epoch_ms(const std::string& s) {
  static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?Z$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return -1;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  long long ms = static_cast<long long>(timegm(&tm)) * 1000;
  if (m[8].matched) {
    std::string frac = m[8].str();
    frac.resize(3, '0');
    ms += std::stoll(frac.substr(0, 3));
  }
  return ms;
}

long long now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string url_encode(const std::string& s) {
  std::string out;
  char hex[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

bool is_terminal(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

std::string submit(const Server& srv, const json& body) {
  auto r = srv.post("/v1/tasks", body);
  INFO("submit " << body.dump() << " -> " << r);
  REQUIRE(r.status == 202);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_object());
  REQUIRE(r.j().contains("id"));
  REQUIRE(r.j()["id"].is_string());
  std::string id = r.j()["id"].get<std::string>();
  REQUIRE(!id.empty());
  return id;
}

json get_task(const Server& srv, const std::string& id, int wait_ms) {
  std::string path = "/v1/tasks/" + id;
  if (wait_ms >= 0) path += "?wait_ms=" + std::to_string(wait_ms);
  auto r = srv.get(path);
  INFO("reply: " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_object());
  REQUIRE(r.j().contains("status"));
  REQUIRE(r.j()["status"].is_string());
  return r.j();
}

json wait_terminal(const Server& srv, const std::string& id, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  json t;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int w = static_cast<int>(std::max<long long>(0, std::min<long long>(left.count(), 5000)));
    t = get_task(srv, id, w);
    if (is_terminal(t["status"].get<std::string>())) return t;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(5ms);  // in case wait_ms is not honoured
  }
  INFO("task " << id << " still not terminal after " << timeout.count() << " ms: " << t.dump());
  FAIL("task did not reach a terminal state in time");
  return t;
}

json wait_status(const Server& srv, const std::string& id, const std::string& status,
                 std::chrono::milliseconds timeout) {
  json t;
  bool ok = wait_until(
      [&] {
        t = get_task(srv, id);
        return t["status"] == status;
      },
      timeout, 5ms);
  INFO("task " << id << " last seen: " << t.dump());
  REQUIRE(ok);
  return t;
}

std::map<std::string, json> pools(const Server& srv) {
  auto r = srv.get("/v1/pools");
  INFO("reply: " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
  REQUIRE(r.j().is_array());
  std::map<std::string, json> out;
  for (auto& p : r.j()) {
    REQUIRE(p.is_object());
    REQUIRE(p.contains("name"));
    REQUIRE(p["name"].is_string());
    out[p["name"].get<std::string>()] = p;
  }
  return out;
}

PoolSampler::PoolSampler(const Server& srv, std::chrono::milliseconds interval)
    : srv_(srv), interval_(interval) {
  th_ = std::thread([this] {
    auto cli = srv_.client(10s);
    while (!stop_) {
      auto res = cli.Get("/v1/pools");
      bool ok = false;
      if (res && res->status == 200) {
        try {
          auto j = json::parse(res->body);
          if (j.is_array()) {
            std::lock_guard<std::mutex> lk(mu_);
            for (auto& p : j) {
              auto name = p.at("name").get<std::string>();
              auto busy = p.at("busy").get<long long>();
              auto queued = p.at("queued").get<long long>();
              max_busy_[name] = std::max(max_busy_[name], busy);
              max_queued_[name] = std::max(max_queued_[name], queued);
            }
            ++samples_;
            ok = true;
          }
        } catch (const std::exception&) {
        }
      }
      if (!ok) {
        std::lock_guard<std::mutex> lk(mu_);
        ++errors_;
      }
      std::this_thread::sleep_for(interval_);
    }
  });
}

PoolSampler::~PoolSampler() { stop(); }

void PoolSampler::stop() {
  stop_ = true;
  if (th_.joinable()) th_.join();
}

long long PoolSampler::max_busy(const std::string& pool) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = max_busy_.find(pool);
  return it == max_busy_.end() ? -1 : it->second;
}
long long PoolSampler::max_queued(const std::string& pool) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = max_queued_.find(pool);
  return it == max_queued_.end() ? -1 : it->second;
}
int PoolSampler::samples() const {
  std::lock_guard<std::mutex> lk(mu_);
  return samples_;
}
int PoolSampler::errors() const {
  std::lock_guard<std::mutex> lk(mu_);
  return errors_;
}

std::string raw_exchange(const std::string& host, int port, const std::string& bytes,
                         std::chrono::milliseconds timeout, bool half_close) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    return "";
  int fd = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return "";
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0) {
    ::close(fd);
    return "";
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[8192];
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    int n = ::poll(&pfd, 1, 20);
    if (n <= 0) continue;
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
    // Stop as soon as one complete response is in (the server may keep
    // the connection open).
    auto head_end = out.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::string head = out.substr(0, head_end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto cl = head.find("\r\ncontent-length:");
      if (cl != std::string::npos) {
        size_t len = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
        if (out.size() >= head_end + 4 + len) break;
      }
    }
  }
  ::close(fd);
  return out;
}

void check_error_reply(const Reply& r, int status, const std::string& code,
                       const std::string& field) {
  // CHECK (not REQUIRE) so that one bad reply does not hide the next cases.
  CHECK(r.status == status);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  CHECK(r.is_json);
  if (!r.is_json) return;
  CHECK(r.j().is_object());
  if (!r.j().is_object()) return;
  CHECK(r.j().contains("detail"));
  CHECK(r.j().contains("code"));
  CHECK(r.j().value("code", json()).is_string());
  // The seed routes answer validation errors as FastAPI does:
  // "detail": [{"loc", "msg", "type"}], "code" beside it.
  std::string detail;
  auto d = r.j().value("detail", json());
  if (d.is_array() && !d.empty()) {
    for (auto& e : d) {
      CHECK(e.is_object());
      if (!e.is_object()) return;
      CHECK(e.value("loc", json()).is_array());
      CHECK(e.value("msg", json()).is_string());
      CHECK(e.value("type", json()).is_string());
      detail += e.value("loc", json()).dump() + " " + e.value("msg", std::string{}) + "; ";
    }
  } else {
    CHECK(d.is_string());
    if (!d.is_string()) return;
    detail = d.get<std::string>();
  }
  if (!r.j().value("code", json()).is_string()) return;
  CHECK(!detail.empty());
  CHECK(!r.j()["code"].get<std::string>().empty());
  if (!code.empty()) CHECK(r.j()["code"].get<std::string>() == code);
  if (!field.empty()) CHECK_THAT(detail, Catch::Contains(field));
}

void check_error_reply_any(const Reply& r, const std::vector<int>& statuses,
                           const std::vector<std::string>& codes) {
  INFO("reply: " << r);
  auto it = std::find(statuses.begin(), statuses.end(), r.status);
  bool status_ok = it != statuses.end();
  CHECK(status_ok);
  if (!status_ok) return;
  check_error_reply(r, r.status, codes.at(static_cast<size_t>(it - statuses.begin())));
}

void check_alive(const Server& srv) {
  auto r = srv.get("/healthz");
  INFO("healthz after hostile input: " << r);
  REQUIRE(r.status == 200);
  REQUIRE(r.is_json);
}

std::pair<int, json> post_keyed(const Server& srv, const std::string& key,
                                const json& body) {
  auto cli = srv.client();
  httplib::Headers headers{{"Idempotency-Key", key}};
  auto res = cli.Post("/v1/tasks", headers, body.dump(), "application/json");
  REQUIRE(res);
  return {res->status, json::parse(res->body, nullptr, false)};
}

std::string source_dir() {
  // From CMake: __FILE__ may be relative to the build dir (ccache's base_dir).
  return ACTORQ_SOURCE_DIR;
}

}  // namespace itest
