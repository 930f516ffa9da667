#include "frontend/common/evaluation.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace mvm::frontend {
namespace {

constexpr int64_t kMinEvaluatedValues = int64_t{1} << 16;
constexpr int64_t kEvaluatedValuesPerByte = 8;
constexpr int64_t kMaxStringBytes = int64_t{16} << 20;

}  // namespace

EvaluationBudget::EvaluationBudget(size_t source_bytes)
    : values_budget_(std::max<int64_t>(
          kMinEvaluatedValues, kEvaluatedValuesPerByte * static_cast<int64_t>(source_bytes))),
      values_left_(values_budget_),
      bytes_left_(kMaxStringBytes) {}

bool EvaluationBudget::Spend(int64_t values, int64_t bytes, bool& first) {
  bool was_left = values_left_ >= 0 && bytes_left_ >= 0;
  values_left_ -= values;
  bytes_left_ -= bytes;
  bool left = values_left_ >= 0 && bytes_left_ >= 0;
  first = was_left && !left;
  return left;
}

std::string EvaluationBudget::ExhaustedHint() const {
  return "evaluating the declarations of this file takes more than " +
         std::to_string(values_budget_) + " values or " + std::to_string(kMaxStringBytes >> 20) +
         " MiB of strings; constants are expanded at every use, so constants built from other "
         "constants can grow exponentially";
}

int MeasureValue(const StaticValue& v, int64_t& values, int64_t& bytes) {
  ++values;
  bytes += static_cast<int64_t>(v.text.size());
  int deepest = 0;
  for (const StaticValue& item : v.items) {
    deepest = std::max(deepest, MeasureValue(item, values, bytes));
  }
  for (const StaticValue& value : v.values) {
    deepest = std::max(deepest, MeasureValue(value, values, bytes));
  }
  for (const Named& key : v.keys) {
    bytes += static_cast<int64_t>(key.name.size());
  }
  if (v.receiver != nullptr) {
    deepest = std::max(deepest, MeasureValue(*v.receiver, values, bytes));
  }
  return deepest + 1;
}

std::string WithoutDigitSeparators(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c != '_') {
      digits += c;
    }
  }
  return digits;
}

int IntegerBase(std::string_view digits) {
  if (digits.size() > 2 && digits[0] == '0') {
    char p = static_cast<char>(digits[1] | 0x20);
    return p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 10;
  }
  return 10;
}

int64_t ParseSaturatedInteger(const std::string& digits, int base) {
  size_t skip = base == 10 ? 0 : 2;
  errno = 0;
  unsigned long long parsed = std::strtoull(digits.c_str() + skip, nullptr, base);
  return (errno == ERANGE || parsed > static_cast<unsigned long long>(INT64_MAX))
             ? INT64_MAX
             : static_cast<int64_t>(parsed);
}

bool FoldSign(std::string_view op, StaticValue& value) {
  if ((op != "-" && op != "+") ||
      (value.kind != StaticValue::Kind::kInt && value.kind != StaticValue::Kind::kFloat)) {
    return false;
  }
  if (op == "-") {
    if (value.kind == StaticValue::Kind::kInt) {
      value.int_value = value.int_value == INT64_MIN ? INT64_MAX : -value.int_value;
      if (!value.text.empty()) {
        value.text = "-" + value.text;
      }
    } else {
      value.float_value = -value.float_value;
    }
  }
  return true;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace mvm::frontend
