#include "runtime/egress/policy.h"

#include <arpa/inet.h>

#include <algorithm>

namespace mvm::runtime::egress {

std::string_view ProtocolName(Protocol protocol) {
  return protocol == Protocol::kHttp ? "http" : "https";
}

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool HostPatternCovers(std::string_view pattern, std::string_view name) {
  if (pattern.starts_with("*.")) {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    return name.size() > suffix.size() && name.ends_with(suffix);
  }
  return pattern == name;
}

std::optional<std::string> Policy::Match(std::string_view name, Protocol protocol) const {
  for (const Rule& rule : rules) {
    if (rule.protocol == protocol && HostPatternCovers(rule.host, name)) {
      return std::string(ProtocolName(protocol)) + " " + rule.host;
    }
  }
  return std::nullopt;
}

bool Policy::AllowsName(std::string_view name) const {
  return Match(name, Protocol::kHttps) || Match(name, Protocol::kHttp);
}

std::optional<std::string> NormaliseName(std::string_view name) {
  if (name.ends_with('.')) {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 253) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(name.size());
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) {
        return std::nullopt;
      }
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      ++label;
    } else if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      ++label;
    } else {
      return std::nullopt;
    }
    if (label > 63) {
      return std::nullopt;
    }
    out += c;
  }
  if (label == 0) {
    return std::nullopt;
  }
  // Addresses in any spelling the C library would connect to ("0x7f.1", "2130706433"), and a last
  // label of digits, which no top-level domain has, so "1.2.3.4" can never pass as a name.
  in_addr v4{};
  if (::inet_aton(out.c_str(), &v4) != 0 || AllDigits(out.substr(out.rfind('.') + 1))) {
    return std::nullopt;
  }
  return out;
}

}  // namespace mvm::runtime::egress
