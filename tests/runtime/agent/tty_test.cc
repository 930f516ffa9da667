// Exec on a pseudo-terminal (agent.proto, Exec.tty) through the real agent: the command sees a
// terminal as its stdio and controlling terminal, resizes reach it as SIGWINCH, ^C typed into it
// is SIGINT, the end of input is the terminal's, the exit status passes through, and a client that
// leaves hangs the terminal up.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/framing.h"
#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

namespace v1 = ::mvm::agent::v1;

class TtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  static ExecRequest Tty(const std::string& script, WindowSize window = {24, 80}) {
    ExecRequest request = Sh(script);
    request.tty = true;
    request.window = window;
    request.timeout_ms = 20000;  // a terminal that never sees its end fails the test, not hangs it
    return request;
  }

  AgentProcess agent_;
  std::optional<Client> client_;
};

TEST_F(TtyTest, TheCommandSeesATerminalOfTheGivenSizeAsItsStdioAndControllingTerminal) {
  auto ran =
      RunCommand(*client_, Tty("test -t 0 && test -t 1 && test -t 2 && echo all-ttys; "
                               "tty; stty size; echo to-stderr >&2; "
                               "ps -o tty= -p $$ >/dev/null && echo ctty=$(ps -o tty= -p $$)",
                               {33, 101}));
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->result.exit_code, 0) << ran->out;
  EXPECT_NE(ran->out.find("all-ttys\r\n"), std::string::npos) << ran->out;
  EXPECT_NE(ran->out.find("/dev/pts/"), std::string::npos) << ran->out;
  EXPECT_NE(ran->out.find("33 101\r\n"), std::string::npos) << ran->out;
  // One stream, as a terminal has: stderr arrives with stdout.
  EXPECT_NE(ran->out.find("to-stderr\r\n"), std::string::npos) << ran->out;
  EXPECT_EQ(ran->err, "");
  EXPECT_EQ(ran->result.stderr_bytes, 0u);
  // `ps` names the session's controlling terminal (`?` when there is none).
  EXPECT_NE(ran->out.find("ctty=pts/"), std::string::npos) << ran->out;
}

TEST_F(TtyTest, ExitStatusAndSignalPassThrough) {
  auto exited = RunCommand(*client_, Tty("exit 7"));
  ASSERT_TRUE(exited) << exited.error().message;
  EXPECT_EQ(exited->result.exit_code, 7);
  EXPECT_EQ(exited->result.signal, 0);
  auto killed = RunCommand(*client_, Tty("kill -TERM $$"));
  ASSERT_TRUE(killed) << killed.error().message;
  EXPECT_EQ(killed->result.signal, SIGTERM);
  EXPECT_EQ(killed->result.exit_code, 128 + SIGTERM);
}

// A resize sent while the command runs changes what `stty size` says and sends it SIGWINCH.
TEST_F(TtyTest, AResizeReachesTheCommandAsSigwinch) {
  int resize[2];
  ASSERT_EQ(::pipe2(resize, O_CLOEXEC | O_NONBLOCK), 0);
  ExecRequest request =
      Tty("trap 'echo winch; stty size; exit 0' WINCH; stty size; echo ready; "
          "while :; do sleep 0.05; done");
  request.resize_fd = resize[0];
  request.window_size = [] { return WindowSize{40, 120}; };
  std::string out;
  auto result = client_->Exec(request, [&](Stream, std::string_view data) {
    const bool was_ready = out.find("ready") != std::string::npos;
    out.append(data);
    if (!was_ready && out.find("ready") != std::string::npos) {
      EXPECT_EQ(::write(resize[1], "x", 1), 1);
    }
  });
  ::close(resize[0]);
  ::close(resize[1]);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->timed_out) << out;
  EXPECT_EQ(result->exit_code, 0) << out;
  EXPECT_NE(out.find("24 80\r\nready\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("winch\r\n40 120\r\n"), std::string::npos) << out;
}

// The end of the client's input is the terminal's end of file: `cat` ends, after a whole line and
// after a partial one (where the first VEOF only hands over the characters typed so far).
TEST_F(TtyTest, TheEndOfInputEndsCat) {
  for (const std::string input : {"hello\n", "partial"}) {
    int in[2];
    ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
    ASSERT_EQ(::write(in[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    ::close(in[1]);
    ExecRequest request = Tty("stty -echo; echo go; cat; echo after-cat");
    request.stdin_fd = in[0];
    auto ran = RunCommand(*client_, request);
    ::close(in[0]);
    ASSERT_TRUE(ran) << ran.error().message;
    EXPECT_FALSE(ran->result.timed_out) << ran->out;
    EXPECT_EQ(ran->result.exit_code, 0) << ran->out;
    const std::string shown = input.back() == '\n' ? "hello\r\n" : "partial";
    EXPECT_NE(ran->out.find(shown + "after-cat\r\n"), std::string::npos) << ran->out;
  }
}

// ^C typed into the terminal is SIGINT to its foreground process group, here the command itself.
TEST_F(TtyTest, ControlCTypedIntoTheTerminalInterruptsTheCommand) {
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ExecRequest request = Tty("echo ready; exec sleep 30");
  request.stdin_fd = in[0];
  auto ran = client_->Exec(request, [&](Stream, std::string_view data) {
    if (data.find("ready") != std::string_view::npos) {
      EXPECT_EQ(::write(in[1], "\x03", 1), 1);
    }
  });
  ::close(in[0]);
  ::close(in[1]);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_FALSE(ran->timed_out);
  EXPECT_EQ(ran->signal, SIGINT);
  EXPECT_EQ(ran->exit_code, 128 + SIGINT);
}

// A client that leaves a terminal exec hangs the terminal up: the session gets SIGHUP rather than
// waiting for input that can never come.
TEST_F(TtyTest, AClientThatLeavesHangsTheTerminalUp) {
  const fs::path pid_file = agent_.dir() / "pid";
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  v1::Request request;
  v1::Exec* exec = request.mutable_exec();
  for (const char* arg : {"sh", "-c", "echo $$ > \"$0\"; exec sleep 30"}) {
    exec->add_argv(arg);
  }
  exec->add_argv(pid_file.string());
  exec->set_tty(true);
  exec->set_output_limit_bytes(1u << 20);
  ASSERT_TRUE(WriteFrame(fd, request.SerializeAsString()));
  pid_t pid = 0;
  ASSERT_TRUE(WaitFor([&] {
    std::ifstream in(pid_file);
    return static_cast<bool>(in >> pid) && pid > 0;
  }));
  ::close(fd);
  EXPECT_TRUE(WaitFor([&] { return !ProcessExists(pid); }, 10s)) << "sleep outlived its terminal";
}

// What a client cannot send through the library: a window without a terminal, or too large.
TEST_F(TtyTest, WindowsWithoutATerminalOrTooLargeAreRefused) {
  v1::Request request;
  v1::Exec* exec = request.mutable_exec();
  exec->add_argv("true");
  exec->mutable_window()->set_rows(24);
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WriteFrame(fd, request.SerializeAsString()));
  auto frame = ReadFrame(fd);
  v1::Response response;
  ASSERT_TRUE(frame && *frame && response.ParseFromString(**frame));
  EXPECT_NE(response.error().message().find("has no `tty`"), std::string::npos)
      << response.error().message();
  exec->set_tty(true);
  exec->mutable_window()->set_cols(70000);
  ASSERT_TRUE(WriteFrame(fd, request.SerializeAsString()));
  frame = ReadFrame(fd);
  ASSERT_TRUE(frame && *frame && response.ParseFromString(**frame));
  EXPECT_NE(response.error().message().find("larger than a terminal can be"), std::string::npos)
      << response.error().message();
  ::close(fd);
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
