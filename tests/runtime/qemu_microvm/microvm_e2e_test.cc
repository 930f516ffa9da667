// End to end on the qemu-microvm backend: the real mvmctl booting real microVMs (TCG on machines
// where KVM does not boot a guest), for what only this backend has: the accelerator, qemu's
// confinement, virtio-fs volumes. What every backend must do (snapshots and warm pools too) is in
// tests/runtime/conformance. Every `run` boots a VM of its own (1.5 to 3 s under TCG), so
// the lifecycle cases share one VM. The state directory, with the guest kernel, the root images
// and the template trees, is shared by the tests of one build directory.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/agent/client.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"
#include "tests/support/audit_records.h"
#include "tests/support/files.h"
#include "tests/support/http_get.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/processes.h"
#include "tests/support/terminal_mvmctl.h"

namespace {

namespace fs = std::filesystem;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";
const fs::path kExamples = fs::path(MVM_SOURCE_DIR) / "examples";

using mvm::testing::Describe;
using mvm::testing::Result;

fs::path State() { return fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state"; }

Result Mvmctl(std::vector<std::string> args, const std::string& stdin_data = "") {
  return mvm::testing::Mvmctl(std::move(args), stdin_data, State());
}

/// Whether `sh -c script` in sandbox `name` prints exactly `expected` within 10 s, asked every
/// 100 ms: for what the guest sees of a host change only once a cache expires.
::testing::AssertionResult GuestSees(const std::string& name, const std::string& script,
                                     const std::string& expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  Result r;
  do {
    r = Mvmctl({"exec", name, "--", "sh", "-c", script});
    if (r.status == 0 && r.out == expected) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return ::testing::AssertionFailure()
         << "`" << script << "` never printed `" << expected << "`; last: " << Describe(r);
}

Result RunVm(const std::string& workload, const std::string& entrypoint = "",
             const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"run",          kFixture.string(), "--backend",
                                   "qemu-microvm", "--workload",      workload};
  if (!entrypoint.empty()) {
    args.insert(args.end(), {"--entrypoint", entrypoint});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return Mvmctl(args);
}

/// qemu processes whose command line names this test's state directory.
std::vector<pid_t> OurQemus() {
  return mvm::testing::ProcessesWhose([](const std::string& cmdline) {
    return cmdline.rfind("qemu-system-x86_64", 0) == 0 &&
           cmdline.find(State().string()) != std::string::npos;
  });
}

class MicrovmE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mvm::runtime::qemu_microvm::QemuAvailable()) {
      MVM_MISSING_PREREQUISITE()
          << "qemu-system-x86_64 is not installed (Debian package qemu-system-x86); the "
             "qemu-microvm backend cannot be tested here";
    }
    // The template trees are shared with the launcher's tests (and the other preset's): python-3.11
    // takes a minute or two to build.
    mvm::testing::UseSharedRootfsCache(State());
  }
};

// What every backend does is tests/runtime/conformance's; this is what only a VM has.
TEST_F(MicrovmE2E, RunSaysWhichAcceleratorAndTheBootPhases) {
  Result r = RunVm("echo-args", "", {"-v", "--", "one", "two words"});
  EXPECT_EQ(r.status, 7) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("backend qemu-microvm, acceleration "));
  EXPECT_THAT(r.err, HasSubstr("guest agent ready"));
  EXPECT_THAT(r.err, HasSubstr("first exec result"));
  std::ifstream audit(State() / "audit.jsonl");
  std::stringstream log;
  log << audit.rdbuf();
  EXPECT_THAT(log.str(), HasSubstr("\"acceleration\":"));
}

/// mvmctl with its stderr on a new pseudo-terminal (its controlling terminal) when `terminal`,
/// else on a pipe, and stdout on a pipe; under TCG whatever the host has, so that the note is due.
Result MvmctlOnTerminal(std::vector<std::string> args, bool terminal) {
  args = mvm::testing::MvmctlArgv(std::move(args), State());
  int master = -1;
  int slave = -1;
  int err[2] = {-1, -1};
  if (terminal) {
    EXPECT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
    err[0] = master;
    err[1] = slave;
  } else {
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  }
  int out[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    if (terminal) {
      ::ioctl(slave, TIOCSCTTY, 0);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::setenv("MVM_QEMU_ACCEL", "tcg", 1);
    mvm::testing::ExecOrExit(args);
  }
  ::close(out[1]);
  ::close(err[1]);
  Result r;
  // The terminal's master reads EIO once the last holder of the slave is gone: the end.
  mvm::testing::Drain(out[0], err[0], r.out, r.err);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Issue 22: a microVM under TCG says so, once and without -v, to a person at a terminal; and the
// boot shows progress there. Neither reaches a pipe or --format=json output.
TEST_F(MicrovmE2E, TcgIsSaidOnceOnATerminalOnlyAndNotInJson) {
  const std::string note = "note: the microVM runs under TCG emulation";
  const std::vector<std::string> run = {"run",          kFixture.string(), "--backend",
                                        "qemu-microvm", "--workload",      "echo-args"};
  Result tty = MvmctlOnTerminal(run, /*terminal=*/true);
  EXPECT_EQ(tty.status, 7) << Describe(tty);
  EXPECT_THAT(tty.err, HasSubstr(note)) << Describe(tty);
  EXPECT_EQ(tty.err.find(note), tty.err.rfind(note)) << "said more than once: " << Describe(tty);
  // A TCG boot takes longer than the second after which a step shows (cli/terminal_progress.h).
  EXPECT_THAT(tty.err, HasSubstr("mvmctl run: booting the microVM… ")) << Describe(tty);

  Result piped = MvmctlOnTerminal(run, /*terminal=*/false);
  EXPECT_EQ(piped.status, 7) << Describe(piped);
  EXPECT_THAT(piped.err, Not(HasSubstr(note))) << Describe(piped);
  EXPECT_THAT(piped.err, Not(HasSubstr("booting the microVM"))) << Describe(piped);

  const std::string name = "tcg-note-json";
  Result up = MvmctlOnTerminal({"up", kFixture.string(), "--backend", "qemu-microvm", "--workload",
                                "idle", "--name", name, "--detach", "--format=json"},
                               /*terminal=*/true);
  (void)Mvmctl({"stop", name});
  EXPECT_EQ(up.status, 0) << Describe(up);
  EXPECT_THAT(up.err, Not(HasSubstr(note))) << Describe(up);
  EXPECT_THAT(up.err, Not(HasSubstr("booting the microVM"))) << Describe(up);
  EXPECT_TRUE(nlohmann::json::accept(up.out)) << Describe(up);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The value of `key` (e.g. "CapEff") in /proc/<pid>/status text, or "".
std::string StatusField(const std::string& status, const std::string& key) {
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      size_t at = line.find_first_not_of(" \t", key.size() + 1);
      return at == std::string::npos ? "" : line.substr(at);
    }
  }
  return "";
}

// Issue 14, item 13 and the microVM half of item 6, as attacks on one VM (each boot is seconds of
// emulation): the host's qemu is an unprivileged, seccomp-filtered process in namespaces of its
// own; a workload in the guest has no device or capability that reaches the guest's kernel, nor
// PID 1's memory; a guest that floods its serial console leaves a bounded console.log.
TEST_F(MicrovmE2E, QemuIsConfinedTheWorkloadIsUnprivilegedAndTheConsoleIsBounded) {
  const std::string name = "vm-confined";
  Mvmctl({"destroy", name});
  Result up = Mvmctl({"up", kFixture.string(), "--backend", "qemu-microvm", "--workload", "idle",
                      "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);

  // qemu, seen from the host.
  std::vector<pid_t> qemus = OurQemus();
  ASSERT_EQ(qemus.size(), 1u);
  const fs::path proc = fs::path("/proc") / std::to_string(qemus[0]);
  const std::string status = ReadFile(proc / "status");
  std::istringstream uids(StatusField(status, "Uid"));
  std::istringstream gids(StatusField(status, "Gid"));
  for (int i = 0; i < 4; ++i) {
    long uid = -1, gid = -1;
    uids >> uid;
    gids >> gid;
    EXPECT_GT(uid, 0) << status;
    EXPECT_GT(gid, 0) << status;
  }
  EXPECT_EQ(StatusField(status, "Groups"), "") << "no supplementary groups";
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(StatusField(status, set), "0000000000000000") << set << "\n" << status;
  }
  EXPECT_EQ(StatusField(status, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(status, "Seccomp"), "2") << "qemu's -sandbox filter";
  for (const char* ns : {"mnt", "pid", "net", "ipc", "uts", "cgroup"}) {
    std::error_code ec;
    EXPECT_NE(fs::read_symlink(proc / "ns" / ns, ec),
              fs::read_symlink("/proc/self/ns/" + std::string(ns)))
        << ns << " namespace shared with the host";
  }
  // It is the init of its pid namespace: no other process is in its reach.
  EXPECT_THAT(StatusField(status, "NSpid"), EndsWith("\t1")) << status;

  // A workload in the guest: no kernel-reaching capability, no dangerous node, no PID 1 memory.
  Result probe =
      Mvmctl({"exec", name, "--", "sh", "-c",
              "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; "
              "for f in /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/console /dev/ttyS0 /dev/vda "
              "/proc/1/mem /proc/kcore; do (: < $f) 2>/dev/null && echo OPENED $f; done; "
              "echo x > /dev/kmsg 2>/dev/null && echo WROTE-KMSG; "
              "mknod /tmp/mem c 1 1 2>/dev/null && echo MADE-NODE; "
              "mkdir -p /tmp/d && mount -t devtmpfs none /tmp/d 2>/dev/null && echo MOUNTED; "
              "ls /dev; true"});
  ASSERT_EQ(probe.status, 0) << Describe(probe);
  EXPECT_THAT(probe.out, Not(HasSubstr("OPENED"))) << probe.out;
  EXPECT_THAT(probe.out, Not(HasSubstr("WROTE-KMSG")));
  EXPECT_THAT(probe.out, Not(HasSubstr("MADE-NODE")));
  EXPECT_THAT(probe.out, Not(HasSubstr("MOUNTED")));
  EXPECT_THAT(probe.out, HasSubstr("NoNewPrivs:\t1"));
  for (const char* set : {"CapEff", "CapBnd"}) {
    const uint64_t caps = std::stoull(StatusField(probe.out, set), nullptr, 16);
    for (int cap : {21 /*SYS_ADMIN*/, 16 /*SYS_MODULE*/, 17 /*SYS_RAWIO*/, 22 /*SYS_BOOT*/,
                    19 /*SYS_PTRACE*/, 34 /*SYSLOG*/, 12 /*NET_ADMIN*/, 27 /*MKNOD*/,
                    25 /*SYS_TIME*/, 39 /*BPF*/, 38 /*PERFMON*/, 2 /*DAC_READ_SEARCH*/}) {
      EXPECT_EQ(caps & (uint64_t{1} << cap), 0u) << set << " has capability " << cap;
    }
  }

  // A guest that floods its serial console. The workload has no console node, but root in the
  // guest may still trigger sysrq, whose help text (about 400 bytes) the kernel prints on the
  // console whatever the log level: about 1.2 MB here, over the bound.
  Result flood = Mvmctl({"exec", name, "--", "sh", "-c",
                         "i=0; while [ $i -lt 3000 ]; do echo h > /proc/sysrq-trigger; "
                         "i=$((i+1)); done"});
  EXPECT_EQ(flood.status, 0) << Describe(flood);
  const fs::path console = State() / "sandboxes" / name / "console.log";
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    text = ReadFile(console);
  } while (text.find("bytes of console output dropped here") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_LE(text.size(), mvm::runtime::qemu_microvm::kConsoleMaxBytes);
  EXPECT_THAT(text, HasSubstr("bytes of console output dropped here"));
  EXPECT_THAT(text, HasSubstr("agent listening at boot+")) << "the boot stays in the head";
  EXPECT_THAT(text.substr(text.size() - std::min<size_t>(text.size(), 4096)), HasSubstr("HELP"));

  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  EXPECT_TRUE(OurQemus().empty());
}

// The accelerator probe boots the real kernel in a qemu confined as a sandbox's is. This host has
// no usable KVM, so the probe runs under TCG here: what it shows is that the confined probe (its
// descriptors, its console socket, its namespaces) still reaches the guest's init and reads its
// report, which a KVM probe needs just the same.
TEST_F(MicrovmE2E, TheAcceleratorProbeBootsItsConfinedQemuToInit) {
  namespace qm = mvm::runtime::qemu_microvm;
  auto files = mvm::runtime::guest::EnsureBootFiles(
      State() / "guest", fs::path(MVM_MVMCTL_PATH).parent_path() / "mvm-agent", nullptr);
  ASSERT_TRUE(files) << files.error().message;
  const fs::path scratch = State() / "probe-test";
  EXPECT_TRUE(
      qm::ProbeBoot(files->vmlinux, files->initramfs, "tcg", scratch, std::chrono::seconds(60)))
      << ReadFile(scratch / "probe-console.log");
  fs::remove_all(scratch);
}

/// A project directory with `vol.py` declaring workload `rw` (a read-write volume `./data` at
/// /data) and `ro` (the same directory read-only), and a file outside the volume the guest must not
/// reach. Removed with the object.
class VolumeProject {
 public:
  VolumeProject() : dir_(fs::temp_directory_path() / ("mvm-vm-vol-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "data" / "host.txt") << "from-host\n";
    std::ofstream(dir_ / "secret.txt") << "SECRET\n";
    // Escape attempts the guest can follow from inside the volume.
    fs::create_directory_symlink("/", dir_ / "data" / "to-root");
    fs::create_directory_symlink("..", dir_ / "data" / "to-parent");
    std::ofstream py(dir_ / "vol.py");
    py << "from mvm import Volume, entrypoint, workload\n\n\n"
          "@workload(\"rw\", image=\"template:busybox\", timeout_seconds=60,\n"
          "          volumes=[Volume.local(\"./data\", \"/data\", mode=\"rw\")])\n"
          "class Rw:\n"
          "    @entrypoint(command=[\"sleep\", \"600\"])\n"
          "    def main(self): ...\n\n"
          "    @entrypoint(\"script\", command=[\"sh\", \"-c\", 'eval \"$1\"', \"sh\"])\n"
          "    def script(self): ...\n\n\n"
          "@workload(\"ro\", image=\"template:busybox\", timeout_seconds=60,\n"
          "          volumes=[Volume.local(\"./data\", \"/data\", mode=\"ro\")])\n"
          "class Ro:\n"
          "    @entrypoint(command=[\"sleep\", \"600\"])\n"
          "    def main(self): ...\n\n"
          "    @entrypoint(\"script\", command=[\"sh\", \"-c\", 'eval \"$1\"', \"sh\"])\n"
          "    def script(self): ...\n";
  }
  ~VolumeProject() { fs::remove_all(dir_); }
  const fs::path& dir() const { return dir_; }
  fs::path file() const { return dir_ / "vol.py"; }

 private:
  fs::path dir_;
};

/// virtiofsd processes serving a directory under `source`.
std::vector<pid_t> VirtiofsdsServing(const fs::path& source) {
  return mvm::testing::ProcessesWhose([&](const std::string& cmdline) {
    return cmdline.find("virtiofsd") != std::string::npos &&
           cmdline.find("source=" + mvm::runtime::qemu_microvm::VirtiofsdMountPoint(source)) !=
               std::string::npos;
  });
}

// A read-write volume is the host directory itself, live both ways, served by a virtiofsd that
// ends with the VM.
TEST_F(MicrovmE2E, ReadWriteVolumeIsSharedLiveBothWaysOverVirtiofs) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE()
        << "read-write volumes on qemu-microvm need root (virtiofsd's confinement)";
  }
  VolumeProject project;
  const std::string name = "vm-rw";
  Mvmctl({"destroy", name});
  // The audit records this case adds (the shared state keeps earlier runs' too).
  const size_t audit_before = mvm::testing::SplitLines(ReadFile(State() / "audit.jsonl")).size();
  Result up = Mvmctl({"up", project.file().string(), "--backend", "qemu-microvm", "--workload",
                      "rw", "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_EQ(VirtiofsdsServing(project.dir()).size(), 1u);
  Result read = Mvmctl({"exec", name, "--", "cat", "/data/host.txt"});
  EXPECT_EQ(read.status, 0) << Describe(read);
  EXPECT_EQ(read.out, "from-host\n");
  Result write = Mvmctl({"exec", name, "--", "sh", "-c",
                         "echo from-guest > /data/guest.txt && mkdir -p /data/sub && "
                         "echo deep > /data/sub/f && mount | grep ' /data '"});
  EXPECT_EQ(write.status, 0) << Describe(write);
  EXPECT_THAT(write.out, HasSubstr("virtiofs"));
  EXPECT_EQ(ReadFile(project.dir() / "data" / "guest.txt"), "from-guest\n");
  EXPECT_EQ(ReadFile(project.dir() / "data" / "sub" / "f"), "deep\n");
  // What the guest's root makes is host root's, as on disk before (the idmapped mount), but
  // virtiofsd itself is an unprivileged host uid.
  struct stat made {};
  ASSERT_EQ(::stat((project.dir() / "data" / "guest.txt").c_str(), &made), 0);
  EXPECT_EQ(made.st_uid, 0u);
  for (pid_t pid : VirtiofsdsServing(project.dir())) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line) && line.rfind("Uid:", 0) != 0) {
    }
    EXPECT_THAT(line, HasSubstr(std::to_string(mvm::runtime::qemu_microvm::kVirtiofsdIdBase)))
        << "virtiofsd " << pid << " runs as " << line;
  }
  // The attack: a set-uid copy of a shell, made by the guest's root in the volume, would be a
  // set-uid-root file on the host for anyone who can reach the directory; a FIFO or a device node
  // would be a host object. Each is refused, and nothing of it reaches the host's disk.
  Result setid = Mvmctl({"exec", name, "--", "sh", "-c",
                         "cp /bin/busybox /data/shell; chmod 4755 /data/shell; "
                         "chmod 2755 /data/shell; chmod u+s /data/shell; "
                         "mkdir -m 2777 /data/setgid-dir; mkfifo /data/fifo; "
                         "mknod /data/null c 1 3; ls -l /data"});
  struct stat shell {};
  ASSERT_EQ(::stat((project.dir() / "data" / "shell").c_str(), &shell), 0) << Describe(setid);
  EXPECT_EQ(shell.st_mode & (S_ISUID | S_ISGID), 0u) << Describe(setid);
  EXPECT_FALSE(fs::exists(project.dir() / "data" / "fifo")) << Describe(setid);
  EXPECT_FALSE(fs::exists(project.dir() / "data" / "null")) << Describe(setid);
  struct stat setgid_dir {};
  if (::stat((project.dir() / "data" / "setgid-dir").c_str(), &setgid_dir) == 0) {
    EXPECT_EQ(setgid_dir.st_mode & S_ISGID, 0u) << Describe(setid);
  }
  // A host change after the start shows in the guest once the 1 s metadata cache has expired.
  std::ofstream(project.dir() / "data" / "later.txt") << "later\n";
  EXPECT_TRUE(GuestSees(name, "cat /data/later.txt", "later\n"));
  // Symlinks are resolved by the guest's kernel in the guest's tree; `..` stops at the mount's
  // root in the guest and at virtiofsd's chroot on the host. Nothing outside the volume is reached.
  const std::string outside = (project.dir() / "secret.txt").string();
  Result escape = Mvmctl({"exec", name, "--", "sh", "-c",
                          "cat /data/to-root" + outside +
                              " /data/to-parent/secret.txt /data/../secret.txt; "
                              "echo x > /data/to-root" +
                              outside +
                              "; echo x > /data/to-parent/secret.txt; "
                              "echo x > /data/to-root" +
                              project.dir().string() +
                              "/owned; "
                              "ls /data/to-root" +
                              project.dir().string() + "; true"});
  EXPECT_THAT(escape.out, Not(HasSubstr("SECRET"))) << Describe(escape);
  EXPECT_EQ(ReadFile(project.dir() / "secret.txt"), "SECRET\n");
  EXPECT_FALSE(fs::exists(project.dir() / "owned"));
  // The rename race: a guest process sits in a directory the host then moves out of the volume,
  // next to the secret. The guest still reaches the moved directory (docs/microvm.md says so), but
  // `..` from it leads back into the volume as the guest knew it, never to the moved directory's
  // new parent on the host: virtiofsd is asked for names under directories it serves, not `..`.
  Result hold = Mvmctl({"exec", name, "--", "sh", "-c",
                        "mkdir -p /data/mv/deep && (cd /data/mv/deep && exec sleep 60) "
                        "</dev/null >/dev/null 2>&1 & echo $!"});
  ASSERT_EQ(hold.status, 0) << Describe(hold);
  const std::string holder = "/proc/" + hold.out.substr(0, hold.out.find('\n')) + "/cwd";
  fs::rename(project.dir() / "data" / "mv", project.dir() / "moved");
  // Past the metadata cache: the guest's lookup of the old name fails.
  ASSERT_TRUE(GuestSees(name, "test -e /data/mv || echo gone", "gone\n"));
  Result race = Mvmctl({"exec", name, "--", "sh", "-c",
                        "ls " + holder + " && cat " + holder + "/../secret.txt " + holder +
                            "/../../secret.txt " + holder + "/../../../secret.txt; echo x > " +
                            holder + "/../owned; echo x > " + holder + "/../../owned; echo x > " +
                            holder + "/../../../owned; echo in > " + holder + "/inside; true"});
  EXPECT_THAT(race.out, Not(HasSubstr("SECRET"))) << Describe(race);
  EXPECT_EQ(ReadFile(project.dir() / "secret.txt"), "SECRET\n");
  EXPECT_FALSE(fs::exists(project.dir() / "owned")) << Describe(race);
  EXPECT_FALSE(fs::exists(project.dir().parent_path() / "owned")) << Describe(race);
  // What is not defended, pinned so a change shows: the moved directory itself is still reached.
  EXPECT_TRUE(fs::exists(project.dir() / "moved" / "deep" / "inside")) << Describe(race);
  Result stop = Mvmctl({"stop", name});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!VirtiofsdsServing(project.dir()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(VirtiofsdsServing(project.dir()).empty()) << "a virtiofsd outlived `stop`";
  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  EXPECT_TRUE(OurQemus().empty());
  // The guest's files, made through virtiofsd, reached the audit (runtime/volumes/mount_watch.h:
  // inotify on the host directory): guest.txt, sub, sub/f, shell, setgid-dir, mv, mv/deep at least.
  std::vector<std::string> audit = mvm::testing::SplitLines(ReadFile(State() / "audit.jsonl"));
  bool watched = false;
  uint64_t creates = 0, writes = 0;
  for (size_t i = audit_before; i < audit.size(); ++i) {
    auto record = nlohmann::json::parse(audit[i], nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || record.value("sandbox", "") != name) {
      continue;
    }
    watched = watched || (record.value("event", "") == "volume.attach" &&
                          record.value("detail", "").find("(tree)") != std::string::npos);
    if (record.value("event", "") == "volume.ops") {
      const auto& ops = record["ops"];
      creates += ops.contains("create") ? ops["create"]["count"].get<uint64_t>() : 0;
      writes += ops.contains("write") ? ops["write"]["count"].get<uint64_t>() : 0;
    }
  }
  EXPECT_TRUE(watched);
  EXPECT_GE(creates, 7u);
  EXPECT_GE(writes, 3u);

  // `run` too: the file the workload wrote is on the host afterwards, and no virtiofsd is left.
  Result run = Mvmctl({"run", project.file().string(), "--backend", "qemu-microvm", "--workload",
                       "rw", "--entrypoint", "script", "--", "echo ran > /data/ran.txt"});
  EXPECT_EQ(run.status, 0) << Describe(run);
  EXPECT_EQ(ReadFile(project.dir() / "data" / "ran.txt"), "ran\n");
  EXPECT_TRUE(VirtiofsdsServing(project.dir()).empty());
}

// A read-only volume is a copy in an image qemu attaches read-only: neither writing nor
// remounting read-write (the workload is root in the guest) reaches the host.
TEST_F(MicrovmE2E, ReadOnlyVolumeCannotBeWrittenEvenAfterARemount) {
  VolumeProject project;
  Result r = Mvmctl({"run", project.file().string(), "--backend", "qemu-microvm", "--workload",
                     "ro", "--entrypoint", "script", "--",
                     "cat /data/host.txt; echo x > /data/owned && echo WROTE; "
                     "mount -o remount,rw /data; mount -o remount,rw /.mvm/extras; "
                     "echo x > /data/owned && echo WROTE; echo x > /data/host.txt && echo WROTE; "
                     "true"});
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("from-host"));
  EXPECT_THAT(r.out, Not(HasSubstr("WROTE")));
  EXPECT_FALSE(fs::exists(project.dir() / "data" / "owned"));
  EXPECT_EQ(ReadFile(project.dir() / "data" / "host.txt"), "from-host\n");
  EXPECT_TRUE(VirtiofsdsServing(project.dir()).empty());
}

// The host sees nothing of a tmpfs in guest memory or of a read-only copy in the extras image, and
// sees a shared directory's changes without telling the host's own from the guest's: the guest's
// agent counts the workload's operations on all three (runtime/agent/volume_ops.h), and the
// volume-audit helper records them as its report. One VM: exact name counts per volume, the
// host's own changes to the shared directory during the run in the host's count only.
TEST_F(MicrovmE2E, TheGuestAgentCountsTheWorkloadsOwnOperationsOnEveryVolume) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE()
        << "read-write volumes on qemu-microvm need root (virtiofsd's confinement)";
  }
  const fs::path dir = fs::temp_directory_path() / ("mvm-vm-volops-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  fs::create_directories(dir / "ro-data");
  std::ofstream(dir / "ro-data" / "ro.txt") << "read me\n";
  const fs::path file = dir / "ops.py";
  std::ofstream(file) << "from mvm import Volume, entrypoint, workload\n\n\n"
                         "@workload(\"ops\", image=\"template:busybox\", timeout_seconds=60,\n"
                         "          volumes=[Volume.local(\""
                      << (dir / "data").string()
                      << "\", \"/data\", mode=\"rw\"),\n"
                         "                   Volume.local(\""
                      << (dir / "ro-data").string()
                      << "\", \"/ro\", mode=\"ro\"),\n"
                         "                   Volume.memory(\"/scratch\", size_mb=8)])\n"
                         "class Ops:\n"
                         "    @entrypoint(command=[\"sleep\", \"600\"])\n"
                         "    def main(self): ...\n";
  const std::string name = "vm-vol-ops";
  Mvmctl({"destroy", name});
  const size_t audit_before = mvm::testing::SplitLines(ReadFile(State() / "audit.jsonl")).size();
  Result up = Mvmctl({"up", file.string(), "--backend", "qemu-microvm", "--workload", "ops",
                      "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  {
    // What the volume-audit helper pays every second (volume_watch.cc, kGuestAskEvery): one
    // VolumeOps round trip over virtio-serial; asked before the workload's operations, which an
    // answer here would take from the helper.
    auto agent = mvm::runtime::agent::Client::Connect(State() / "sandboxes" / name / "agent.sock",
                                                      std::chrono::seconds(10));
    ASSERT_TRUE(agent) << agent.error().message;
    std::vector<double> ms;
    for (int i = 0; i < 20; ++i) {
      const auto t = std::chrono::steady_clock::now();
      auto counts = agent->VolumeOps();
      ASSERT_TRUE(counts) << counts.error().message;
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    std::sort(ms.begin(), ms.end());
    std::cerr << "VolumeOps round trip over virtio-serial, 20 asks: median " << ms[10]
              << " ms, max " << ms.back() << " ms\n";
  }
  // A background process whose SIGTERM handler writes 3 files on /scratch: the stop's SIGTERM
  // comes from the agent's shutdown, and the agent answers the helper's last question after it.
  Result trap = Mvmctl({"exec", name, "--", "sh", "-c",
                        "(trap 'for i in 1 2 3; do echo t > /scratch/t$i; done; exit 0' TERM; "
                        "while :; do sleep 1 & wait $!; done) </dev/null >/dev/null 2>&1 &"});
  EXPECT_EQ(trap.status, 0) << Describe(trap);
  // Per writable volume: 4 creates (f, f again, sub, sub/g), 1 rename, 2 deletes (f, h).
  Result work = Mvmctl({"exec", name, "--", "sh", "-c",
                        "for d in /data /scratch; do echo a > $d/f && rm $d/f && echo b > $d/f && "
                        "mkdir $d/sub && echo c > $d/sub/g && mv $d/f $d/h && rm $d/h || exit 1; "
                        "done; cat /ro/ro.txt; echo x > /ro/w 2>/dev/null; true"});
  EXPECT_EQ(work.status, 0) << Describe(work);
  EXPECT_EQ(work.out, "read me\n");
  // The host's own changes to the shared directory while the VM runs: 2 creates, 1 rename, 1
  // delete that are not the workload's.
  std::ofstream(dir / "data" / "host-new") << "host\n";
  fs::rename(dir / "data" / "host-new", dir / "data" / "host-renamed");
  fs::create_directory(dir / "data" / "host-dir");
  fs::remove(dir / "data" / "host-renamed");
  Result seen = Mvmctl({"exec", name, "--", "ls", "/data"});
  EXPECT_EQ(seen.status, 0) << Describe(seen);
  Result destroy = Mvmctl({"destroy", name});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);

  auto guest = mvm::testing::ReadVolumeCountsByLabel(State(), {name, audit_before, "guest-agent"});
  const std::string rw = "local:" + (dir / "data").string();
  const std::string ro = "local:" + (dir / "ro-data").string();
  for (const std::string& label : {rw, std::string("memory:/scratch")}) {
    SCOPED_TRACE(label);
    mvm::testing::VolumeCounts& c = guest[label];
    EXPECT_TRUE(c.attached_ok);
    EXPECT_TRUE(c.detached_ok) << "the last counts were collected before the agent stopped";
    // The SIGTERM handler's 3 on /scratch: the last question came after the workload was gone.
    EXPECT_EQ(c.count["create"], label == rw ? 4u : 7u);
    EXPECT_EQ(c.count["rename"], 1u);
    EXPECT_EQ(c.count["delete"], 2u);
    EXPECT_GE(c.count["write"], 3u);
  }
  mvm::testing::VolumeCounts& read_only = guest[ro];
  EXPECT_TRUE(read_only.attached_ok);
  EXPECT_TRUE(read_only.detached_ok);
  EXPECT_GE(read_only.count["read"], 1u);
  EXPECT_EQ(read_only.count["create"], 0u);
  // The host's count of the shared directory, which the guest cannot forge, has the host's own.
  auto host = mvm::testing::ReadVolumeCountsByLabel(State(), {name, audit_before, ""});
  EXPECT_GE(host[rw].count["create"], 6u);
  EXPECT_GE(host[rw].count["rename"], 2u);
  EXPECT_GE(host[rw].count["delete"], 3u);
  fs::remove_all(dir);
}

// kill -9 of a non-detached `mvmctl up` of `workload` in `file` leaves no qemu process, no
// virtiofsd serving under `source` (when given) and no state within 2 s.
void ExpectKillingTheParentLeavesNothing(const std::string& name, const fs::path& file,
                                         const std::string& workload, const fs::path& source) {
  Mvmctl({"destroy", name});
  mvm::testing::BackgroundMvmctl up(
      {"up", file.string(), "--backend", "qemu-microvm", "--workload", workload, "--name", name},
      State());
  ASSERT_THAT(up.WaitFor(" is up", std::chrono::seconds(120)), HasSubstr(" is up"));
  ASSERT_FALSE(OurQemus().empty());
  if (!source.empty()) {
    ASSERT_FALSE(VirtiofsdsServing(source).empty());
  }
  up.KillAndReap();
  auto killed = std::chrono::steady_clock::now();
  bool clean = false;
  while (std::chrono::steady_clock::now() - killed < std::chrono::seconds(2)) {
    clean = OurQemus().empty() && !fs::exists(State() / "sandboxes" / name) &&
            (source.empty() || VirtiofsdsServing(source).empty());
    if (clean) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(clean) << "a qemu process, a virtiofsd or state of " << name
                     << " remains 2 s after kill -9 of its parent";
}

TEST_F(MicrovmE2E, KillingTheParentLeavesNoVirtiofsd) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE()
        << "read-write volumes on qemu-microvm need root (virtiofsd's confinement)";
  }
  VolumeProject project;
  ExpectKillingTheParentLeavesNothing("vm-orphan-rw", project.file(), "rw", project.dir());
}

// The shipped hello example on the python-3.11 template (built once per state directory).
TEST_F(MicrovmE2E, HelloExampleRuns) {
  Result hello = Mvmctl({"run", (kExamples / "hello.py").string(), "--backend", "qemu-microvm"});
  EXPECT_EQ(hello.status, 0) << Describe(hello);
  EXPECT_THAT(hello.out, HasSubstr("hello from mvm: Python 3.11"));
}

// A one-shot command (`run -- CMD`) in a microVM, with `-e` and its stdin streamed through the
// virtio-serial multiplexer (`-i`): one boot for both.
TEST_F(MicrovmE2E, OneShotCommandGetsItsEnvironmentAndStdin) {
  Result r = Mvmctl({"run", "--backend", "qemu-microvm", "--image", "template:busybox", "-i", "-e",
                     "X=1", "--", "sh", "-c", "echo $X; cat; exit 3"},
                    "hi\n");
  EXPECT_EQ(r.status, 3) << Describe(r);
  EXPECT_EQ(r.out, "1\nhi\n") << Describe(r);
}

// `run -it` in a microVM: the agent's terminal reached through the virtio-serial multiplexer, as
// the container's (tests/runtime/launcher/tty_e2e_test.cc) but in one boot: the user's size, a
// resize as SIGWINCH, ^C typed through to the command, the user's terminal restored.
TEST_F(MicrovmE2E, RunItGivesTheCommandATerminal) {
  const std::string script =
      "trap 'w=1; echo \"winch $(stty size)\"' WINCH; echo \"size=$(stty size)\"; echo ready; "
      "i=0; while [ -z \"$w\" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
      "echo sleeping; sleep 60; echo not-interrupted";
  mvm::testing::TerminalMvmctl t({"run", "-it", "--backend", "qemu-microvm", "--image",
                                  "template:busybox", "--", "sh", "-c", script},
                                 State(), 30, 90, "xterm");
  ASSERT_TRUE(t.WaitFor("ready", std::chrono::seconds(180))) << t.Seen();
  EXPECT_THAT(t.Seen(), HasSubstr("size=30 90\r\n"));
  // The VM's supervisor is a fork of mvmctl in the terminal's group, so a resize signals it too;
  // with mvmctl's handler it wrote into whichever of its own descriptors had the number of
  // mvmctl's resize pipe: once, the exec's client socket, whose framing then broke.
  EXPECT_THAT(t.OthersInTheGroupCatching(SIGWINCH), IsEmpty());
  t.Resize(50, 132);
  ASSERT_TRUE(t.WaitFor("winch 50 132", std::chrono::seconds(30))) << t.Seen();
  ASSERT_TRUE(t.WaitFor("sleeping", std::chrono::seconds(30))) << t.Seen();
  t.Type("\x03");
  bool signalled = true;
  const std::optional<int> status = t.Wait(std::chrono::seconds(60), &signalled);
  ASSERT_TRUE(status) << t.Seen();
  EXPECT_FALSE(signalled) << t.Seen();
  EXPECT_EQ(*status, 128 + SIGINT) << t.Seen();
  EXPECT_THAT(t.Seen(), Not(HasSubstr("not-interrupted")));
  EXPECT_TRUE(mvm::testing::SameMode(t.before(), t.Mode())) << "the terminal was left changed";
}

// `up` of a microVM with a service: the agent starts it, and its port is published on the host's
// 127.0.0.1 through the agent's Tunnel over the virtio-serial multiplexer, with no NIC (the plan
// allows no egress). One boot; the restart policy and the rest are the container's test
// (tests/runtime/launcher/services_e2e_test.cc), on the same agent.
TEST_F(MicrovmE2E, UpStartsAServiceAndPublishesItsPort) {
  const std::string name = "vm-svc-" + std::to_string(::getpid());
  const std::string copy = name + "-r";
  const fs::path fixture =
      fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "services.py";
  Result up = Mvmctl({"up", fixture.string(), "--workload", "web-vm", "--backend", "qemu-microvm",
                      "--name", name, "--detach", "--format", "json"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  const nlohmann::json started = nlohmann::json::parse(up.out);
  ASSERT_EQ(started["ports"].size(), 1u) << up.out;
  const int port = started["ports"][0]["host"];
  // What GET / on 127.0.0.1:`at` answers once it answers 200, within 60 s; else the last answer.
  auto page_on = [](int at) {
    std::string page;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      page = mvm::testing::HttpGet(at, "/", 20);
      if (page.find("200 OK") != std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return page;
  };
  const std::string page = page_on(port);
  EXPECT_THAT(page, HasSubstr("200 OK"));
  EXPECT_THAT(page, HasSubstr(name));  // the guest's hostname: the page came from this VM
  Result logs = Mvmctl({"logs", name, "--service", "http"});
  EXPECT_EQ(logs.status, 0) << Describe(logs);
  EXPECT_THAT(logs.out, HasSubstr("started (pid"));

  // A full snapshot restores served: the service comes back running with the VM's memory (not
  // started twice) and its port is published anew on the host, on a port of its own.
  Result snap = Mvmctl({"snapshot", name, "--full", "--label", "served"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);
  (void)Mvmctl({"destroy", copy});
  Result restored = Mvmctl({"restore", name, "served", "--as", copy, "--format", "json"});
  ASSERT_EQ(restored.status, 0) << Describe(restored);
  const nlohmann::json out = nlohmann::json::parse(restored.out);
  ASSERT_EQ(out["ports"].size(), 1u) << restored.out;
  ASSERT_EQ(out["services"].size(), 1u) << restored.out;
  EXPECT_EQ(out["services"][0]["name"], "http");
  const int copy_port = out["ports"][0]["host"];
  EXPECT_NE(copy_port, port);
  // The page the service wrote at its start in the snapshot's memory: the original's hostname.
  EXPECT_THAT(page_on(copy_port), HasSubstr("200 OK"));
  Result copy_logs = Mvmctl({"logs", copy, "--service", "http"});
  EXPECT_EQ(copy_logs.status, 0) << Describe(copy_logs);
  EXPECT_EQ(copy_logs.out.find("restarting"), std::string::npos) << copy_logs.out;
  Result ps = Mvmctl({"ps", "--format", "json"});
  EXPECT_THAT(ps.out, HasSubstr("\"host\":" + std::to_string(copy_port)));

  EXPECT_EQ(Mvmctl({"destroy", copy}).status, 0);
  (void)Mvmctl({"snapshot", "rm", name, "served"});
  Result stop = Mvmctl({"destroy", name});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
}

// `mvmctl snapshot` reads the guest's writable memory file systems through the agent as it does a
// container's: the guest's own mountinfo decides what is captured.
}  // namespace
