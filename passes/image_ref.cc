#include "passes/image_ref.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "ir/options.h"
#include "ir/support/suggest.h"

namespace mvm::passes {
namespace {

// Limits of the distribution reference grammar (github.com/distribution/reference).
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;
constexpr size_t kSha256HexLength = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlpha(char c) { return IsLower(c) || IsUpper(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsLowerAlnum(char c) { return IsLower(c) || IsDigit(c); }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool HasSpace(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]*
bool IsPathComponent(std::string_view c) {
  size_t i = 0;
  while (true) {
    size_t run = i;
    while (i < c.size() && IsLowerAlnum(c[i])) {
      ++i;
    }
    if (i == run) {
      return false;
    }
    if (i == c.size()) {
      return true;
    }
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      i += (i + 1 < c.size() && c[i + 1] == '_') ? 2 : 1;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
  }
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) {
    return false;
  }
  for (char ch : c) {
    if (!IsAlnum(ch) && ch != '-') {
      return false;
    }
  }
  return true;
}

// domain := (domain-name | `[` IPv6 `]`) [`:` port]
std::string DomainError(std::string_view domain) {
  std::string_view host = domain;
  std::string_view port;
  bool has_port = false;
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    if (close == std::string_view::npos) {
      return "registry " + Quote(domain) + " has an unclosed `[`";
    }
    for (char c : host.substr(1, close - 1)) {
      if (!IsHexDigit(c) && c != ':') {
        return "registry " + Quote(domain) + " is not a valid IPv6 address";
      }
    }
    if (close == 1) {
      return "registry " + Quote(domain) + " is not a valid IPv6 address";
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return "registry " + Quote(domain) + " has text after `]`";
    }
    has_port = !rest.empty();
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    if (size_t colon = host.find(':'); colon != std::string_view::npos) {
      has_port = true;
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    size_t start = 0;
    while (true) {
      size_t dot = host.find('.', start);
      std::string_view component =
          host.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (!IsDomainComponent(component)) {
        return "invalid registry " + Quote(domain) +
               ": host names are letters, digits and `-` separated by `.`";
      }
      if (dot == std::string_view::npos) {
        break;
      }
      start = dot + 1;
    }
  }
  if (has_port) {
    bool digits = !port.empty();
    for (char c : port) {
      digits = digits && IsDigit(c);
    }
    if (!digits) {
      return "invalid port in registry " + Quote(domain) + ": a port is decimal digits";
    }
  }
  return "";
}

std::string PathError(std::string_view path) {
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view component =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (component.empty()) {
      return "the repository path has an empty component (`//`, or `/` at an end)";
    }
    for (char c : component) {
      if (IsUpper(c)) {
        return "repository names must be lowercase (" + Quote(component) + ")";
      }
    }
    if (!IsPathComponent(component)) {
      return "invalid path component " + Quote(component) +
             ": components are lowercase letters and digits separated by `.`, `_`, `__` or `-`";
    }
    if (slash == std::string_view::npos) {
      return "";
    }
    start = slash + 1;
  }
}

std::string TagError(std::string_view tag) {
  bool ok = !tag.empty() && tag.size() <= kMaxTagLength && IsWord(tag.front());
  for (char c : tag) {
    ok = ok && (IsWord(c) || c == '.' || c == '-');
  }
  if (ok) {
    return "";
  }
  return "invalid tag " + Quote(tag) +
         ": tags are letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128 "
         "characters";
}

// digest := algorithm `:` hex; algorithm := [A-Za-z][A-Za-z0-9]* ([+._-] [A-Za-z][A-Za-z0-9]*)*
std::string DigestError(std::string_view digest) {
  const std::string expected = ": expected `sha256:<64 lowercase hex digits>`";
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return "invalid digest " + Quote(digest) + expected;
  }
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  bool component_start = true;
  for (char c : algorithm) {
    if (component_start) {
      if (!IsAlpha(c)) {
        return "invalid digest " + Quote(digest) + expected;
      }
      component_start = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      component_start = true;
    } else if (!IsAlnum(c)) {
      return "invalid digest " + Quote(digest) + expected;
    }
  }
  if (component_start) {
    return "invalid digest " + Quote(digest) + expected;
  }
  if (algorithm != "sha256") {
    return "unsupported digest algorithm " + Quote(algorithm) + "; images are pinned by `sha256`";
  }
  for (char c : hex) {
    if (!IsHexDigit(c)) {
      return "invalid digest " + Quote(digest) + ": " + Quote(std::string_view(&c, 1)) +
             " is not a hex digit";
    }
    if (IsUpper(c)) {
      return "invalid digest " + Quote(digest) + ": sha256 digests are written in lowercase hex";
    }
  }
  if (hex.size() != kSha256HexLength) {
    return "invalid digest " + Quote(digest) +
           ": a sha256 digest has 64 hex digits, this one has " + std::to_string(hex.size());
  }
  return "";
}

ImageRefResult ParseOci(std::string_view ref) {
  ImageRefResult result;
  result.ref.kind = "oci";
  if (ref.empty()) {
    result.error = "the reference is empty";
    return result;
  }
  if (HasSpace(ref)) {
    result.error = "a reference contains no whitespace";
    return result;
  }
  std::string_view name = ref;
  if (size_t at = name.find('@'); at != std::string_view::npos) {
    std::string_view digest = name.substr(at + 1);
    name = name.substr(0, at);
    if (std::string error = DigestError(digest); !error.empty()) {
      result.error = std::move(error);
      return result;
    }
    result.ref.digest = std::string(digest);
  }
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = name.substr(colon + 1);
    name = name.substr(0, colon);
    if (std::string error = TagError(tag); !error.empty()) {
      result.error = std::move(error);
      return result;
    }
    result.ref.tag = std::string(tag);
  }
  if (name.empty()) {
    result.error = "the repository name is empty";
    return result;
  }
  if (name.size() > kMaxNameLength) {
    result.error = "the repository name is longer than 255 characters";
    return result;
  }
  std::string_view path = name;
  if (size_t first = name.find('/'); first != std::string_view::npos) {
    std::string_view head = name.substr(0, first);
    bool upper = false;
    for (char c : head) {
      upper = upper || IsUpper(c);
    }
    if (head.find_first_of(".:") != std::string_view::npos || head == "localhost" || upper) {
      if (std::string error = DomainError(head); !error.empty()) {
        result.error = std::move(error);
        return result;
      }
      result.ref.domain = std::string(head);
      path = name.substr(first + 1);
    }
  }
  if (std::string error = PathError(path); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  result.ref.path = std::string(path);
  return result;
}

ImageRefResult ParseNix(std::string_view ref) {
  ImageRefResult result;
  result.ref.kind = "nix";
  if (HasSpace(ref)) {
    result.error = "a nix reference contains no whitespace";
    return result;
  }
  size_t hash = ref.find('#');
  if (hash == std::string_view::npos) {
    result.error = "a nix image names a flake output: `<flakeref>#<attr>`";
    return result;
  }
  std::string_view flake = ref.substr(0, hash);
  std::string_view attr = ref.substr(hash + 1);
  if (flake.empty()) {
    result.error = "the flake reference before `#` is empty";
  } else if (attr.empty()) {
    result.error = "the attribute after `#` is empty";
  } else if (attr.find('#') != std::string_view::npos) {
    result.error = "a nix reference has exactly one `#`";
  } else {
    result.ref.path = std::string(flake);
    result.ref.attr = std::string(attr);
  }
  return result;
}

ImageRefResult ParseTemplate(std::string_view ref) {
  ImageRefResult result;
  result.ref.kind = "template";
  bool ok = !ref.empty() && IsLowerAlnum(ref.front());
  for (char c : ref) {
    ok = ok && (IsLowerAlnum(c) || c == '.' || c == '-');
  }
  std::string known;
  std::vector<std::string_view> names;
  for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
    known += known.empty() ? "" : ", ";
    known += "`" + std::string(t.name) + "`";
    names.push_back(t.name);
  }
  if (ref.empty()) {
    result.error = "the template name is empty; built-in templates: " + known;
  } else if (!ok) {
    result.error =
        "template names are lowercase letters, digits, `.` and `-`, starting with a letter or "
        "digit";
  } else if (std::find(names.begin(), names.end(), ref) == names.end()) {
    result.error = "unknown template `" + std::string(ref) + "`";
    if (auto suggestion = DidYouMean(ref, names)) {
      result.error += "; did you mean `" + *suggestion + "`?";
    } else {
      result.error += "; built-in templates: " + known;
    }
  } else {
    result.ref.path = std::string(ref);
  }
  return result;
}

}  // namespace

ImageRefResult ParseImageRef(std::string_view kind, std::string_view ref) {
  if (kind == "oci") {
    return ParseOci(ref);
  }
  if (kind == "nix") {
    return ParseNix(ref);
  }
  if (kind == "template") {
    return ParseTemplate(ref);
  }
  ImageRefResult result;
  result.error = kind.empty() ? "the reference has no kind; expected `nix:`, `oci:` or `template:`"
                              : "unknown image kind " + Quote(kind) +
                                    "; expected `nix:`, `oci:` or `template:`";
  return result;
}

}  // namespace mvm::passes
