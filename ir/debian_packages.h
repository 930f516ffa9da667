#ifndef MVM_IR_DEBIAN_PACKAGES_H_
#define MVM_IR_DEBIAN_PACKAGES_H_

// The rules an `Image.debian(...)` declaration must follow. In the IR, not a pass, because the
// launcher checks a signed plan's package names again before they reach mmdebstrap's argv.

#include <span>
#include <string>
#include <string_view>

namespace mvm::ir {

/// At most this many packages in one `Image.debian`: each is resolved, downloaded and unpacked at
/// build time, and a longer list is a distribution, not a workload's image.
inline constexpr int kMaxDebianPackages = 64;

/// The suites an `Image.debian` may name: those whose build this repository's tests run (the host's
/// keyring verifies their archive signatures).
std::span<const std::string_view> DebianSuites();

/// Why `name` is not a Debian binary package name, or empty when it is one. Debian policy 5.6.1:
/// lowercase letters, digits, `+`, `-` and `.`, at least two characters, starting with a letter or
/// a digit. Nothing else (no `=version`, `/suite`, `:arch`, apt patterns or options) gets through,
/// so a valid name is always one package and never an argument of its own.
std::string DebianPackageNameError(std::string_view name);

}  // namespace mvm::ir

#endif  // MVM_IR_DEBIAN_PACKAGES_H_
