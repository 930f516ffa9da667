// End to end on the container backend: `exec -it` and `run -it` driven from a pseudo-terminal the
// test opens, as a user at a terminal. The sandbox's command sees a terminal of the user's size and
// TERM, a resize reaches it as SIGWINCH, typed input and ^C reach it through its terminal (^C
// kills the command, not mvmctl), the user's terminal is raw meanwhile and exactly as before
// afterwards, also when mvmctl is killed by SIGTERM; the audit record says tty. Without a terminal
// on stdin, -t is refused. One idle sandbox for the exec cases, one one-shot run.

#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"
#include "tests/support/terminal_mvmctl.h"

namespace {

using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::SameMode;
using mvm::testing::SharedState;
using mvm::testing::TerminalMvmctl;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Whether the audit log has an `exec` record of a command containing `marker` with tty=true.
bool AuditedWithTty(const std::string& marker) {
  std::ifstream in(SharedState() / "audit.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (line.find(marker) == std::string::npos) {
      continue;
    }
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_object() && record.value("event", "") == "exec" && record.value("tty", false)) {
      return true;
    }
  }
  return false;
}

class TtyE2E : public mvm::testing::IdleSandboxTest {
 protected:
  TtyE2E() : IdleSandboxTest("tty") {}
};

TEST_F(TtyE2E, ExecItGivesTheCommandTheUsersTerminalAndRestoresIt) {
  const std::string marker = "tty-e2e-" + std::to_string(::getpid());
  // Each step prints a line the test waits for before it acts.
  const std::string script =
      "trap 'w=1; echo \"winch $(stty size)\"' WINCH; "
      "echo \"size=$(stty size) term=$TERM\"; tty; echo ready; "
      "i=0; while [ -z \"$w\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
      "read line; echo \"got=$line\"; echo sleeping; sleep 30; echo " +
      marker;
  TerminalMvmctl t({"exec", "-it", name_, "--", "sh", "-c", script}, SharedState(), 30, 90,
                   "xterm-256color");
  ASSERT_TRUE(t.WaitFor("ready", seconds(30))) << t.Seen();
  EXPECT_THAT(t.Seen(), HasSubstr("size=30 90 term=xterm-256color\r\n"));
  EXPECT_THAT(t.Seen(), HasSubstr("/dev/pts/"));
  // Raw: canonical mode, echo and terminal signals are the sandbox terminal's business now.
  const termios raw = t.Mode();
  EXPECT_EQ(raw.c_lflag & (ICANON | ECHO | ISIG), 0u);
  // A resize signals the whole group; only mvmctl may act on it (the microVM's case: MicrovmE2E).
  EXPECT_THAT(t.OthersInTheGroupCatching(SIGWINCH), IsEmpty());
  t.Resize(50, 132);
  ASSERT_TRUE(t.WaitFor("winch 50 132", seconds(20))) << t.Seen();
  // Enter on a raw terminal is \r; the sandbox's terminal turns it into the end of a line and
  // echoes what was typed.
  t.Type("hello\r");
  ASSERT_TRUE(t.WaitFor("got=hello", seconds(20))) << t.Seen();
  ASSERT_TRUE(t.WaitFor("sleeping", seconds(20))) << t.Seen();
  t.Type("\x03");
  bool signalled = true;
  const std::optional<int> status = t.Wait(seconds(20), &signalled);
  ASSERT_TRUE(status) << "mvmctl still runs 20 s after ^C: " << t.Seen();
  // The command died of SIGINT (130 passed on by an mvmctl that exited by itself), the sandbox's
  // terminal echoed the ^C, and the line after `sleep` never ran.
  EXPECT_FALSE(signalled) << t.Seen();
  EXPECT_EQ(*status, 128 + SIGINT) << t.Seen();
  EXPECT_THAT(t.Seen(), HasSubstr("^C"));
  EXPECT_THAT(t.Seen(), Not(HasSubstr(marker + "\r\n")));
  // The user pressed ^C and saw it echoed; as docker, mvmctl adds no "killed by signal 2".
  EXPECT_THAT(t.Seen(), Not(HasSubstr("killed by signal")));
  EXPECT_TRUE(SameMode(t.before(), t.Mode())) << "the terminal was left changed";
  EXPECT_TRUE(AuditedWithTty(marker)) << "no exec record with tty=true";
}

// SIGTERM (or Ctrl-C sent by another process) ends mvmctl as before, with the terminal put back.
TEST_F(TtyE2E, ATerminatedMvmctlLeavesTheTerminalAsItFoundIt) {
  for (int sig : {SIGTERM, SIGINT}) {
    TerminalMvmctl t({"exec", "-t", name_, "--", "sh", "-c", "echo started; exec sleep 30"},
                     SharedState(), 24, 80, "xterm");
    // Once the command runs, not while mvmctl appends to the audit log, which a signal there would
    // leave unfinished for every later command, as without -t.
    ASSERT_TRUE(t.WaitFor("started", seconds(30))) << t.Seen();
    ASSERT_TRUE(t.WaitRaw(seconds(5))) << t.Seen();
    ::kill(t.pid(), sig);
    bool signalled = false;
    const std::optional<int> status = t.Wait(seconds(20), &signalled);
    ASSERT_TRUE(status) << t.Seen();
    EXPECT_TRUE(signalled) << t.Seen();
    EXPECT_EQ(*status, 128 + sig) << t.Seen();
    EXPECT_TRUE(SameMode(t.before(), t.Mode())) << "signal " << sig << " left the terminal raw";
  }
}

// `run -it` of a one-shot command: a terminal, the exit status passed on, the terminal restored;
// and -t without a terminal on stdin is refused before anything starts.
TEST(TtyRunE2E, RunItGivesTheCommandATerminalAndRefusesWithoutOne) {
  TerminalMvmctl t({"run", "-it", "--image", "template:busybox", "--", "sh", "-c",
                    "test -t 0 && test -t 1 && test -t 2 && echo all-ttys; stty size; exit 5"},
                   SharedState(), 33, 101, "xterm");
  const std::optional<int> status = t.Wait(seconds(120));
  ASSERT_TRUE(status) << t.Seen();
  EXPECT_EQ(*status, 5) << t.Seen();
  EXPECT_THAT(t.Seen(), HasSubstr("all-ttys\r\n33 101\r\n"));
  EXPECT_TRUE(SameMode(t.before(), t.Mode())) << "the terminal was left changed";

  // Without a terminal a SIGINT death is still explained.
  Result interrupted =
      Mvmctl({"run", "--image", "template:busybox", "--", "sh", "-c", "kill -INT $$"});
  EXPECT_EQ(interrupted.status, 130) << Describe(interrupted);
  EXPECT_THAT(interrupted.err, HasSubstr("killed by signal 2 (SIGINT)"));

  Result piped = Mvmctl({"run", "-t", "--image", "template:busybox", "--", "true"}, "input\n");
  EXPECT_EQ(piped.status, 2) << Describe(piped);
  EXPECT_THAT(piped.err,
              HasSubstr("the input device is not a TTY; drop -t or run from a terminal"));
}

}  // namespace
