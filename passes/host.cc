#include "passes/host.h"

#include <cstddef>
#include <vector>

namespace mvm::passes {
namespace {

constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

std::vector<std::string_view> SplitLabels(std::string_view host) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    labels.push_back(host.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      return labels;
    }
    start = dot + 1;
  }
}

// What URL parsers and inet_aton read as an IPv4 part: decimal, octal (leading 0) or 0x-hex. Such a
// label at the end makes the whole name an address to those parsers, so it can never be a DNS name
// the proxy could pin.
bool IsNumericLabel(std::string_view label) {
  if (label.empty()) {
    return false;
  }
  if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    for (char c : label.substr(2)) {
      if (!IsHexDigit(c)) {
        return false;
      }
    }
    return true;
  }
  for (char c : label) {
    if (!IsDigit(c)) {
      return false;
    }
  }
  return true;
}

std::string LabelError(std::string_view label) {
  if (label.size() > kMaxLabelLength) {
    return "label " + Quote(label) + " is longer than 63 characters";
  }
  for (char c : label) {
    if (!IsAlnum(c) && c != '-') {
      if (c == '*') {
        return "`*` is only allowed as the whole first label, as in `*.example.com`";
      }
      return Quote(std::string_view(&c, 1)) +
             " is not allowed in a host name; use letters, digits, `-` and `.`";
    }
  }
  if (label.front() == '-' || label.back() == '-') {
    return "label " + Quote(label) + " starts or ends with `-`";
  }
  return "";
}

}  // namespace

bool IsIpLiteral(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  if (host.front() == '[') {
    return true;
  }
  size_t colons = 0;
  for (char c : host) {
    colons += c == ':';
  }
  // No DNS name has a colon, and `host:port` has one: two or more is an IPv6 address (possibly with
  // a zone such as `%eth0`), which is the more useful thing to tell the user.
  if (colons >= 2) {
    return true;
  }
  if (colons == 1) {
    host = host.substr(0, host.find(':'));
  }
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  std::vector<std::string_view> labels = SplitLabels(host);
  if (labels.size() > 4) {
    return false;
  }
  for (std::string_view label : labels) {
    if (!IsNumericLabel(label)) {
      return false;
    }
  }
  return true;
}

std::string HostError(std::string_view host) {
  if (host.empty()) {
    return "a host must not be empty";
  }
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return "a host contains no whitespace or control characters";
    }
    if (u >= 0x80) {
      return "write non-ASCII host names in their punycode form (`xn--...`)";
    }
  }
  if (size_t scheme = host.find("://"); scheme != std::string_view::npos) {
    std::string_view rest = host.substr(scheme + 3);
    rest = rest.substr(0, rest.find('/'));
    return "a host has no scheme; write " + Quote(rest) + ", not " + Quote(host);
  }
  if (IsIpLiteral(host)) {
    return "raw IP addresses are not allowed; name a host";
  }
  if (size_t slash = host.find('/'); slash != std::string_view::npos) {
    return "a host has no path; write " + Quote(host.substr(0, slash));
  }
  if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    return "a host has no port; write " + Quote(host.substr(0, colon)) + ", not " + Quote(host);
  }
  if (host.size() > kMaxHostLength) {
    return "a host name is at most 253 characters, this one has " + std::to_string(host.size());
  }
  if (host.back() == '.') {
    return "remove the trailing `.`";
  }
  std::string_view name = host;
  bool wildcard = name.starts_with("*.");
  if (wildcard) {
    name.remove_prefix(2);
  }
  std::vector<std::string_view> labels = SplitLabels(name);
  for (std::string_view label : labels) {
    if (label.empty()) {
      return "a host has no empty labels (`..`, or `.` at the start)";
    }
    if (std::string error = LabelError(label); !error.empty()) {
      return error;
    }
  }
  if (IsNumericLabel(labels.back())) {
    return "the last label " + Quote(labels.back()) +
           " is a number, so the name would be read as an IP address";
  }
  // `*.com` would open a whole top-level domain, which is never what a policy means.
  if (wildcard && labels.size() < 2) {
    return "a wildcard needs at least two labels after `*.`, as in `*.example.com`";
  }
  return "";
}

std::string LowercaseHost(std::string_view host) {
  std::string out(host);
  for (char& c : out) {
    c = Lower(c);
  }
  return out;
}

bool HostAllows(std::string_view rule_host, std::string_view host) {
  std::string rule = LowercaseHost(rule_host);
  std::string name = LowercaseHost(host);
  if (rule == name) {
    return true;
  }
  if (!rule.starts_with("*.")) {
    return false;
  }
  std::string_view suffix = std::string_view(rule).substr(1);  // ".example.com"
  return name.size() > suffix.size() && name.ends_with(suffix);
}

}  // namespace mvm::passes
