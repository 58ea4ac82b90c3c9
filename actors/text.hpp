// Text helpers shared by the HTTP codec and the runners: what clients and
// jobs send is checked before it reaches a JSON parser or a JSON answer.
// Also the "did you mean" of configuration keys and command-line flags.
#pragma once

#include <climits>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace actorq {

/// `text` (at most its first `max_bytes`, then " ...") with every byte that
/// is not part of a valid UTF-8 sequence replaced by U+FFFD: JSON answers
/// must be valid UTF-8 whatever a client or a job wrote.
std::string valid_utf8(std::string_view text,
                       size_t max_bytes = std::string_view::npos);

/// Nesting depth of a JSON text, skipping strings; stops counting once it
/// passes `stop_above`. Checked before parsing, so hostile input never
/// reaches a recursive code path.
int json_nesting_depth(std::string_view text, int stop_above = INT_MAX);

/// The candidate closest to `word` (fewest single-character edits, a swap of
/// two neighbours counting as one), or "" when none is close enough to be a
/// typo of it: at most 2 edits, or a third of the word's length if longer.
/// For "unknown option ... did you mean ...?" messages.
std::string closest_name(std::string_view word,
                         const std::vector<std::string>& candidates);

/// " (did you mean 'X'?)" with X = closest_name(...) in `quote`s, or "".
std::string did_you_mean(std::string_view word,
                         const std::vector<std::string>& candidates,
                         std::string_view prefix = "",
                         std::string_view quote = "'");

} // namespace actorq
