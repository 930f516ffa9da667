// MountWatch (runtime/volumes/mount_watch.h): a workload's own operations on every kind of mounted
// volume (a bind of a host directory as a container has it, the same directory as virtiofsd serves
// it, a tmpfs, the gocryptfs and s3fs views), made here with plain system calls as a workload makes
// them, reach the aggregated volume audit, creates, deletes and renames counted one by one.

#include "runtime/volumes/mount_watch.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
      MVM_MISSING_PREREQUISITE() << "mounts and fanotify filesystem marks need root";
    }
    audit_ =
        std::make_shared<VolumeAudit>([this](std::string_view event, const nlohmann::json& fields) {
          records_.push_back({std::string(event), fields});
        });
    const std::string kind = GetParam();
    if (kind == "local_bind" || kind == "local_tree") {
      // A container's bind of the host directory, or the directory itself, as virtiofsd uses it.
      host_dir_ = state_.path() / "host-dir";
      fs::create_directories(host_dir_);
      if (kind == "local_tree") {
        files_ = host_dir_;
        return;
      }
      files_ = state_.path() / "sandbox-mount";
      fs::create_directories(files_);
      ASSERT_EQ(::mount(host_dir_.c_str(), files_.c_str(), nullptr, MS_BIND, nullptr), 0)
          << std::strerror(errno);
      mounted_ = true;
      return;
    }
    if (kind == "tmpfs") {
      files_ = state_.path() / "tmpfs";
      fs::create_directories(files_);
      ASSERT_EQ(::mount("mvm-test", files_.c_str(), "tmpfs", 0, "size=8m"), 0)
          << std::strerror(errno);
      mounted_ = true;
      return;
    }
    const bool s3 = kind == "s3fs_view";
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
    auto view = mvm::testing::MountedView::Mount(kind, state_.path(), *store_, "watched",
                                                 "watch-bucket", endpoint, "s3-both");
    ASSERT_TRUE(view) << view.error().message;
    view_.emplace(std::move(*view));
    files_ = view_->files();
  }
  void TearDown() override {
    watch_.reset();
    view_.reset();
    if (mounted_) {
      ::umount2(files_.c_str(), MNT_DETACH);
    }
  }

  /// The volume as the launcher's helper is told to watch it (volume_watch.cc).
  WatchedVolume Volume() const {
    const std::string kind = GetParam();
    WatchedVolume v;
    v.label = "volume-label";
    v.path = files_;
    v.access = kind == "local_bind"   ? WatchAccess::kMount
               : kind == "local_tree" ? WatchAccess::kTree
                                      : WatchAccess::kFilesystem;
    return v;
  }

  /// Starts the watch; its attach record is the first.
  void StartWatch() {
    watch_.emplace("sb1", audit_);
    auto added = watch_->Add(Volume());
    ASSERT_TRUE(added.ok()) << added.error().message;
    ASSERT_FALSE(records_.empty());
    EXPECT_EQ(records_[0].event, "volume.attach");
    EXPECT_EQ(records_[0].fields.at("sandbox"), "sb1");
  }

  /// Ends the watch as the helper's SIGTERM does: every count goes out.
  void StopWatch() {
    int stop[2];
    ASSERT_EQ(pipe(stop), 0);
    ASSERT_EQ(write(stop[1], "x", 1), 1);
    watch_->Run(stop[0]);
    close(stop[0]);
    close(stop[1]);
    ASSERT_EQ(records_.back().event, "volume.detach");
  }

  /// Whether any `volume.ops` record marks `op`'s count as a lower bound.
  bool AtLeast(const std::string& op) const {
    for (const Recorded& r : records_) {
      if (r.event == "volume.ops" && r.fields.at("ops").contains(op) &&
          r.fields.at("ops").at(op).value("at_least", false)) {
        return true;
      }
    }
    return false;
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
    const fs::path v = files_;
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
  fs::path files_;     // the volume's files, as the workload reaches them
  fs::path host_dir_;  // local_*: the host directory
  bool mounted_ = false;
  std::shared_ptr<VolumeAudit> audit_;
  std::vector<Recorded> records_;
  std::optional<MountWatch> watch_;
};

TEST_P(MountWatchTest, AWorkloadsOwnOperationsReachTheVolumeAudit) {
  StartWatch();
  Workload();
  StopWatch();

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
  // a.txt, dir and b.txt made (b.txt before dir's watch was placed: found by its scan); one rename;
  // a.txt deleted. gocryptfs's own entries (the new directory's gocryptfs.diriv) are not in the
  // view, so not counted.
  EXPECT_EQ(counts["create"], 3u);
  EXPECT_EQ(counts["rename"], 1u);
  EXPECT_EQ(counts["delete"], 1u);
  // Reads and writes may be merged events; names are counted one by one.
  EXPECT_TRUE(AtLeast("read"));
  EXPECT_TRUE(AtLeast("write"));
  EXPECT_FALSE(AtLeast("create"));
  EXPECT_FALSE(AtLeast("delete"));
  EXPECT_FALSE(AtLeast("rename"));
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

// fanotify would merge these unread events of one name into one create and one delete
// (mount_watch.h): each is counted.
TEST_P(MountWatchTest, RepeatedOperationsOnOneNameAreEachCounted) {
  StartWatch();
  for (int i = 0; i < 5; ++i) {
    std::ofstream(files_ / "same.txt") << i;
    fs::rename(files_ / "same.txt", files_ / "other.txt");
    fs::remove(files_ / "other.txt");
  }
  StopWatch();
  std::map<std::string, uint64_t> counts = Counts();
  EXPECT_EQ(counts["create"], 5u);
  EXPECT_EQ(counts["rename"], 5u);
  EXPECT_EQ(counts["delete"], 5u);
}

// A workload cannot take the watch out of its volume: a directory it swaps for a symlink to a
// host directory is not followed, so nothing done there is counted as the volume's.
TEST_P(MountWatchTest, ASymlinkInPlaceOfADirectoryIsNotFollowed) {
  mvm::testing::TempDir outside("mvm-mount-watch-outside");
  StartWatch();
  fs::create_symlink(outside.path(), files_ / "link");
  fs::create_directory(files_ / "d");
  fs::remove(files_ / "d");
  fs::rename(files_ / "link", files_ / "d");  // where `d` was watched (or is about to be)
  watch_->Drain();
  std::ofstream(outside.path() / "x") << "x";
  fs::remove(outside.path() / "x");
  StopWatch();
  std::map<std::string, uint64_t> counts = Counts();
  EXPECT_EQ(counts["create"], 2u) << "link and d, not x";
  EXPECT_EQ(counts["delete"], 1u) << "d, not x";
}

INSTANTIATE_TEST_SUITE_P(Volumes, MountWatchTest,
                         ::testing::Values("local_bind", "local_tree", "tmpfs", "gocryptfs_view",
                                           "s3fs_view"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace mvm::runtime::volumes
