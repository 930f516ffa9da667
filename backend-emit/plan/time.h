#ifndef MVM_BACKEND_EMIT_PLAN_TIME_H_
#define MVM_BACKEND_EMIT_PLAN_TIME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::plan {

/// The source of "now" for validity windows. Verification takes one by reference so that tests (and
/// a launcher replaying an audit log) control time instead of reading the wall clock.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Seconds since 1970-01-01T00:00:00Z.
  virtual int64_t NowUnixSeconds() const = 0;
};

/// The wall clock (`CLOCK_REALTIME`).
class SystemClock final : public Clock {
 public:
  int64_t NowUnixSeconds() const override;
};

/// A clock that says what it is told; for tests.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t now) : now_(now) {}
  int64_t NowUnixSeconds() const override { return now_; }
  void Set(int64_t now) { now_ = now; }

 private:
  int64_t now_;
};

/// The plan's timestamp form: RFC 3339 in UTC with seconds precision, `2025-01-02T03:04:05Z`. An
/// Error outside the years 0001..9999, which the form cannot spell.
ErrorOr<std::string> FormatTimestamp(int64_t unix_seconds);

/// Reads a timestamp in exactly the form FormatTimestamp writes, and nothing else; what a verifier
/// accepts inside a plan, so that one instant has one spelling in signed bytes.
std::optional<int64_t> ParseCanonicalTimestamp(std::string_view text);

/// Reads an RFC 3339 `date-time` as users write it: `T`/`t` or a space between date and time, an
/// optional fraction of a second (dropped, i.e. rounded down), and `Z`/`z` or a `+hh:mm`/`-hh:mm`
/// offset. The Error says what is wrong, for a usage message.
ErrorOr<int64_t> ParseRfc3339(std::string_view text);

/// Reads a duration `<n>s`, `<n>m`, `<n>h` or `<n>d` (n a positive decimal integer) into seconds.
ErrorOr<int64_t> ParseDuration(std::string_view text);

}  // namespace mvm::plan

#endif  // MVM_BACKEND_EMIT_PLAN_TIME_H_
