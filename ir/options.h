#ifndef MVM_IR_OPTIONS_H_
#define MVM_IR_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mvm::ir {

/// Where an option may be written.
enum class OptionContext : uint8_t {
  kWorkload,
  kEntrypoint,
  kService,
  kSecretRef,
  kVolumeLocal,
  kVolumeMemory,
  kVolumeEncrypted,
  kVolumeObject,
  kImageDebian,
  kNetwork,
};

/// One row of ir/options.def.
struct OptionInfo {
  OptionContext context;
  std::string_view canonical;   ///< IR field name (snake_case)
  std::string_view python;      ///< spelling in Python
  std::string_view typescript;  ///< spelling in TypeScript
  int32_t min;                  ///< integer range; min == max == 0 when not an integer option
  int32_t max;
  std::string_view default_value;
  std::string_view description;

  bool is_integer() const { return min != 0 || max != 0; }
};

/// All rows, in table order.
std::span<const OptionInfo> AllOptions();

/// The row for `canonical` in `context`, if any.
const OptionInfo* FindOption(OptionContext context, std::string_view canonical);

/// A root filesystem template shipped with mvm (`image="template:<name>"`).
struct TemplateInfo {
  std::string_view name;
  std::string_view description;
};

/// The built-in templates, in table order.
std::span<const TemplateInfo> BuiltinTemplates();

/// "Workload", "Entrypoint", ... for docs.
std::string_view OptionContextName(OptionContext context);

}  // namespace mvm::ir

#endif  // MVM_IR_OPTIONS_H_
