// Pause, resume, full snapshots, restore and fork of real microVMs (TCG here), through the real
// mvmctl: the guest's memory really comes back (a shell's counter goes on from where it was), each
// copy gets its own identity, and a snapshot that was changed, replaced by an older one or cut
// short by a kill is never loaded. Boots cost seconds under TCG, so one source VM serves the
// cases in order.

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/processes.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using ::testing::HasSubstr;

const fs::path kHostile =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";
/// A shell counting in a variable, ten times a second, and writing each value to /tmp (a tmpfs:
/// guest memory too), in a session of its own so that it outlives the `exec` that starts it.
const char kCounterScript[] =
    "setsid sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done' "
    "</dev/null >/dev/null 2>&1 &";

// A state directory of this suite's own, so that it runs beside the microVM suite's chain rather
// than in it (tests/runtime/qemu_microvm/CMakeLists.txt); the guest kernel and images are that
// suite's, shared (they are published by rename, so concurrent first uses are safe).
fs::path State() { return fs::path(MVM_BINARY_DIR) / "qemu-microvm-snapshot-state"; }

void ShareGuestCache() {
  const fs::path shared = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state" / "guest";
  fs::create_directories(shared);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(State() / "guest", ec))) {
    fs::create_directory_symlink(shared, State() / "guest", ec);
  }
}

Result Mvmctl(std::vector<std::string> args) {
  return mvm::testing::Mvmctl(std::move(args), "", State());
}

/// The counter's current value in sandbox `name`, or -1.
long Count(const std::string& name) {
  Result r = Mvmctl({"exec", name, "--", "cat", "/tmp/count"});
  return r.status == 0 ? std::strtol(r.out.c_str(), nullptr, 10) : -1;
}

/// Waits (at most 20 s) until the counter of `name` reaches `at_least`; its last value.
long CountReaches(const std::string& name, long at_least) {
  long c = -1;
  for (int i = 0; i < 200; ++i) {
    c = Count(name);
    if (c >= at_least) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return c;
}

bool QemuOf(const std::string& name) {
  return mvm::testing::ProcessRuns("qemu-system-x86_64", "mvm.name=" + name + " ");
}

/// Whether process `pid` has a descriptor open on a file below `dir` (an unnamed O_TMPFILE file
/// shows as `dir/#inode (deleted)`).
bool HoldsFileUnder(pid_t pid, const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    const fs::path target = fs::read_symlink(e.path(), link_ec);
    if (!link_ec && target.string().rfind(dir + "/", 0) == 0) {
      return true;
    }
  }
  return false;
}

fs::path FullDir(const std::string& sandbox, const std::string& label) {
  return State() / "snapshots" / sandbox / (label + ".full");
}

void FlipByte(const fs::path& file, std::streamoff at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x5a));
}

/// `mvmctl ARGS` traced: stopped at the entry of its first openat of a path ending in `suffix`,
/// where `meanwhile` runs, then let go to its end. `*stopped` says whether it got there.
Result TracedMvmctl(const std::vector<std::string>& args, const std::string& suffix,
                    const std::function<void()>& meanwhile, bool* stopped) {
  *stopped = false;
  const fs::path out_file = State() / ("traced-out-" + std::to_string(::getpid()));
  const fs::path err_file = State() / ("traced-err-" + std::to_string(::getpid()));
  const std::vector<std::string> argv = mvm::testing::MvmctlArgv(args, State());
  const pid_t child = ::fork();
  if (child == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    ::raise(SIGSTOP);
    mvm::testing::ExecOrExit(argv);
  }
  Result result;
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
    return result;
  }
  ::ptrace(PTRACE_SETOPTIONS, child, nullptr, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
  int deliver = 0;
  bool entry = false;  // syscall stops alternate: entry, exit
  for (;;) {
    if (::ptrace(PTRACE_SYSCALL, child, nullptr, deliver) != 0 ||
        ::waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
      break;
    }
    deliver = 0;
    if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
      deliver = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
      continue;
    }
    entry = !entry;
    user_regs_struct regs{};
    if (!entry || ::ptrace(PTRACE_GETREGS, child, nullptr, &regs) != 0 ||
        regs.orig_rax != SYS_openat) {
      continue;
    }
    std::string path;
    for (unsigned long at = regs.rsi; path.size() < 4096; at += sizeof(long)) {
      errno = 0;
      const long word = ::ptrace(PTRACE_PEEKDATA, child, at, nullptr);
      if (errno != 0) {
        break;
      }
      const char* bytes = reinterpret_cast<const char*>(&word);
      const size_t len = ::strnlen(bytes, sizeof word);
      path.append(bytes, len);
      if (len < sizeof word) {
        break;
      }
    }
    if (path.size() >= suffix.size() && path.ends_with(suffix)) {
      *stopped = true;
      meanwhile();
      ::ptrace(PTRACE_DETACH, child, nullptr, nullptr);
      break;
    }
  }
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream out(out_file), err(err_file);
  result.out.assign(std::istreambuf_iterator<char>(out), std::istreambuf_iterator<char>());
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  fs::remove(out_file);
  fs::remove(err_file);
  return result;
}

class SnapshotE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mvm::runtime::qemu_microvm::QemuAvailable()) {
      MVM_MISSING_PREREQUISITE() << "qemu-system-x86_64 is not installed (Debian package "
                                    "qemu-system-x86); microVM snapshots cannot be tested here";
    }
    mvm::testing::UseSharedRootfsCache(State());
    ShareGuestCache();
  }
  void TearDown() override {
    for (const std::string& name : names_) {
      (void)Mvmctl({"destroy", name});
      (void)Mvmctl({"snapshot", "rm", name, "s1"});
    }
  }
  /// An idle VM `name`, detached, with the counter running; remembered for TearDown.
  void Up(const std::string& name) {
    names_.push_back(name);
    (void)Mvmctl({"destroy", name});
    (void)Mvmctl({"snapshot", "rm", name, "s1"});
    Result up = Mvmctl({"up", kHostile.string(), "--workload", "idle", "--backend", "qemu-microvm",
                        "--name", name, "--detach"});
    ASSERT_EQ(up.status, 0) << Describe(up);
    Result counter = Mvmctl({"exec", name, "--", "sh", "-c", kCounterScript});
    ASSERT_EQ(counter.status, 0) << Describe(counter);
  }
  Result Restore(const std::string& from, const std::string& label, const std::string& as) {
    names_.push_back(as);
    (void)Mvmctl({"destroy", as});
    return Mvmctl({"restore", from, label, "--as", as});
  }
  std::vector<std::string> names_;
};

TEST_F(SnapshotE2E, PauseHoldsTheVmAndAFullSnapshotRestoresItsMemoryIntoForksOfTheirOwn) {
  const std::string src = "snap-src";
  Up(src);
  ASSERT_GE(CountReaches(src, 5), 5);

  // Paused, the counter stands still: 2 s of a 10-per-second count would be about 20 steps.
  ASSERT_EQ(Mvmctl({"pause", src}).status, 0);
  Result ps = Mvmctl({"ps", "--format", "json"});
  EXPECT_THAT(ps.out, HasSubstr("paused")) << Describe(ps);
  const auto exec_start = std::chrono::steady_clock::now();
  Result blocked = Mvmctl({"exec", src, "--", "true"});
  EXPECT_NE(blocked.status, 0);
  EXPECT_THAT(blocked.err, HasSubstr("paused")) << Describe(blocked);
  EXPECT_LT(std::chrono::steady_clock::now() - exec_start, std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(Mvmctl({"resume", src}).status, 0) << "resume";
  const long before = Count(src);
  ASSERT_GT(before, 0);

  // The snapshot, taken while the counter runs; the source goes on counting.
  const long at_snapshot = Count(src);
  Result snap = Mvmctl({"snapshot", src, "--full", "--label", "s1", "--format", "json"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);
  const nlohmann::json taken = nlohmann::json::parse(snap.out);
  EXPECT_GT(taken.at("epoch").get<uint64_t>(), 0u);
  for (const char* file : {"memory", "plan.dsse", "seal.json"}) {
    const fs::path path = FullDir(src, "s1") / file;
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(fs::status(path).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << path << " is readable by others";
  }
  const long after_snapshot = CountReaches(src, at_snapshot + 20);
  ASSERT_GE(after_snapshot, at_snapshot + 20) << "the source stopped counting after its snapshot";

  // A restore continues the count from the snapshot's moment: neither from 1 (a fresh boot) nor
  // from where the source is now.
  Result copy = Restore(src, "s1", "snap-copy");
  ASSERT_EQ(copy.status, 0) << Describe(copy);
  const long restored = Count("snap-copy");
  EXPECT_GE(restored, at_snapshot);
  EXPECT_LT(restored, after_snapshot) << "the copy runs the source's present, not its snapshot";
  EXPECT_GT(CountReaches("snap-copy", restored + 5), restored) << "the copy's counter is stopped";
  Result hostname = Mvmctl({"exec", "snap-copy", "--", "hostname"});
  EXPECT_EQ(hostname.out, "snap-copy\n") << Describe(hostname);

  // A second copy of the same snapshot: its own random state, its own clock.
  Result fork = Restore(src, "s1", "snap-fork");
  ASSERT_EQ(fork.status, 0) << Describe(fork);
  const std::vector<std::string> read_random = {"--", "sh", "-c",
                                                "head -c 16 /dev/urandom | od -An -tx1"};
  auto random_of = [&](const std::string& name) {
    std::vector<std::string> args = {"exec", name};
    args.insert(args.end(), read_random.begin(), read_random.end());
    return Mvmctl(args).out;
  };
  const std::string a = random_of("snap-copy");
  const std::string b = random_of("snap-fork");
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, b) << "two forks of one snapshot read the same random bytes";
  Result clock = Mvmctl({"exec", "snap-fork", "--", "date", "+%s"});
  const long guest_now = std::strtol(clock.out.c_str(), nullptr, 10);
  EXPECT_NEAR(static_cast<double>(guest_now), static_cast<double>(std::time(nullptr)), 5.0)
      << "the fork's clock was not stepped to the host's";
}

TEST_F(SnapshotE2E, AChangedReplayedOrForeignSnapshotIsRefusedAndAudited) {
  const std::string src = "snap-seal";
  Up(src);
  Result snap = Mvmctl({"snapshot", src, "--full", "--label", "s1"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);
  const fs::path dir = FullDir(src, "s1");

  // Each file changed by one byte: refused with exit 4, nothing started.
  for (const char* file : {"memory", "plan.dsse", "seal.json"}) {
    FlipByte(dir / file, 200);
    Result r = Restore(src, "s1", "snap-tampered");
    EXPECT_EQ(r.status, 4) << file << ": " << Describe(r);
    EXPECT_THAT(r.err, HasSubstr("refused")) << file;
    EXPECT_FALSE(QemuOf("snap-tampered")) << file;
    FlipByte(dir / file, 200);
  }
  // A file added beside the sealed ones.
  std::ofstream(dir / "extra") << "x";
  EXPECT_EQ(Restore(src, "s1", "snap-tampered").status, 4);
  fs::remove(dir / "extra");

  // Between restore's check and its load (mvmctl stopped by ptrace at its open of the seal lock,
  // the check's last step): a garbage plan renamed over `plan.dsse` is never read, the restore
  // loads the checked one and succeeds; the checked file written over in place is read through
  // the checked descriptor, hashed again and refused. Before, the plan was read again by its
  // path: the renamed garbage was admitted (and refused as a plan).
  const std::string plan_bytes = [&] {
    std::ifstream in(dir / "plan.dsse", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  const std::string garbage(plan_bytes.size(), 'x');
  names_.push_back("snap-swapped");
  bool stopped = false;
  Result swapped = TracedMvmctl(
      {"restore", src, "s1", "--as", "snap-swapped"}, "/seals.lock",
      [&] {
        std::ofstream(dir / "plan.new", std::ios::binary) << garbage;
        fs::rename(dir / "plan.new", dir / "plan.dsse");
      },
      &stopped);
  ASSERT_TRUE(stopped) << Describe(swapped);
  EXPECT_EQ(swapped.status, 0) << Describe(swapped);
  EXPECT_TRUE(QemuOf("snap-swapped"));
  EXPECT_EQ(Mvmctl({"destroy", "snap-swapped"}).status, 0);
  std::ofstream(dir / "plan.dsse", std::ios::binary | std::ios::trunc) << plan_bytes;

  Result overwritten = TracedMvmctl(
      {"restore", src, "s1", "--as", "snap-overwritten"}, "/seals.lock",
      [&] {
        // The same inode: O_WRONLY without O_TRUNC keeps the descriptor restore holds on it.
        std::fstream f(dir / "plan.dsse", std::ios::in | std::ios::out | std::ios::binary);
        f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      },
      &stopped);
  ASSERT_TRUE(stopped) << Describe(overwritten);
  EXPECT_EQ(overwritten.status, 4) << Describe(overwritten);
  EXPECT_THAT(overwritten.err, HasSubstr("the snapshot's plan changed while it was restored"));
  EXPECT_FALSE(QemuOf("snap-overwritten"));
  std::ofstream(dir / "plan.dsse", std::ios::binary | std::ios::trunc) << plan_bytes;

  // Replay: the snapshot copied away, removed and taken again under its label; the old copy put
  // back is refused, as is a copy of a removed one.
  const fs::path saved = State() / "snapshots" / "saved-s1";
  fs::remove_all(saved);
  fs::copy(dir, saved, fs::copy_options::recursive);
  ASSERT_EQ(Mvmctl({"snapshot", "rm", src, "s1"}).status, 0);
  fs::create_directories(dir.parent_path());
  fs::copy(saved, dir, fs::copy_options::recursive);
  Result removed = Restore(src, "s1", "snap-replay");
  EXPECT_EQ(removed.status, 4) << Describe(removed);
  EXPECT_THAT(removed.err, HasSubstr("replay"));
  fs::remove_all(dir);
  ASSERT_EQ(Mvmctl({"snapshot", src, "--full", "--label", "s1"}).status, 0);
  fs::remove_all(dir);
  fs::copy(saved, dir, fs::copy_options::recursive);
  Result stale = Restore(src, "s1", "snap-replay");
  EXPECT_EQ(stale.status, 4) << Describe(stale);
  EXPECT_THAT(stale.err, HasSubstr("epoch"));
  fs::remove_all(saved);

  // Moved under another sandbox's name: sealed for `snap-seal`, not for `other`.
  const fs::path other = State() / "snapshots" / "snap-other" / "s1.full";
  fs::create_directories(other.parent_path());
  fs::copy(dir, other, fs::copy_options::recursive);
  Result moved = Mvmctl({"restore", "snap-other", "s1", "--as", "snap-moved"});
  EXPECT_EQ(moved.status, 4) << Describe(moved);
  fs::remove_all(other.parent_path());

  std::ifstream audit(State() / "audit.jsonl");
  std::string log((std::istreambuf_iterator<char>(audit)), std::istreambuf_iterator<char>());
  EXPECT_THAT(log, HasSubstr("\"stage\":\"restore\""));
}

/// Whether any file in `dir` holds `needle`.
bool AnyFileHolds(const fs::path& dir, const std::string& needle) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// --encrypt: what the guest holds in memory is nowhere in the snapshot's files (the same guest's
// unencrypted snapshot shows the test would see it), the snapshot still verifies by its digests,
// restores with its memory intact, and opens only with this host's secret store key.
TEST_F(SnapshotE2E, AnEncryptedSnapshotHoldsNoGuestMemoryInClearAndOpensOnlyWithTheStoreKey) {
  const std::string src = "snap-crypt";
  Up(src);
  // A marker in a tmpfs file (guest RAM), built in the guest so that only its memory holds it.
  ASSERT_EQ(Mvmctl({"exec", src, "--", "sh", "-c",
                    "i=0; while [ $i -lt 2000 ]; do printf 'MVM%s%s ' SECRETMARK $i; "
                    "i=$((i+1)); done > /tmp/marker"})
                .status,
            0);
  const std::string marker = "MVMSECRETMARK1999";
  ASSERT_GE(CountReaches(src, 5), 5);
  (void)Mvmctl({"snapshot", "rm", src, "clear"});
  Result clear = Mvmctl({"snapshot", src, "--full", "--label", "clear"});
  ASSERT_EQ(clear.status, 0) << Describe(clear);
  EXPECT_TRUE(AnyFileHolds(FullDir(src, "clear"), marker)) << "the test cannot see guest memory";
  (void)Mvmctl({"snapshot", "rm", src, "clear"});

  const long at_snapshot = Count(src);
  Result snap =
      Mvmctl({"snapshot", src, "--full", "--encrypt", "--label", "s1", "--format", "json"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);
  EXPECT_TRUE(nlohmann::json::parse(snap.out).value("encrypted", false)) << snap.out;
  EXPECT_FALSE(AnyFileHolds(FullDir(src, "s1"), marker)) << "guest memory in clear at rest";
  EXPECT_EQ(Mvmctl({"snapshot", "verify", src, "s1"}).status, 0);

  Result copy = Restore(src, "s1", "snap-crypt-copy");
  ASSERT_EQ(copy.status, 0) << Describe(copy);
  EXPECT_GE(Count("snap-crypt-copy"), at_snapshot);
  Result held = Mvmctl({"exec", "snap-crypt-copy", "--", "grep", "-c", marker, "/tmp/marker"});
  EXPECT_EQ(held.out, "1\n") << Describe(held);

  // Another secret store key (the host's replaced): the seal still verifies, but nothing opens.
  const fs::path key = State() / "secrets" / "key";
  ASSERT_TRUE(fs::exists(key));
  fs::rename(key, State() / "secrets" / "key.saved");
  const fs::path secrets = State() / "secrets";
  std::vector<fs::path> stored;
  for (const auto& e : fs::directory_iterator(secrets)) {
    if (e.path().extension() == ".json") {
      stored.push_back(e.path());
      fs::rename(e.path(), e.path().string() + ".saved");
    }
  }
  Result foreign = Restore(src, "s1", "snap-crypt-foreign");
  Result verified = Mvmctl({"snapshot", "verify", src, "s1"});
  fs::remove(key);
  fs::rename(State() / "secrets" / "key.saved", key);
  for (const fs::path& p : stored) {
    fs::rename(p.string() + ".saved", p);
  }
  EXPECT_EQ(foreign.status, 4) << Describe(foreign);
  EXPECT_THAT(foreign.err, HasSubstr("does not open")) << Describe(foreign);
  EXPECT_FALSE(QemuOf("snap-crypt-foreign"));
  EXPECT_EQ(verified.status, 0) << "verify needs no key: " << Describe(verified);
}

TEST_F(SnapshotE2E, KillingSnapshotOrRestoreLeavesNoSnapshotAndNoVm) {
  const std::string src = "snap-kill";
  Up(src);
  // Incompressible memory makes the save take a while.
  ASSERT_EQ(
      Mvmctl({"exec", src, "--", "sh", "-c", "head -c 48000000 /dev/urandom > /tmp/noise"}).status,
      0);
  {
    mvm::testing::BackgroundMvmctl snap({"snapshot", src, "--full", "--label", "s1"}, State());
    // Killed once it holds the unnamed file qemu saves into: mid-save.
    bool holding = false;
    for (int i = 0; i < 5000 && !holding; ++i) {
      holding = HoldsFileUnder(snap.pid(), (State() / "snapshots" / src).string());
      if (!holding) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    }
    EXPECT_TRUE(holding) << "the snapshot never opened its file";
    snap.KillAndReap();
  }
  // qemu may still be saving into the unnamed file the killed mvmctl made; it never gets a name.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_FALSE(fs::exists(FullDir(src, "s1")));
  for (const auto& e : fs::directory_iterator(State() / "snapshots" / src)) {
    ADD_FAILURE() << "left behind: " << e.path();
  }
  // The source still answers, and a snapshot after the kill works.
  EXPECT_GT(Count(src), 0);
  Result snap = Mvmctl({"snapshot", src, "--full", "--label", "s1"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);

  names_.push_back("snap-killed");
  {
    mvm::testing::BackgroundMvmctl restore({"restore", src, "s1", "--as", "snap-killed"}, State());
    // Killed once qemu is loading the state (its log exists), before the VM is handed over.
    const fs::path qemu_log = State() / "sandboxes" / "snap-killed" / "qemu.log";
    for (int i = 0; i < 300 && !fs::exists(qemu_log); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(fs::exists(qemu_log)) << "the restore never started qemu";
    restore.KillAndReap();
  }
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !QemuOf("snap-killed") && !fs::exists(State() / "sandboxes" / "snap-killed");
  }
  EXPECT_TRUE(gone) << "a killed restore left its VM or its state";
}

}  // namespace

namespace {

// A pool that restores instead of booting: its first sandbox is booted and snapshotted, every
// refill is a restore of that snapshot, and the snapshot goes when the pool does.
TEST_F(SnapshotE2E, APoolFromASnapshotRefillsByRestoringAndRemovesItsSnapshot) {
  (void)Mvmctl({"pool", "stop", "snap-pool"});
  Result pool = Mvmctl({"pool", "start", kHostile.string(), "--workload", "idle", "--backend",
                        "qemu-microvm", "--name", "snap-pool", "--from-snapshot", "--detach"});
  ASSERT_EQ(pool.status, 0) << Describe(pool);
  std::string last;
  auto ready = [&](uint64_t claimed) {
    for (int i = 0; i < 600; ++i) {
      Result ls = Mvmctl({"pool", "ls", "--format", "json"});
      last = ls.out + ls.err;
      const nlohmann::json pools = nlohmann::json::parse(ls.out, nullptr, false);
      if (pools.is_object() && pools.contains("pools")) {
        for (const auto& p : pools["pools"]) {
          if (p.value("name", std::string()) == "snap-pool" && p.value("ready", uint64_t{0}) >= 1 &&
              p.value("claimed", uint64_t{0}) >= claimed) {
            return true;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  ASSERT_TRUE(ready(0)) << "the pool never had a sandbox ready; last `pool ls`: " << last;
  names_.push_back("snap-claimed");
  Result up = Mvmctl({"up", kHostile.string(), "--workload", "idle", "--backend", "qemu-microvm",
                      "--name", "snap-claimed", "--detach", "-v"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  EXPECT_THAT(up.err, HasSubstr("claimed a ready sandbox from pool `snap-pool`"));
  EXPECT_EQ(Mvmctl({"exec", "snap-claimed", "--", "true"}).status, 0);
  ASSERT_TRUE(ready(1)) << "the pool did not refill; last `pool ls`: " << last;
  std::ifstream log(State() / "pools" / "snap-pool.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("refills restore it")) << text;
  ASSERT_EQ(Mvmctl({"pool", "stop", "snap-pool"}).status, 0);
  Result left = Mvmctl({"snapshot", "ls", "--format", "json"});
  EXPECT_THAT(left.out, ::testing::Not(HasSubstr("pool-snap-pool"))) << left.out;
}

}  // namespace
