// Exec through the real agent: output, exit status, environment, working directory, start
// failures, timeouts, output limits, process groups, reaping, concurrency.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/framing.h"
#include "tests/runtime/agent/agent_process.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::agent::testing {
namespace {

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  Ran MustRun(const ExecRequest& request) {
    auto ran = RunCommand(*client_, request);
    EXPECT_TRUE(ran) << ran.error().message;
    return ran ? *ran : Ran{};
  }

  AgentProcess agent_;
  std::optional<Client> client_;
};

TEST_F(ExecTest, HelloReportsVersionPidAndUptime) {
  auto info = client_->Hello();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->version.empty());
  EXPECT_EQ(info->pid, agent_.pid());
}

TEST_F(ExecTest, EchoStreamsStdout) {
  ExecRequest request;
  request.argv = {"echo", "hello", "world"};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, "hello world\n");
  EXPECT_EQ(ran.err, "");
  EXPECT_EQ(ran.result.exit_code, 0);
  EXPECT_EQ(ran.result.signal, 0);
  EXPECT_FALSE(ran.result.timed_out);
  EXPECT_EQ(ran.result.stdout_bytes, 12u);
  EXPECT_EQ(ran.result.stdout_dropped, 0u);
  EXPECT_EQ(ran.result.error, "");
}

TEST_F(ExecTest, StdoutAndStderrAreSeparate) {
  Ran ran = MustRun(Sh("echo out; echo err >&2"));
  EXPECT_EQ(ran.out, "out\n");
  EXPECT_EQ(ran.err, "err\n");
  EXPECT_EQ(ran.result.stderr_bytes, 4u);
}

TEST_F(ExecTest, ExitCodePassesThrough) {
  Ran ran = MustRun(Sh("exit 42"));
  EXPECT_EQ(ran.result.exit_code, 42);
  EXPECT_EQ(ran.result.signal, 0);
}

TEST_F(ExecTest, TerminatingSignalIsReported) {
  Ran ran = MustRun(Sh("kill -KILL $$"));
  EXPECT_EQ(ran.result.signal, SIGKILL);
  EXPECT_EQ(ran.result.exit_code, 128 + SIGKILL);
  EXPECT_FALSE(ran.result.timed_out);
}

TEST_F(ExecTest, StdinIsDelivered) {
  ExecRequest request;
  request.argv = {"cat"};
  request.stdin_data = std::string("line one\nline two\0with nul", 26);
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, request.stdin_data);
}

TEST_F(ExecTest, LargeStdinIsDeliveredWhole) {
  ExecRequest request;
  request.argv = {"wc", "-c"};
  request.stdin_data = std::string(3u << 20, 'x');
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, std::to_string(3u << 20) + "\n");
}

// `stdin_fd` is streamed: the command reads what was written so far and answers before the rest
// is written (the second line is written only once the first has come back), then sees its end.
TEST_F(ExecTest, StreamedStdinArrivesAsItIsWrittenAndItsEndCloses) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ExecRequest request = Sh("while read line; do echo \"got $line\"; done; echo end");
  request.stdin_fd = fds[0];
  request.timeout_ms = 20000;  // a stdin read to its end first would never see line two
  ASSERT_EQ(::write(fds[1], "one\n", 4), 4);
  std::string out;
  auto sink = [&](Stream stream, std::string_view data) {
    if (stream != Stream::kStdout) {
      return;
    }
    out.append(data);
    if (out == "got one\n") {
      EXPECT_EQ(::write(fds[1], "two\n", 4), 4);
      ::close(fds[1]);
    }
  };
  auto result = client_->Exec(request, sink);
  ::close(fds[0]);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(out, "got one\ngot two\nend\n");
}

// A command that exits before its input ends ends the exec; what the client had sent of stdin
// meanwhile is dropped, and the connection serves the next request.
TEST_F(ExecTest, StreamedStdinOfACommandThatEndsFirstLeavesTheConnectionUsable) {
  int fds[2];  // a socket pair, so that the writer left blocked ends with EPIPE, not SIGPIPE
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  const std::string lines(1u << 20, '\n');  // more than the window: frames are in flight
  std::thread writer([&] { (void)!::send(fds[1], lines.data(), lines.size(), MSG_NOSIGNAL); });
  ExecRequest request;
  request.argv = {"head", "-n", "1"};
  request.stdin_fd = fds[0];
  request.timeout_ms = 20000;
  auto result = client_->Exec(request, {});
  ::shutdown(fds[0], SHUT_RDWR);  // the writer, if still blocked, fails with EPIPE
  ::close(fds[0]);
  writer.join();
  ::close(fds[1]);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->exit_code, 0);
  Ran ran = MustRun(Sh("echo next"));
  EXPECT_EQ(ran.out, "next\n");
}

TEST_F(ExecTest, LargeStreamedStdinIsDeliveredWhole) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  constexpr size_t kSize = 20u << 20;
  std::thread writer([&] {
    const std::string chunk(1u << 16, 'x');
    for (size_t sent = 0; sent < kSize; sent += chunk.size()) {
      if (::write(fds[1], chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
        break;
      }
    }
    ::close(fds[1]);
  });
  ExecRequest request;
  request.argv = {"wc", "-c"};
  request.stdin_fd = fds[0];
  Ran ran = MustRun(request);
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(ran.out, std::to_string(kSize) + "\n");
}

TEST_F(ExecTest, NoStdinMeansEndOfFile) {
  ExecRequest request;
  request.argv = {"cat"};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.result.exit_code, 0);
}

TEST_F(ExecTest, EnvironmentIsExactlyTheRequestsPlusDefaultPath) {
  ExecRequest request;
  request.argv = {"env"};
  request.env = {{"FOO", "bar baz"}, {"EMPTY", ""}};
  Ran ran = MustRun(request);
  std::set<std::string> lines;
  std::istringstream in(ran.out);
  for (std::string line; std::getline(in, line);) {
    lines.insert(line);
  }
  EXPECT_EQ(lines, (std::set<std::string>{
                       "FOO=bar baz", "EMPTY=",
                       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}));
  EXPECT_EQ(ran.out.find("MVM_AGENT_TEST_SECRET"), std::string::npos);
}

TEST_F(ExecTest, GivenPathReplacesTheDefault) {
  ExecRequest request;
  request.argv = {"/usr/bin/env"};
  request.env = {{"PATH", "/bin"}};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, "PATH=/bin\n");
}

TEST_F(ExecTest, CommandIsSearchedInTheRequestsPath) {
  ExecRequest request;
  request.argv = {"echo", "x"};
  request.env = {{"PATH", "/nonexistent-mvm-dir"}};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 127);
}

TEST_F(ExecTest, DuplicateEnvironmentNamesAreRefused) {
  ExecRequest request;
  request.argv = {"true"};
  request.env = {{"A", "1"}, {"A", "2"}};
  auto result = client_->Exec(request, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("given twice"), std::string::npos);
}

// An OCI image's User: the command runs as those ids, with no capability left (the switch from
// root clears them), and a half-given user is refused.
TEST_F(ExecTest, ACommandRunsAsTheRequestedUserWithoutCapabilities) {
  if (::geteuid() != 0) {
    MVM_MISSING_PREREQUISITE() << "switching users needs root";
  }
  ExecRequest request;
  request.argv = {"sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"};
  request.uid = 4321;
  request.gid = 4322;
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, "4321\n4322\nCapEff:\t0000000000000000\n") << ran.err;
  request.gid.reset();
  auto refused = client_->Exec(request, nullptr);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("needs both uid and gid"), std::string::npos);
}

TEST_F(ExecTest, WorkingDirectoryIsUsed) {
  ExecRequest request;
  request.argv = {"pwd", "-P"};
  request.cwd = agent_.root().string();
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, fs::canonical(agent_.root()).string() + "\n");
}

TEST_F(ExecTest, MissingWorkingDirectoryIsAnError) {
  ExecRequest request;
  request.argv = {"true"};
  request.cwd = "/nonexistent-mvm-dir";
  auto result = client_->Exec(request, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("working directory `/nonexistent-mvm-dir`"),
            std::string::npos)
      << result.error().message;
  // The connection is still good.
  EXPECT_TRUE(client_->Hello());
}

TEST_F(ExecTest, EmptyArgvIsAnError) {
  auto result = client_->Exec(ExecRequest{}, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("argv is empty"), std::string::npos);
}

TEST_F(ExecTest, CommandNotFoundIs127) {
  ExecRequest request;
  request.argv = {"mvm-no-such-command"};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 127);
  EXPECT_EQ(ran.result.error, "`mvm-no-such-command`: command not found in PATH");
}

TEST_F(ExecTest, MissingFileIs127) {
  ExecRequest request;
  request.argv = {"/nonexistent-mvm-dir/prog"};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 127);
  EXPECT_NE(ran.result.error.find("`/nonexistent-mvm-dir/prog`: no such file"), std::string::npos);
}

TEST_F(ExecTest, NotExecutableIs126) {
  const fs::path script = agent_.root() / "script.sh";
  WriteFile(script, "#!/bin/sh\necho should not run\n");
  chmod(script.c_str(), 0644);
  ExecRequest request;
  request.argv = {script.string()};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 126);
  EXPECT_NE(ran.result.error.find("permission denied"), std::string::npos) << ran.result.error;
  EXPECT_EQ(ran.out, "");

  request.argv = {agent_.root().string()};  // a directory
  ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 126);
}

TEST_F(ExecTest, NotExecutableInPathIs126) {
  WriteFile(agent_.root() / "mvm-tool", "#!/bin/sh\n");
  chmod((agent_.root() / "mvm-tool").c_str(), 0644);
  ExecRequest request;
  request.argv = {"mvm-tool"};
  request.env = {{"PATH", "/nonexistent-mvm-dir:" + agent_.root().string()}};
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.result.exit_code, 126);
  EXPECT_EQ(ran.result.error, "`mvm-tool`: permission denied (not executable, or a directory)");
}

TEST_F(ExecTest, TimeoutKillsTheWholeProcessGroup) {
  const fs::path pid_file = agent_.root() / "background.pid";
  ExecRequest request = Sh("sleep 100 & echo $! > " + pid_file.string() + "; sleep 100");
  request.timeout_ms = 2000;
  Ran ran = MustRun(request);
  EXPECT_TRUE(ran.result.timed_out);
  EXPECT_EQ(ran.result.signal, SIGKILL);
  const std::string text = ReadFile(pid_file);
  ASSERT_FALSE(text.empty()) << "the shell did not start its background sleep in 2 s";
  const pid_t background = std::stoi(text);
  // Killed with the exec's tree and reaped by its shim: nothing left running.
  EXPECT_TRUE(WaitFor([&] { return !ProcessExists(background); }))
      << "background process " << background << " survived the timeout";
  auto logs = client_->Logs();
  ASSERT_TRUE(logs);
  EXPECT_NE(logs->find("→ signal 9 (timed out after 2000 ms)"), std::string::npos) << *logs;
}

TEST_F(ExecTest, OutputBeyondTheLimitIsCountedNotForwarded) {
  ExecRequest request = Sh("head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2");
  request.output_limit_bytes = 1000;
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out.size(), 1000u);
  EXPECT_EQ(ran.err.size(), 1000u);
  EXPECT_EQ(ran.result.stdout_bytes, 100000u);
  EXPECT_EQ(ran.result.stdout_dropped, 99000u);
  EXPECT_EQ(ran.result.stderr_bytes, 5000u);
  EXPECT_EQ(ran.result.stderr_dropped, 4000u);
  EXPECT_EQ(ran.result.exit_code, 0);
}

TEST_F(ExecTest, LargeOutputArrivesWhole) {
  ExecRequest request = Sh("head -c 6000000 /dev/zero | tr '\\0' x");
  Ran ran = MustRun(request);
  EXPECT_EQ(ran.out, std::string(6000000, 'x'));
  EXPECT_EQ(ran.result.stdout_dropped, 0u);
}

TEST_F(ExecTest, OrphansAreReaped) {
  Ran ran = MustRun(Sh("sleep 0.2 & echo $!"));
  ASSERT_EQ(ran.result.exit_code, 0);
  const pid_t orphan = std::stoi(ran.out);
  // The orphan is re-parented to the agent (PID 1 or subreaper), which must reap it.
  EXPECT_TRUE(WaitFor([&] { return !ProcessExists(orphan); })) << "zombie " << orphan;
}

TEST_F(ExecTest, SignalReachesEveryWorkloadGroup) {
  std::atomic<bool> ready = false;
  std::optional<ErrorOr<ExecResult>> result;
  std::thread runner([&] {
    auto client = agent_.Connect();
    ASSERT_TRUE(client);
    result.emplace(client->Exec(Sh("echo ready; sleep 100; echo not reached"),
                                [&](Stream, std::string_view data) {
                                  if (data.find("ready") != std::string_view::npos) {
                                    ready = true;
                                  }
                                }));
  });
  ASSERT_TRUE(WaitFor([&] { return ready.load(); }));
  auto signalled = client_->Signal(SIGTERM);
  EXPECT_TRUE(signalled) << signalled.error().message;
  runner.join();
  ASSERT_TRUE(result && *result) << (result ? result->error().message : "no result");
  EXPECT_EQ((*result)->signal, SIGTERM);
}

TEST_F(ExecTest, SignalOutOfRangeIsAnError) {
  EXPECT_FALSE(client_->Signal(0));
  EXPECT_FALSE(client_->Signal(1000));
  EXPECT_TRUE(client_->Hello());
}

TEST_F(ExecTest, ClientsAreServedConcurrently) {
  // The exec waits for a file that only a second client creates: it can only finish if the agent
  // serves the second client while the first one's exec is streaming.
  const fs::path flag = agent_.root() / "flag";
  std::optional<ErrorOr<Ran>> first;
  std::thread runner([&] {
    auto client = agent_.Connect();
    ASSERT_TRUE(client);
    ExecRequest request =
        Sh("echo waiting; while [ ! -e " + flag.string() + " ]; do sleep 0.02; done; echo done");
    request.timeout_ms = 60000;
    first.emplace(RunCommand(*client, request));
  });
  ASSERT_TRUE(client_->Hello());
  ASSERT_TRUE(client_->Logs());
  ASSERT_TRUE(client_->WriteFile("/flag", "x"));
  runner.join();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->out, "waiting\ndone\n");
  EXPECT_FALSE((*first)->result.timed_out);
}

TEST_F(ExecTest, ClientDisconnectMidExecKeepsTheAgentAndTheWorkload) {
  const fs::path flag = agent_.root() / "flag";
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  mvm::agent::v1::Request request;
  for (const char* arg :
       {"sh", "-c",
        "echo begin; while [ ! -e FLAG ]; do sleep 0.02; done; echo after-disconnect"}) {
    request.mutable_exec()->add_argv(arg);
  }
  std::string script = request.exec().argv(2);
  script.replace(script.find("FLAG"), 4, flag.string());
  request.mutable_exec()->set_argv(2, script);
  request.mutable_exec()->set_output_limit_bytes(1 << 20);
  ASSERT_TRUE(WriteFrame(fd, request.SerializeAsString()));
  auto frame = ReadFrame(fd);  // the first output: the exec is running
  ASSERT_TRUE(frame && *frame);
  close(fd);

  ASSERT_TRUE(client_->Hello());
  ASSERT_TRUE(client_->WriteFile("/flag", ""));
  std::string logs;
  EXPECT_TRUE(WaitFor([&] {
    auto got = client_->Logs();
    logs = got ? *got : "";
    return logs.find("after-disconnect\n") != std::string::npos &&
           logs.find("→ exit 0") != std::string::npos;
  })) << logs;
}

TEST_F(ExecTest, LogsHoldOutputAndMarkers) {
  MustRun(Sh("printf 'no newline'"));
  auto logs = client_->Logs();
  ASSERT_TRUE(logs);
  EXPECT_NE(logs->find("[mvm-agent] exec 1 started (pid "), std::string::npos) << *logs;
  // The marker after output that did not end a line starts a line of its own.
  EXPECT_NE(logs->find("no newline\n[mvm-agent] exec 1: sh -c printf 'no newline' → exit 0\n"),
            std::string::npos)
      << *logs;
  auto tail = client_->Logs(11);  // "→" is three bytes
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, "→ exit 0\n");
}

TEST(ExecLogRingTest, OldestBytesAreDropped) {
  AgentProcess agent({"--log-bytes", "4096"});
  auto client = agent.Connect();
  ASSERT_TRUE(client) << client.error().message;
  auto ran = RunCommand(*client, Sh("head -c 10000 /dev/zero | tr '\\0' a"));
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->out.size(), 10000u);
  auto logs = client->Logs();
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->size(), 4096u);
  EXPECT_NE(logs->find("→ exit 0\n"), std::string::npos);
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
