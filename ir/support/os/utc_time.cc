#include "ir/support/os/utc_time.h"

#include <algorithm>
#include <cstdio>

namespace mvm::os {

std::string UtcText(std::time_t when, UtcForm form) {
  // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
  constexpr std::time_t kFirst = -62135596800, kLast = 253402300799;
  when = std::clamp(when, kFirst, kLast);
  std::tm tm{};
  gmtime_r(&when, &tm);
  // Not strftime: glibc's %Y does not pad years below 1000 to four digits.
  char text[32];
  std::snprintf(
      text, sizeof text,
      form == UtcForm::kRfc3339 ? "%04d-%02d-%02dT%02d:%02d:%02dZ" : "%04d%02d%02dT%02d%02d%02dZ",
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

std::string NowUtcText(UtcForm form) { return UtcText(std::time(nullptr), form); }

}  // namespace mvm::os
