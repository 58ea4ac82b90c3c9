#include "actors/runner.hpp"

#include <charconv>
#include <string_view>

namespace actorq {

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

} // namespace

bool parse_progress_line(const std::string& line, run_progress& out) {
  constexpr std::string_view prefix = "::progress";
  std::string_view s = trim(line);
  if (s.substr(0, prefix.size()) != prefix) {
    return false;
  }
  s.remove_prefix(prefix.size());
  // "::progressive" is not a progress line: the keyword ends at a blank.
  if (s.empty() || !is_blank(s.front())) {
    return false;
  }
  s = trim(s);
  size_t end = 0;
  while (end < s.size() && !is_blank(s[end])) {
    ++end;
  }
  // from_chars, not strtod: the daemon's locale must not change the
  // decimal separator, and the whole token must be the number.
  double fraction = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + end, fraction);
  // Written so that NaN fails too.
  if (ec != std::errc() || ptr != s.data() + end
      || !(fraction >= 0 && fraction <= 1)) {
    return false;
  }
  out.fraction = fraction;
  out.message = std::string(trim(s.substr(end)));
  return true;
}

} // namespace actorq
