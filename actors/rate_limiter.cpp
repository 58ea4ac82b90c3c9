#include "actors/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <regex>

namespace actorq {

namespace {

/// Floating-point refills land a hair below a whole token when a timer
/// fires exactly on time; this much short still counts as a token.
constexpr double slack = 1e-9;

/// A pool's token timer fires a little late (scheduling, timer resolution);
/// a bucket capped exactly at `burst` would lose that lateness on every
/// wake-up and start measurably fewer attempts than the rate (494 instead
/// of 500 in 10 s at 50/s). The bucket keeps up to this much time's worth
/// of tokens above the burst (at most half a token), so lateness is carried
/// to the next start instead of lost, and no extra attempt starts.
constexpr double lateness_carry_s = 0.005;
constexpr double max_carry_tokens = 0.5;

} // namespace

std::optional<rate_spec> parse_rate(const std::string& text,
                                    std::string& problem) {
  static const std::regex re{R"(^([0-9]{1,9})/([smh])$)"};
  std::smatch m;
  if (!std::regex_match(text, m, re) || std::stoll(m[1].str()) == 0) {
    problem = "expected a rate such as \"100/s\", \"30/m\" or \"500/h\" (a "
              "positive count per s, m or h), got \"" + text + "\"";
    return std::nullopt;
  }
  rate_spec r;
  r.count = std::stoll(m[1].str());
  auto unit = m[2].str();
  r.period_s = unit == "s" ? 1 : unit == "m" ? 60 : 3600;
  r.text = text;
  return r;
}

rate_limiter::rate_limiter(double per_second, double burst)
  : per_second_(per_second),
    cap_(burst + std::min(max_carry_tokens, lateness_carry_s * per_second)),
    tokens_(burst) {
}

void rate_limiter::refill(clock::time_point now) {
  if (last_ && now > *last_) {
    auto ns = std::chrono::duration<double, std::nano>(now - *last_).count();
    tokens_ = std::min(cap_, tokens_ + ns * per_second_ / 1e9);
  }
  if (!last_ || now > *last_)
    last_ = now;
}

bool rate_limiter::try_take(clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  refill(now);
  if (tokens_ < 1.0 - slack)
    return false;
  tokens_ = std::max(0.0, tokens_ - 1.0);
  return true;
}

bool rate_limiter::ready(clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  refill(now);
  return tokens_ >= 1.0 - slack;
}

rate_limiter::clock::duration rate_limiter::until_next(clock::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  refill(now);
  if (tokens_ >= 1.0 - slack)
    return clock::duration::zero();
  // Rounded up to whole ns, but not for a rounding error's fraction of one.
  auto ns = std::ceil((1.0 - tokens_) * 1e9 / per_second_ - 1e-3);
  return std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double, std::nano>{ns});
}

} // namespace actorq
