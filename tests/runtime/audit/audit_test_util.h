#ifndef MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend-emit/plan/keys.h"
#include "runtime/audit/audit.h"
#include "tests/support/files.h"
#include "tests/support/keys.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::audit {

namespace fs = std::filesystem;

using mvm::testing::ReadFile;
using mvm::testing::TestKey;
using mvm::testing::WriteFile;

/// Options with a clock that starts at 1,000,000 ms after the epoch and ticks one millisecond per
/// record, so records are byte-for-byte repeatable.
inline LogOptions TickingClock(uint64_t checkpoint_every = 64) {
  auto now = std::make_shared<int64_t>(1000000);
  LogOptions options;
  options.checkpoint_every = checkpoint_every;
  options.now_unix_ms = [now] { return (*now)++; };
  return options;
}

/// The log's lines without their newlines; the file must end in one.
inline std::vector<std::string> ReadLines(const fs::path& path) {
  std::string text = ReadFile(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << path;
  return mvm::testing::SplitLines(text);
}

inline void WriteLines(const fs::path& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    text += line + "\n";
  }
  WriteFile(path, text);
}

/// A fresh directory per test, removed afterwards; `log_` is the log path inside it.
class AuditTest : public ::testing::Test {
 protected:
  mvm::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  const fs::path log_ = dir_ / "audit.jsonl";
};

}  // namespace mvm::runtime::audit

#endif  // MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_
