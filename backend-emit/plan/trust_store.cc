#include "backend-emit/plan/trust_store.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>

#include "ir/support/os/atomic_file.h"

namespace mvm::plan {
namespace fs = std::filesystem;

namespace {

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

ErrorOr<Ok> EnsureDir(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    return Ok{};
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return Error{"cannot create trust store " + Quote(dir) + ": " + ec.message()};
  }
  // Who may add keys here decides what the launcher runs; keep it to the owner.
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  return Ok{};
}

}  // namespace

bool IsKeyId(std::string_view text) {
  return text.size() == 16 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

ErrorOr<fs::path> DefaultTrustDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') {
    return fs::path(xdg) / "mvm" / "trust";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    return fs::path(home) / ".config" / "mvm" / "trust";
  }
  return Error{
      "cannot find the trust store: neither XDG_CONFIG_HOME nor HOME is set; pass "
      "`--trust-dir DIR`"};
}

ErrorOr<std::vector<TrustedKey>> LoadTrustDir(const fs::path& dir) {
  std::vector<TrustedKey> keys;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return keys;
  }
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return Error{"cannot read trust store " + Quote(dir) + ": " + ec.message()};
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      return Error{"cannot read trust store " + Quote(dir) + ": " + ec.message()};
    }
    if (it->path().extension() != ".pub") {
      continue;
    }
    auto key = LoadPublicKey(it->path());
    if (!key) {
      return Error{"trust store " + Quote(dir) + ": " + key.error().message};
    }
    keys.push_back({key->KeyId(), *key, it->path()});
  }
  std::sort(keys.begin(), keys.end(), [](const TrustedKey& a, const TrustedKey& b) {
    return a.key_id != b.key_id ? a.key_id < b.key_id : a.path < b.path;
  });
  return keys;
}

ErrorOr<std::vector<TrustedKey>> LoadKeyFiles(const std::vector<std::filesystem::path>& files) {
  std::vector<TrustedKey> keys;
  for (const std::filesystem::path& file : files) {
    auto key = LoadPublicKey(file);
    if (!key) {
      return key.error();
    }
    keys.push_back({key->KeyId(), *key, file});
  }
  return keys;
}

ErrorOr<TrustedKey> TrustKey(const fs::path& dir, const fs::path& public_key_file) {
  auto key = LoadPublicKey(public_key_file);
  if (!key) {
    return key.error();
  }
  if (auto made = EnsureDir(dir); !made) {
    return made.error();
  }
  TrustedKey trusted{key->KeyId(), *key, dir / (key->KeyId() + ".pub")};
  if (auto written = os::WriteFileAtomically(trusted.path, key->ToFileText()); !written) {
    return written.error();
  }
  return trusted;
}

ErrorOr<Ok> UntrustKey(const fs::path& dir, std::string_view key_id) {
  auto keys = LoadTrustDir(dir);
  if (!keys) {
    return keys.error();
  }
  bool removed = false;
  for (const TrustedKey& k : *keys) {
    if (k.key_id != key_id) {
      continue;
    }
    std::error_code ec;
    if (!fs::remove(k.path, ec) || ec) {
      return Error{"cannot remove " + Quote(k.path) + ": " + ec.message()};
    }
    removed = true;
  }
  if (!removed) {
    return Error{"key " + std::string(key_id) + " is not in the trust store " + Quote(dir) +
                 "; `mvmctl key list` shows the trusted keys"};
  }
  return Ok{};
}

}  // namespace mvm::plan
