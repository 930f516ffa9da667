#include "ir/debian_packages.h"

#include <array>

namespace mvm::ir {

namespace {

constexpr std::array<std::string_view, 1> kSuites = {"bookworm"};

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

std::span<const std::string_view> DebianSuites() { return kSuites; }

std::string DebianPackageNameError(std::string_view name) {
  if (name.size() < 2) {
    return "a package name has at least two characters";
  }
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      return "package names are lowercase";
    }
  }
  if (!IsLowerAlnum(name.front())) {
    return "a package name starts with a lowercase letter or a digit";
  }
  for (char c : name) {
    if (c == '=' || c == '/' || c == ':') {
      return "a name alone, without a version, suite or architecture: mvm pins the versions "
             "itself when it resolves the package set";
    }
    if (!IsLowerAlnum(c) && c != '+' && c != '-' && c != '.') {
      return "a package name is lowercase letters, digits, `+`, `-` and `.`";
    }
  }
  return "";
}

}  // namespace mvm::ir
