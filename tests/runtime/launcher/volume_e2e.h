// What the volume end-to-end tests share (encrypted_volume_e2e_test.cc, object_volume_e2e_test.cc,
// volume_audit_e2e_test.cc): whether a mount is left, a search for plaintext, waiting, the
// workload's volume counts in the audit log, and an s3rver with its key pair stored as a secret.
#ifndef MVM_TESTS_RUNTIME_LAUNCHER_VOLUME_E2E_H_
#define MVM_TESTS_RUNTIME_LAUNCHER_VOLUME_E2E_H_

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/audit_records.h"
#include "tests/support/mvmctl.h"

namespace mvm::testing {

/// Whether any mount of this namespace lies beneath `dir`.
inline bool MountedBeneath(const std::filesystem::path& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" " + dir.string() + "/") != std::string::npos) {
      return true;
    }
  }
  return false;
}

/// The regular files below `dir` (symlinks not followed) holding `needle`.
inline std::vector<std::filesystem::path> FilesHolding(const std::filesystem::path& dir,
                                                       const std::string& needle) {
  namespace fs = std::filesystem;
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) {
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::string window;
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      window.append(buffer, static_cast<size_t>(in.gcount()));
      if (window.find(needle) != std::string::npos) {
        found.push_back(it->path());
        break;
      }
      window.erase(0, window.size() > needle.size() ? window.size() - needle.size() : 0);
    }
  }
  return found;
}

/// Polls `done` every 50 ms; false when `limit` passed first.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

/// s3rver on 127.0.0.1 with `bucket`, its files under `dir`, and its key pair stored in `state`'s
/// secret store as `secret`, for `Volume.object(…, credentials=SecretRef(secret))`.
inline void StartS3rverWithKeys(const std::filesystem::path& dir, const std::string& bucket,
                                const std::filesystem::path& state, const std::string& secret,
                                std::optional<S3rver>& out) {
  std::filesystem::create_directories(dir);
  auto started = S3rver::Start(dir, bucket);
  ASSERT_TRUE(started) << started.error().message;
  out.emplace(std::move(*started));
  // s3rver accepts only its own key pair.
  Result set = Mvmctl({"secret", "set", secret}, "S3RVER:S3RVER", state);
  ASSERT_EQ(set.status, 0) << Describe(set);
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_LAUNCHER_VOLUME_E2E_H_
