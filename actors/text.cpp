#include "actors/text.hpp"

#include <algorithm>
#include <cstdint>

namespace actorq {

namespace {

/// Length of the valid UTF-8 sequence at text[i], or 0: overlong forms,
/// surrogates and code points past U+10FFFF are invalid.
size_t sequence_length(std::string_view text, size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  size_t len = c < 0x80           ? 1
               : (c >> 5) == 0x6  ? 2
               : (c >> 4) == 0xE  ? 3
               : (c >> 3) == 0x1E ? 4
                                  : 0;
  if (len == 0 || i + len > text.size())
    return 0;
  if (len == 1)
    return 1;
  uint32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(text[i + k]);
    if ((b >> 6) != 0x2)
      return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
  bool ok = cp >= min_cp[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
  return ok ? len : 0;
}

} // namespace

std::string valid_utf8(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    auto len = sequence_length(text, i);
    if (max_bytes != std::string_view::npos
        && i + std::max<size_t>(len, 1) > max_bytes)
      break;
    if (len == 0)
      out += "\xEF\xBF\xBD";
    else
      out.append(text.substr(i, len));
    i += std::max<size_t>(len, 1);
  }
  if (i < text.size())
    out += " ...";
  return out;
}

int json_nesting_depth(std::string_view text, int stop_above) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > stop_above)
        return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

namespace {

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of neighbours ("prot" -> "port" is one edit).
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

} // namespace

std::string closest_name(std::string_view word,
                         const std::vector<std::string>& candidates) {
  // Names are short and lists small (a hundred options at most): the
  // quadratic distance costs nothing next to reading the configuration.
  size_t limit = std::max<size_t>(2, word.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (auto& c : candidates) {
    auto d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word,
                         const std::vector<std::string>& candidates,
                         std::string_view prefix, std::string_view quote) {
  auto best = closest_name(word, candidates);
  if (best.empty())
    return "";
  return " (did you mean " + std::string{quote} + std::string{prefix} + best
         + std::string{quote} + "?)";
}

} // namespace actorq
