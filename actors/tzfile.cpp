#include "actors/tzfile.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace actorq {

namespace {

bool leap_year(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/// Big-endian reads from a TZif body.
struct reader {
  std::string_view bytes;
  size_t at = 0;

  bool has(size_t n) const {
    return at + n <= bytes.size();
  }
  int64_t be(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    at += n;
    if (n == 4)
      return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
};

/// POSIX TZ text: a name, an offset "[+-]hh[:mm[:ss]]", a rule date.
struct posix_text {
  std::string_view s;
  size_t at = 0;

  bool done() const {
    return at >= s.size();
  }
  char peek() const {
    return done() ? '\0' : s[at];
  }
  bool name() {
    if (peek() == '<') {
      auto close = s.find('>', at);
      if (close == std::string_view::npos)
        return false;
      at = close + 1;
      return true;
    }
    size_t start = at;
    while (!done() && std::isalpha(static_cast<unsigned char>(s[at])))
      ++at;
    return at - start >= 3;
  }
  bool number(int64_t& out, int max_digits = 3) {
    size_t start = at;
    out = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(s[at]))
           && at - start < static_cast<size_t>(max_digits))
      out = out * 10 + (s[at++] - '0');
    return at > start;
  }
  /// [+-]hh[:mm[:ss]] in seconds (sign as written).
  bool hms(int64_t& out) {
    int sign = 1;
    if (peek() == '+' || peek() == '-')
      sign = s[at++] == '-' ? -1 : 1;
    int64_t h = 0, m = 0, sec = 0;
    if (!number(h))
      return false;
    if (peek() == ':') {
      ++at;
      if (!number(m, 2))
        return false;
      if (peek() == ':') {
        ++at;
        if (!number(sec, 2))
          return false;
      }
    }
    out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
};

} // namespace

// -- POSIX TZ strings ----------------------------------------------------------

bool time_zone::parse_posix(std::string_view tz, posix_rule& out) {
  posix_text p{tz};
  int64_t std_off = 0;
  if (!p.name() || !p.hms(std_off))
    return false;
  out.std_offset = static_cast<int32_t>(-std_off); // POSIX counts west
  if (p.done())
    return true;
  if (!p.name())
    return false;
  out.has_dst = true;
  out.dst_offset = out.std_offset + 3600;
  if (p.peek() != ',' && !p.done()) {
    int64_t dst_off = 0;
    if (!p.hms(dst_off))
      return false;
    out.dst_offset = static_cast<int32_t>(-dst_off);
  }
  auto date = [&](rule_date& r) {
    if (p.peek() != ',')
      return false;
    ++p.at;
    int64_t a = 0, b = 0, c = 0;
    if (p.peek() == 'M') {
      ++p.at;
      if (!p.number(a, 2) || p.peek() != '.')
        return false;
      ++p.at;
      if (!p.number(b, 1) || p.peek() != '.')
        return false;
      ++p.at;
      if (!p.number(c, 1))
        return false;
      if (a < 1 || a > 12 || b < 1 || b > 5 || c > 6)
        return false;
      r.form = 'M';
      r.month = static_cast<int>(a);
      r.week = static_cast<int>(b);
      r.wday = static_cast<int>(c);
    } else if (p.peek() == 'J') {
      ++p.at;
      if (!p.number(a) || a < 1 || a > 365)
        return false;
      r.form = 'J';
      r.day = static_cast<int>(a);
    } else {
      if (!p.number(a) || a > 365)
        return false;
      r.form = 'n';
      r.day = static_cast<int>(a);
    }
    r.time = 7200;
    if (p.peek() == '/') {
      ++p.at;
      if (!p.hms(r.time))
        return false;
    }
    return true;
  };
  if (p.done()) { // no rule: US rules of old POSIX; take none (std only)
    out.has_dst = false;
    return true;
  }
  return date(out.start) && date(out.end) && p.done();
}

int64_t time_zone::rule_instant(const rule_date& r, int64_t year,
                                int32_t offset) {
  int64_t day = 0;
  switch (r.form) {
    case 'M': {
      auto first = days_from_civil(year, r.month, 1);
      int wd = weekday_from_days(first);
      int64_t d = first + (r.wday - wd + 7) % 7 + 7 * (r.week - 1);
      auto last = first + days_in_month(year, r.month) - 1;
      while (d > last) // week 5 = the last such weekday
        d -= 7;
      day = d;
      break;
    }
    case 'J': // 1..365, February 29 never counted
      day = days_from_civil(year, 1, 1) + r.day - 1
            + (leap_year(year) && r.day >= 60 ? 1 : 0);
      break;
    default: // 0..365, February 29 counted
      day = days_from_civil(year, 1, 1) + r.day;
  }
  return day * 86400 + r.time - offset;
}

int32_t time_zone::rule_offset(int64_t utc) const {
  auto& r = *rule_;
  if (!r.has_dst)
    return r.std_offset;
  auto year = civil_from_days(days_of(utc + r.std_offset)).year;
  // The rule's start happens in standard time, its end in daylight time.
  auto start = rule_instant(r.start, year, r.std_offset);
  auto end = rule_instant(r.end, year, r.dst_offset);
  bool dst = start < end ? (utc >= start && utc < end)
                         : !(utc >= end && utc < start); // southern
  return dst ? r.dst_offset : r.std_offset;
}

std::optional<time_zone> time_zone::from_posix(std::string_view tz,
                                               std::string& error) {
  posix_rule rule;
  if (!parse_posix(tz, rule)) {
    error = "cannot read the POSIX TZ string '" + std::string{tz} + "'";
    return std::nullopt;
  }
  time_zone z;
  z.name_ = std::string{tz};
  z.initial_offset_ = rule.std_offset;
  z.rule_ = rule;
  return z;
}

// -- TZif ----------------------------------------------------------------------

std::optional<time_zone> time_zone::parse(std::string_view bytes,
                                          std::string& error) {
  auto bad = [&](const std::string& why) {
    error = "not a TZif file: " + why;
    return std::nullopt;
  };
  reader in{bytes};
  auto header = [&](int64_t counts[6]) {
    if (!in.has(44) || bytes.substr(in.at, 4) != "TZif")
      return false;
    in.at += 20; // magic, version, reserved
    for (int i = 0; i < 6; ++i)
      counts[i] = in.be(4);
    return true;
  };
  int64_t c[6]; // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(c))
    return bad("no TZif header");
  char version = bytes[4];
  auto block_size = [&](size_t tsize) {
    return c[3] * tsize + c[3] + c[4] * 6 + c[5] + c[2] * (tsize + 4) + c[1]
           + c[0];
  };
  size_t tsize = 4;
  if (version >= '2') { // skip the 32-bit block: the 64-bit one follows
    in.at += block_size(4);
    if (!header(c))
      return bad("no second header");
    tsize = 8;
  }
  for (int i = 0; i < 6; ++i)
    if (c[i] < 0 || c[i] > 100000)
      return bad("implausible counts");
  if (c[4] < 1 || !in.has(block_size(tsize)))
    return bad("truncated");
  time_zone z;
  std::vector<int64_t> times;
  for (int64_t i = 0; i < c[3]; ++i)
    times.push_back(in.be(tsize));
  std::vector<uint8_t> types;
  for (int64_t i = 0; i < c[3]; ++i)
    types.push_back(static_cast<uint8_t>(in.be(1)));
  std::vector<int32_t> utoffs;
  for (int64_t i = 0; i < c[4]; ++i) {
    utoffs.push_back(static_cast<int32_t>(in.be(4)));
    in.at += 2; // isdst, desigidx
  }
  for (auto t : types)
    if (t >= utoffs.size())
      return bad("transition to an unknown type");
  in.at += c[5] + c[2] * (tsize + 4) + c[1] + c[0];
  z.initial_offset_ = utoffs[0];
  for (size_t i = 0; i < times.size(); ++i) {
    z.times_.push_back(times[i]);
    z.offsets_.push_back(utoffs[types[i]]);
  }
  if (tsize == 8 && in.has(1) && bytes[in.at] == '\n') {
    auto end = bytes.find('\n', in.at + 1);
    if (end != std::string_view::npos && end > in.at + 1) {
      posix_rule rule;
      auto text = bytes.substr(in.at + 1, end - in.at - 1);
      if (!parse_posix(text, rule))
        return bad("cannot read its TZ footer '" + std::string{text} + "'");
      z.rule_ = rule;
    }
  }
  return z;
}

std::optional<time_zone> time_zone::load(const std::string& name,
                                         std::string& error,
                                         const std::string& dir) {
  if (name == "UTC" || name == "Etc/UTC")
    return time_zone{};
  if (name.empty() || name[0] == '/' || name.find("..") != std::string::npos) {
    error = "'" + name + "' is not a time zone name";
    return std::nullopt;
  }
  std::string base = dir;
  if (base.empty()) {
    auto env = std::getenv("TZDIR");
    base = env != nullptr && *env != '\0' ? env : "/usr/share/zoneinfo";
  }
  std::ifstream file{base + "/" + name, std::ios::binary};
  if (!file) {
    error = "unknown time zone '" + name + "' (no file " + base + "/" + name
            + ")";
    return std::nullopt;
  }
  std::string bytes{std::istreambuf_iterator<char>{file},
                    std::istreambuf_iterator<char>{}};
  std::string why;
  auto z = parse(bytes, why);
  if (!z) {
    error = "time zone '" + name + "': " + why;
    return std::nullopt;
  }
  z->name_ = name;
  return z;
}

// -- mapping -------------------------------------------------------------------

int32_t time_zone::offset_at(int64_t utc) const {
  if (!times_.empty() && utc >= times_.back() && rule_)
    return rule_offset(utc);
  auto i = std::upper_bound(times_.begin(), times_.end(), utc);
  if (i == times_.begin())
    return times_.empty() && rule_ ? rule_offset(utc) : initial_offset_;
  return offsets_[static_cast<size_t>(i - times_.begin()) - 1];
}

time_zone::mapping time_zone::to_utc(int64_t local) const {
  // Offsets change at most once within a day around any real zone's
  // transitions: the offsets a day before and after bound the candidates.
  int32_t before = offset_at(local - 86400);
  int32_t after = offset_at(local + 86400);
  auto shows = [&](int64_t utc) { return to_local(utc) == local; };
  int64_t a = local - before, b = local - after;
  bool a_ok = shows(a), b_ok = shows(b);
  mapping m;
  if (a_ok && b_ok && a != b) {
    m.kind = mapping::repeated;
    m.first = std::min(a, b);
    m.second = std::max(a, b);
  } else if (a_ok || b_ok) {
    m.first = m.second = a_ok ? a : b;
  } else {
    // Skipped (the clocks jumped forward over it): the gap ends at the
    // transition, the first instant between b and a with the new offset.
    int64_t lo = std::min(a, b), hi = std::max(a, b);
    int32_t old_offset = offset_at(lo);
    while (lo + 1 < hi) {
      auto mid = lo + (hi - lo) / 2;
      if (offset_at(mid) == old_offset)
        lo = mid;
      else
        hi = mid;
    }
    m.kind = mapping::skipped;
    m.first = m.second = hi;
  }
  return m;
}

} // namespace actorq
