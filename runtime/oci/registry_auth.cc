#include "runtime/oci/registry_auth.h"

#include <sodium.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"

namespace mvm::runtime::oci {
namespace {

constexpr std::uintmax_t kMaxAuthFileBytes = 1 << 20;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// An `auths` key as the host it is for: without a scheme, a path or a trailing slash.
std::string KeyHost(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    key = key.substr(0, slash);
  }
  return Lower(key);
}

bool IsDockerHub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// The credentials of one `auths` entry; nullopt when it has none, an Error when it is malformed.
ErrorOr<std::optional<RegistryCredentials>> EntryCredentials(const nlohmann::json& entry,
                                                             const std::string& where) {
  if (!entry.is_object()) {
    return Error{where + " is not an object"};
  }
  if (auto auth = entry.find("auth");
      auth != entry.end() && auth->is_string() && !auth->get_ref<const std::string&>().empty()) {
    const std::string& encoded = auth->get_ref<const std::string&>();
    std::string decoded(encoded.size(), '\0');
    size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                          encoded.data(), encoded.size(), " \n", &length, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
      return Error{where + ".auth is not base64"};
    }
    decoded.resize(length);
    auto colon = decoded.find(':');
    if (colon == std::string::npos) {
      return Error{where + ".auth is not base64 of `user:password`"};
    }
    return std::optional<RegistryCredentials>(
        RegistryCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)});
  }
  auto user = entry.find("username");
  auto pass = entry.find("password");
  if (user != entry.end() && pass != entry.end() && user->is_string() && pass->is_string()) {
    return std::optional<RegistryCredentials>(
        RegistryCredentials{user->get<std::string>(), pass->get<std::string>()});
  }
  return std::optional<RegistryCredentials>();
}

}  // namespace

std::vector<std::filesystem::path> DefaultAuthFiles() {
  std::vector<std::filesystem::path> out;
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  if (std::string v = env("MVM_REGISTRY_AUTH"); !v.empty()) {
    out.emplace_back(v);
  }
  if (std::string v = env("REGISTRY_AUTH_FILE"); !v.empty()) {
    out.emplace_back(v);
  }
  if (std::string v = env("DOCKER_CONFIG"); !v.empty()) {
    out.push_back(std::filesystem::path(v) / "config.json");
  }
  if (std::string v = env("HOME"); !v.empty()) {
    out.push_back(std::filesystem::path(v) / ".docker" / "config.json");
  }
  if (std::string v = env("XDG_RUNTIME_DIR"); !v.empty()) {
    out.push_back(std::filesystem::path(v) / "containers" / "auth.json");
  }
  return out;
}

ErrorOr<AuthLookup> FindCredentials(const std::filesystem::path& auth_file, std::string_view host) {
  AuthLookup lookup;
  std::error_code ec;
  if (!auth_file.empty()) {
    if (!std::filesystem::exists(auth_file, ec)) {
      return Error{"the registry auth file " + auth_file.string() + " does not exist"};
    }
    lookup.file = auth_file;
  } else {
    const char* named = std::getenv("MVM_REGISTRY_AUTH");
    for (const std::filesystem::path& candidate : DefaultAuthFiles()) {
      if (std::filesystem::exists(candidate, ec)) {
        lookup.file = candidate;
        break;
      }
      if (named != nullptr && *named != '\0' && candidate == named) {
        return Error{"the registry auth file " + candidate.string() +
                     " ($MVM_REGISTRY_AUTH) does not exist"};
      }
    }
    if (lookup.file.empty()) {
      return lookup;
    }
  }
  const std::string name = lookup.file.string();
  auto size = std::filesystem::file_size(lookup.file, ec);
  if (ec) {
    return Error{"cannot read the registry auth file " + name + ": " + ec.message()};
  }
  if (size > kMaxAuthFileBytes) {
    return Error{"the registry auth file " + name + " is larger than 1 MiB; is it the right file?"};
  }
  std::ifstream in(lookup.file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return Error{"cannot read the registry auth file " + name};
  }
  auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Error{"the registry auth file " + name +
                 " is not a JSON object (a Docker config.json with `auths`)"};
  }
  auto auths = json.find("auths");
  if (auths == json.end()) {
    return lookup;
  }
  if (!auths->is_object()) {
    return Error{"`auths` in the registry auth file " + name + " is not an object"};
  }
  const std::string want = Lower(host);
  // An exact key wins over an alias (docker.io's several spellings).
  for (int pass = 0; pass < 2 && !lookup.credentials; ++pass) {
    for (const auto& [key, entry] : auths->items()) {
      std::string key_host = KeyHost(key);
      bool match = pass == 0 ? key_host == want : IsDockerHub(want) && IsDockerHub(key_host);
      if (!match) {
        continue;
      }
      auto credentials = EntryCredentials(entry, name + ": auths[\"" + key + "\"]");
      if (!credentials) {
        return credentials.error();
      }
      if (*credentials) {
        lookup.credentials = std::move(**credentials);
        break;
      }
    }
  }
  return lookup;
}

std::optional<AuthChallenge> ParseAuthChallenge(std::string_view header) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) {
      ++i;
    }
  };
  skip_space();
  size_t start = i;
  while (i < header.size() && header[i] != ' ' && header[i] != '\t') {
    ++i;
  }
  AuthChallenge challenge;
  challenge.scheme = Lower(header.substr(start, i - start));
  if (challenge.scheme.empty()) {
    return std::nullopt;
  }
  while (i < header.size()) {
    skip_space();
    start = i;
    while (i < header.size() && header[i] != '=' && header[i] != ',' && header[i] != ' ') {
      ++i;
    }
    std::string key = Lower(header.substr(start, i - start));
    skip_space();
    if (i >= header.size() || header[i] != '=') {
      // Another challenge (`, Basic ...`) or junk: the first challenge ends here.
      if (i < header.size() && header[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    ++i;
    skip_space();
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) {
          ++i;
        }
        value += header[i++];
      }
      ++i;
    } else {
      while (i < header.size() && header[i] != ',' && header[i] != ' ') {
        value += header[i++];
      }
    }
    if (!key.empty()) {
      challenge.params[key] = value;
    }
    skip_space();
    if (i < header.size() && header[i] == ',') {
      ++i;
    }
  }
  return challenge;
}

}  // namespace mvm::runtime::oci
