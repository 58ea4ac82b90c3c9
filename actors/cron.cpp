#include "actors/cron.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

namespace actorq {

namespace {

struct field_def {
  const char* name;
  int lo, hi;
  const char* const* names; // index 0 = lo; null = numbers only
};

const char* const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                   "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const day_names[] = {"sun", "mon", "tue", "wed",
                                 "thu", "fri", "sat"};

const field_def fields[] = {
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, day_names}, // 7 = Sunday as well
};

/// One value of a field: a number or (month, weekday) a name.
bool read_value(std::string_view s, const field_def& f, int& out) {
  if (s.empty())
    return false;
  if (std::all_of(s.begin(), s.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    if (s.size() > 3)
      return false;
    out = std::stoi(std::string{s});
    return out >= f.lo && out <= f.hi;
  }
  if (f.names == nullptr || s.size() != 3)
    return false;
  std::string lower;
  for (char c : s)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int count = f.hi - f.lo + (f.names == day_names ? 0 : 1);
  for (int i = 0; i < count; ++i)
    if (lower == f.names[i]) {
      out = f.lo + i;
      return true;
    }
  return false;
}

/// Sets the bits of one field ("*/5", "1-5,10", "MON-FRI"); "" or why not.
std::string read_field(std::string_view text, const field_def& f,
                       std::vector<bool>& bits) {
  bits.assign(static_cast<size_t>(f.hi + 1), false);
  size_t at = 0;
  while (at <= text.size()) {
    auto comma = text.find(',', at);
    auto item = text.substr(at, comma == std::string_view::npos
                                    ? std::string_view::npos
                                    : comma - at);
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      auto s = item.substr(slash + 1);
      if (s.empty() || s.size() > 3
          || !std::all_of(s.begin(), s.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c));
             }))
        return "bad step in '" + std::string{item} + "'";
      step = std::stoi(std::string{s});
      if (step < 1)
        return "step must be at least 1 in '" + std::string{item} + "'";
      item = item.substr(0, slash);
    }
    int lo = f.lo, hi = f.hi;
    if (item == "*") {
      if (f.hi == 7) // day-of-week: 0..6 (7 repeats Sunday)
        hi = 6;
    } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
      if (!read_value(item.substr(0, dash), f, lo)
          || !read_value(item.substr(dash + 1), f, hi))
        return "bad range '" + std::string{item} + "' (" + f.name + ": "
               + std::to_string(f.lo) + "-" + std::to_string(f.hi) + ")";
      if (lo > hi)
        return "range '" + std::string{item} + "' runs backwards";
    } else {
      if (!read_value(item, f, lo))
        return "bad value '" + std::string{item} + "' (" + f.name + ": "
               + std::to_string(f.lo) + "-" + std::to_string(f.hi) + ")";
      // "5/15" means 5, 20, 35, 50 (from 5 to the end by 15).
      if (step == 1)
        hi = lo;
    }
    for (int v = lo; v <= hi; v += step)
      bits[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos)
      break;
    at = comma + 1;
  }
  return {};
}

template <size_t N>
void copy_bits(const std::vector<bool>& from, std::bitset<N>& to) {
  for (size_t i = 0; i < from.size() && i < N; ++i)
    to[i] = from[i];
}

/// @hourly and friends, as five fields.
std::string_view macro(std::string_view text) {
  static const std::pair<const char*, const char*> macros[] = {
      {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  };
  for (auto& [name, fields] : macros)
    if (text == name)
      return fields;
  return text;
}

} // namespace

std::optional<cron_expr> cron_expr::parse(std::string_view text,
                                          std::string& error) {
  std::istringstream in{std::string{macro(text)}};
  std::vector<std::string> parts;
  for (std::string part; in >> part;)
    parts.push_back(part);
  if (parts.size() != 5) {
    error = "expected five fields (minute hour day-of-month month "
            "day-of-week), got " + std::to_string(parts.size());
    return std::nullopt;
  }
  cron_expr x;
  std::vector<bool> bits;
  for (size_t i = 0; i < 5; ++i) {
    if (auto why = read_field(parts[i], fields[i], bits); !why.empty()) {
      error = std::string{fields[i].name} + " field: " + why;
      return std::nullopt;
    }
    switch (i) {
      case 0: copy_bits(bits, x.minutes_); break;
      case 1: copy_bits(bits, x.hours_); break;
      case 2: copy_bits(bits, x.mdays_); break;
      case 3: copy_bits(bits, x.months_); break;
      case 4:
        if (bits[7])
          bits[0] = true; // 7 = Sunday
        copy_bits(bits, x.wdays_);
        break;
    }
  }
  x.mday_star_ = parts[2][0] == '*';
  x.wday_star_ = parts[4][0] == '*';
  return x;
}

bool cron_expr::day_matches(int64_t days) const {
  auto date = civil_from_days(days);
  bool mday = mdays_[static_cast<size_t>(date.day)];
  bool wday = wdays_[static_cast<size_t>(weekday_from_days(days))];
  // Vixie cron: both restricted = either matches; else both must.
  if (!mday_star_ && !wday_star_)
    return mday || wday;
  return mday && wday;
}

std::optional<int64_t> cron_expr::next_after(int64_t after,
                                             const time_zone& zone) const {
  int64_t start = zone.to_local(after);
  int64_t local = (start >= 0 ? start / 60 : (start - 59) / 60) * 60 + 60;
  const int64_t limit = start + int64_t{5} * 366 * 86400;
  while (local <= limit) {
    auto days = days_of(local);
    auto secs = local - days * 86400;
    auto date = civil_from_days(days);
    if (!months_[static_cast<size_t>(date.month)]) {
      auto y = date.year + (date.month == 12 ? 1 : 0);
      auto m = date.month == 12 ? 1 : date.month + 1;
      local = days_from_civil(y, m, 1) * 86400;
      continue;
    }
    if (!day_matches(days)) {
      local = (days + 1) * 86400;
      continue;
    }
    if (!hours_[static_cast<size_t>(secs / 3600)]) {
      local = days * 86400 + (secs / 3600 + 1) * 3600;
      continue;
    }
    if (!minutes_[static_cast<size_t>(secs % 3600 / 60)]) {
      local += 60;
      continue;
    }
    // Skipped local times fire at the gap's end, repeated ones at their
    // first occurrence; anything not after `after` already fired.
    auto utc = zone.to_utc(local).first;
    if (utc > after)
      return utc;
    local += 60;
  }
  return std::nullopt;
}

} // namespace actorq
