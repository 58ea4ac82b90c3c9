#include "actors/log.hpp"

#include "actors/text.hpp"
#include "actors/time.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <pthread.h>

namespace actorq::log {

namespace detail {
std::atomic<uint8_t> threshold{static_cast<uint8_t>(level::off)};
} // namespace detail

namespace {

/// log.level's names, in the order of `level`; the text format's labels.
struct level_name {
  std::string_view name;
  std::string_view label;
};
constexpr std::array<level_name, 6> level_table{{{"trace", "TRACE"},
                                                 {"debug", "DEBUG"},
                                                 {"info", "INFO"},
                                                 {"warn", "WARN"},
                                                 {"error", "ERROR"},
                                                 {"off", "OFF"}}};

// Lines waiting for the writer thread; beyond, the oldest are dropped.
// spdlog builds every slot up front (408 bytes each, in spdlog 1.10): 8192
// slots held 3.3 MB of an idle daemon's memory; 1024 hold 0.4 MB and still
// take a burst of 1024 lines while the writer is behind.
constexpr size_t queue_lines = 1024;

/// The async logger and its thread. Both are left alive once created (an
/// actor may still be inside event() while main stops logging); stop() only
/// ends the thread, after it wrote every queued line.
struct backend {
  std::shared_ptr<spdlog::details::thread_pool> pool;
  std::shared_ptr<spdlog::async_logger> logger;
  format fmt = format::json;
};
std::atomic<backend*> active{nullptr}; // set by start() before any event

/// `text` in double quotes with quotes, backslashes and control bytes
/// escaped; control bytes other than \n \r \t as `control` (a printf
/// format of one byte: "\\u%04x" in JSON, "\\x%02x" in text lines).
void append_quoted(std::string& out, std::string_view text,
                   const char* control) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, control, c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_escaped_json(std::string& out, std::string_view text) {
  // Everything a job or a client wrote may end up here: never let it break
  // the line or the JSON.
  append_quoted(out, valid_utf8(text), "\\u%04x");
}

bool needs_quotes(std::string_view text) {
  if (text.empty())
    return true;
  for (unsigned char c : text)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      return true;
  return false;
}

void append_text_string(std::string& out, std::string_view text) {
  if (needs_quotes(text))
    append_quoted(out, text, "\\x%02x");
  else
    out += text;
}

void append_number(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += "null"; // JSON has no NaN or infinity
    return;
  }
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, x).ptr; // shortest exact
  out.append(buf, end);
}

} // namespace

// -- names --------------------------------------------------------------------

std::string_view to_string(level x) {
  return level_table[static_cast<size_t>(x)].name;
}

std::optional<level> parse_level(std::string_view name) {
  for (size_t i = 0; i < level_table.size(); ++i)
    if (level_table[i].name == name)
      return static_cast<level>(i);
  return std::nullopt;
}

std::optional<format> parse_format(std::string_view name) {
  if (name == "json")
    return format::json;
  if (name == "text")
    return format::text;
  return std::nullopt;
}

std::string level_names() {
  std::string out;
  for (auto& x : level_table)
    out += (out.empty() ? "" : ", ") + std::string{x.name};
  return out;
}

// -- value --------------------------------------------------------------------

void value::append_json(std::string& out) const {
  switch (type_) {
    case type::string: append_escaped_json(out, str_); break;
    case type::int64: out += std::to_string(i_); break;
    case type::uint64: out += std::to_string(u_); break;
    case type::real: append_number(out, d_); break;
    case type::boolean: out += b_ ? "true" : "false"; break;
    case type::json: out += str_.empty() ? "null" : str_; break;
  }
}

void value::append_text(std::string& out) const {
  switch (type_) {
    case type::string: append_text_string(out, str_); break;
    case type::json: {
      // Compact JSON reads best bare; quoted only if it holds a space.
      bool bare = !str_.empty()
                  && std::none_of(str_.begin(), str_.end(), [](char c) {
                       return static_cast<unsigned char>(c) <= ' ';
                     });
      if (bare)
        out += str_;
      else
        append_text_string(out, str_);
      break;
    }
    default: append_json(out); break;
  }
}

// -- lines --------------------------------------------------------------------

std::string format_line(format f, int64_t ts_ms, level x, std::string_view name,
                        fields fs) {
  std::string out;
  out.reserve(128);
  auto ts = iso8601(ts_ms);
  if (f == format::text) {
    out += ts;
    out += ' ';
    out += level_table[static_cast<size_t>(x)].label;
    out += ' ';
    append_text_string(out, name);
    for (auto& fld : fs) {
      out += ' ';
      out += fld.key;
      out += '=';
      fld.val.append_text(out);
    }
    return out;
  }
  out += "{\"ts\":\"";
  out += ts;
  out += "\",\"level\":\"";
  out += to_string(x);
  out += "\",\"event\":";
  append_escaped_json(out, name);
  for (auto& fld : fs) {
    out += ',';
    append_escaped_json(out, fld.key);
    out += ':';
    fld.val.append_json(out);
  }
  out += '}';
  return out;
}

void event(level x, std::string_view name, fields fs) {
  if (!enabled(x))
    return;
  auto b = active.load(std::memory_order_acquire);
  if (b == nullptr)
    return;
  auto line = format_line(b->fmt, now_ms(), x, name, fs);
  // spdlog's own level is trace: the threshold above decides.
  b->logger->log(spdlog::level::info,
                 spdlog::string_view_t{line.data(), line.size()});
}

// -- lifetime -----------------------------------------------------------------

void start(level min, format f) {
  if (auto b = active.load(); b != nullptr && b->pool)
    return; // already started (a stopped one may start again: tests)
  auto b = new backend; // never freed: see `backend`
  b->fmt = f;
  // The writer thread takes no signals: main waits for SIGTERM/SIGINT on a
  // thread of its own, and a thread created before it blocks them would get
  // them (and die of them).
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  b->pool = std::make_shared<spdlog::details::thread_pool>(queue_lines, 1);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  b->logger = std::make_shared<spdlog::async_logger>(
      "actorq", std::move(sink), b->pool,
      spdlog::async_overflow_policy::overrun_oldest);
  b->logger->set_pattern("%v");
  b->logger->set_level(spdlog::level::trace);
  // An event racing stop() finds no thread to write it: drop it quietly.
  b->logger->set_error_handler([](const std::string&) {});
  active.store(b, std::memory_order_release);
  detail::threshold.store(static_cast<uint8_t>(min));
}

void stop() {
  auto b = active.load();
  if (b == nullptr || !b->pool)
    return;
  detail::threshold.store(static_cast<uint8_t>(level::off));
  auto dropped = b->pool->overrun_counter();
  // The pool's destructor lets its thread write every queued line first.
  b->pool.reset();
  if (dropped > 0) {
    auto line = format_line(b->fmt, now_ms(), level::warn, "log_lines_dropped",
                            {{"msg", "the log writer could not keep up; the "
                                     "oldest lines were dropped"},
                             {"dropped", dropped}});
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

} // namespace actorq::log
