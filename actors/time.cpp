#include "actors/time.hpp"

#include <algorithm>

namespace actorq {

std::string iso8601(int64_t ms) {
  std::string out;
  append_iso8601(out, ms);
  return out;
}

void append_iso8601(std::string& out, int64_t ms) {
  // Computed here rather than with gmtime_r: glibc's takes the process-wide
  // tzset lock, three times per task view rendered on every HTTP thread.
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000; // floor
  int64_t days = days_of(secs);
  auto of_day = secs - days * 86400;
  auto date = civil_from_days(days);
  // "YYYY-MM-DDTHH:MM:SS.mmmZ", written digit by digit (no snprintf on the
  // GET path).
  auto at = out.size();
  out += "0000-00-00T00:00:00.000Z";
  auto put = [&](size_t pos, int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      out[at + pos + i] = static_cast<char>('0' + value % 10);
  };
  put(0, date.year, 4);
  put(5, date.month, 2);
  put(8, date.day, 2);
  put(11, of_day / 3600, 2);
  put(14, of_day / 60 % 60, 2);
  put(17, of_day % 60, 2);
  put(20, ms - secs * 1000, 3);
}

std::string iso8601_python(int64_t ms) {
  auto out = iso8601(ms);
  out.pop_back(); // the Z
  return out + "000+00:00";
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM); 't'/'z' and ' ' as RFC 3339
  // allows. The fraction counts to the millisecond, the rest is dropped.
  size_t pos = 0;
  auto digits = [&](size_t n, int& out) {
    if (pos + n > s.size())
      return false;
    out = 0;
    for (size_t i = 0; i < n; ++i, ++pos) {
      if (s[pos] < '0' || s[pos] > '9')
        return false;
      out = out * 10 + (s[pos] - '0');
    }
    return true;
  };
  auto sep = [&](std::string_view allowed) {
    if (pos >= s.size() || allowed.find(s[pos]) == std::string_view::npos)
      return false;
    ++pos;
    return true;
  };
  int year, mon, day, hour, min, sec;
  if (!digits(4, year) || !sep("-") || !digits(2, mon) || !sep("-")
      || !digits(2, day) || !sep("Tt ") || !digits(2, hour) || !sep(":")
      || !digits(2, min) || !sep(":") || !digits(2, sec))
    return std::nullopt;
  int ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    for (int scale = 100; pos < s.size() && s[pos] >= '0' && s[pos] <= '9';
         ++pos, scale /= 10)
      ms += (s[pos] - '0') * scale;
    if (pos == start)
      return std::nullopt;
  }
  int offset_min = 0;
  if (sep("Zz")) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos++] == '-' ? -1 : 1;
    int oh, om;
    if (!digits(2, oh) || !sep(":") || !digits(2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  static constexpr int month_days[] = {31, 29, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (pos != s.size() || mon < 1 || mon > 12 || day < 1
      || day > month_days[mon - 1] || (mon == 2 && day == 29 && !leap)
      || hour > 23 || min > 59 || sec > 60)
    return std::nullopt;
  int64_t days = days_from_civil(year, mon, day);
  int64_t secs = days * 86400 + hour * 3600 + min * 60 + std::min(sec, 59)
                 - int64_t{offset_min} * 60;
  return secs * 1000 + ms;
}

int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

civil_date civil_from_days(int64_t days) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2), month, day};
}

int weekday_from_days(int64_t days) {
  return static_cast<int>(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

int64_t days_of(int64_t seconds) {
  return seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
}

} // namespace actorq
