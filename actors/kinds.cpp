#include "actors/kinds.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <vector>

namespace actorq {

namespace {

constexpr int64_t max_primes_below = 100'000'000;
// Largest value whose square fits in int64.
constexpr int64_t max_square_root = 3'037'000'499;

// -- input checks -------------------------------------------------------------

std::string check_object(const json& in) {
  return in.is_object() ? "" : "must be a JSON object";
}

template <class... Checks>
std::string first_error(Checks&&... checks) {
  std::string result;
  ((result.empty() ? (void)(result = checks()) : (void)0), ...);
  return result;
}

/// `in[field]` is a number: an integer in [lo, hi], or a fraction of at
/// most `max_abs` (the seed's `data["value"] * 2` takes any number; 1.5 →
/// 3.0). Required.
std::string check_number(const json& in, const char* field, int64_t lo,
                         int64_t hi, double max_abs) {
  auto i = in.find(field);
  if (i != in.end() && i->is_number_float()) {
    auto v = i->get<double>();
    if (std::isfinite(v) && std::fabs(v) <= max_abs)
      return {};
    char bound[32];
    std::snprintf(bound, sizeof(bound), "%g", max_abs);
    return std::string{field} + " must be a number between -" + bound
           + " and " + bound;
  }
  if (i != in.end() && !i->is_number())
    return std::string{field} + " must be a number (an integer between "
           + std::to_string(lo) + " and " + std::to_string(hi) + ", or a "
           + "fraction)";
  return check_int(in, field, lo, hi, true);
}

/// `f` of the number in[field], keeping integers integers.
template <class F>
json map_number(const json& in, const char* field, F f) {
  auto& v = in.at(field);
  if (v.is_number_float())
    return f(v.get<double>());
  return f(v.get<int64_t>());
}

int64_t get_int(const json& in, const char* field, int64_t fallback = 0) {
  auto i = in.find(field);
  return i == in.end() ? fallback : i->get<int64_t>();
}

outcome ok(json result) {
  return {true, {std::move(result)}, {}};
}

outcome fail(std::string error) {
  return {false, {}, std::move(error)};
}

// -- kinds --------------------------------------------------------------------

constexpr int64_t max_double_value = std::numeric_limits<int64_t>::max() / 2;

std::string validate_double(const json& in) {
  return first_error(
      [&] { return check_object(in); },
      [&] {
        return check_fields(in, {"value", "delay_ms", "fail_times"});
      },
      [&] {
        return check_number(in, "value", -max_double_value, max_double_value,
                            1e300);
      },
      [&] { return check_int(in, "delay_ms", 0, max_delay_ms, false); },
      [&] { return check_int(in, "fail_times", 0, 1000, false); });
}

kind_run run_double(const json& in, int32_t attempt) {
  auto delay = get_int(in, "delay_ms");
  if (attempt <= get_int(in, "fail_times"))
    return {fail("injected failure"), delay};
  auto twice = map_number(in, "value", [](auto v) { return json(2 * v); });
  return {ok({{"result", std::move(twice)}}), delay};
}

std::string validate_square(const json& in) {
  return first_error([&] { return check_object(in); },
                     [&] { return check_fields(in, {"value"}); },
                     [&] {
                       return check_number(in, "value", -max_square_root,
                                           max_square_root, 1e150);
                     });
}

kind_run run_square(const json& in, int32_t) {
  return {ok({{"result",
               map_number(in, "value", [](auto v) { return json(v * v); })}})};
}

std::string validate_primes(const json& in) {
  return first_error(
      [&] { return check_object(in); },
      [&] { return check_fields(in, {"below"}); },
      [&] { return check_int(in, "below", 0, max_primes_below, true); });
}

/// Counts primes below n with a segmented sieve over odd numbers: real CPU
/// work that stays inside the L1/L2 cache.
int64_t count_primes_below(int64_t n) {
  if (n <= 2)
    return 0;
  auto limit = static_cast<int64_t>(std::sqrt(static_cast<double>(n))) + 1;
  std::vector<char> small(limit + 1, 1);
  std::vector<int64_t> base; // odd primes ≤ sqrt(n)
  for (int64_t i = 3; i <= limit; i += 2) {
    if (!small[i])
      continue;
    base.push_back(i);
    for (int64_t j = i * i; j <= limit; j += 2 * i)
      small[j] = 0;
  }
  int64_t count = 1; // the prime 2
  constexpr int64_t segment = 32 * 1024;
  std::vector<char> sieve(segment);
  // Segment k covers the odd numbers lo, lo+2, …, lo+2*(segment-1).
  for (int64_t lo = 3; lo < n; lo += 2 * segment) {
    std::fill(sieve.begin(), sieve.end(), 1);
    int64_t hi = std::min(n, lo + 2 * segment); // exclusive
    for (auto p : base) {
      if (p * p >= hi)
        break;
      int64_t start = std::max(p * p, (lo + p - 1) / p * p);
      if (start % 2 == 0)
        start += p;
      for (int64_t j = start; j < hi; j += 2 * p)
        sieve[(j - lo) / 2] = 0;
    }
    for (int64_t j = lo; j < hi; j += 2)
      count += sieve[(j - lo) / 2];
  }
  return count;
}

kind_run run_primes(const json& in, int32_t) {
  return {ok({{"count", count_primes_below(get_int(in, "below"))}})};
}

std::string validate_sleep(const json& in) {
  return first_error(
      [&] { return check_object(in); },
      [&] { return check_fields(in, {"ms"}); },
      [&] { return check_int(in, "ms", 0, max_delay_ms, true); });
}

kind_run run_sleep(const json& in, int32_t) {
  auto ms = get_int(in, "ms");
  return {ok({{"slept_ms", ms}}), ms};
}

std::string validate_echo(const json& in) {
  return check_object(in);
}

kind_run run_echo(const json& in, int32_t) {
  return {ok(in)};
}

std::string validate_flaky(const json& in) {
  return first_error(
      [&] { return check_object(in); },
      [&] {
        return check_fields(in, {"fail_times", "delay_ms"});
      },
      [&] { return check_int(in, "fail_times", 0, 1000, true); },
      [&] { return check_int(in, "delay_ms", 0, max_delay_ms, false); });
}

kind_run run_flaky(const json& in, int32_t attempt) {
  auto delay = get_int(in, "delay_ms");
  if (attempt <= get_int(in, "fail_times"))
    return {fail("injected failure"), delay};
  return {ok({{"attempt", attempt}}), delay};
}

std::string validate_crash(const json& in) {
  return first_error([&] { return check_object(in); },
                     [&] { return check_fields(in, {}); });
}

kind_run run_crash(const json&, int32_t) {
  throw std::runtime_error("injected crash");
}

std::string validate_process(const json& in) {
  return first_error(
      [&] { return check_object(in); },
      [&] {
        return check_fields(in, {"value", "delay_ms"});
      },
      [&] {
        return check_int(in, "value", std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), true);
      },
      [&] { return check_int(in, "delay_ms", 0, max_delay_ms, false); });
}

kind_run run_process(const json& in, int32_t) {
  return {ok({{"processed", get_int(in, "value")}}), get_int(in, "delay_ms")};
}

} // namespace

// Declared in kinds.hpp.
std::string check_int(const json& in, const char* field, int64_t lo, int64_t hi,
                      bool required) {
  auto i = in.find(field);
  if (i == in.end())
    return required ? std::string{field} + " is required" : "";
  auto range = [&] {
    return std::string{field} + " must be an integer between "
           + std::to_string(lo) + " and " + std::to_string(hi);
  };
  if (i->is_number_unsigned() && i->get<uint64_t>() > static_cast<uint64_t>(hi))
    return range();
  if (!i->is_number_integer())
    return range();
  auto v = i->get<int64_t>();
  return v < lo || v > hi ? range() : "";
}

// Declared in kinds.hpp.
std::string check_fields(const json& in,
                         std::initializer_list<std::string_view> allowed) {
  for (auto& [key, _] : in.items()) {
    bool known = false;
    for (auto a : allowed)
      known = known || key == a;
    if (!known) {
      std::string list;
      for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string{a};
      return key + " is not a known field (expected: " + list + ")";
    }
  }
  return "";
}

const std::vector<kind_def>& all_kinds() {
  static const std::vector<kind_def> kinds{
      {"double", "io",
       "{value, delay_ms?, fail_times?} -> {result: 2*value} after delay_ms; "
       "the first fail_times attempts fail",
       false, validate_double, run_double},
      {"square", "cpu", "{value} -> {result: value^2}", true, validate_square,
       run_square},
      {"primes", "cpu", "{below <= 10^8} -> {count: primes below `below`}",
       true, validate_primes, run_primes},
      {"sleep", "io", "{ms <= 3600000} -> {slept_ms: ms} after ms", false,
       validate_sleep, run_sleep},
      {"echo", "io", "any object -> the same object", false, validate_echo,
       run_echo},
      {"flaky", "io",
       "{fail_times, delay_ms?} -> fails the first fail_times attempts, then "
       "{attempt: n}",
       false, validate_flaky, run_flaky},
      {"crash", "io", "{} -> throws inside the worker, killing it", false,
       validate_crash, run_crash},
      {"process", "limited",
       "{value, delay_ms?} -> {processed: value} after delay_ms", false,
       validate_process, run_process},
  };
  return kinds;
}

const kind_def* find_kind(std::string_view name) {
  for (auto& k : all_kinds())
    if (k.name == name)
      return &k;
  return nullptr;
}

std::string field_error(const std::string& path, const std::string& error) {
  if (error.empty())
    return error;
  return path + (error.rfind("must", 0) == 0 ? " " : ".") + error;
}

uint64_t request_hash(const task_spec& spec) {
  uint64_t h = 14695981039346656037ull;
  auto add = [&h](std::string_view bytes) {
    for (unsigned char c : bytes)
      h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xFF) * 1099511628211ull; // a separator no JSON text contains
  };
  add(spec.kind);
  add(spec.pool);
  add(spec.input.value.dump());
  add(std::to_string(spec.max_retries));
  add(std::to_string(spec.backoff_ms));
  add(std::to_string(spec.timeout_ms));
  add(std::to_string(spec.priority));
  // Delayed tasks (added only when given, so older tasks keep their hash):
  // the countdown as sent when there is one (the stored spec also has the
  // run_at it was resolved to), else the run_at.
  if (spec.countdown_ms >= 0)
    add("countdown_ms=" + std::to_string(spec.countdown_ms));
  else if (spec.run_at != 0)
    add("run_at=" + std::to_string(spec.run_at));
  if (!spec.after.empty()) { // chains: what the client sent
    for (auto& id : spec.after)
      add(id.to_string());
    add(to_string(spec.after_if));
    add(spec.pass_results ? "pass_results" : "");
  }
  return h;
}

bool valid_idempotency_key(const std::string& key) {
  auto visible = [](unsigned char c) { return c > 0x20 && c < 0x7F; };
  return !key.empty() && key.size() <= 255
         && std::all_of(key.begin(), key.end(), visible);
}

} // namespace actorq
