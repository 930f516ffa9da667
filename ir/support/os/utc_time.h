#ifndef MVM_IR_SUPPORT_OS_UTC_TIME_H_
#define MVM_IR_SUPPORT_OS_UTC_TIME_H_

#include <ctime>
#include <string>

namespace mvm::os {

/// How UtcText spells an instant, to the second.
enum class UtcForm {
  /// RFC 3339, `2026-12-07T10:30:00Z`: records and descriptions people read.
  kRfc3339,
  /// ISO 8601 basic, `20261207T103000Z`: names (snapshot labels) and S3's `x-amz-date`.
  kBasic,
};

/// `when` in UTC. Years outside 0001..9999 (which neither form can spell) clamp to their ends.
std::string UtcText(std::time_t when, UtcForm form);

/// UtcText of the wall clock.
std::string NowUtcText(UtcForm form);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_UTC_TIME_H_
