#include "ir/options.h"

#include <array>

namespace mvm::ir {
namespace {

constexpr std::array kOptions = {
#define MVM_OPTION(ctx, canonical, py, ts, min, max, def, desc) \
  OptionInfo{OptionContext::k##ctx, #canonical, py, ts, min, max, def, desc},
#include "ir/options.def"
};

// Built offline from Debian packages by the builder (see docs/declarations.md, Images).
constexpr std::array kTemplates = {
    TemplateInfo{"busybox", "a minimal root filesystem from Debian's busybox-static"},
    TemplateInfo{"python-3.11", "Debian bookworm minbase with the Python 3.11 interpreter"},
};

}  // namespace

std::span<const OptionInfo> AllOptions() { return kOptions; }

std::span<const TemplateInfo> BuiltinTemplates() { return kTemplates; }

const OptionInfo* FindOption(OptionContext context, std::string_view canonical) {
  for (const OptionInfo& o : kOptions) {
    if (o.context == context && o.canonical == canonical) {
      return &o;
    }
  }
  return nullptr;
}

std::string_view OptionContextName(OptionContext context) {
  switch (context) {
    case OptionContext::kWorkload:
      return "Workload";
    case OptionContext::kEntrypoint:
      return "Entrypoint";
    case OptionContext::kService:
      return "Service";
    case OptionContext::kSecretRef:
      return "SecretRef";
    case OptionContext::kVolumeLocal:
      return "VolumeLocal";
    case OptionContext::kVolumeMemory:
      return "VolumeMemory";
    case OptionContext::kVolumeEncrypted:
      return "VolumeEncrypted";
    case OptionContext::kVolumeObject:
      return "VolumeObject";
    case OptionContext::kImageDebian:
      return "ImageDebian";
    case OptionContext::kNetwork:
      return "Network";
  }
  return "";
}

}  // namespace mvm::ir
