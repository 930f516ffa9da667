#include "backend-emit/plan/time.h"

#include <time.h>

#include <cstdio>
#include <limits>

namespace mvm::plan {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). Done by
// hand because timegm() depends on the C library's time_t range and gmtime() on its locale-free
// promise; this is exact for every year the timestamp form can spell.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int64_t year;
  int64_t month;
  int64_t day;
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `width` ASCII digits at `pos`.
bool Digits(std::string_view s, size_t pos, size_t width, int64_t& out) {
  if (pos + width > s.size()) {
    return false;
  }
  out = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

constexpr std::string_view kExpectedForm =
    "expected an RFC 3339 date-time such as `2025-01-02T03:04:05Z` or `2025-01-02T05:04:05+02:00`";

}  // namespace

int64_t SystemClock::NowUnixSeconds() const {
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec);
}

ErrorOr<std::string> FormatTimestamp(int64_t unix_seconds) {
  // Floor division, so that instants before 1970 land on the right day.
  int64_t days = unix_seconds / kSecondsPerDay;
  int64_t secs = unix_seconds % kSecondsPerDay;
  if (secs < 0) {
    secs += kSecondsPerDay;
    --days;
  }
  Civil c = CivilFromDays(days);
  if (c.year < 1 || c.year > 9999) {
    return Error{"time " + std::to_string(unix_seconds) +
                 " is outside the years 0001..9999 that an RFC 3339 timestamp can hold"};
  }
  char buf[96];  // room for any int64 values, which the range check above already rules out
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(c.year), static_cast<long long>(c.month),
                static_cast<long long>(c.day), static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return std::string(buf);
}

std::optional<int64_t> ParseCanonicalTimestamp(std::string_view text) {
  auto parsed = ParseRfc3339(text);
  if (!parsed) {
    return std::nullopt;
  }
  auto formatted = FormatTimestamp(*parsed);
  if (!formatted || *formatted != text) {
    return std::nullopt;
  }
  return *parsed;
}

ErrorOr<int64_t> ParseRfc3339(std::string_view s) {
  int64_t year = 0;
  int64_t month = 0;
  int64_t day = 0;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  if (!Digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return Error{"`" + std::string(s) + "` is not a date-time: " + std::string(kExpectedForm)};
  }
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t digits = 0;
    while (pos + 1 + digits < s.size() && s[pos + 1 + digits] >= '0' &&
           s[pos + 1 + digits] <= '9') {
      ++digits;
    }
    if (digits == 0) {
      return Error{"`" + std::string(s) + "` has a `.` with no fraction digits after it"};
    }
    pos += 1 + digits;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int64_t oh = 0;
    int64_t om = 0;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return Error{"`" + std::string(s) + "` has a malformed UTC offset; use `Z` or `+hh:mm`"};
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return Error{"`" + std::string(s) + "` has no time zone; add `Z` for UTC or a `+hh:mm` offset"};
  }
  if (pos != s.size()) {
    return Error{"`" + std::string(s) + "` has trailing characters: " + std::string(kExpectedForm)};
  }
  // RFC 3339 allows second 60 for a leap second; Unix time has none, so it reads as the next
  // minute's first second, as timegm() would.
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 60) {
    return Error{"`" + std::string(s) + "` is not a valid calendar date and time"};
  }
  return DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second -
         offset;
}

ErrorOr<int64_t> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Error{"invalid duration `" + std::string(text) +
                 "`: expected a positive whole number followed by `s`, `m`, `h` or `d`, e.g. "
                 "`24h`"};
  };
  if (text.size() < 2) {
    return bad();
  }
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = kSecondsPerDay;
      break;
    default:
      return bad();
  }
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') {
      return bad();
    }
    // 100 years is far past anything a plan should live for; the bound keeps the sum from
    // overflowing.
    if (n > 100LL * 366 * kSecondsPerDay) {
      return Error{"duration `" + std::string(text) + "` is too long"};
    }
    n = n * 10 + (c - '0');
  }
  if (n == 0) {
    return bad();
  }
  if (n > std::numeric_limits<int64_t>::max() / unit || n * unit > 100LL * 366 * kSecondsPerDay) {
    return Error{"duration `" + std::string(text) + "` is too long"};
  }
  return n * unit;
}

}  // namespace mvm::plan
