// End to end on the container backend: one-shot commands (`mvmctl run [options] -- CMD ARGS...`),
// stdin streamed by `run -i` and `exec -i`, and output that reaches the caller as it is written.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::MvmctlChild;
using mvm::testing::Result;
using mvm::testing::SharedState;
using mvm::testing::StartMvmctl;

using Clock = std::chrono::steady_clock;

const fs::path kStreaming =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "streaming.py";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// What a finished mvmctl left: its status, output and its own peak resident memory.
struct Measured {
  Result result;
  long max_rss_kb = 0;
};

// The peak resident memory (VmHWM) of process `pid` so far, in KiB; 0 when it cannot be read.
long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

// Runs mvmctl with `size` bytes of `x` on its stdin, written as the pipe takes them (so never all
// held at once by anyone but this test). Its peak RSS is read once all of it is written and before
// stdin is closed, while mvmctl still runs: its own, not that of processes it started and reaped.
Measured MvmctlWithInput(std::vector<std::string> args, size_t size) {
  // Under ASan freed memory waits in a quarantine (256 MiB by default), so streamed input would
  // look like growth; without it, the peak means what it means in a release build.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = asan != nullptr ? asan : "";
  ::setenv("ASAN_OPTIONS",
           (saved.empty() ? "" : saved + ":").append("quarantine_size_mb=0").c_str(), 1);
  const MvmctlChild child = StartMvmctl(std::move(args), SharedState());
  if (asan != nullptr) {
    ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
  } else {
    ::unsetenv("ASAN_OPTIONS");
  }
  Measured m;
  std::thread writer([&] {
    const std::string chunk(1u << 16, 'x');
    for (size_t sent = 0; sent < size;) {
      const size_t n = std::min(chunk.size(), size - sent);
      const ssize_t w = ::write(child.in, chunk.data(), n);
      if (w <= 0) {
        break;
      }
      sent += static_cast<size_t>(w);
    }
    m.max_rss_kb = PeakRssKb(child.pid);
    ::close(child.in);
  });
  mvm::testing::Drain(child.out, child.err, m.result.out, m.result.err);
  writer.join();
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  m.result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return m;
}

// Reads `fd` until `needle` has arrived; the time it did, or nullopt when `fd` closed first.
std::optional<std::chrono::system_clock::time_point> ArrivalOf(int fd, const std::string& needle,
                                                               std::string& seen) {
  char buf[4096];
  while (seen.find(needle) == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      return std::nullopt;
    }
    seen.append(buf, static_cast<size_t>(n));
  }
  return std::chrono::system_clock::now();
}

// Reads the rest of `fd` into `seen`.
void ReadToEnd(int fd, std::string& seen) {
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    seen.append(buf, static_cast<size_t>(n));
  }
}

// The time the workload wrote its second line (`second at <unix seconds>`), as the host's clock
// (the container shares it).
std::optional<std::chrono::system_clock::time_point> WrittenAt(const std::string& out) {
  const size_t at = out.find("second at ");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const double unix_seconds = std::stod(out.substr(at + 10));
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(unix_seconds)));
}

// A child of mvmctl that writes `first`, sleeps and writes `second at T`: `first` must reach the
// test before T, i.e. before the second line was even written.
void ExpectFirstLineArrivesBeforeTheSecondIsWritten(std::vector<std::string> args) {
  const MvmctlChild child = StartMvmctl(std::move(args), SharedState());
  ::close(child.in);
  std::string out, err;
  auto first = ArrivalOf(child.out, "first\n", out);
  ReadToEnd(child.out, out);
  ReadToEnd(child.err, err);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.out);
  ::close(child.err);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << err;
  ASSERT_TRUE(first.has_value()) << out << err;
  auto written = WrittenAt(out);
  ASSERT_TRUE(written.has_value()) << out << err;
  EXPECT_LT(*first, *written) << "`first` arrived " << Seconds(*first - *written)
                              << " s after `second` was written:\n"
                              << out << err;
}

// The issue's own example, on the default image: `-e` reaches the command, its status is the exit
// status, and the run is an ordinary audited one (verify, admit, launch, exec, destroy).
TEST(OneShotE2E, RunsACommandWithItsEnvironmentAndExitsWithItsStatus) {
  const fs::path log = SharedState() / "audit.jsonl";
  const uintmax_t before = fs::exists(log) ? fs::file_size(log) : 0;
  Result r = Mvmctl({"run", "-e", "X=1", "--", "/bin/sh", "-c", "echo $X; exit 3"});
  EXPECT_EQ(r.status, 3) << Describe(r);
  EXPECT_EQ(r.out, "1\n") << Describe(r);
  EXPECT_THAT(r.err, Not(HasSubstr("warning"))) << Describe(r);

  // This run's records: its plan verified and admitted, its sandbox launched, exec'd, destroyed.
  std::ifstream in(log);
  in.seekg(static_cast<std::streamoff>(before));
  std::stringstream text;
  text << in.rdbuf();
  for (const char* event : {"verify", "admit", "launch", "exec", "exec-exit", "destroy"}) {
    EXPECT_THAT(text.str(), HasSubstr("\"event\":\"" + std::string(event) + "\""));
  }
  EXPECT_THAT(text.str(), HasSubstr("\"profile\":\"dev\",\"seq\""));
  EXPECT_THAT(text.str(), HasSubstr("\"workload\":\"oneshot\""));
  Result audit = Mvmctl({"audit", "verify"});
  EXPECT_EQ(audit.status, 0) << Describe(audit);
  // The seed's code sandbox: Python of the default image.
  Result python = Mvmctl({"run", "--", "python3", "-c", "print(2+2)"});
  EXPECT_EQ(python.status, 0) << Describe(python);
  EXPECT_EQ(python.out, "4\n");
}

TEST(OneShotE2E, TimeoutKillsTheCommandAfterItsSeconds) {
  const auto start = Clock::now();
  Result r = Mvmctl({"run", "--image", "template:busybox", "--timeout", "1", "--", "sleep", "30"});
  const double took = Seconds(Clock::now() - start);
  EXPECT_EQ(r.status, 124) << Describe(r);
  EXPECT_GE(took, 1.0);
  // A second of the command's, the sandbox's start and teardown, far from the 30 s of sleep.
  EXPECT_LT(took, 10.0) << Describe(r);
}

// No network unless --network: then the plan's egress proxy is there for the command, as for a
// declared NetworkPolicy. The image is the flag's.
TEST(OneShotE2E, NetworkIsDeniedByDefaultAndImagesComeFromTheFlag) {
  const std::vector<std::string> command = {"--", "sh", "-c",
                                            "echo \"proxy=$HTTPS_PROXY\"; busybox | head -1"};
  std::vector<std::string> none = {"run", "--image", "template:busybox"};
  none.insert(none.end(), command.begin(), command.end());
  Result r = Mvmctl(none);
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("proxy=\nBusyBox")) << Describe(r);
  std::vector<std::string> allowed = {"run", "--image", "template:busybox", "--network",
                                      "dns,https:example.com"};
  allowed.insert(allowed.end(), command.begin(), command.end());
  Result a = Mvmctl(allowed);
  EXPECT_EQ(a.status, 0) << Describe(a);
  EXPECT_THAT(a.out, HasSubstr("proxy=http://127.0.0.1:")) << Describe(a);
}

TEST(OneShotE2E, DiagnosticsOfThePassesStopTheRun) {
  Result r =
      Mvmctl({"run", "--image", "template:busybox", "--network", "https:1.2.3.4", "--", "true"});
  EXPECT_EQ(r.status, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("[invalid-host]")) << Describe(r);
}

TEST(OneShotE2E, RunStreamsStdinAndHonoursItsEnd) {
  Result cat = Mvmctl({"run", "-i", "--image", "template:busybox", "--", "cat"}, "hi\n");
  EXPECT_EQ(cat.status, 0) << Describe(cat);
  EXPECT_EQ(cat.out, "hi\n");
  // The command sees the end of its input and goes on after it.
  Result after =
      Mvmctl({"run", "-i", "--image", "template:busybox", "--", "sh", "-c", "wc -l; echo after"},
             "a\nb\nc\n");
  EXPECT_EQ(after.status, 0) << Describe(after);
  EXPECT_EQ(after.out, "3\nafter\n");
  // Without -i it gets none, and the input left unread is pointed out.
  Result without = Mvmctl({"run", "--image", "template:busybox", "--", "cat"}, "dropped\n");
  EXPECT_EQ(without.status, 0) << Describe(without);
  EXPECT_EQ(without.out, "");
  EXPECT_THAT(without.err, HasSubstr("stdin was not passed to the command; add -i"));
  // An empty stdin held nothing to pass: no note.
  Result empty = Mvmctl({"run", "--image", "template:busybox", "--", "true"});
  EXPECT_EQ(empty.status, 0) << Describe(empty);
  EXPECT_THAT(empty.err, Not(HasSubstr("stdin"))) << Describe(empty);
}

// The getting-started guide's `echo one two three | mvmctl run -i words.py`.
TEST(OneShotE2E, RunGivesAFunctionFormWorkloadItsStdin) {
  const fs::path words = kStreaming.parent_path() / "words.py";
  Result r = Mvmctl({"run", "-i", words.string()}, "one two three\n");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.out, "3 words\n") << Describe(r);
}

TEST(OneShotE2E, RunStreamsALargeInputInBoundedMemory) {
  constexpr size_t kSize = 50u << 20;
  const std::vector<std::string> args = {"run", "-i", "--image", "template:busybox",
                                         "--",  "wc", "-c"};
  Measured small = MvmctlWithInput(args, 4u << 20);
  Measured m = MvmctlWithInput(args, kSize);
  EXPECT_EQ(m.result.status, 0) << Describe(m.result);
  EXPECT_EQ(m.result.out, std::to_string(kSize) + "\n") << Describe(m.result);
  // mvmctl holds a window of it, not all of it: 50 MiB cost it no more than 4 MiB did (enough to be
  // streaming when its peak is read), give or take a few MiB of allocator noise.
  EXPECT_GT(small.max_rss_kb, 0);
  EXPECT_LT(m.max_rss_kb, small.max_rss_kb + 4 * 1024)
      << "peak RSS " << m.max_rss_kb << " KiB for 50 MiB of input, " << small.max_rss_kb
      << " KiB for 4 MiB";
  std::printf("run -i: mvmctl peak RSS %ld KiB for 50 MiB of input, %ld KiB for 4 MiB\n",
              m.max_rss_kb, small.max_rss_kb);
}

TEST(OneShotE2E, FunctionFormOutputArrivesAsItIsWritten) {
  ExpectFirstLineArrivesBeforeTheSecondIsWritten({"run", kStreaming.string()});
}

class ExecStdinE2E : public mvm::testing::IdleSandboxTest {
 protected:
  ExecStdinE2E() : IdleSandboxTest("exec-stdin") {}
};

TEST_F(ExecStdinE2E, ExecStreamsStdinAndHonoursItsEnd) {
  Result cat = Mvmctl({"exec", "-i", name_, "--", "cat"}, "hi\n");
  EXPECT_EQ(cat.status, 0) << Describe(cat);
  EXPECT_EQ(cat.out, "hi\n");
  Result without = Mvmctl({"exec", name_, "--", "cat"}, "dropped\n");
  EXPECT_EQ(without.status, 0) << Describe(without);
  EXPECT_EQ(without.out, "");
  EXPECT_THAT(without.err, HasSubstr("mvmctl exec: note: stdin was not passed to the command"));
  Result after = Mvmctl({"exec", "-i", name_, "--", "sh", "-c", "wc -l; echo after"}, "1\n2\n");
  EXPECT_EQ(after.status, 0) << Describe(after);
  EXPECT_EQ(after.out, "2\nafter\n");
  // A command that ends before its input does ends the exec, though the input never ends.
  const MvmctlChild child =
      StartMvmctl({"exec", "-i", name_, "--", "head", "-n", "1"}, SharedState());
  ASSERT_EQ(::write(child.in, "one\ntwo\n", 8), 8);
  std::string out, err;
  const auto start = Clock::now();
  mvm::testing::Drain(child.out, child.err, out, err);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ::close(child.in);
  EXPECT_LT(Seconds(Clock::now() - start), 10.0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << err;
  EXPECT_EQ(out, "one\n") << err;
}

TEST_F(ExecStdinE2E, ExecStreamsALargeInputInBoundedMemory) {
  constexpr size_t kSize = 50u << 20;
  Measured small = MvmctlWithInput({"exec", "-i", name_, "--", "wc", "-c"}, 4u << 20);
  Measured m = MvmctlWithInput({"exec", "-i", name_, "--", "wc", "-c"}, kSize);
  EXPECT_EQ(m.result.status, 0) << Describe(m.result);
  EXPECT_EQ(m.result.out, std::to_string(kSize) + "\n") << Describe(m.result);
  EXPECT_GT(small.max_rss_kb, 0);
  EXPECT_LT(m.max_rss_kb, small.max_rss_kb + 4 * 1024)
      << "peak RSS " << m.max_rss_kb << " KiB for 50 MiB of input, " << small.max_rss_kb
      << " KiB for 4 MiB";
  // The agent (PID 1 of the sandbox) held a bounded part of it too.
  Result hwm = Exec("grep VmHWM /proc/1/status");
  ASSERT_EQ(hwm.status, 0) << Describe(hwm);
  std::istringstream line(hwm.out.substr(hwm.out.find(':') + 1));
  long agent_kb = 0;
  line >> agent_kb;
  EXPECT_GT(agent_kb, 0) << hwm.out;
  EXPECT_LT(agent_kb, 20 * 1024) << "agent peak RSS " << hwm.out;
  std::printf(
      "exec -i: mvmctl peak RSS %ld KiB for 50 MiB (%ld for 4 MiB), agent peak RSS %ld KiB\n",
      m.max_rss_kb, small.max_rss_kb, agent_kb);
}

// Python run by `exec` (no -u, no flush) streams too.
TEST(ExecStreamingE2E, ExecdPythonOutputArrivesAsItIsWritten) {
  const std::string name = "exec-stream-" + std::to_string(::getpid());
  Result up = Mvmctl({"up", kStreaming.string(), "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  ExpectFirstLineArrivesBeforeTheSecondIsWritten(
      {"exec", name, "--", "python3", "-c",
       "import time; print('first'); time.sleep(1.5); print('second at', repr(time.time()))"});
  (void)Mvmctl({"destroy", name});
}

}  // namespace
