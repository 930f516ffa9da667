// MountWatch (runtime/volumes/mount_watch.h): a workload's own operations on the mounted views
// (gocryptfs, s3fs), made here with plain system calls as a workload makes them, reach the
// aggregated volume audit; what each view cannot show (creates, deletes and renames on s3fs) is
// checked to stay unseen rather than invented.

#include "runtime/volumes/mount_watch.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "runtime/secrets/secrets.h"
#include "tests/runtime/volumes/mounted_view.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;

struct Recorded {
  std::string event;
  nlohmann::json fields;
};

class MountWatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "FUSE mounts and fanotify filesystem marks need root";
    }
    const bool s3 = GetParam() == "s3fs_view";
    if (!os::FindProgram(s3 ? "s3fs" : "gocryptfs")) {
      MVM_MISSING_PREREQUISITE() << (s3 ? "s3fs" : "gocryptfs")
                                 << " (scripts/bootstrap.sh installs it)";
    }
    auto opened = secrets::Store::Open(state_.path() / "secrets");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_.emplace(std::move(*opened));
    ASSERT_TRUE(store_->Set("s3-both", "S3RVER:S3RVER").ok());
    std::string endpoint;
    if (s3) {
      if (!fs::exists(mvm::testing::S3rver::Program())) {
        MVM_MISSING_PREREQUISITE() << "s3rver is not installed; run scripts/bootstrap.sh";
      }
      fs::create_directories(state_.path() / "s3rver");
      auto started = mvm::testing::S3rver::Start(state_.path() / "s3rver", "watch-bucket");
      ASSERT_TRUE(started) << started.error().message;
      s3rver_.emplace(std::move(*started));
      endpoint = s3rver_->endpoint();
    }
    auto view = mvm::testing::MountedView::Mount(GetParam(), state_.path(), *store_, "watched",
                                                 "watch-bucket", endpoint, "s3-both");
    ASSERT_TRUE(view) << view.error().message;
    view_.emplace(std::move(*view));
    audit_ =
        std::make_shared<VolumeAudit>([this](std::string_view event, const nlohmann::json& fields) {
          records_.push_back({std::string(event), fields});
        });
  }
  void TearDown() override {
    watch_.reset();
    view_.reset();
  }

  /// The counts of the `volume.ops` records, by operation.
  std::map<std::string, uint64_t> Counts() const {
    std::map<std::string, uint64_t> counts;
    for (const Recorded& r : records_) {
      if (r.event == "volume.ops") {
        for (const auto& [op, c] : r.fields.at("ops").items()) {
          counts[op] += c.at("count").get<uint64_t>();
        }
      }
    }
    return counts;
  }

  /// What a workload does; the watch (when there is one) reads the events in between, as its
  /// helper does while the workload runs: a file removed before that cannot be opened for its
  /// events (mount_watch.h).
  void Workload() {
    const fs::path v = view_->files();
    std::ofstream(v / "a.txt") << "hello";
    fs::create_directory(v / "dir");
    std::ofstream(v / "dir" / "b.txt") << "world!";
    std::ifstream in(v / "a.txt");
    std::string text;
    in >> text;
    EXPECT_EQ(text, "hello");
    in.close();
    if (watch_) {
      watch_->Drain();
    }
    fs::rename(v / "dir" / "b.txt", v / "dir" / "c.txt");
    fs::remove(v / "a.txt");
  }

  mvm::testing::TempDir state_{"mvm-mount-watch"};
  std::optional<secrets::Store> store_;
  std::optional<mvm::testing::S3rver> s3rver_;
  std::optional<mvm::testing::MountedView> view_;
  std::shared_ptr<VolumeAudit> audit_;
  std::vector<Recorded> records_;
  std::optional<MountWatch> watch_;
};

TEST_P(MountWatchTest, AWorkloadsOwnOperationsReachTheVolumeAudit) {
  const bool names = GetParam() == "gocryptfs_view";
  watch_.emplace("sb1", audit_);
  const fs::path store = names ? view_->files().parent_path() / "store" : fs::path();
  auto added = watch_->Add("volume-label", view_->files(), store);
  ASSERT_TRUE(added.ok()) << added.error().message;
  ASSERT_FALSE(records_.empty());
  EXPECT_EQ(records_[0].event, "volume.attach");
  EXPECT_EQ(records_[0].fields.at("sandbox"), "sb1");

  Workload();
  int stop[2];
  ASSERT_EQ(pipe(stop), 0);
  ASSERT_EQ(write(stop[1], "x", 1), 1);
  watch_->Run(stop[0]);  // drains, then detaches: every count goes out
  close(stop[0]);
  close(stop[1]);
  ASSERT_EQ(records_.back().event, "volume.detach");

  std::map<std::string, uint64_t> counts = Counts();
  // Two files written and closed, one read (whatever the events merge into, at least one each).
  EXPECT_EQ(counts["write"], 2u) << records_.size();
  EXPECT_GE(counts["read"], 1u);
  uint64_t bytes = 0;
  for (const Recorded& r : records_) {
    if (r.event == "volume.ops" && r.fields.at("ops").contains("write")) {
      bytes += r.fields.at("ops").at("write").at("bytes").get<uint64_t>();
    }
  }
  EXPECT_EQ(bytes, 11u) << "the written files' sizes";
  if (names) {
    // a.txt, dir and b.txt made; one rename; a.txt deleted. gocryptfs's own entries (the new
    // directory's gocryptfs.diriv) are not counted.
    EXPECT_EQ(counts["create"], 3u);
    EXPECT_EQ(counts["rename"], 1u);
    EXPECT_EQ(counts["delete"], 1u);
  } else {
    // s3fs has no file system of its own to watch: none of these is seen, and none is made up.
    EXPECT_EQ(counts.count("create"), 0u);
    EXPECT_EQ(counts.count("rename"), 0u);
    EXPECT_EQ(counts.count("delete"), 0u);
  }
  for (const Recorded& r : records_) {
    EXPECT_EQ(r.fields.dump().find("a.txt"), std::string::npos) << "no path in a record";
  }
}

// Without a watch nothing is counted: the records above come from the watch, not the mount.
TEST_P(MountWatchTest, NothingIsCountedUnwatched) {
  Workload();
  audit_->Flush();
  EXPECT_TRUE(Counts().empty());
}

INSTANTIATE_TEST_SUITE_P(Views, MountWatchTest, ::testing::Values("gocryptfs_view", "s3fs_view"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace mvm::runtime::volumes
