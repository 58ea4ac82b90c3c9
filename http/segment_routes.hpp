// GET routes of the form LITERAL([^/]+) (a task's id, a pool's name),
// matched by prefix instead of by std::regex. cpp-httplib 0.11 matches every
// route with std::regex_match in registration order: 0.9 µs for
// GET /v1/tasks/{id} (3–4 % of the request), 1.1 µs for /task-status/{id},
// which comes fourth. The pre-routing handler answers these routes from
// this table; the rest go on to httplib's dispatch.
//
// Same answers as httplib's dispatch: a route is taken only if no GET
// pattern registered before it can match a path that starts with its
// prefix (httplib would pick that one first). Patterns registered after it
// cannot take its paths from it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace actorq::http {

class segment_routes {
public:
  /// Notes a GET pattern, in registration order. Returns its index in
  /// this table if the table serves it (the pattern is LITERAL([^/]+) and
  /// no earlier pattern can match its paths), else -1.
  int add(const std::string& pattern);

  /// The route serving `path` (its index from add()) and where the path's
  /// segment starts, or index -1.
  struct match {
    int index = -1;
    size_t segment_at = 0;
  };
  match find(const std::string& path) const;

private:
  /// How much of a pattern's start is literal text (before any regex
  /// metacharacter); the whole pattern if it has none.
  static size_t literal_length(const std::string& pattern);

  /// Whether `pattern` (registered earlier) can match a path that starts
  /// with `prefix` followed by a segment without '/'.
  static bool may_match(const std::string& pattern, const std::string& prefix);

  std::vector<std::string> earlier_; // every GET pattern so far
  std::vector<std::string> prefixes_; // of the routes served here, by index
};

} // namespace actorq::http
