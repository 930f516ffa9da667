// Spawn and RunProcess against real programs (sh, cat, env).

#include "ir/support/os/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ir/support/os/unique_fd.h"

namespace mvm::os {
namespace {

RunOptions Sh(const std::string& script) {
  RunOptions options;
  options.spawn.argv = {"sh", "-c", script};
  return options;
}

TEST(RunProcessTest, CapturesStdoutAndStderrApartAndStreamsStderrLines) {
  RunOptions options = Sh("echo one; echo two >&2; printf three >&2; exit 3");
  std::vector<std::string> lines;
  options.on_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->status.exit_code, 3);
  EXPECT_FALSE(ran->success());
  EXPECT_EQ(ran->Describe(), "exit status 3");
  EXPECT_EQ(ran->out, "one\n");
  EXPECT_EQ(ran->err, "two\nthree");
  EXPECT_EQ(lines, (std::vector<std::string>{"two", "three"}));
  EXPECT_EQ(ran->Tail(1), "three");
}

TEST(RunProcessTest, MergedOutputIsInterleavedAsWritten) {
  RunOptions options = Sh("echo one; echo two >&2; printf three");
  options.merge_stderr = true;
  std::vector<std::string> lines;
  options.on_line = [&](std::string_view line) { lines.emplace_back(line); };
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_TRUE(ran->success());
  EXPECT_EQ(ran->out, "one\ntwo\nthree");
  EXPECT_EQ(ran->err, "");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(ran->Tail(2), "two\nthree");
}

TEST(RunProcessTest, ReportsSignalsAndReadsStdinFromDevNullOrTheGivenBytes) {
  auto killed = RunProcess(Sh("kill -9 $$"));
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_EQ(killed->status.signal, 9);
  EXPECT_EQ(killed->Describe(), "killed by signal 9");
  // stdin is /dev/null, so a tool that reads it never waits for a terminal.
  RunOptions cat;
  cat.spawn.argv = {"cat"};
  auto read = RunProcess(cat);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->success());
  EXPECT_EQ(read->out, "");
  // More than a pipe holds, to a child that reads none of it: no deadlock, no SIGPIPE.
  RunOptions ignore = Sh("exit 0");
  ignore.stdin_data = std::string(1 << 20, 'x');
  ASSERT_TRUE(RunProcess(ignore).ok());
  cat.stdin_data = "fed\n";
  read = RunProcess(cat);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->out, "fed\n");
}

TEST(RunProcessTest, KeepsTheLastBytesOfLongOutput) {
  RunOptions options = Sh("seq 1 1000");
  options.max_captured = 8;
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->out, "99\n1000\n");
  EXPECT_TRUE(ran->out_truncated);
  EXPECT_FALSE(ran->err_truncated);
}

TEST(RunProcessTest, QuietChildrenGetSilenceCalls) {
  RunOptions options = Sh("sleep 1");
  options.silence = std::chrono::milliseconds(200);
  int calls = 0;
  options.on_silence = [&](std::chrono::seconds) { ++calls; };
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok());
  EXPECT_GE(calls, 2);
}

TEST(RunProcessTest, ToolsStartWithDefaultSignalHandling) {
  // An ignored signal stays ignored across exec unless the spawn resets it.
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGTERM, &ignore, &old), 0);
  auto ran = RunProcess(Sh("kill -TERM $$; echo survived"));
  ASSERT_EQ(sigaction(SIGTERM, &old, nullptr), 0);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->status.signal, SIGTERM) << ran->out;
}

TEST(RunProcessTest, MissingToolIsAnError) {
  RunOptions options;
  options.spawn.argv = {"mvm-no-such-tool-anywhere"};
  auto ran = RunProcess(options);
  ASSERT_FALSE(ran.ok());
  EXPECT_NE(ran.error().message.find("cannot run `mvm-no-such-tool-anywhere`"), std::string::npos)
      << ran.error().message;
}

TEST(RunProcessTest, AnExplicitExecutableAndEnvironment) {
  RunOptions options;
  options.spawn.executable = "/usr/bin/env";
  options.spawn.argv = {"not-on-path"};
  options.spawn.env = std::vector<std::string>{"ONLY=this"};
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->out, "ONLY=this\n");
}

TEST(RunProcessTest, RunsInTheGivenDirectoryWithAddedVariables) {
  RunOptions options = Sh("pwd; echo \"$MVM_ADDED $HOME\"");
  options.spawn.cwd = "/usr";
  options.spawn.env = EnvironmentWith({"MVM_ADDED=yes", "HOME=/nowhere"});
  auto ran = RunProcess(options);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->out, "/usr\nyes /nowhere\n");
  options.spawn.cwd = "/no/such/directory";
  EXPECT_FALSE(RunProcess(options).ok());
}

TEST(SpawnTest, PassesExactlyTheListedDescriptors) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  // Numbers above the listed one (5), so that the check cannot see the listed descriptor itself.
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd extra(fcntl(null.get(), F_DUPFD_CLOEXEC, 20));
  // Without O_CLOEXEC, as a descriptor inherited from whatever started this process would be.
  UniqueFd inherited(fcntl(null.get(), F_DUPFD, 30));
  ASSERT_TRUE(extra.valid() && inherited.valid());
  SpawnOptions options;
  // fd 5 is the pipe; neither `extra` nor `inherited` is listed, so the child must have neither.
  options.argv = {"sh", "-c",
                  "echo hi >&5; for fd in " + std::to_string(extra.get()) + " " +
                      std::to_string(inherited.get()) +
                      "; do [ -e /proc/self/fd/$fd ] && echo leaked $fd >&5; done; exit 0"};
  options.fds = {{5, write_end.get()}};
  auto pid = Spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  write_end.Reset();
  std::string got;
  char buf[64];
  for (ssize_t n; (n = read(read_end.get(), buf, sizeof buf)) > 0;) {
    got.append(buf, static_cast<size_t>(n));
  }
  auto status = WaitForExit(*pid);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->success());
  EXPECT_EQ(got, "hi\n");
}

TEST(SpawnTest, ADescriptorKeepsItsNumberWhenAskedTo) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SpawnOptions options;
  const std::string fd = std::to_string(write_end.get());
  options.argv = {"sh", "-c", "echo same >&" + fd};
  options.fds = {{write_end.get(), write_end.get()}};
  auto pid = Spawn(options);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  write_end.Reset();
  char buf[64];
  ssize_t n = read(read_end.get(), buf, sizeof buf);
  ASSERT_TRUE(WaitForExit(*pid).ok());
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "same\n");
}

TEST(LastLinesTest, CountsFromTheEndIgnoringTrailingNewlines) {
  EXPECT_EQ(LastLines("a\nb\nc\n\n", 2), "b\nc");
  EXPECT_EQ(LastLines("a\nb", 5), "a\nb");
  EXPECT_EQ(LastLines("", 3), "");
}

}  // namespace
}  // namespace mvm::os
