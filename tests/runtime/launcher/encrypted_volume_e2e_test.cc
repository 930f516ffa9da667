// `Volume.encrypted` end to end through the real mvmctl on the container backend: what one run
// writes the next reads, the state dir holds no plaintext, the store is bounded by size_mb, a
// foreign key fails clearly, and every end of a sandbox (run's end, stop, destroy, the launcher's
// death) unmounts the store; and once on the qemu-microvm backend, where virtiofsd serves the
// host-side plaintext view. Needs root, gocryptfs and fuse3 (scripts/bootstrap.sh).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "tests/runtime/launcher/volume_e2e.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::FilesHolding;
using mvm::testing::MountedBeneath;
using mvm::testing::Result;
using mvm::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "encrypted_volume.py";
constexpr char kMarker[] = "MVM-PLAINTEXT-MARKER";

class EncryptedVolumeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "root (the container backend and FUSE mounts need it)";
    }
    if (!mvm::os::FindProgram("gocryptfs")) {
      MVM_MISSING_PREREQUISITE() << "gocryptfs (scripts/bootstrap.sh installs gocryptfs and fuse3)";
    }
    dir_.emplace("mvm-encrypted-e2e");
    state_ = dir_->path();
    mvm::testing::UseSharedRootfsCache(state_);
    mounts_ = fs::weakly_canonical(state_) / "volumes" / "mounts";
  }
  // TempDir removes the state only when nothing is mounted inside it: a store a failed case left
  // mounted is never removed through its plaintext view.
  void TearDown() override {
    if (dir_) {
      Mvmctl({"destroy", "enc-up"});
    }
    dir_.reset();
  }

  Result Mvmctl(std::vector<std::string> args) {
    return mvm::testing::Mvmctl(std::move(args), "", state_);
  }
  Result Run(const std::string& entrypoint) {
    return Mvmctl({"run", kFixture.string(), "--entrypoint", entrypoint});
  }

  std::optional<mvm::testing::TempDir> dir_;
  fs::path state_;
  fs::path mounts_;
};

TEST_F(EncryptedVolumeE2E, PersistsAcrossRunsSealedBoundedAndOnlyWithItsKey) {
  Result write = Run("write");
  ASSERT_EQ(write.status, 0) << Describe(write);
  EXPECT_THAT(write.out, HasSubstr("wrote"));
  EXPECT_FALSE(MountedBeneath(mounts_)) << "the run's end unmounts the store";

  // A second sandbox, a fresh mount: the file is there, and the sandbox's root owns it.
  Result read = Run("read");
  ASSERT_EQ(read.status, 0) << Describe(read);
  EXPECT_THAT(read.out, HasSubstr(std::string(kMarker) + "-7f3a\n"));
  EXPECT_THAT(read.out, HasSubstr("owner=0\n"));
  EXPECT_FALSE(MountedBeneath(mounts_));

  // The store is under the state dir, and nothing there (image, logs, plans, audit) holds the
  // plaintext; the search does find the marker where it is plaintext (it can fail).
  EXPECT_TRUE(fs::exists(state_ / "volumes" / "encrypted-fs" / "e2e-notes" / "store.img"));
  EXPECT_THAT(FilesHolding(state_, kMarker), ::testing::IsEmpty());
  const fs::path plain = state_ / "plain-probe";
  std::ofstream(plain) << "x" << kMarker << "y";
  EXPECT_EQ(FilesHolding(state_, kMarker), std::vector<fs::path>{plain});
  fs::remove(plain);

  // size_mb bounds the store: 32 MiB does not fit in 8.
  Result fill = Run("fill");
  EXPECT_EQ(fill.status, 0) << Describe(fill);
  EXPECT_THAT(fill.out, HasSubstr("No space left on device"));
  EXPECT_THAT(fill.out, Not(HasSubstr("dd-status=0")));

  // Another key (the secret replaced) does not open it; the error names the secret, not a value.
  const std::string foreign(64, 'a');
  Result set = mvm::testing::Mvmctl({"secret", "set", "volume-e2e-notes"}, foreign, state_);
  ASSERT_EQ(set.status, 0) << Describe(set);
  Result refused = Run("read");
  EXPECT_NE(refused.status, 0) << Describe(refused);
  EXPECT_THAT(refused.err, HasSubstr("its key, secret `volume-e2e-notes`, does not open"));
  EXPECT_THAT(refused.err, Not(HasSubstr(foreign)));
  EXPECT_THAT(refused.out, Not(HasSubstr(kMarker)));
  EXPECT_FALSE(MountedBeneath(mounts_));
  EXPECT_FALSE(fs::exists(mounts_ / "enc-up"));
}

TEST_F(EncryptedVolumeE2E, StopDestroyAndTheLaunchersDeathUnmountIt) {
  Result up = Mvmctl({"up", kFixture.string(), "--name", "enc-up", "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_TRUE(MountedBeneath(mounts_ / "enc-up"));
  Result exec =
      Mvmctl({"exec", "enc-up", "--", "sh", "-c", "echo via-exec > /notes/e && cat /notes/e"});
  EXPECT_EQ(exec.status, 0) << Describe(exec);
  EXPECT_EQ(exec.out, "via-exec\n");
  // One sandbox at a time: a second one is refused, naming the store.
  Result second = Run("read");
  EXPECT_NE(second.status, 0) << Describe(second);
  EXPECT_THAT(second.err, HasSubstr("volume `e2e-notes` (encrypted) is mounted already"));

  Result stop = Mvmctl({"stop", "enc-up"});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_FALSE(MountedBeneath(mounts_ / "enc-up"));
  EXPECT_FALSE(fs::exists(mounts_ / "enc-up"));
  Result destroy = Mvmctl({"destroy", "enc-up"});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);

  // The launcher killed with SIGKILL mid-run: its watchdog unmounts the store.
  auto child =
      mvm::testing::StartMvmctl({"run", kFixture.string(), "--entrypoint", "idle"}, state_);
  ASSERT_TRUE(WaitFor([&] { return MountedBeneath(mounts_); }, std::chrono::seconds(60)))
      << "the run never mounted the store";
  ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  EXPECT_TRUE(WaitFor([&] { return !MountedBeneath(mounts_); }, std::chrono::seconds(20)))
      << "the watchdog left the store mounted";
  // The view goes before the store's image, and the watchdog's last step is its `destroy`: only
  // then is the store free for another sandbox (a run started in between is refused, naming it).
  EXPECT_TRUE(WaitFor(
      [&] {
        std::ifstream log(state_ / "audit.jsonl");
        std::string line;
        while (std::getline(log, line)) {
          if (line.find("\"event\":\"destroy\"") != std::string::npos &&
              line.find("\"reason\":\"parent died\"") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(20)))
      << "the watchdog never recorded its destroy";
  // And the store opens again afterwards, with what the first sandbox wrote.
  Result list = Run("list");
  EXPECT_EQ(list.status, 0) << Describe(list);
  EXPECT_THAT(list.out, HasSubstr("e\n"));
}

// The suite's cases a workload can run itself (tests/fixtures/runtime/volume_conformance/), from
// inside a container on the gocryptfs view: names, hard links, concurrent writers, rename
// atomicity, a large file, permissions. The host-side cases run on the same view in
// tests/runtime/volumes/conformance_test.cc (`*/gocryptfs_view`).
TEST_F(EncryptedVolumeE2E, TheConformanceCasesAWorkloadCanRunPassInsideTheContainer) {
  const fs::path fixture = fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" /
                           "volume_conformance" / "conformance.py";
  Result run = Mvmctl({"run", fixture.string(), "--entrypoint", "run"});
  ASSERT_EQ(run.status, 0) << Describe(run);
  for (const char* name : {"unicode-names", "long-names", "hard-links", "concurrent-directory",
                           "concurrent-file", "rename-atomic", "large-file", "permissions"}) {
    EXPECT_THAT(run.out, HasSubstr(std::string("ok ") + name + "\n")) << run.out;
  }
  EXPECT_THAT(run.out, Not(HasSubstr("FAIL")));
  EXPECT_THAT(run.out, HasSubstr("conformance-done"));
  EXPECT_FALSE(MountedBeneath(mounts_));

  // The workload's own operations reached the audit log, counted by the volume-audit helper
  // (runtime/launcher/volume_watch.cc): attach, the counts, detach, and a chain that verifies.
  mvm::testing::VolumeCounts counts =
      mvm::testing::ReadVolumeCounts(state_, "encrypted:e2e-conformance", "données");
  EXPECT_TRUE(counts.attached);
  EXPECT_TRUE(counts.detached);
  EXPECT_FALSE(counts.holds_forbidden) << "no path in a record";
  // 100 files in one directory alone, and the tree removed at the end; the 24 renames land on two
  // names, and each counts (mount_watch.h: inotify, not fanotify, which merged them).
  EXPECT_GE(counts.count["create"], 100u);
  EXPECT_GE(counts.count["write"], 100u);
  EXPECT_EQ(counts.count["rename"], 24u);
  EXPECT_GE(counts.count["delete"], 100u);
  EXPECT_FALSE(counts.at_least["rename"]);
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

// The microVM gets the same host-side view over virtio-fs. One case, three boots (labelled
// microvm_boot, runtime/launcher/CMakeLists.txt): a run writes, an `up` reads it back through
// `exec` and `stop` unmounts, and a run killed with SIGKILL is unmounted by its watchdog.
TEST(EncryptedVolumeE2EMicrovm, PersistsAcrossBootsHoldsNoPlaintextAndEveryEndUnmountsIt) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "root (FUSE mounts and virtiofsd's confinement need it)";
  }
  if (!mvm::os::FindProgram("gocryptfs")) {
    MVM_MISSING_PREREQUISITE() << "gocryptfs (scripts/bootstrap.sh installs gocryptfs and fuse3)";
  }
  const fs::path state = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state";
  mvm::testing::UseSharedRootfsCache(state);
  const fs::path mounts = fs::weakly_canonical(state) / "volumes" / "mounts";
  // A store of its own, so that one left by an earlier run cannot pass the read; the project lives
  // outside the state dir, which would otherwise ship to /app.
  const std::string store = "vm-notes-" + std::to_string(::getpid());
  mvm::testing::TempDir project("mvm-encrypted-vm");
  const fs::path source = project.path() / "notes.py";
  std::ofstream(source)
      << "from mvm import Volume, entrypoint, workload\n\n"
         "@workload(\"vm-notes\", image=\"template:busybox\", timeout_seconds=60,\n"
         "          volumes=[Volume.encrypted(\""
      << store
      << "\", \"/notes\", size_mb=8)])\n"
         "class Notes:\n"
         "    @entrypoint(\"write\", command=[\"sh\", \"-c\", \"printf "
         "'MVM-PLAIN%s-7f3a\\\\n' TEXT-MARKER > /notes/kept.txt && echo wrote\"])\n"
         "    def write(self): ...\n\n"
         "    @entrypoint(\"idle\", command=[\"sh\", \"-c\", \"exec sleep 600\"])\n"
         "    def idle(self): ...\n";
  auto mvmctl = [&](std::vector<std::string> args) {
    return mvm::testing::Mvmctl(std::move(args), "", state);
  };
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    mvmctl({"destroy", "enc-vm"});
    std::error_code ec;
    if (!MountedBeneath(mounts)) {
      fs::remove_all(state / "volumes" / "encrypted-fs" / store, ec);
    }
    mvmctl({"secret", "rm", "volume-" + store});
  }};

  Result write =
      mvmctl({"run", source.string(), "--entrypoint", "write", "--backend", "qemu-microvm"});
  ASSERT_EQ(write.status, 0) << Describe(write);
  EXPECT_THAT(write.out, HasSubstr("wrote"));
  EXPECT_FALSE(MountedBeneath(mounts)) << "the run's end unmounts the store";

  Result up =
      mvmctl({"up", source.string(), "--name", "enc-vm", "--detach", "--backend", "qemu-microvm"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_TRUE(MountedBeneath(mounts / "enc-vm"));
  Result read = mvmctl({"exec", "enc-vm", "--", "sh", "-c",
                        "cat /notes/kept.txt && stat -c 'owner=%u' /notes/kept.txt"});
  EXPECT_EQ(read.status, 0) << Describe(read);
  EXPECT_EQ(read.out, std::string(kMarker) + "-7f3a\nowner=0\n");
  Result stop = mvmctl({"stop", "enc-vm"});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_FALSE(MountedBeneath(mounts / "enc-vm"));
  EXPECT_FALSE(fs::exists(mounts / "enc-vm"));
  Result destroy = mvmctl({"destroy", "enc-vm"});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);

  // Nothing the runs left (the store's image, the sandboxes' extras images, logs, audit) holds
  // the plaintext; a planted copy is found, so the search can fail.
  EXPECT_TRUE(fs::exists(state / "volumes" / "encrypted-fs" / store / "store.img"));
  EXPECT_THAT(FilesHolding(state, kMarker), ::testing::IsEmpty());
  const fs::path plain = state / "volumes" / "plain-probe";
  std::ofstream(plain) << "x" << kMarker << "y";
  EXPECT_EQ(FilesHolding(state, kMarker), std::vector<fs::path>{plain});
  fs::remove(plain);

  auto child = mvm::testing::StartMvmctl(
      {"run", source.string(), "--entrypoint", "idle", "--backend", "qemu-microvm"}, state);
  ASSERT_TRUE(WaitFor([&] { return MountedBeneath(mounts); }, std::chrono::seconds(120)))
      << "the run never mounted the store";
  ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  EXPECT_TRUE(WaitFor([&] { return !MountedBeneath(mounts); }, std::chrono::seconds(30)))
      << "the watchdog left the store mounted";
}

}  // namespace
