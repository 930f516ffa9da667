#include <algorithm>
#include <cctype>
#include <charconv>

#include "ir/support/terminal_text.h"
#include "runtime/oci/registry.h"
#include "runtime/oci/registry_http.h"

// The names the registry client accepts: hosts (and the scheme decision), repositories, tags.

namespace mvm::runtime::oci {
namespace {

std::string Backticked(std::string_view text) { return "`" + std::string(text) + "`"; }

bool IsDottedQuad(std::string_view host, int* first_octet) {
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t end = host.find('.', i);
    if (end == std::string_view::npos) {
      end = host.size();
    }
    std::string_view part = host.substr(i, end - i);
    int value = 0;
    if (part.empty() || part.size() > 3 ||
        std::from_chars(part.data(), part.data() + part.size(), value).ptr !=
            part.data() + part.size() ||
        value > 255) {
      return false;
    }
    if (parts == 0) {
      *first_octet = value;
    }
    ++parts;
    i = end + 1;
  }
  return parts == 4;
}

}  // namespace

// Distribution's repository grammar: path components of [a-z0-9] joined by one of [._-] (or
// "__", or several "-"), separated by '/'. Checked so nothing else reaches a URL.
bool IsRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) {
      end = name.size();
    }
    std::string_view component = name.substr(start, end - start);
    if (component.empty()) {
      return false;
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(component.front()) || !alnum(component.back())) {
      return false;
    }
    for (size_t i = 0; i < component.size(); ++i) {
      char c = component[i];
      if (alnum(c) || c == '-') {
        continue;
      }
      if (c == '_' && i + 1 < component.size() && component[i + 1] == '_') {
        ++i;  // "__"
        if (!alnum(component[i + 1])) {
          return false;
        }
        continue;
      }
      if ((c == '.' || c == '_') && alnum(component[i + 1])) {
        continue;
      }
      return false;
    }
    start = end + 1;
  }
  return true;
}

bool IsTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag.front())) {
    return false;
  }
  return std::all_of(tag.begin(), tag.end(),
                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

ErrorOr<RegistryEndpoint> ResolveRegistryEndpoint(std::string_view host, bool loopback_tls) {
  auto bad = [&] {
    return Error{"not a registry host: " + Backticked(ShownText(host)) +
                 "; expected a host name or address with an optional port, without a scheme "
                 "or path (registry.example.com, 127.0.0.1:5000, [::1]:5000)"};
  };
  if (host.empty() || host.size() > 255) {
    return bad();
  }
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return bad();
    }
  }
  std::string lowered = AsciiLower(host);
  std::string name;
  std::string port;
  if (lowered.front() == '[') {
    auto close = lowered.find(']');
    if (close == std::string::npos) {
      return bad();
    }
    name = lowered.substr(1, close - 1);
    std::string rest = lowered.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad();
      }
      port = rest.substr(1);
    }
  } else if (std::count(lowered.begin(), lowered.end(), ':') > 1) {
    name = lowered;  // a bare IPv6 address
  } else {
    auto colon = lowered.find(':');
    name = lowered.substr(0, colon);
    if (colon != std::string::npos) {
      port = lowered.substr(colon + 1);
      if (port.empty()) {
        return bad();
      }
    }
  }
  if (name.empty() || name.find_first_of("[]") != std::string::npos) {
    return bad();
  }
  if (!port.empty()) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return bad();
    }
  }
  bool ipv6 = name.find(':') != std::string::npos;
  if (!ipv6 && (name.front() == '-' || name.front() == '.' || name.back() == '-')) {
    return bad();
  }
  RegistryEndpoint endpoint;
  endpoint.host = lowered;
  endpoint.loopback = IsLoopbackHost(name);
  endpoint.plain_http = endpoint.loopback && !loopback_tls;
  std::string authority = ipv6 ? "[" + name + "]" : name;
  if (name == "docker.io" || name == "index.docker.io") {
    authority = "registry-1.docker.io";
  }
  if (!port.empty()) {
    authority += ":" + port;
  }
  endpoint.base_url = (endpoint.plain_http ? "http://" : "https://") + authority;
  return endpoint;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string lowered = AsciiLower(host);
  if (lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1") {
    return true;
  }
  int first = -1;
  return IsDottedQuad(lowered, &first) && first == 127;
}

}  // namespace mvm::runtime::oci
