// What `mvmctl snapshot` accepts of a hostile guest (issue 24, items 4 and 5): the checks of
// snapshot_guest.h on their own, and whole snapshots taken in-process from a scripted fake agent
// (tests/runtime/support/fake_agent.h) whose tars are then extracted by Python's tarfile with no
// filter and by GNU tar as root, and must leave nothing outside the extraction directory and no
// set-uid or set-gid file. The same against a real sandbox whose agent socket the fake took over
// is in snapshot_test.cc.

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/audit/audit.h"
#include "runtime/launcher/snapshot.h"
#include "tests/runtime/support/fake_agent.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = ::mvm::agent::v1;
using mvm::runtime::CheckListing;
using mvm::runtime::SafeLinkTarget;
using mvm::runtime::SnapshotEntryKind;
using mvm::testing::FakeAgent;
using mvm::testing::FakeReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr auto kFile = v1::FileEntry::TYPE_FILE;
constexpr auto kDir = v1::FileEntry::TYPE_DIR;
constexpr auto kLink = v1::FileEntry::TYPE_SYMLINK;

mvm::runtime::agent::FileEntry Entry(
    std::string name,
    mvm::runtime::agent::FileEntry::Type type = mvm::runtime::agent::FileEntry::Type::kFile,
    uint32_t mode = 0644, std::string target = {}) {
  return {std::move(name), type, 0, mode, std::move(target)};
}

TEST(SnapshotListing, RefusesNamesNoDirectoryHolds) {
  const std::vector<std::string> forged = {"",
                                           ".",
                                           "..",
                                           "../../../../etc",
                                           "/etc/passwd",
                                           "a/b",
                                           std::string("cut\0here", 8),
                                           std::string(5000, 'n')};
  for (const std::string& name : forged) {
    auto checked = CheckListing("/tmp", {Entry("fine"), Entry(name)});
    ASSERT_FALSE(checked) << name.substr(0, 40);
    EXPECT_THAT(checked.error().message, HasSubstr("which no Linux directory holds"));
  }
  auto twice =
      CheckListing("/tmp", {Entry("x"), Entry("x", mvm::runtime::agent::FileEntry::Type::kDir)});
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("twice"));
}

TEST(SnapshotListing, LeavesOutControlBytesAndClearsSetUidBits) {
  using Type = mvm::runtime::agent::FileEntry::Type;
  auto checked = CheckListing(
      "/tmp",
      {Entry("b\nforged line"), Entry("esc\x1b]52;c;x\x07"), Entry("suid", Type::kFile, 06755),
       Entry("sticky-file", Type::kFile, 01644), Entry("sgid-dir", Type::kDir, 07777), Entry("a")});
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->bad_names, 2u);
  ASSERT_EQ(checked->entries.size(), 4u);
  EXPECT_EQ(checked->entries[0].name, "a");  // sorted
  EXPECT_EQ(checked->entries[1].name, "sgid-dir");
  EXPECT_EQ(checked->entries[1].mode, 01777u);  // sticky kept on a directory
  EXPECT_EQ(checked->entries[2].name, "sticky-file");
  EXPECT_EQ(checked->entries[2].mode, 0644u);
  EXPECT_EQ(checked->entries[3].mode, 0755u);
}

TEST(SnapshotListing, SymlinkTargetsStayInsideTheSandboxTree) {
  EXPECT_EQ(SafeLinkTarget("/tmp/d", "../a.txt"), "../a.txt");
  EXPECT_EQ(SafeLinkTarget("/tmp/d", "../../bin/sh"), "../../bin/sh");
  EXPECT_EQ(SafeLinkTarget("/tmp", "/usr/bin/python3"), "../usr/bin/python3");
  EXPECT_EQ(SafeLinkTarget("/tmp/d", "/"), "../..");
  EXPECT_EQ(SafeLinkTarget("/", "/etc"), "etc");
  EXPECT_EQ(SafeLinkTarget("/", "/"), ".");
  EXPECT_EQ(SafeLinkTarget("/bin", "busybox"), "busybox");
  for (const char* out :
       {"../../etc/cron.d/x", "../../../../../../etc", "a/../../x", "/etc/../../x", "", "a\nb"}) {
    EXPECT_EQ(SafeLinkTarget("/tmp", out), std::nullopt) << out;
  }
  EXPECT_EQ(SafeLinkTarget("/tmp", std::string("x\0y", 3)), std::nullopt);
  EXPECT_EQ(SafeLinkTarget("/tmp", std::string(5000, 'a')), std::nullopt);
}

TEST(SnapshotListing, MountPointsAndPathsAreNormalisedAndPrintable) {
  EXPECT_TRUE(mvm::runtime::CheckSnapshotPath("/tmp"));
  EXPECT_TRUE(mvm::runtime::CheckSnapshotPath("/my data"));
  EXPECT_TRUE(mvm::runtime::CheckSnapshotPath("/"));
  for (const std::string& bad :
       std::vector<std::string>{"tmp", "/tmp/../../etc", "/a//b", "/a/", "/a\nb", "/./a",
                                "/" + std::string(300, 'x'), std::string("/a\0b", 4)}) {
    EXPECT_FALSE(mvm::runtime::CheckSnapshotPath(bad)) << bad;
  }
}

// A fake sandbox: a tree of directory listings, the contents of its files, and a mount table
// whose only writable memory file system is /tmp. Listings of directories not in `dirs` come from
// `other_dirs` when set (the hostile loops).
struct FakeTree {
  std::map<std::string, std::vector<v1::FileEntry>> dirs;
  std::map<std::string, std::string> files;
  std::function<FakeReply(const std::string&)> other_dirs;
  std::string mountinfo = "85 80 0:48 / /tmp rw,nosuid,nodev,relatime - tmpfs none rw\n";
  std::chrono::milliseconds listing_delay{0};

  FakeReply Answer(const v1::Request& request) const {
    if (request.has_file_read()) {
      const std::string& path = request.file_read().path();
      if (path == "/proc/self/mountinfo") {
        return FakeAgent::FileContents(mountinfo);
      }
      auto f = files.find(path);
      return f == files.end() ? FakeReply::Fail("no such file")
                              : FakeAgent::FileContents(f->second);
    }
    if (request.has_file_list()) {
      const std::string& path = request.file_list().path();
      FakeReply reply;
      if (auto d = dirs.find(path); d != dirs.end()) {
        reply.responses.push_back(FakeAgent::Listing(d->second));
      } else if (other_dirs) {
        reply = other_dirs(path);
      } else {
        reply = FakeReply::Fail("no such directory");
      }
      reply.delay = listing_delay;
      return reply;
    }
    return FakeAgent::Standard(request);
  }
};

// "/" holds /tmp, so that AddParents finds it.
FakeTree TmpTree(std::vector<v1::FileEntry> tmp) {
  FakeTree tree;
  tree.dirs["/"] = {FakeAgent::Entry("tmp", kDir, 01777)};
  tree.dirs["/tmp"] = std::move(tmp);
  return tree;
}

class SnapshotFromFakeAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mvm-snapguest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    state_.root = root_ / "state";
    fs::create_directories(state_.root);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Takes a snapshot of the fake sandbox `tree`.
  mvm::ErrorOr<mvm::runtime::SnapshotInfo> Take(const FakeTree& tree,
                                                mvm::runtime::SnapshotRequest request = {}) {
    return Take([tree](const v1::Request& r) { return tree.Answer(r); }, std::move(request));
  }

  // Takes a snapshot from a fake agent answering with `handler`, connected to it directly. It
  // also listens at the sandbox's agent socket, where the snapshot reconnects to continue the
  // workload when a deadline cut the first connection.
  mvm::ErrorOr<mvm::runtime::SnapshotInfo> Take(mvm::testing::FakeHandler handler,
                                                mvm::runtime::SnapshotRequest request) {
    fake_.reset();
    fake_ = std::make_unique<FakeAgent>(std::move(handler));
    fs::create_directories(state_.Sandbox("fake"));
    auto listening = fake_->Listen(state_.AgentSocket("fake"));
    EXPECT_TRUE(listening) << listening.error().message;
    auto log = mvm::runtime::audit::Log::Open(state_.AuditLog(), nullptr);
    EXPECT_TRUE(log) << log.error().message;
    mvm::runtime::SandboxRecord record;
    record.name = "fake";
    record.workload_id = "idle";
    record.backend = "qemu-microvm";
    mvm::runtime::Attached sandbox{record, fake_->Connect()};
    if (request.label.empty()) {
      request.label = "s";
    }
    return mvm::runtime::TakeSnapshot(state_, sandbox, request, *log);
  }

  fs::path SnapshotDir() const { return state_.root / "snapshots" / "fake"; }

  std::string AuditText() const {
    std::ifstream in(state_.AuditLog());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // The snapshot failed cleanly: no tar, no description, no `.partial`; audited as refused; and
  // the workload, when it was paused (`paused`), was continued.
  void ExpectCleanFailure(const mvm::ErrorOr<mvm::runtime::SnapshotInfo>& result,
                          bool paused = true) {
    EXPECT_FALSE(result);
    if (fs::exists(SnapshotDir())) {
      for (const auto& f : fs::directory_iterator(SnapshotDir())) {
        ADD_FAILURE() << "left behind: " << f.path();
      }
    }
    EXPECT_THAT(AuditText(), HasSubstr("\"refused\""));
    int stops = 0, continues = 0;
    for (const v1::Request& r : fake_->requests()) {
      if (r.has_signal()) {
        (r.signal().signal() == SIGSTOP ? stops : continues) += 1;
      }
    }
    EXPECT_EQ(stops, paused ? 1 : 0);
    EXPECT_EQ(continues, stops);
  }

  // Extracts `tar` with `command` into a fresh directory nested in the test's directory; checks
  // that nothing appeared outside it, that no file is set-uid or set-gid, and that every symlink
  // resolves inside it. Returns the extraction directory.
  fs::path ExtractSafely(const fs::path& tar, const std::string& how) {
    const fs::path outer = root_ / ("x-" + how);
    const fs::path dest = outer / "a" / "b" / "c" / "d" / "dest";
    fs::create_directories(dest);
    std::string command;
    if (how == "python") {
      command =
          "cd / && python3 -c 'import sys, tarfile\n"
          "t = tarfile.open(sys.argv[1])\n"
          "kw = {\"filter\": \"fully_trusted\"} if hasattr(tarfile, \"fully_trusted_filter\") "
          "else {}\n"
          "t.extractall(sys.argv[2], **kw)' " +
          tar.string() + " " + dest.string();
    } else {
      command = "tar -xf " + tar.string() + " -C " + dest.string() + " 2>/dev/null";
    }
    int status = std::system(command.c_str());
    (void)status;  // GNU tar exits 2 after skipping members it refuses; what landed is what counts
    const fs::path real_dest = fs::canonical(dest);
    for (auto it = fs::recursive_directory_iterator(outer);
         it != fs::recursive_directory_iterator(); ++it) {
      const fs::path p = it->path();
      const std::string rel = fs::relative(p, outer).string();
      if (rel != "a" && rel != "a/b" && rel != "a/b/c" && rel != "a/b/c/d" &&
          !rel.starts_with("a/b/c/d/dest")) {
        ADD_FAILURE() << how << " extracted outside its directory: " << rel;
      }
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0) {
        continue;
      }
      if ((st.st_mode & (S_ISUID | S_ISGID)) != 0) {
        ADD_FAILURE() << how << " extracted a set-uid or set-gid entry: " << rel;
      }
      if (S_ISLNK(st.st_mode)) {
        // Resolved by hand first: weakly_canonical leaves a dangling last link unresolved.
        std::error_code ec;
        const fs::path target = fs::read_symlink(p, ec);
        fs::path resolved =
            fs::weakly_canonical(target.is_absolute() ? target : p.parent_path() / target, ec);
        if (ec || !resolved.string().starts_with(real_dest.string())) {
          ADD_FAILURE() << how << " extracted a symlink leading out: " << rel << " -> "
                        << fs::read_symlink(p);
        }
      }
    }
    return dest;
  }

  fs::path root_;
  mvm::runtime::StateDir state_;
  std::unique_ptr<FakeAgent> fake_;
};

TEST_F(SnapshotFromFakeAgent, ForgedNamesFailTheSnapshotAndReachNoTar) {
  const std::vector<std::string> forged = {
      "../../../../escaped", "/abs", "", "..", std::string("cut\0here", 8), std::string(5000, 'n')};
  int i = 0;
  for (const std::string& name : forged) {
    SCOPED_TRACE(name.substr(0, 40));
    FakeTree tree = TmpTree({FakeAgent::Entry("ok", kFile), FakeAgent::Entry(name, kFile)});
    tree.files["/tmp/ok"] = "fine\n";
    tree.files["/tmp/" + name] = "planted\n";
    auto result = Take(tree);
    ExpectCleanFailure(result);
    if (result) {  // what the tar would have done
      ExtractSafely(result->file, "python" + std::to_string(i));
      ExtractSafely(result->file, "gnu" + std::to_string(i));
      fs::remove_all(SnapshotDir());
    }
    ++i;
  }
}

TEST_F(SnapshotFromFakeAgent, ForgedMountTableFailsTheSnapshot) {
  // The mount table names /../../../../x, and the listings play along: every directory holds `..`
  // and `x`, and x holds a file.
  FakeTree tree;
  tree.mountinfo += "86 80 0:49 / /../../../../x rw - tmpfs none rw\n";
  tree.dirs["/tmp"] = {};
  tree.other_dirs = [](const std::string& path) {
    if (path.ends_with("/x")) {
      return FakeReply::Of({FakeAgent::Listing({FakeAgent::Entry("planted", kFile)})});
    }
    return FakeReply::Of({FakeAgent::Listing({FakeAgent::Entry("..", kDir, 0755),
                                              FakeAgent::Entry("tmp", kDir, 01777),
                                              FakeAgent::Entry("x", kDir, 0755)})});
  };
  tree.files["/../../../../x/planted"] = "planted\n";
  auto result = Take(tree);
  ExpectCleanFailure(result, /*paused=*/false);  // refused before the pause
  if (result) {
    ExtractSafely(result->file, "python");
    ExtractSafely(result->file, "gnu");
  } else {
    EXPECT_THAT(result.error().message, HasSubstr("mount table"));
  }
}

TEST_F(SnapshotFromFakeAgent, LinksModesAndUnprintableNamesExtractSafely) {
  FakeTree tree = TmpTree({
      FakeAgent::Entry("abs", kLink, 0777, "/etc/cron.d/x"),
      FakeAgent::Entry("d", kDir, 07777),
      FakeAgent::Entry("escape", kLink, 0777, "../../../../../../etc/cron.d/x"),
      FakeAgent::Entry("fifo-\xff", v1::FileEntry::TYPE_OTHER, 0644),
      FakeAgent::Entry("middle", kLink, 0777, "d/../../../../x"),
      FakeAgent::Entry("newline\nname", kFile, 0644),
      FakeAgent::Entry("rel", kLink, 0777, "d/suid"),
      FakeAgent::Entry("sticky", kFile, 01777),
  });
  tree.dirs["/tmp/d"] = {FakeAgent::Entry("suid", kFile, 06755),
                         FakeAgent::Entry("up", kLink, 0777, "../../etc/passwd")};
  tree.files["/tmp/d/suid"] = "#!/bin/sh\nid\n";
  tree.files["/tmp/sticky"] = "s";
  tree.files["/tmp/newline\nname"] = "n";
  auto result = Take(tree);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(result->unsafe_links, ElementsAre("/tmp/escape", "/tmp/middle"));
  EXPECT_THAT(result->bad_names, ElementsAre("/tmp"));
  EXPECT_THAT(result->skipped, ElementsAre("/tmp/fifo-\xff"));  // not UTF-8: still described
  EXPECT_EQ(result->symlinks, 3u);                              // abs (rewritten), rel, d/up

  const fs::path python = ExtractSafely(result->file, "python");
  const fs::path gnu = ExtractSafely(result->file, "gnu");
  for (const fs::path& dest : {python, gnu}) {
    EXPECT_EQ(fs::read_symlink(dest / "fs/tmp/abs"), "../etc/cron.d/x");
    EXPECT_EQ(fs::read_symlink(dest / "fs/tmp/d/up"), "../../etc/passwd");
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest / "fs/tmp/escape")));
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest / "fs/tmp/middle")));
    EXPECT_EQ(fs::status(dest / "fs/tmp/d/suid").permissions(), static_cast<fs::perms>(0755));
    EXPECT_EQ(fs::status(dest / "fs/tmp/sticky").permissions(), static_cast<fs::perms>(0777));
    EXPECT_EQ(fs::status(dest / "fs/tmp/d").permissions(), static_cast<fs::perms>(01777));
    std::vector<std::string> names;
    for (const auto& f : fs::directory_iterator(dest / "fs/tmp")) {
      names.push_back(f.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    EXPECT_THAT(names, ElementsAre("abs", "d", "rel", "sticky"));
  }
  // The description and the audit record read back.
  std::vector<std::string> problems;
  auto listed = mvm::runtime::ListSnapshots(state_, "fake", problems);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_THAT(listed[0].unsafe_links, ElementsAre("/tmp/escape", "/tmp/middle"));
  EXPECT_THAT(problems, IsEmpty());
}

// Each listing of a directory below /tmp holds a directory `loop` again, ad infinitum.
FakeTree SelfContainingTree(std::vector<std::string> children = {"loop"}) {
  FakeTree tree = TmpTree({FakeAgent::Entry("loop", kDir, 0755)});
  tree.other_dirs = [children](const std::string&) {
    std::vector<v1::FileEntry> entries;
    for (const std::string& c : children) {
      entries.push_back(FakeAgent::Entry(c, kDir, 0755));
    }
    return FakeReply::Of({FakeAgent::Listing(entries)});
  };
  return tree;
}

TEST_F(SnapshotFromFakeAgent, ADirectoryListedInsideItselfIsBoundedByDepth) {
  const auto start = std::chrono::steady_clock::now();
  auto result = Take(SelfContainingTree());
  ExpectCleanFailure(result);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("lies more than 256 directories deep"));
  EXPECT_THAT(AuditText(), HasSubstr("directories deep"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(SnapshotFromFakeAgent, ABranchingLoopIsBoundedByBytesAndEntries) {
  mvm::runtime::SnapshotRequest request;
  request.limits.bytes = 1 << 20;
  request.limits.depth = 1000000;
  auto result = Take(SelfContainingTree({"a", "b", "c"}), request);
  ExpectCleanFailure(result);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("larger than 1048576 bytes"));

  request.limits.bytes = mvm::runtime::kMaxSnapshotBytes;
  request.limits.entries = 500;
  request.label = "entries";
  result = Take(SelfContainingTree({"a", "b", "c"}), request);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("more than 500 entries"));
}

TEST_F(SnapshotFromFakeAgent, ASlowLoopIsBoundedByTime) {
  mvm::runtime::SnapshotRequest request;
  request.limits.time = std::chrono::milliseconds(400);
  request.limits.depth = 1000000;
  FakeTree tree = SelfContainingTree();
  tree.listing_delay = std::chrono::milliseconds(20);
  const auto start = std::chrono::steady_clock::now();
  auto result = Take(tree, request);
  ExpectCleanFailure(result);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("took longer than 400 ms"));
  EXPECT_THAT(AuditText(), HasSubstr("took longer than 400 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(SnapshotFromFakeAgent, AnAnswerTrickledByteByByteIsCutAtTheDeadline) {
  // Every byte arrives well within the client's limit on silence, so only a deadline on the whole
  // answer ends it: 2,000 bytes 5 ms apart would take 10 s.
  mvm::runtime::SnapshotRequest request;
  request.limits.time = std::chrono::milliseconds(500);
  FakeTree tree = TmpTree({FakeAgent::Entry("big", kFile)});
  tree.files["/tmp/big"] = std::string(2000, 'x');
  const auto start = std::chrono::steady_clock::now();
  request.label = "trickle";
  auto result = Take(
      [tree](const v1::Request& r) {
        FakeReply reply = tree.Answer(r);
        if (r.has_file_read() && r.file_read().path() == "/tmp/big") {
          reply.trickle = std::chrono::milliseconds(5);
        }
        return reply;
      },
      request);
  ExpectCleanFailure(result);
  ASSERT_FALSE(result);
  EXPECT_THAT(result.error().message, HasSubstr("took longer than 500 ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

}  // namespace
