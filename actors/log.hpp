// Structured log events on stderr: one line per event, a JSON object
// ({"ts":…,"level":…,"event":…,<fields>}) or text for a terminal
// ("TS LEVEL event key=value …"). Lines are formatted on the caller's thread
// and written by spdlog's async logger on a thread of its own: a full queue
// drops its oldest lines rather than block an actor or an HTTP thread.
//
//   log::event(log::level::warn, "task_failed",
//              {{"id", id}, {"kind", kind}, {"attempts", 3}, {"error", e}});
//
// Field values are borrowed for the call (strings are not copied unless the
// event is logged): a disabled level costs one atomic load.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace actorq::log {

enum class level : uint8_t { trace, debug, info, warn, error, off };

/// How lines look: JSON objects (for collectors) or text (for people).
enum class format : uint8_t { json, text };

/// "trace" … "off", as log.level takes them.
std::string_view to_string(level x);

/// The level named `name` (as log.level takes it), if any.
std::optional<level> parse_level(std::string_view name);

/// "json" or "text"; nothing for anything else.
std::optional<format> parse_format(std::string_view name);

/// "trace, debug, info, warn, error, off": for "expected one of" messages.
std::string level_names();

/// A JSON text inserted as it is (JSON lines) or printed as it is (text):
/// for lists and objects in a field, e.g. the pools of the start-up line.
struct raw_json {
  std::string_view text;
};

/// One field's value: a string (borrowed), a number, a bool or raw JSON.
class value {
public:
  enum class type : uint8_t { string, int64, uint64, real, boolean, json };

  value(std::string_view x) : type_(type::string), str_(x) {}
  value(const char* x) : type_(type::string), str_(x) {}
  value(const std::string& x) : type_(type::string), str_(x) {}
  value(raw_json x) : type_(type::json), str_(x.text) {}
  value(bool x) : type_(type::boolean), b_(x) {}
  value(double x) : type_(type::real), d_(x) {}
  template <class T, class = std::enable_if_t<std::is_integral_v<T>
                                              && !std::is_same_v<T, bool>>>
  value(T x) {
    if constexpr (std::is_signed_v<T>) {
      type_ = type::int64;
      i_ = x;
    } else {
      type_ = type::uint64;
      u_ = x;
    }
  }

  /// Appends the value as JSON.
  void append_json(std::string& out) const;

  /// Appends the value as text: bare if it has no space, quote, '=' or
  /// control character, else quoted with escapes.
  void append_text(std::string& out) const;

private:
  type type_;
  std::string_view str_;
  union {
    int64_t i_;
    uint64_t u_;
    double d_;
    bool b_;
  };
};

struct field {
  std::string_view key;
  value val;
};

using fields = std::initializer_list<field>;

namespace detail {
extern std::atomic<uint8_t> threshold; // lowest level logged; off: none
} // namespace detail

/// Is an event at `x` logged? Check before building costly fields.
inline bool enabled(level x) {
  return static_cast<uint8_t>(x)
         >= detail::threshold.load(std::memory_order_relaxed);
}

/// Logs event `name` at `x` with `fs`, unless `x` is below log.level.
/// Never blocks on the terminal or the disk.
void event(level x, std::string_view name, fields fs = {});

/// The line of one event (without a newline) as `f` writes it; `ts_ms` is
/// milliseconds since the Unix epoch. Strings are escaped (and invalid UTF-8
/// replaced) so that one event is always exactly one line.
std::string format_line(format f, int64_t ts_ms, level x, std::string_view name,
                        fields fs);

/// Starts logging events from `min` up to stderr as `f`. Until then (and
/// in unit tests) events go nowhere.
void start(level min, format f);

/// Writes out what is queued and stops logging; called by ~session.
void stop();

/// start() for the lifetime of the object, so that every way out of main
/// writes the queued lines.
class session {
public:
  session(level min, format f) {
    start(min, f);
  }
  ~session() {
    stop();
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;
};

} // namespace actorq::log
