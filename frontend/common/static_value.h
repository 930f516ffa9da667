#ifndef MVM_FRONTEND_COMMON_STATIC_VALUE_H_
#define MVM_FRONTEND_COMMON_STATIC_VALUE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/support/source_loc.h"

namespace mvm::frontend {

/// A name with its location: a keyword argument, an object key, a dict key.
struct Named {
  std::string name;
  SourceLoc loc;
};

/// A value computed statically from source by a language module (literals, constants, folded
/// arithmetic, SDK helper calls). Language-neutral, so Python and TypeScript lower through one
/// path.
struct StaticValue {
  enum class Kind : uint8_t {
    /// Already diagnosed (e.g. non-static); consumers report nothing more about it.
    kInvalid,
    kNull,
    kBool,
    kInt,
    kFloat,
    kString,
    /// Python list/tuple, TS array: `items`.
    kList,
    /// Python dict, TS object: `keys[i]` -> `values[i]`.
    kDict,
    /// SDK helper call: `text` is the callee, `items` positional args, `keys`/`values` keyword
    /// args, `receiver` the call it is chained on (`NetworkPolicy...allow_https(...)`).
    kCall,
    /// Static but of no type mvm uses (bytes, ...): `text` describes it for messages.
    kOther,
  };

  Kind kind = Kind::kInvalid;
  SourceLoc loc;
  bool bool_value = false;
  int64_t int_value = 0;
  double float_value = 0;
  /// kString: the decoded string; kCall: canonical callee ("SecretRef", "Volume.local",
  /// "NetworkPolicy.deny_by_default", "allow_https"); kOther: description; kInt: the literal as
  /// written when it does not fit in int64 (`int_value` is then saturated), else empty.
  std::string text;
  std::vector<StaticValue> items;
  std::vector<Named> keys;
  std::vector<StaticValue> values;
  std::shared_ptr<const StaticValue> receiver;
  /// kCall: the callee's name alone (`allow_htps` in `NetworkPolicy...allow_htps("h")`), where a
  /// diagnostic about the name points; `loc` spans the whole call.
  SourceLoc callee_loc;
  /// The source spelling was a string literal (so a plaintext secret can be masked).
  bool from_literal = false;
  /// Read where a secret belongs: any diagnostic about it must mask its source text.
  bool sensitive = false;
};

/// A short phrase naming a value's type for messages ("a string", "an integer",
/// "`SecretRef(...)`").
std::string DescribeType(const StaticValue& value);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_STATIC_VALUE_H_
