// `Volume.object` mounted end to end through the real mvmctl on the container backend, against
// s3rver on 127.0.0.1: s3fs mounts the prefix on the host and the backend binds it. What one run
// writes is an object that the next run (and `mvmctl fs`) reads; the credentials reach s3fs only
// through a file that is gone once it has mounted, never the workload, an argv or an environment;
// wrong credentials fail the start clearly; stop and the end of a run unmount it. Needs root,
// s3fs and fuse3, and s3rver (scripts/bootstrap.sh).

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "tests/runtime/launcher/volume_e2e.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::MountedBeneath;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

// s3rver accepts only its own key pair; the secret key is the part that must never show.
constexpr char kKeyId[] = "S3RVER";
constexpr char kSecretKey[] = "S3RVER";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The host s3fs processes whose command line names `needle`.
std::vector<pid_t> S3fsNaming(const std::string& needle) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const std::string cmdline = ReadAll(entry.path() / "cmdline");
    if (cmdline.starts_with(std::string("s3fs\0", 5)) &&
        cmdline.find(needle) != std::string::npos) {
      found.push_back(std::stoi(name));
    }
  }
  return found;
}

/// A workload with `Volume.object(url, "/data", …, mode="rw")` at `path`: `write` makes a file, a
/// directory with a file in it and renames the first; `read-back` prints them; `read` adds what the
/// container case checks of the sandbox (ownership, hard links, environments, the mount); `idle`.
/// `workload_args` go into @workload.
void WriteObjectsSource(const fs::path& path, const std::string& url, const std::string& endpoint,
                        const std::string& secret, const std::string& workload_args) {
  fs::create_directories(path.parent_path());
  std::ofstream(path)
      << "from mvm import SecretRef, Volume, entrypoint, workload\n\n"
         "@workload(\"objects\", image=\"template:busybox\""
      << workload_args
      << ",\n"
         "          timeout_seconds=60,\n"
         "          volumes=[Volume.object(\""
      << url << "\", \"/data\", endpoint=\"" << endpoint
      << "\",\n"
         "                                 credentials=SecretRef(\""
      << secret
      << "\"), mode=\"rw\")])\n"
         "class Objects:\n"
         "    @entrypoint(\"write\", command=[\"sh\", \"-c\", \"echo first > /data/a.txt && "
         "mkdir /data/sub && echo second > /data/sub/b.txt && mv /data/a.txt /data/c.txt && "
         "echo wrote\"])\n"
         "    def write(self): ...\n\n"
         "    @entrypoint(\"read-back\", command=[\"sh\", \"-c\", \"cat /data/c.txt "
         "/data/sub/b.txt && ls /data\"])\n"
         "    def read_back(self): ...\n\n"
         "    @entrypoint(\"read\", command=[\"sh\", \"-c\", \"cat /data/c.txt /data/sub/b.txt "
         "&& "
         "ls /data && stat -c 'owner=%u' /data/c.txt && (ln /data/c.txt /data/d.txt 2>/dev/null "
         "|| echo no-hardlink) && cat /proc/1/environ /proc/self/environ | tr '\\\\0' '\\\\n' "
         "&& grep -h s3fs /proc/mounts | cut -d' ' -f1-4\"])\n"
         "    def read(self): ...\n\n"
         "    @entrypoint(\"idle\", command=[\"sh\", \"-c\", \"exec sleep 600\"])\n"
         "    def idle(self): ...\n";
}

class ObjectVolumeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "root (the container backend and FUSE mounts need it)";
    }
    if (!mvm::os::FindProgram("s3fs")) {
      MVM_MISSING_PREREQUISITE() << "s3fs (scripts/bootstrap.sh installs s3fs and fuse3)";
    }
    if (!fs::exists(mvm::testing::S3rver::Program())) {
      MVM_MISSING_PREREQUISITE() << "s3rver is not installed; run scripts/bootstrap.sh";
    }
    dir_.emplace("mvm-object-e2e");
    state_ = dir_->path() / "state";
    mvm::testing::UseSharedRootfsCache(state_);
    mounts_ = fs::weakly_canonical(state_) / "volumes" / "mounts";
    mvm::testing::StartS3rverWithKeys(dir_->path() / "s3rver", "e2e-bucket", state_, "e2e-keys",
                                      s3_);
    if (HasFatalFailure()) {
      return;
    }
    // Outside the state dir, which would otherwise ship to /app.
    source_ = dir_->path() / "project" / "objects.py";
    WriteObjectsSource(source_, "s3://e2e-bucket/run-1", s3_->endpoint(), "e2e-keys",
                       ", isolation=\"container\"");
  }
  void TearDown() override {
    if (dir_) {
      Mvmctl({"destroy", "obj-up"});
    }
    s3_.reset();
    dir_.reset();
  }

  Result Mvmctl(std::vector<std::string> args, const std::string& in = "") {
    return mvm::testing::Mvmctl(std::move(args), in, state_);
  }
  Result Run(const std::string& entrypoint) {
    return Mvmctl({"run", source_.string(), "--entrypoint", entrypoint});
  }

  std::optional<mvm::testing::TempDir> dir_;
  std::optional<mvm::testing::S3rver> s3_;
  fs::path state_;
  fs::path mounts_;
  fs::path source_;
};

TEST_F(ObjectVolumeE2E, WritesAreObjectsTheNextRunReadsAndTheKeysReachOnlyS3fs) {
  Result write = Run("write");
  ASSERT_EQ(write.status, 0) << Describe(write);
  EXPECT_THAT(write.out, HasSubstr("wrote"));
  EXPECT_FALSE(MountedBeneath(mounts_)) << "the run's end unmounts the volume";
  // What the workload did on the s3fs mount reached the audit, creates and the rename included
  // (inotify on the view: mount_watch.h).
  mvm::testing::VolumeCounts counts =
      mvm::testing::ReadVolumeCounts(state_, "object:s3://e2e-bucket/run-1", "a.txt");
  EXPECT_TRUE(counts.detached);
  EXPECT_FALSE(counts.holds_forbidden) << "no path in a record";
  EXPECT_EQ(counts.count["create"], 3u);
  EXPECT_EQ(counts.count["rename"], 1u);
  EXPECT_EQ(counts.count["write"], 2u);

  // The files are objects under the prefix: `mvmctl fs` reads them through the S3 API.
  Result fetched = Mvmctl({"fs", "s3://e2e-bucket/run-1", "read", "sub/b.txt", "--endpoint",
                           s3_->endpoint(), "--credentials", "e2e-keys"});
  EXPECT_EQ(fetched.status, 0) << Describe(fetched);
  EXPECT_EQ(fetched.out, "second\n");

  Result read = Run("read");
  ASSERT_EQ(read.status, 0) << Describe(read);
  EXPECT_THAT(read.out, HasSubstr("first\nsecond\nc.txt\nsub\nowner=0\nno-hardlink\n"));
  EXPECT_THAT(read.out, Not(HasSubstr("a.txt")));
  // Inside: the mount is a FUSE file system; no environment holds a key.
  EXPECT_THAT(read.out, HasSubstr("s3fs /data fuse.s3fs rw,"));
  EXPECT_THAT(read.out, Not(HasSubstr(std::string(kKeyId) + ":")));
  EXPECT_THAT(read.out, Not(HasSubstr("AWS")));

  // While a sandbox has it mounted: s3fs's argv and environment hold no key, and the credentials
  // file is gone from the root-only mount directory.
  Result up = Mvmctl({"up", source_.string(), "--name", "obj-up", "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_TRUE(MountedBeneath(mounts_ / "obj-up"));
  const std::vector<pid_t> s3fs = S3fsNaming((mounts_ / "obj-up").string());
  ASSERT_EQ(s3fs.size(), 1u);
  const std::string cmdline = ReadAll("/proc/" + std::to_string(s3fs[0]) + "/cmdline");
  const std::string environ = ReadAll("/proc/" + std::to_string(s3fs[0]) + "/environ");
  // (s3fs splits its BUCKET:/PREFIX argument in place.)
  EXPECT_THAT(cmdline, HasSubstr(std::string("e2e-bucket\0/run-1", 17)));
  EXPECT_THAT(cmdline, Not(HasSubstr(std::string(kKeyId) + ":" + kSecretKey)));
  EXPECT_THAT(environ, Not(HasSubstr(kSecretKey)));
  size_t volume_dirs = 0;
  for (const auto& dir : fs::directory_iterator(mounts_ / "obj-up")) {
    ++volume_dirs;
    EXPECT_FALSE(fs::exists(dir.path() / "s3fs.passwd")) << dir.path();
    EXPECT_EQ(fs::status(dir.path()).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << dir.path();
  }
  EXPECT_EQ(volume_dirs, 1u);
  Result exec = Mvmctl({"exec", "obj-up", "--", "cat", "/data/c.txt"});
  EXPECT_EQ(exec.status, 0) << Describe(exec);
  EXPECT_EQ(exec.out, "first\n");
  Result stop = Mvmctl({"stop", "obj-up"});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_FALSE(MountedBeneath(mounts_ / "obj-up"));
  EXPECT_FALSE(fs::exists(mounts_ / "obj-up"));

  // Wrong keys fail the start, naming the secret and what the server said, never the value.
  Result reset = Mvmctl({"secret", "set", "e2e-keys"}, "WRONGKEYID:wrong-secret-value");
  ASSERT_EQ(reset.status, 0) << Describe(reset);
  Result refused = Run("read");
  EXPECT_NE(refused.status, 0) << Describe(refused);
  EXPECT_THAT(refused.err, HasSubstr("e2e-bucket"));
  EXPECT_THAT(refused.err, Not(HasSubstr("wrong-secret-value")));
  EXPECT_FALSE(MountedBeneath(mounts_));
}

// The qemu-microvm backend gets the host's s3fs view over virtio-fs (one case, two boots,
// labelled microvm_boot in runtime/launcher/CMakeLists.txt): what one run writes is an object the
// next run reads back, and the workload's creates and rename through virtiofsd reach the audit.
TEST(ObjectVolumeE2EMicrovm, WritesInOneBootAreObjectsTheNextBootReads) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "root (FUSE mounts and virtiofsd's confinement need it)";
  }
  if (!mvm::os::FindProgram("s3fs")) {
    MVM_MISSING_PREREQUISITE() << "s3fs (scripts/bootstrap.sh installs s3fs and fuse3)";
  }
  if (!fs::exists(mvm::testing::S3rver::Program())) {
    MVM_MISSING_PREREQUISITE() << "s3rver is not installed; run scripts/bootstrap.sh";
  }
  const fs::path state = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state";
  mvm::testing::UseSharedRootfsCache(state);
  const fs::path mounts = fs::weakly_canonical(state) / "volumes" / "mounts";
  mvm::testing::TempDir dir("mvm-object-vm");
  std::optional<mvm::testing::S3rver> s3;
  const std::string secret = "vm-object-keys-" + std::to_string(::getpid());
  mvm::testing::StartS3rverWithKeys(dir.path() / "s3rver", "vm-bucket", state, secret, s3);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] { mvm::testing::Mvmctl({"secret", "rm", secret}, "", state); }};
  // A prefix of its own: the shared state's audit log holds earlier runs' counts.
  const std::string url = "s3://vm-bucket/run-" + std::to_string(::getpid());
  const fs::path source = dir.path() / "project" / "objects.py";
  WriteObjectsSource(source, url, s3->endpoint(), secret, "");
  auto run = [&](const std::string& entrypoint) {
    return mvm::testing::Mvmctl(
        {"run", source.string(), "--entrypoint", entrypoint, "--backend", "qemu-microvm"}, "",
        state);
  };

  Result write = run("write");
  ASSERT_EQ(write.status, 0) << Describe(write);
  EXPECT_THAT(write.out, HasSubstr("wrote"));
  EXPECT_FALSE(MountedBeneath(mounts)) << "the run's end unmounts the volume";
  Result fetched = mvm::testing::Mvmctl(
      {"fs", url, "read", "c.txt", "--endpoint", s3->endpoint(), "--credentials", secret}, "",
      state);
  EXPECT_EQ(fetched.status, 0) << Describe(fetched);
  EXPECT_EQ(fetched.out, "first\n");

  Result read = run("read-back");
  ASSERT_EQ(read.status, 0) << Describe(read);
  EXPECT_THAT(read.out, HasSubstr("first\nsecond\nc.txt\nsub\n"));
  EXPECT_FALSE(MountedBeneath(mounts));

  mvm::testing::VolumeCounts counts = mvm::testing::ReadVolumeCounts(state, "object:" + url);
  EXPECT_TRUE(counts.attached);
  EXPECT_TRUE(counts.detached);
  EXPECT_EQ(counts.count["create"], 3u);
  EXPECT_EQ(counts.count["rename"], 1u);
  EXPECT_GE(counts.count["write"], 2u);
  EXPECT_GE(counts.count["read"], 2u);
}

}  // namespace
