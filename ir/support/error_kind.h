#ifndef MVM_IR_SUPPORT_ERROR_KIND_H_
#define MVM_IR_SUPPORT_ERROR_KIND_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace mvm {

/// One enumerator per entry of ir/support/errors.def: what an Error means, and so the exit code
/// the CLI leaves with.
enum class ErrorKind : uint8_t {
#define MVM_ERROR_KIND(Id, id, exit_code, hint, docs) k##Id,
#include "ir/support/errors.def"
};

/// Static facts about an error kind, from errors.def. The strings are static; the table lives as
/// long as the program.
struct ErrorKindInfo {
  ErrorKind kind;
  std::string_view id;    ///< stable kebab-case name, e.g. "no-such-sandbox"
  int exit_code;          ///< what `mvmctl` exits with (docs/cli.md, exit status)
  std::string_view hint;  ///< one line: how to fix it
  std::string_view
      docs;  ///< the section that explains it, relative to docs/, e.g. "cli.md#mvmctl-fs"
};

/// All kinds in registry order.
std::span<const ErrorKindInfo> AllErrorKinds();

/// The registry entry of `kind`.
const ErrorKindInfo& ErrorKindInfoOf(ErrorKind kind);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_ERROR_KIND_H_
