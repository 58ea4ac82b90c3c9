// A token bucket: how a kind's `rate` and `burst` keys limit how fast its
// attempts start. Tokens refill continuously at the rate up to the burst
// (the bucket's size); each start takes one. A plain class with the time
// passed in, so it is tested without a clock; the pools share one per
// limited kind (kind_info::limiter), hence the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace actorq {

/// A kind's `rate` and `burst` as configured.
struct rate_spec {
  int64_t count = 0;     // attempts ...
  int64_t period_s = 1;  // ... per this many seconds (1, 60 or 3600)
  int64_t burst = 1;     // most started back to back after a quiet spell
  std::string text;      // as written: "100/s"

  double per_second() const {
    return static_cast<double>(count) / static_cast<double>(period_s);
  }
};

/// Parses "N/s", "N/m" or "N/h" (N a positive integer), or says why not.
std::optional<rate_spec> parse_rate(const std::string& text,
                                    std::string& problem);

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  /// Starts full: `burst` tokens.
  rate_limiter(double per_second, double burst);
  explicit rate_limiter(const rate_spec& spec)
    : rate_limiter(spec.per_second(), static_cast<double>(spec.burst)) {
  }

  /// Takes a token if there is one.
  bool try_take(clock::time_point now);

  /// Whether a token is there (takes nothing).
  bool ready(clock::time_point now);

  /// How long until the next token (zero if one is there).
  clock::duration until_next(clock::time_point now);

private:
  /// Adds the tokens earned since the last call; call with the lock held.
  void refill(clock::time_point now);

  std::mutex mtx_;
  double per_second_;
  double cap_; // the burst plus a timer's lateness (see lateness_carry_s)
  double tokens_;
  std::optional<clock::time_point> last_;
};

} // namespace actorq
