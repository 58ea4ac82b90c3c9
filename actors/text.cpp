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

} // namespace actorq
