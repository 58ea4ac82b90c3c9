// bench_load: a small HTTP/1.1 load generator for the actorq workloads that
// wrk cannot drive (issue 3).  Keep-alive connections multiplexed with epoll
// over a few threads; one JSON line per run on stdout.
//
//   bench_load MODE --url=http://127.0.0.1:PORT [options]
//
// Modes
//   submit   POST /v1/tasks {"kind":K,"input":INPUT} as fast as possible, for
//            --count=N requests or --duration=S seconds (whichever ends first).
//            Reports req/s and latency percentiles.
//   e2e      submit, then GET /v1/tasks/{id}?wait_ms=W until the task is
//            terminal; --tasks=N tasks across --conns=C connections.
//            Reports tasks/s, the latency per task (submit → terminal) and
//            apart the POSTs' (request_latency_us) and GETs' (poll_latency_us).
//   fanout   POST /process-multiple with --items=N items [{"value":i},...],
//            --repeat=R times on one connection; reports median wall time.
//   cpu      the same against /process-cpu-bound.
//   post     the same against --path=P with --item=TEMPLATE.
//   get      GET --path=P on --conns=C connections for --duration=S.  With
//            --rate=R it is open loop: requests are scheduled at R req/s in
//            total, and latency is measured from the *intended* send time
//            (no coordinated omission); without it, max rate (closed loop).
//
// Common options
//   --conns=C  --threads=T  --timeout=S (per request; a connection whose
//   request times out stops)  --max-time=S (whole run, default 120; the
//   report then says "cut": true)  --label=NAME
//   --kind=K   --input=JSON (submit/e2e; "{i}" is replaced by the task number)
//   --wait-ms=W (e2e)
//   --submit-path=P (submit/e2e; default /v1/tasks) with --body=JSON (the
//   whole request body, "{i}" replaced; default {"kind":K,"input":INPUT})
//   --poll-path=P (e2e: "{id}" replaced by the submitted task's id, read from
//   the answer's --id-field, default "id"; default
//   /v1/tasks/{id}?wait_ms=W) --poll-ms=M (e2e: pause between polls of a task
//   that is not terminal yet, default 0). Terminal statuses: succeeded,
//   failed, cancelled, and the seed routes' completed.
//
// Exit status is 0 when the run happened (even if the server answered errors:
// those are counted in the JSON), 2 on bad usage.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kSec = 1'000'000'000;

// ---------------------------------------------------------------- options --

struct Options {
  std::string mode;
  std::string label;
  std::string host = "127.0.0.1";
  int port = 0;
  int conns = 0;    // 0: mode default
  int threads = 0;  // 0: mode default
  double duration = 0;
  long count = 0;
  double rate = 0;
  double timeout = 30;
  double max_time = 120;  // hard limit of the whole run: a sick server cannot hang the suite
  std::string path;
  std::string kind = "double";
  std::string input = R"({"value":{i}})";
  std::string item = R"({"value":{i}})";
  std::string expect = "result";  // key counted in post/fanout/cpu answers
  long tasks = 10000;
  long items = 10000;
  int repeat = 3;
  int wait_ms = 60000;
  std::string submit_path = "/v1/tasks";
  std::string body;  // "": {"kind":K,"input":INPUT}
  std::string poll_path;  // "": /v1/tasks/{id}?wait_ms=W
  std::string id_field = "id";
  int poll_ms = 0;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_load: %s\n"
               "usage: bench_load submit|e2e|fanout|cpu|post|get --url=http://HOST:PORT [--conns=C]\n"
               "       [--threads=T] [--duration=S] [--count=N] [--rate=R] [--path=P] [--kind=K]\n"
               "       [--input=JSON] [--item=JSON] [--tasks=N] [--items=N] [--repeat=R]\n"
               "       [--wait-ms=W] [--timeout=S] [--max-time=S] [--expect=KEY] [--label=NAME]\n"
               "       [--submit-path=P] [--body=JSON] [--poll-path=P] [--id-field=K] [--poll-ms=M]\n",
               why.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("missing mode");
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) usage("bad argument " + a);
    std::string k = a.substr(2, eq - 2), v = a.substr(eq + 1);
    try {
      if (k == "url") {
        std::string u = v;
        if (u.rfind("http://", 0) == 0) u = u.substr(7);
        auto slash = u.find('/');
        if (slash != std::string::npos) u = u.substr(0, slash);
        auto colon = u.rfind(':');
        if (colon == std::string::npos) usage("--url needs a port");
        o.host = u.substr(0, colon);
        o.port = std::stoi(u.substr(colon + 1));
      } else if (k == "host") o.host = v;
      else if (k == "port") o.port = std::stoi(v);
      else if (k == "label") o.label = v;
      else if (k == "conns") o.conns = std::stoi(v);
      else if (k == "threads") o.threads = std::stoi(v);
      else if (k == "duration") o.duration = std::stod(v);
      else if (k == "count") o.count = std::stol(v);
      else if (k == "rate") o.rate = std::stod(v);
      else if (k == "timeout") o.timeout = std::stod(v);
      else if (k == "max-time") o.max_time = std::stod(v);
      else if (k == "path") o.path = v;
      else if (k == "kind") o.kind = v;
      else if (k == "input") o.input = v;
      else if (k == "item") o.item = v;
      else if (k == "expect") o.expect = v;
      else if (k == "tasks") o.tasks = std::stol(v);
      else if (k == "items") o.items = std::stol(v);
      else if (k == "repeat") o.repeat = std::stoi(v);
      else if (k == "wait-ms") o.wait_ms = std::stoi(v);
      else if (k == "submit-path") o.submit_path = v;
      else if (k == "body") o.body = v;
      else if (k == "poll-path") o.poll_path = v;
      else if (k == "id-field") o.id_field = v;
      else if (k == "poll-ms") o.poll_ms = std::stoi(v);
      else usage("unknown option --" + k);
    } catch (const std::logic_error&) {
      usage("bad value for --" + k);
    }
  }
  if (o.port <= 0) usage("--url=http://HOST:PORT is required");
  if (o.host == "localhost") o.host = "127.0.0.1";
  if (o.mode == "fanout" && o.path.empty()) o.path = "/process-multiple";
  if (o.mode == "cpu" && o.path.empty()) o.path = "/process-cpu-bound";
  bool one_conn = o.mode == "fanout" || o.mode == "cpu" || o.mode == "post";
  if (o.conns <= 0) o.conns = one_conn ? 1 : 50;
  if (o.threads <= 0) o.threads = 1;
  o.threads = std::min(o.threads, o.conns);
  if (o.mode == "get" && o.path.empty()) usage("get needs --path");
  if (o.mode == "post" && o.path.empty()) usage("post needs --path");
  if (o.mode == "get" && o.duration <= 0) o.duration = 3;
  if (o.poll_path.empty()) o.poll_path = "/v1/tasks/{id}?wait_ms=" + std::to_string(o.wait_ms);
  if (o.mode == "submit" && o.count <= 0 && o.duration <= 0) o.duration = 3;
  if (o.mode != "submit" && o.mode != "e2e" && o.mode != "fanout" && o.mode != "cpu" &&
      o.mode != "post" && o.mode != "get")
    usage("unknown mode " + o.mode);
  return o;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

std::string replace_i(const std::string& tmpl, long i) {
  std::string out;
  out.reserve(tmpl.size() + 8);
  const std::string n = std::to_string(i);
  for (size_t p = 0; p < tmpl.size();) {
    if (tmpl.compare(p, 3, "{i}") == 0) {
      out += n;
      p += 3;
    } else {
      out += tmpl[p++];
    }
  }
  return out;
}

// tmpl with every "{id}" replaced by id.
std::string replace_id(const std::string& tmpl, const std::string& id) {
  std::string out = tmpl;
  for (size_t p = out.find("{id}"); p != std::string::npos; p = out.find("{id}", p + id.size()))
    out.replace(p, 4, id);
  return out;
}

// ------------------------------------------------------------ JSON bits --

// Value of a string field `"key": "value"` (first occurrence), or "".
std::string json_string_field(std::string_view body, std::string_view key) {
  std::string pat = "\"" + std::string(key) + "\"";
  for (size_t p = body.find(pat); p != std::string_view::npos; p = body.find(pat, p + 1)) {
    size_t q = p + pat.size();
    while (q < body.size() && std::isspace(static_cast<unsigned char>(body[q]))) ++q;
    if (q >= body.size() || body[q] != ':') continue;
    ++q;
    while (q < body.size() && std::isspace(static_cast<unsigned char>(body[q]))) ++q;
    if (q >= body.size() || body[q] != '"') return "";
    size_t e = body.find('"', q + 1);
    if (e == std::string_view::npos) return "";
    return std::string(body.substr(q + 1, e - q - 1));
  }
  return "";
}

long count_occurrences(std::string_view body, std::string_view needle) {
  long n = 0;
  for (size_t p = body.find(needle); p != std::string_view::npos; p = body.find(needle, p + needle.size())) ++n;
  return n;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// Tiny builder for the one-line JSON report.
class JsonLine {
 public:
  JsonLine& num(const std::string& k, double v) {
    char buf[64];
    if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 1e15)
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    else
      std::snprintf(buf, sizeof buf, "%.6g", v);
    return raw(k, buf);
  }
  JsonLine& str(const std::string& k, std::string_view v) { return raw(k, "\"" + json_escape(v) + "\""); }
  JsonLine& raw(const std::string& k, const std::string& v) {
    s_ += s_.empty() ? "{" : ",";
    s_ += "\"" + json_escape(k) + "\":" + v;
    return *this;
  }
  std::string done() const { return (s_.empty() ? "{" : s_) + "}"; }

 private:
  std::string s_;
};

// Percentiles (nearest rank) of latencies in ns, as a JSON object in µs.
std::string percentiles_us(std::vector<int64_t>& v) {
  JsonLine j;
  if (v.empty()) return "null";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t idx = static_cast<size_t>(q * static_cast<double>(v.size()));
    if (idx >= v.size()) idx = v.size() - 1;
    return static_cast<double>(v[idx]) / 1000.0;
  };
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  j.num("n", static_cast<double>(v.size()));
  j.num("p50", at(0.50)).num("p90", at(0.90)).num("p99", at(0.99)).num("p999", at(0.999));
  j.num("max", static_cast<double>(v.back()) / 1000.0);
  j.num("mean", sum / static_cast<double>(v.size()) / 1000.0);
  return j.done();
}

// ---------------------------------------------------------- HTTP parsing --

struct Response {
  int status = 0;  // 0: transport error / timeout
  bool close = false;
  std::string body;
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Parse one response from the front of buf.  Returns 1 and sets `used` when a
// whole response is there, 0 when more bytes are needed, -1 if malformed.
// `eof` says the peer closed: a body without length ends there.
int parse_response(const std::string& buf, bool eof, Response& r, size_t& used) {
  size_t he = buf.find("\r\n\r\n");
  if (he == std::string::npos) return eof && !buf.empty() ? -1 : 0;
  std::string_view head(buf.data(), he);
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return -1;
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos || sp + 4 > head.size()) return -1;
  r.status = std::atoi(std::string(head.substr(sp + 1, 3)).c_str());
  r.close = head.compare(0, 8, "HTTP/1.0") == 0;
  long content_length = -1;
  bool chunked = false;
  for (size_t p = head.find("\r\n"); p != std::string_view::npos;) {
    size_t e = head.find("\r\n", p + 2);
    std::string_view line = head.substr(p + 2, (e == std::string_view::npos ? head.size() : e) - p - 2);
    size_t c = line.find(':');
    if (c != std::string_view::npos) {
      std::string_view name = line.substr(0, c), value = line.substr(c + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (iequals(name, "content-length")) content_length = std::atol(std::string(value).c_str());
      else if (iequals(name, "transfer-encoding")) chunked = value.find("chunked") != std::string_view::npos;
      else if (iequals(name, "connection")) {
        if (iequals(value, "close")) r.close = true;
        else if (iequals(value, "keep-alive")) r.close = false;
      }
    }
    p = e;
  }
  size_t body_at = he + 4;
  r.body.clear();
  if (r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200)) {
    used = body_at;
    return 1;
  }
  if (chunked) {
    size_t p = body_at;
    for (;;) {
      size_t e = buf.find("\r\n", p);
      if (e == std::string::npos) return eof ? -1 : 0;
      long n = std::strtol(buf.c_str() + p, nullptr, 16);
      if (n < 0) return -1;
      if (n == 0) {
        // No trailers are expected: the last chunk is followed by CRLF.
        if (buf.size() < e + 4) return eof ? -1 : 0;
        used = e + 4;
        return 1;
      }
      if (buf.size() < e + 2 + static_cast<size_t>(n) + 2) return eof ? -1 : 0;
      r.body.append(buf, e + 2, static_cast<size_t>(n));
      p = e + 2 + static_cast<size_t>(n) + 2;
    }
  }
  if (content_length >= 0) {
    if (buf.size() < body_at + static_cast<size_t>(content_length)) return eof ? -1 : 0;
    r.body.assign(buf, body_at, static_cast<size_t>(content_length));
    used = body_at + static_cast<size_t>(content_length);
    return 1;
  }
  // No length: the body runs to the end of the connection.
  if (!eof) return 0;
  r.body.assign(buf, body_at, std::string::npos);
  r.close = true;
  used = buf.size();
  return 1;
}

// --------------------------------------------------------------- engine --

struct Stats {
  std::vector<int64_t> lat;       // per request (ns)
  std::vector<int64_t> task_lat;  // e2e: submit → terminal (ns)
  std::vector<int64_t> poll_lat;  // e2e: each GET of a submitted task (ns)
  std::vector<int64_t> wall;      // post: per request wall (ns)
  std::map<int, long> status;     // status code → count (0 = transport error)
  long ok = 0, bad = 0, conn_errors = 0, timeouts = 0;
  long tasks_done = 0, tasks_error = 0;
  long polls = 0;  // e2e: answers that were not terminal yet
  std::map<std::string, long> task_status;  // terminal status → count
  long items_min = -1, items_max = -1;      // post: counted items per answer
  int64_t last_done_ns = 0;
  std::string first_error;

  void error(const std::string& what) {
    if (first_error.empty()) first_error = what.substr(0, 300);
  }
  void merge(Stats& o) {
    lat.insert(lat.end(), o.lat.begin(), o.lat.end());
    task_lat.insert(task_lat.end(), o.task_lat.begin(), o.task_lat.end());
    poll_lat.insert(poll_lat.end(), o.poll_lat.begin(), o.poll_lat.end());
    wall.insert(wall.end(), o.wall.begin(), o.wall.end());
    for (auto& [k, v] : o.status) status[k] += v;
    for (auto& [k, v] : o.task_status) task_status[k] += v;
    ok += o.ok, bad += o.bad, conn_errors += o.conn_errors, timeouts += o.timeouts;
    tasks_done += o.tasks_done, tasks_error += o.tasks_error;
    polls += o.polls;
    if (o.items_min >= 0) items_min = items_min < 0 ? o.items_min : std::min(items_min, o.items_min);
    items_max = std::max(items_max, o.items_max);
    last_done_ns = std::max(last_done_ns, o.last_done_ns);
    if (first_error.empty()) first_error = o.first_error;
  }
};

struct Conn {
  int fd = -1;
  std::string out;
  size_t out_off = 0;
  std::string in;
  bool busy = false;  // a request is in flight
  bool done = false;  // this connection's flow has no more work
  bool want_out = false;
  int64_t sent_ns = 0, intended_ns = 0, next_due_ns = 0;
  // flow state
  int phase = 0;
  std::string task_id;
  int64_t task_start_ns = 0;
  long runs = 0;
};

// What a connection does: produce its next request, consume its response.
class Flow {
 public:
  virtual ~Flow() = default;
  // Fill c.out with the next request; false when the connection is finished.
  virtual bool next(Conn& c, Stats& st, int64_t now) = 0;
  // A response (status 0: transport error or timeout) completed at `t`;
  // latency is from the intended (open loop) or actual send time.
  virtual void done(Conn& c, const Response& r, int64_t latency, int64_t t, Stats& st) = 0;

 protected:
  static std::string request(const Options& o, const char* method, const std::string& path,
                             const std::string& body) {
    std::string s;
    s.reserve(128 + body.size());
    s += method;
    s += ' ';
    s += path;
    s += " HTTP/1.1\r\nHost: ";
    s += o.host + ":" + std::to_string(o.port);
    s += "\r\n";
    if (body.empty() && std::strcmp(method, "GET") == 0) {
      s += "\r\n";
      return s;
    }
    s += "Content-Type: application/json\r\nContent-Length: ";
    s += std::to_string(body.size());
    s += "\r\n\r\n";
    s += body;
    return s;
  }
  static void note_bad(const Response& r, Stats& st, const std::string& what) {
    ++st.bad;
    if (r.status == 0)
      st.error(what + ": no answer (" + (r.body.empty() ? std::string("connection error") : r.body) + ")");
    else
      st.error(what + " answered " + std::to_string(r.status) + ": " + r.body);
  }
};

class GetFlow : public Flow {
 public:
  explicit GetFlow(const Options& o) : req_(request(o, "GET", o.path, "")), path_(o.path) {}
  bool next(Conn& c, Stats&, int64_t) override {
    c.out = req_;
    return true;
  }
  void done(Conn&, const Response& r, int64_t lat, int64_t t, Stats& st) override {
    if (r.status >= 200 && r.status < 300) {
      ++st.ok;
      st.lat.push_back(lat);
      st.last_done_ns = t;
    } else {
      note_bad(r, st, "GET " + path_);
    }
  }

 private:
  std::string req_, path_;
};

class SubmitFlow : public Flow {
 public:
  SubmitFlow(const Options& o, std::atomic<long>& counter) : o_(o), counter_(counter) {}
  bool next(Conn& c, Stats&, int64_t) override {
    long i = counter_.fetch_add(1);
    if (o_.count > 0 && i >= o_.count) return false;
    c.out = request(o_, "POST", o_.submit_path, body(i));
    return true;
  }
  void done(Conn&, const Response& r, int64_t lat, int64_t t, Stats& st) override {
    if (r.status >= 200 && r.status < 300) {
      ++st.ok;
      st.lat.push_back(lat);
      st.last_done_ns = t;
    } else {
      note_bad(r, st, "POST " + o_.submit_path);
    }
  }

 protected:
  std::string body(long i) const {
    if (!o_.body.empty()) return replace_i(o_.body, i);
    return "{\"kind\":\"" + o_.kind + "\",\"input\":" + replace_i(o_.input, i) + "}";
  }
  const Options& o_;
  std::atomic<long>& counter_;
};

class E2EFlow : public SubmitFlow {
 public:
  using SubmitFlow::SubmitFlow;
  bool next(Conn& c, Stats&, int64_t now) override {
    if (c.phase == 0) {
      long i = counter_.fetch_add(1);
      if (i >= o_.tasks) return false;
      c.task_start_ns = now;
      c.out = request(o_, "POST", o_.submit_path, body(i));
    } else {
      c.out = request(o_, "GET", replace_id(o_.poll_path, c.task_id), "");
    }
    return true;
  }
  void done(Conn& c, const Response& r, int64_t lat, int64_t t, Stats& st) override {
    if (c.phase == 0) {
      c.task_id = (r.status >= 200 && r.status < 300) ? json_string_field(r.body, o_.id_field) : "";
      if (c.task_id.empty()) {
        note_bad(r, st, "POST " + o_.submit_path);
        ++st.tasks_error;
        return;
      }
      ++st.ok;
      st.lat.push_back(lat);
      c.phase = 1;
      return;
    }
    if (r.status != 200) {
      note_bad(r, st, "GET " + o_.poll_path);
      ++st.tasks_error;
      c.phase = 0;
      return;
    }
    ++st.ok;
    st.poll_lat.push_back(lat);
    std::string s = json_string_field(r.body, "status");
    if (s == "succeeded" || s == "failed" || s == "cancelled" || s == "completed") {
      ++st.tasks_done;
      ++st.task_status[s];
      st.task_lat.push_back(t - c.task_start_ns);
      st.last_done_ns = t;
      c.phase = 0;
    } else if (s.empty()) {
      note_bad(r, st, "GET " + o_.poll_path + " (no status)");
      ++st.tasks_error;
      c.phase = 0;
    } else {  // not terminal yet: ask again, after --poll-ms
      ++st.polls;
      if (o_.poll_ms > 0) c.next_due_ns = t + o_.poll_ms * 1'000'000LL;
    }
  }
};

class PostFlow : public Flow {
 public:
  explicit PostFlow(const Options& o) : o_(o) {
    std::string body = "[";
    for (long i = 0; i < o.items; ++i) {
      if (i) body += ',';
      body += replace_i(o.item, i);
    }
    body += "]";
    req_ = request(o, "POST", o.path, body);
  }
  bool next(Conn& c, Stats&, int64_t) override {
    if (c.runs >= o_.repeat) return false;
    ++c.runs;
    c.out = req_;
    return true;
  }
  void done(Conn&, const Response& r, int64_t lat, int64_t t, Stats& st) override {
    if (r.status >= 200 && r.status < 300) {
      ++st.ok;
      st.wall.push_back(lat);
      st.last_done_ns = t;
      long n = count_occurrences(r.body, "\"" + o_.expect + "\"");
      st.items_min = st.items_min < 0 ? n : std::min(st.items_min, n);
      st.items_max = std::max(st.items_max, n);
    } else {
      note_bad(r, st, "POST " + o_.path);
    }
  }

 private:
  const Options& o_;
  std::string req_;
};

// One connection, TCP_NODELAY, non-blocking.  cpp-httplib 0.11.4 listens with
// a backlog of 5, so a connect whose SYN is dropped (accept queue full) would
// wait 1-3 s for the SYN retransmit: a connect that has not completed within
// 20 ms on loopback is abandoned and tried again instead.
int connect_to(const Options& o, std::string& err) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1) {
    err = "bad host " + o.host + " (an IPv4 address is needed)";
    return -1;
  }
  for (int attempt = 0; attempt < 250; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      err = std::string("socket: ") + std::strerror(errno);
      return -1;
    }
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, 20) == 1 ? 0 : -1;
      if (rc != 0) {  // no SYN-ACK yet: dropped, try again
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof soerr;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        errno = soerr;
        rc = -1;
      }
    }
    if (rc != 0) {
      err = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  err = "connect: no answer to SYN after 250 tries of 20 ms";
  return -1;
}

class Worker {
 public:
  Worker(const Options& o, Flow& flow, int nconns) : o_(o), flow_(flow), conns_(nconns) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep_);
  }

  // Open every connection, one after the other (the server's accept backlog is small).
  void connect_all() {
    for (auto& c : conns_)
      if (!open(c)) c.done = true;
  }

  // conn_index/total_conns place this worker's connections on the global
  // open-loop schedule.
  // deadline: end of a timed run (0: none); hard_stop: end of any run.
  void run(int64_t start, int64_t deadline, int64_t hard_stop, int first_conn, int total_conns) {
    const int64_t interval = o_.rate > 0 ? static_cast<int64_t>(static_cast<double>(total_conns) * kSec / o_.rate) : 0;
    interval_ = interval;
    for (size_t k = 0; k < conns_.size(); ++k)
      conns_[k].next_due_ns = start + (interval * static_cast<int64_t>(first_conn + k)) / total_conns;
    const int64_t timeout = static_cast<int64_t>(o_.timeout * kSec);
    epoll_event events[256];
    for (;;) {
      int64_t now = now_ns();
      if (deadline && now >= deadline) break;
      if (now >= hard_stop) {
        cut_ = true;
        break;
      }
      int64_t wake = deadline ? deadline : std::min(hard_stop, now + kSec);
      bool active = false;
      for (auto& c : conns_) {
        if (c.done) continue;
        if (!c.busy) {
          if (c.next_due_ns <= now) start_request(c, now);
          else wake = std::min(wake, c.next_due_ns);
        }
        if (c.done) continue;
        active = true;
        if (c.busy) {
          if (now - c.sent_ns >= timeout) {
            ++st_.timeouts;
            fail(c, "timeout after " + seconds(o_.timeout), now);
            c.done = true;  // the server is not answering: stop this connection
          } else {
            wake = std::min(wake, c.sent_ns + timeout);
          }
        }
      }
      if (!active) break;
      int64_t wait = std::max<int64_t>(0, wake - now);
      timespec ts{static_cast<time_t>(wait / kSec), static_cast<long>(wait % kSec)};
      int n = epoll_pwait2(ep_, events, 256, &ts, nullptr);
      if (n < 0 && errno != EINTR) {
        st_.error(std::string("epoll: ") + std::strerror(errno));
        break;
      }
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[i].data.ptr);
        if (c.fd < 0) continue;
        if (events[i].events & EPOLLOUT) flush(c);
        if (c.fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) readable(c, deadline);
      }
    }
  }

  Stats& stats() { return st_; }
  bool cut() const { return cut_; }

 private:
  bool open(Conn& c) {
    std::string err;
    c.fd = connect_to(o_, err);
    if (c.fd < 0) {
      ++st_.conn_errors;
      st_.error(err);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.want_out = false;
    c.in.clear();
    return true;
  }

  void close_conn(Conn& c) {
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
      c.fd = -1;
    }
    c.in.clear();
  }

  void start_request(Conn& c, int64_t now) {
    if (!flow_.next(c, st_, now)) {
      c.done = true;
      close_conn(c);
      return;
    }
    if (c.fd < 0 && !open(c)) {
      c.done = true;  // server gone: stop this connection
      Response r;
      flow_.done(c, r, 0, now, st_);
      return;
    }
    c.intended_ns = interval_ ? c.next_due_ns : now;
    if (interval_) c.next_due_ns += interval_;
    c.sent_ns = now;
    c.busy = true;
    c.out_off = 0;
    flush(c);
  }

  void flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c.want_out) set_events(c, EPOLLIN | EPOLLOUT);
        return;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        ++st_.conn_errors;
        fail(c, std::string("send: ") + std::strerror(errno), now_ns());
        return;
      }
    }
    if (c.want_out) set_events(c, EPOLLIN);
  }

  void set_events(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = (events & EPOLLOUT) != 0;
  }

  // The request in flight on c failed without an answer.
  void fail(Conn& c, const std::string& why, int64_t now) {
    close_conn(c);
    bool was_busy = c.busy;
    c.busy = false;
    if (was_busy) {
      Response r;
      r.body = why;
      flow_.done(c, r, now - c.intended_ns, now, st_);
    }
  }

  void readable(Conn& c, int64_t deadline) {
    bool eof = false;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) break;
      } else if (n == 0) {
        eof = true;
        break;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else if (errno == EINTR) {
        continue;
      } else {
        eof = true;
        break;
      }
    }
    if (!c.busy) {
      // Nothing in flight: an idle keep-alive connection was closed.
      if (eof) close_conn(c);
      return;
    }
    Response r;
    size_t used = 0;
    int p = parse_response(c.in, eof, r, used);
    if (p == 0 && !eof) return;
    int64_t t = now_ns();
    if (p <= 0) {
      ++st_.conn_errors;
      fail(c, eof ? "connection closed by the server" : "malformed response", t);
      return;
    }
    c.in.erase(0, used);
    c.busy = false;
    ++st_.status[r.status];
    flow_.done(c, r, t - c.intended_ns, t, st_);
    if (r.close || eof) close_conn(c);
    // Closed loop: go on right away; open loop waits for its schedule.
    // (A flow may also put off its next request by moving next_due_ns.)
    if (!c.done && (!deadline || t < deadline) && c.next_due_ns <= t) start_request(c, t);
  }

  const Options& o_;
  Flow& flow_;
  std::vector<Conn> conns_;
  Stats st_;
  int ep_ = -1;
  int64_t interval_ = 0;
  bool cut_ = false;
};

std::string status_counts(const std::map<int, long>& m) {
  JsonLine j;
  for (auto& [k, v] : m) j.num(std::to_string(k), static_cast<double>(v));
  return j.done();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options o = parse_options(argc, argv);

  std::atomic<long> counter{0};
  std::unique_ptr<Flow> flow;
  if (o.mode == "get") flow = std::make_unique<GetFlow>(o);
  else if (o.mode == "submit") flow = std::make_unique<SubmitFlow>(o, counter);
  else if (o.mode == "e2e") flow = std::make_unique<E2EFlow>(o, counter);
  else flow = std::make_unique<PostFlow>(o);

  // Spread the connections over the threads.
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<int> first_conn;
  for (int t = 0, given = 0; t < o.threads; ++t) {
    int n = o.conns / o.threads + (t < o.conns % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, *flow, n));
    first_conn.push_back(given);
    given += n;
  }
  const int64_t connect_start = now_ns();
  for (auto& w : workers) w->connect_all();
  const double connect_ms = static_cast<double>(now_ns() - connect_start) / 1e6;

  const int64_t start = now_ns() + 1'000'000;  // 1 ms to get the threads going
  const int64_t deadline = o.duration > 0 ? start + static_cast<int64_t>(o.duration * kSec) : 0;
  const int64_t hard_stop = start + static_cast<int64_t>(o.max_time * kSec);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < workers.size(); ++t)
    threads.emplace_back([&, t] {
      while (now_ns() < start) std::this_thread::yield();
      workers[t]->run(start, deadline, hard_stop, first_conn[t], o.conns);
    });
  for (auto& th : threads) th.join();
  const int64_t end = now_ns();

  Stats st;
  bool cut = false;
  for (auto& w : workers) {
    st.merge(w->stats());
    cut = cut || w->cut();
  }
  if (cut) st.error("stopped by --max-time after " + seconds(o.max_time) + " before the work was done");

  // Elapsed time: the fixed duration, or up to the last completion.
  double elapsed = static_cast<double>((deadline ? std::min(end, deadline) : end) - start) / kSec;
  if (!deadline && st.last_done_ns > start) elapsed = static_cast<double>(st.last_done_ns - start) / kSec;

  JsonLine j;
  j.str("tool", "bench_load").str("mode", o.mode);
  if (!o.label.empty()) j.str("label", o.label);
  j.str("url", "http://" + o.host + ":" + std::to_string(o.port));
  if (!o.path.empty()) j.str("path", o.path);
  j.num("conns", o.conns).num("threads", o.threads).num("connect_ms", connect_ms).num("elapsed_s", elapsed);
  j.num("ok", static_cast<double>(st.ok)).num("bad", static_cast<double>(st.bad));
  j.num("conn_errors", static_cast<double>(st.conn_errors)).num("timeouts", static_cast<double>(st.timeouts));
  j.raw("status", status_counts(st.status));
  if (cut) j.raw("cut", "true");
  if (o.mode == "get" || o.mode == "submit") {
    if (o.rate > 0) j.num("offered_rps", o.rate);
    j.num("req_per_s", elapsed > 0 ? static_cast<double>(st.ok) / elapsed : 0);
    j.raw("latency_us", percentiles_us(st.lat));
  }
  if (o.mode == "submit") j.str("kind", o.kind).str("submit_path", o.submit_path);
  if (o.mode == "e2e") {
    j.str("kind", o.kind).str("submit_path", o.submit_path).str("poll_path", o.poll_path);
    j.num("tasks", static_cast<double>(o.tasks));
    j.num("tasks_done", static_cast<double>(st.tasks_done)).num("tasks_error", static_cast<double>(st.tasks_error));
    j.num("polls_not_terminal", static_cast<double>(st.polls));
    JsonLine ts;
    for (auto& [k, v] : st.task_status) ts.num(k, static_cast<double>(v));
    j.raw("task_status", ts.done());
    j.num("tasks_per_s", elapsed > 0 ? static_cast<double>(st.tasks_done) / elapsed : 0);
    j.raw("task_latency_us", percentiles_us(st.task_lat));
    j.raw("request_latency_us", percentiles_us(st.lat));
    j.raw("poll_latency_us", percentiles_us(st.poll_lat));
  }
  if (o.mode == "fanout" || o.mode == "cpu" || o.mode == "post") {
    j.num("items", static_cast<double>(o.items)).num("repeat", o.repeat);
    j.num("items_in_answer_min", static_cast<double>(st.items_min));
    j.num("items_in_answer_max", static_cast<double>(st.items_max));
    std::string walls = "[";
    for (size_t i = 0; i < st.wall.size(); ++i)
      walls += (i ? "," : "") + std::to_string(static_cast<double>(st.wall[i]) / 1e6);
    walls += "]";
    j.raw("wall_ms_runs", walls);
    std::vector<int64_t> w = st.wall;
    std::sort(w.begin(), w.end());
    if (!w.empty()) {
      double med = w.size() % 2 ? static_cast<double>(w[w.size() / 2])
                                : (static_cast<double>(w[w.size() / 2 - 1]) + static_cast<double>(w[w.size() / 2])) / 2;
      j.num("wall_ms_median", med / 1e6).num("wall_ms_min", static_cast<double>(w.front()) / 1e6);
      j.num("wall_ms_max", static_cast<double>(w.back()) / 1e6);
    } else {
      j.raw("wall_ms_median", "null");
    }
  }
  if (!st.first_error.empty()) j.str("first_error", st.first_error);
  std::printf("%s\n", j.done().c_str());
  return 0;
}
