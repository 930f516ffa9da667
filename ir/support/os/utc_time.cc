#include "ir/support/os/utc_time.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace mvm::os {

std::string UtcText(std::time_t when, UtcForm form) {
  // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
  constexpr std::time_t kFirst = -62135596800, kLast = 253402300799;
  when = std::clamp(when, kFirst, kLast);
  // Calendar arithmetic, not gmtime_r: glibc's reads the local time zone file (/etc/localtime)
  // the first time any of its time conversions runs, a file read in every `run` for nothing.
  using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar types
  const sys_seconds instant{seconds(when)};
  const sys_days day = floor<days>(instant);
  const year_month_day date{day};
  const hh_mm_ss time{instant - day};
  // Not strftime: glibc's %Y does not pad years below 1000 to four digits.
  char text[32];
  std::snprintf(
      text, sizeof text,
      form == UtcForm::kRfc3339 ? "%04d-%02u-%02uT%02d:%02d:%02dZ" : "%04d%02u%02uT%02d%02d%02dZ",
      static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
      static_cast<unsigned>(date.day()), static_cast<int>(time.hours().count()),
      static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()));
  return text;
}

std::string NowUtcText(UtcForm form) { return UtcText(std::time(nullptr), form); }

}  // namespace mvm::os
