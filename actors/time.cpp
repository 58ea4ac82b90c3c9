#include "actors/time.hpp"

#include <ctime>

namespace actorq {

std::string iso8601(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // "YYYY-MM-DDTHH:MM:SS.mmmZ", written digit by digit (no snprintf on the
  // GET path).
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&](size_t pos, int value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      out[pos + i] = static_cast<char>('0' + value % 10);
  };
  put(0, tm.tm_year + 1900, 4);
  put(5, tm.tm_mon + 1, 2);
  put(8, tm.tm_mday, 2);
  put(11, tm.tm_hour, 2);
  put(14, tm.tm_min, 2);
  put(17, tm.tm_sec, 2);
  put(20, static_cast<int>(ms % 1000), 3);
  return out;
}

std::string iso8601_python(int64_t ms) {
  auto out = iso8601(ms);
  out.pop_back(); // the Z
  return out + "000+00:00";
}

} // namespace actorq
