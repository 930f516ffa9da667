#ifndef MVM_BACKEND_EMIT_NIX_TEMPLATES_H_
#define MVM_BACKEND_EMIT_NIX_TEMPLATES_H_

#include <filesystem>
#include <span>
#include <string_view>

namespace mvm::nix {

/// The Nix system the shipped template flake builds for. Its builder is the host's static busybox,
/// so it builds for the host's architecture only, and mvm ships for x86-64 Linux.
inline constexpr std::string_view kTemplateSystem = "x86_64-linux";

/// The built-in templates (ir::BuiltinTemplates) that the shipped flake, templates/flake.nix,
/// builds as `packages.<kTemplateSystem>.<name>`. The others (python-3.11) cannot be built offline
/// without nixpkgs; the runtime makes them with mmdebstrap instead.
std::span<const std::string_view> NixTemplates();

/// True when template `name` is built by the shipped flake.
bool IsNixTemplate(std::string_view name);

/// Where the shipped flake is when neither `--templates-dir` nor `$MVM_TEMPLATES_DIR` says: the
/// source tree's `templates/` for an mvmctl run from its build tree, else the installed
/// `share/mvm/templates` beside the executable's `bin/` (wherever the prefix was installed or moved
/// to), else the configured `<prefix>/share/mvm/templates`. Decided by where the running executable
/// is, so an installed mvmctl never reads a source tree that happens to still exist.
std::filesystem::path DefaultTemplatesDir();

/// `flag` when not empty, else `$MVM_TEMPLATES_DIR` when set and not empty, else
/// DefaultTemplatesDir(); made absolute.
std::filesystem::path ResolveTemplatesDir(std::string_view flag);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_TEMPLATES_H_
