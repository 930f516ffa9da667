#ifndef MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs::testing {

/// A fresh directory named after the running test, removed (sealed trees included) at the end. In
/// the system's temporary directory unless `parent` names another.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = parent / ("mvm_rootfs_test_" + std::to_string(getpid()) + "_" +
                      info->test_suite_name() + "_" + info->name());
    EXPECT_TRUE(RemoveTree(path_).ok());
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    auto removed = RemoveTree(path_);
    EXPECT_TRUE(removed.ok()) << removed.error().message;
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline bool IsRoot() { return geteuid() == 0; }

}  // namespace mvm::runtime::rootfs::testing

#endif  // MVM_TESTS_RUNTIME_ROOTFS_ROOTFS_TEST_UTIL_H_
