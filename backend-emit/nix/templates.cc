#include "backend-emit/nix/templates.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <system_error>

// Set for this file by backend-emit/CMakeLists.txt.
#ifndef MVM_BINARY_DIR
#error "MVM_BINARY_DIR must be defined by the build"
#endif

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

constexpr std::array<std::string_view, 1> kNixTemplates = {"busybox"};

// True when `path` is `dir` or below it, compared component by component.
bool IsUnder(const fs::path& path, const fs::path& dir) {
  return std::mismatch(dir.begin(), dir.end(), path.begin(), path.end()).first == dir.end();
}

}  // namespace

std::span<const std::string_view> NixTemplates() { return kNixTemplates; }

bool IsNixTemplate(std::string_view name) {
  return std::find(kNixTemplates.begin(), kNixTemplates.end(), name) != kNixTemplates.end();
}

fs::path DefaultTemplatesDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && IsUnder(exe.lexically_normal(), fs::path(MVM_BINARY_DIR).lexically_normal())) {
    return MVM_TEMPLATES_SOURCE_DIR;
  }
  // Installed: beside the binary's prefix, wherever `cmake --install --prefix` put (or moved) it.
  if (fs::path beside = exe.parent_path() / ".." / "share" / "mvm" / "templates";
      !ec && fs::is_directory(beside)) {
    return beside.lexically_normal();
  }
  return MVM_TEMPLATES_INSTALL_DIR;
}

fs::path ResolveTemplatesDir(std::string_view flag) {
  fs::path dir;
  if (!flag.empty()) {
    dir = flag;
  } else if (const char* env = std::getenv("MVM_TEMPLATES_DIR"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    dir = DefaultTemplatesDir();
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(dir, ec);
  fs::path normal = (ec ? dir : absolute).lexically_normal();
  // `dir/` normalises to `dir/`; the flake reference should have one spelling.
  return normal.has_filename() || !normal.has_relative_path() ? normal : normal.parent_path();
}

}  // namespace mvm::nix
