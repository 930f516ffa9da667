// StartHelper (runtime/backends/helper.h): the one way a sandbox's host-side helpers start.

#include "runtime/backends/helper.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using mvm::runtime::backends::HelperChild;
using mvm::runtime::backends::HelperSpec;
using mvm::runtime::backends::ProcessStartTime;
using mvm::runtime::backends::SignalHelper;
using mvm::runtime::backends::StartHelper;
using ::testing::HasSubstr;

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(StartHelper, PassesExactlyTheGivenDescriptorsInOrderAndNothingElse) {
  int a[2], b[2], out[2];
  ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  // A descriptor the caller has but does not pass, without close-on-exec: it must not leak.
  const int stray = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(stray, 0);
  HelperSpec spec;
  spec.role = "test helper";
  spec.program = "/bin/sh";
  // Passed in the reverse order of their numbers: b's read end must become 3, a's 4.
  spec.argv = {"sh", "-c", "cat <&3; cat <&4; ls /proc/self/fd | sort -n | tr '\\n' ' '"};
  spec.fds = {b[0], a[0]};
  spec.output = out[1];
  auto helper = StartHelper(spec);
  ::close(out[1]);
  ::close(stray);
  ASSERT_TRUE(helper) << helper.error().message;
  ASSERT_EQ(::write(b[1], "first ", 6), 6);
  ASSERT_EQ(::write(a[1], "second ", 7), 7);
  ::close(a[1]);
  ::close(b[1]);
  ::close(a[0]);
  ::close(b[0]);
  const std::string seen = ReadAll(out[0]);
  ::close(out[0]);
  ASSERT_TRUE(helper->process.Wait(std::chrono::seconds(10)));
  // 0, 1, 2, the two passed, and the one `ls` opens to list them.
  EXPECT_EQ(seen, "first second 0 1 2 3 4 5 ");
  EXPECT_EQ(helper->record.role, "test helper");
}

TEST(StartHelper, AFailedExecIsAnErrorNamingTheProgram) {
  HelperSpec spec;
  spec.role = "test helper";
  spec.program = "/nonexistent/mvm-helper";
  spec.argv = {"mvm-helper"};
  auto helper = StartHelper(spec);
  ASSERT_FALSE(helper);
  EXPECT_THAT(
      helper.error().message,
      HasSubstr("cannot start the test helper: exec /nonexistent/mvm-helper: No such file"));
}

// A helper in namespaces of its own, with the hooks a confined helper uses: `setup` runs before the
// descriptors are placed, `confine` after, and the starter's `prepare` sees the child before its
// exec. Here the helper gets a pid namespace (it is pid 1 there) and a UTS one whose hostname
// `setup` sets, and `prepare` writes a line the helper reads from a descriptor passed to it.
TEST(StartHelper, HooksRunInOrderInNamespacesOfItsOwn) {
  int line[2], out[2];
  ASSERT_EQ(::pipe2(line, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  HelperSpec spec;
  spec.role = "test helper";
  spec.program = "/bin/sh";
  spec.argv = {"sh", "-c", "read l <&3; echo \"$l $(hostname) $$ $(umask)\""};
  spec.fds = {line[0]};
  spec.output = out[1];
  spec.namespaces = CLONE_NEWPID | CLONE_NEWUTS;
  spec.steps = {"set the hostname", "set the umask"};
  spec.setup = [](const HelperChild& child) {
    if (::sethostname("hooked", 6) != 0) {
      child.Fail(0);
    }
  };
  spec.confine = [](const HelperChild&) { ::umask(0027); };
  pid_t prepared_for = 0;
  spec.prepare = [&](pid_t pid) -> mvm::ErrorOr<mvm::Ok> {
    prepared_for = pid;
    if (::write(line[1], "prepared\n", 9) != 9) {
      return mvm::Error{"cannot write the line"};
    }
    return mvm::Ok{};
  };
  auto helper = StartHelper(spec);
  ::close(out[1]);
  ::close(line[0]);
  ::close(line[1]);
  ASSERT_TRUE(helper) << helper.error().message;
  EXPECT_EQ(prepared_for, helper->record.pid);
  const std::string seen = ReadAll(out[0]);
  ::close(out[0]);
  ASSERT_TRUE(helper->process.Wait(std::chrono::seconds(10)));
  EXPECT_EQ(seen, "prepared hooked 1 0027\n");
}

// A step that fails in a hook is named in the error, with errno, and the child is gone.
TEST(StartHelper, AFailedHookStepIsAnErrorNamingTheStep) {
  HelperSpec spec;
  spec.role = "test helper";
  spec.program = "/bin/true";
  spec.argv = {"true"};
  spec.steps = {"open the missing file"};
  spec.confine = [](const HelperChild& child) {
    if (::open("/nonexistent/mvm-file", O_RDONLY) < 0) {
      child.Fail(0);
    }
  };
  auto helper = StartHelper(spec);
  ASSERT_FALSE(helper);
  EXPECT_EQ(helper.error().message,
            "cannot start the test helper: open the missing file: No such file or directory");
}

// A failing `prepare` ends the child before its exec.
TEST(StartHelper, AFailedPrepareEndsTheChild) {
  HelperSpec spec;
  spec.role = "test helper";
  spec.program = "/bin/sleep";
  spec.argv = {"sleep", "30"};
  pid_t child = 0;
  spec.prepare = [&](pid_t pid) -> mvm::ErrorOr<mvm::Ok> {
    child = pid;
    return mvm::Error{"the mapping failed"};
  };
  auto helper = StartHelper(spec);
  ASSERT_FALSE(helper);
  EXPECT_EQ(helper.error().message, "cannot start the test helper: the mapping failed");
  ASSERT_GT(child, 0);
  EXPECT_EQ(ProcessStartTime(child), 0u) << "the child outlived a failed prepare";
}

TEST(StartHelper, AHelperThatDiesWithItsParentDoesAndOneThatOutlivesItDoesNot) {
  // A middle process starts both helpers and dies; only the outliving one must remain.
  int pids[2];
  ASSERT_EQ(::pipe2(pids, O_CLOEXEC), 0);
  const pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    HelperSpec spec;
    spec.role = "test helper";
    spec.program = "/bin/sleep";
    spec.argv = {"sleep", "30"};
    auto dies = StartHelper(spec);
    spec.dies_with_parent = false;
    spec.own_session = true;
    auto outlives = StartHelper(spec);
    if (!dies || !outlives) {
      ::_exit(1);
    }
    pid_t both[2] = {dies->record.pid, outlives->record.pid};
    (void)!::write(pids[1], both, sizeof both);
    ::_exit(0);
  }
  ::close(pids[1]);
  pid_t both[2] = {0, 0};
  ASSERT_EQ(::read(pids[0], both, sizeof both), static_cast<ssize_t>(sizeof both));
  ::close(pids[0]);
  ASSERT_EQ(::waitpid(middle, nullptr, 0), middle);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ProcessStartTime(both[0]) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ProcessStartTime(both[0]), 0u) << "a helper that dies with its parent outlived it";
  const uint64_t started = ProcessStartTime(both[1]);
  EXPECT_NE(started, 0u) << "a helper meant to outlive its parent died with it";
  // A record whose start time does not match is some other process: not signalled.
  EXPECT_FALSE(SignalHelper({"test helper", both[1], started + 1}, SIGKILL));
  EXPECT_EQ(ProcessStartTime(both[1]), started);
  EXPECT_TRUE(SignalHelper({"test helper", both[1], started}, SIGKILL));
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ProcessStartTime(both[1]) != 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ProcessStartTime(both[1]), 0u);
}

}  // namespace

// exec_on_hangup (the parent-death watchdog): a byte on descriptor 3 ends the waiting child with no
// exec; the writer going away execs the program, which then reads the same end of file.
TEST(StartHelper, AnExecOnHangupHelperExecsOnlyWhenItsWriterGoesAway) {
  for (const bool disarm : {true, false}) {
    SCOPED_TRACE(disarm ? "disarmed" : "writer gone");
    int trigger[2], out[2];
    ASSERT_EQ(::pipe2(trigger, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    const int stray = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(stray, 0);
    HelperSpec spec;
    spec.role = "test helper";
    spec.program = "/bin/sh";
    spec.argv = {"sh", "-c", "echo exec; cat <&3; echo eof"};
    spec.fds = {trigger[0]};
    spec.output = out[1];
    spec.dies_with_parent = false;
    spec.exec_on_hangup = true;
    auto helper = StartHelper(spec);
    ::close(out[1]);
    ::close(stray);
    ::close(trigger[0]);
    ASSERT_TRUE(helper) << helper.error().message;
    // Waiting, not exec'd: still this program, holding only 0, 1, 2 and 3.
    char exe[PATH_MAX] = {};
    const std::string proc = "/proc/" + std::to_string(helper->record.pid);
    ASSERT_GT(::readlink((proc + "/exe").c_str(), exe, sizeof exe - 1), 0);
    char self[PATH_MAX] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
    EXPECT_STREQ(exe, self);
    int fds = 0;
    for (const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) {
      (void)entry;
      ++fds;
    }
    EXPECT_EQ(fds, 4);
    if (disarm) {
      ASSERT_EQ(::write(trigger[1], "d", 1), 1);
    }
    ::close(trigger[1]);
    const std::string seen = ReadAll(out[0]);
    ::close(out[0]);
    ASSERT_TRUE(helper->process.Wait(std::chrono::seconds(10)));
    EXPECT_EQ(seen, disarm ? "" : "exec\neof\n");
  }
}
