#ifndef MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "backend-emit/plan/keys.h"
#include "runtime/audit/audit.h"

namespace mvm::runtime::audit {

namespace fs = std::filesystem;

/// A key from a fixed seed, so runs are repeatable; different `fill`s give different keys.
inline plan::SecretKey TestKey(unsigned char fill) {
  std::array<unsigned char, plan::kSeedBytes> seed{};
  seed.fill(fill);
  return plan::SecretKey::FromSeed(seed);
}

/// Options with a clock that starts at 1,000,000 ms after the epoch and ticks one millisecond per
/// record, so records are byte-for-byte repeatable.
inline LogOptions TickingClock(uint64_t checkpoint_every = 64) {
  auto now = std::make_shared<int64_t>(1000000);
  return LogOptions{checkpoint_every, [now] { return (*now)++; }};
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// The log's lines without their newlines; the file must end in one.
inline std::vector<std::string> ReadLines(const fs::path& path) {
  std::string text = ReadFile(path);
  EXPECT_TRUE(text.empty() || text.back() == '\n') << path;
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
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
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mvm_audit_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = dir_ / "audit.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path log_;
};

}  // namespace mvm::runtime::audit

#endif  // MVM_TESTS_RUNTIME_AUDIT_AUDIT_TEST_UTIL_H_
