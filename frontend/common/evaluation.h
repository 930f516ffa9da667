#ifndef MVM_FRONTEND_COMMON_EVALUATION_H_
#define MVM_FRONTEND_COMMON_EVALUATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "frontend/common/static_value.h"

namespace mvm::frontend {

/// Values nest this deep at most; deeper input is reported instead of overflowing the stack.
inline constexpr int kMaxValueDepth = 100;

/// The work one file's declarations may take: values evaluated and string bytes built. A constant
/// is expanded at each use, so `L1 = [L0, L0]`, `L2 = [L1, L1]`, ... doubles per line; past the
/// budget a reader reports once and gives up instead of hanging or exhausting memory. The value
/// budget grows with the file (a legitimate value costs source bytes), so a large file of ordinary
/// declarations never runs out while exponential expansion still does. One per file read; not
/// thread-safe.
class EvaluationBudget {
 public:
  explicit EvaluationBudget(size_t source_bytes);

  /// Charges `values` and `bytes`. Returns false when the budget is exhausted; `first` is set to
  /// true only on the call that exhausted it (the one that should report).
  bool Spend(int64_t values, int64_t bytes, bool& first);

  /// The hint of the one diagnostic reported when the budget runs out.
  std::string ExhaustedHint() const;

 private:
  int64_t values_budget_;
  int64_t values_left_;
  int64_t bytes_left_;
};

/// Adds the number of values in `v` and the bytes of its strings to `values` and `bytes`; returns
/// how deep `v` nests (1 for a scalar). Recursion is bounded because readers never build values
/// nested past kMaxValueDepth.
int MeasureValue(const StaticValue& v, int64_t& values, int64_t& bytes);

/// `text` without the `_` digit separators both languages allow in numbers.
std::string WithoutDigitSeparators(std::string_view text);

/// The base an integer literal's prefix selects (`0x` 16, `0o` 8, `0b` 2, case-insensitive),
/// or 10 when it has none. `digits` has no separators.
int IntegerBase(std::string_view digits);

/// The value of the integer literal `digits` (no separators, prefix included) in `base`,
/// saturated at INT64_MAX: anything beyond that is far outside every option's range, so the range
/// check says so.
int64_t ParseSaturatedInteger(const std::string& digits, int base);

/// Applies the unary `op` ("-" or "+") to `value` in place when it is a number; false (and
/// `value` unchanged) otherwise. `-INT64_MIN` saturates at INT64_MAX.
bool FoldSign(std::string_view op, StaticValue& value);

/// Appends the UTF-8 encoding of code point `cp` (at most U+10FFFF; surrogates are the caller's to
/// refuse).
void AppendUtf8(std::string& out, uint32_t cp);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_EVALUATION_H_
