// `mvmctl key gen|trust|untrust|list`: signing keys and the launcher's trust store.

#include <cstdio>
#include <filesystem>

#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/trust_store.h"
#include "cli/commands.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

// Key names become file names next to each other in DIR, so they are kept to a portable set.
bool IsKeyName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

ErrorOr<fs::path> TrustDir(const Args& args) {
  if (args.Has("trust-dir")) {
    return fs::path(args.Get("trust-dir"));
  }
  return plan::DefaultTrustDir();
}

int Gen(const Args& args) {
  if (args.positional.size() != 1) {
    return Fail("key", MakeError(ErrorKind::kUsage,
                                 "`key gen` takes no arguments besides `--out DIR [--name NAME]`"));
  }
  if (!args.Has("out")) {
    return Fail("key",
                MakeError(ErrorKind::kUsage,
                          "`key gen` needs `--out DIR`, the directory to write the key pair to"));
  }
  std::string name = args.Get("name", "mvm");
  if (!IsKeyName(name)) {
    return Fail(
        "key",
        MakeError(ErrorKind::kUsage,
                  "invalid key name `" + name +
                      "`: use letters, digits, `-`, `_` and `.`, not starting with `.` or `-`"));
  }
  plan::SecretKey key = plan::SecretKey::Generate();
  auto saved = plan::SaveKeyPair(key, args.Get("out"), name);
  if (!saved) {
    return Fail("key", saved.error());
  }
  std::printf("key id %s\n", key.KeyId().c_str());
  std::fprintf(stderr, "wrote %s (secret, mode 0600)\nwrote %s\n",
               saved->secret_path.string().c_str(), saved->public_path.string().c_str());
  return kExitOk;
}

int Trust(const Args& args) {
  if (args.positional.size() != 2) {
    return Fail("key", MakeError(ErrorKind::kUsage,
                                 "`key trust` takes one public key file: `key trust PUB`"));
  }
  auto dir = TrustDir(args);
  if (!dir) {
    return Fail("key", dir.error());
  }
  auto trusted = plan::TrustKey(*dir, args.positional[1]);
  if (!trusted) {
    return Fail("key", trusted.error());
  }
  std::printf("trusted key %s (%s)\n", trusted->key_id.c_str(), trusted->path.string().c_str());
  return kExitOk;
}

int Untrust(const Args& args) {
  if (args.positional.size() != 2) {
    return Fail(
        "key", MakeError(ErrorKind::kUsage, "`key untrust` takes one key id: `key untrust KEYID`"));
  }
  const std::string& id = args.positional[1];
  if (!plan::IsKeyId(id)) {
    return Fail("key",
                MakeError(ErrorKind::kUsage,
                          "`" + id +
                              "` is not a key id: expected 16 lowercase hex digits, as `mvmctl key "
                              "list` prints them"));
  }
  auto dir = TrustDir(args);
  if (!dir) {
    return Fail("key", dir.error());
  }
  if (auto removed = plan::UntrustKey(*dir, id); !removed) {
    return Fail("key", removed.error());
  }
  std::printf("untrusted key %s\n", id.c_str());
  return kExitOk;
}

int List(const Args& args) {
  if (args.positional.size() != 1) {
    return Fail("key", MakeError(ErrorKind::kUsage, "`key list` takes no arguments"));
  }
  auto dir = TrustDir(args);
  if (!dir) {
    return Fail("key", dir.error());
  }
  auto keys = plan::LoadTrustDir(*dir);
  if (!keys) {
    return Fail("key", keys.error());
  }
  if (keys->empty()) {
    std::fprintf(stderr, "no trusted keys in %s\n", dir->string().c_str());
  }
  for (const plan::TrustedKey& k : *keys) {
    std::printf("%s  %s\n", k.key_id.c_str(), k.path.string().c_str());
  }
  return kExitOk;
}

}  // namespace

int RunKey(Args& args) {
  if (args.positional.empty()) {
    return Fail("key", MakeError(ErrorKind::kUsage,
                                 "expected an action: `gen`, `trust`, `untrust` or `list`"));
  }
  const std::string& action = args.positional[0];
  bool gen = action == "gen";
  if (gen ? args.Has("trust-dir") : args.Has("out") || args.Has("name")) {
    return Fail("key",
                MakeError(ErrorKind::kUsage, gen ? "`--trust-dir` does not apply to `key gen`"
                                                 : "`--out` and `--name` apply to `key gen` only"));
  }
  if (gen) {
    return Gen(args);
  }
  if (action == "trust") {
    return Trust(args);
  }
  if (action == "untrust") {
    return Untrust(args);
  }
  if (action == "list") {
    return List(args);
  }
  return Fail(
      "key", MakeError(ErrorKind::kUsage,
                       "unknown action `" + action + "`; use `gen`, `trust`, `untrust` or `list`"));
}

}  // namespace mvm::cli
