// Attacks from a running sandbox on its operator, end to end through mvmctl (root, container
// backend): terminal escape sequences in output and file names, file names that forge listing
// entries, processes that call setsid to outlive `exec --timeout`, and a directory tree too deep
// for the agent to name, which made every snapshot fail.

#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

// OSC 52 (write the operator's clipboard), OSC 0 (window title), CSI 2J (clear the screen), and
// the 8-bit CSI as UTF-8: what a hostile workload prints at its operator.
constexpr char kAttack[] =
    "\033]52;c;aGk=\007\033]0;pwned\007\033[2J\302\233"
    "1m";
constexpr char kAttackPrintf[] = "\\033]52;c;aGk=\\007\\033]0;pwned\\007\\033[2J\\302\\2331m";
constexpr char kEscaped[] = "\\x1b]52;c;aGk=\\x07\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b1m";

// Runs mvmctl with stdin, stdout and stderr on a fresh pseudo-terminal, as an operator would.
Result MvmctlOnPty(std::vector<std::string> args) {
  args = mvm::testing::MvmctlArgv(std::move(args), mvm::testing::SharedState());
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    mvm::testing::ExecOrExit(args);
  }
  Result r;
  EXPECT_GT(pid, 0);
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      r.out.append(buffer, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO: every holder of the terminal's other side has closed it
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool HasTerminalControls(const std::string& text) {
  return text.find('\033') != std::string::npos || text.find('\007') != std::string::npos ||
         text.find("\302\233") != std::string::npos;
}

class ContainmentE2E : public mvm::testing::IdleSandboxTest {
 protected:
  ContainmentE2E() : IdleSandboxTest("contain") {}
};

TEST_F(ContainmentE2E, EscapeSequencesReachATerminalOnlyEscaped) {
  const std::string print = std::string("printf '") + kAttackPrintf + "\\n'";
  Result tty = MvmctlOnPty({"exec", name_, "--", "sh", "-c", print});
  EXPECT_EQ(tty.status, 0) << Describe(tty);
  EXPECT_FALSE(HasTerminalControls(tty.out)) << Describe(tty);
  EXPECT_THAT(tty.out, HasSubstr(kEscaped));

  // --raw, and a pipe, get the bytes unchanged.
  Result raw = MvmctlOnPty({"exec", name_, "--raw", "--", "sh", "-c", print});
  EXPECT_THAT(raw.out, HasSubstr(kAttack)) << Describe(raw);
  Result piped = Exec(print);
  EXPECT_EQ(piped.out, std::string(kAttack) + "\n") << Describe(piped);

  // The agent's log holds the same output: `logs` escapes it too.
  Result logs = MvmctlOnPty({"logs", name_});
  EXPECT_EQ(logs.status, 0) << Describe(logs);
  EXPECT_FALSE(HasTerminalControls(logs.out)) << Describe(logs);
  EXPECT_THAT(logs.out, HasSubstr(kEscaped));
  EXPECT_THAT(MvmctlOnPty({"logs", name_, "--raw"}).out, HasSubstr(kAttack));
  EXPECT_THAT(Mvmctl({"logs", name_}).out, HasSubstr(kAttack));
}

TEST_F(ContainmentE2E, FileNamesReachATerminalOnlyEscaped) {
  // One name that would retitle the window and forge a second listing line.
  Result made = Exec("touch \"/tmp/$(printf 'evil\\033]0;x\\007\\n-rw-r--r-- 0 forged')\"");
  ASSERT_EQ(made.status, 0) << Describe(made);
  Result tty = MvmctlOnPty({"fs", name_, "ls", "/tmp"});
  EXPECT_EQ(tty.status, 0) << Describe(tty);
  EXPECT_FALSE(HasTerminalControls(tty.out)) << Describe(tty);
  EXPECT_THAT(tty.out, HasSubstr("evil\\x1b]0;x\\x07\\x0a-rw-r--r-- 0 forged"));
  // The text listing escapes names wherever it goes: a pipe cannot be handed a forged line either.
  Result piped = Mvmctl({"fs", name_, "ls", "/tmp"});
  EXPECT_FALSE(HasTerminalControls(piped.out)) << Describe(piped);
  EXPECT_THAT(piped.out, HasSubstr("evil\\x1b]0;x\\x07\\x0a-rw-r--r-- 0 forged"));
}

// Issue 24 item 6: names that forge an entry of the text listing (`real\nd0755 0 injected-dir`),
// break its parsers (`zz\nboom`), hold an escape sequence, or are not UTF-8 come out of
// `fs ls --format=json` exactly, each once, and nothing else does.
TEST_F(ContainmentE2E, ListingJsonGivesEveryNameExactly) {
  Result made = Exec(
      "set -e; mkdir /tmp/names; cd /tmp/names; "
      "touch \"$(printf 'real\\nd0755 0 injected-dir')\" \"$(printf 'zz\\nboom')\" "
      "\"$(printf 'evil\\033]0;x\\007')\" \"$(printf '\\377\\376latin1-\\351')\"; "
      "ln -s \"$(printf 'to\\nwhere')\" link");
  ASSERT_EQ(made.status, 0) << Describe(made);
  Result ls = Mvmctl({"fs", name_, "ls", "/tmp/names", "--format=json"});
  ASSERT_EQ(ls.status, 0) << Describe(ls);
  ASSERT_EQ(ls.out.back(), '\n');
  EXPECT_EQ(ls.out.find('\n'), ls.out.size() - 1) << "one line: " << ls.out;
  const nlohmann::json doc = nlohmann::json::parse(ls.out);
  std::multiset<std::string> names;
  for (const nlohmann::json& e : doc.at("entries")) {
    std::string name = e.at("name").get<std::string>();
    if (e.contains("name_base64")) {
      auto bytes = mvm::plan::Base64Decode(e["name_base64"].get<std::string>());
      ASSERT_TRUE(bytes.has_value()) << e;
      EXPECT_THAT(name, HasSubstr("\xef\xbf\xbdlatin1-")) << "U+FFFD for display";
      name = *bytes;
    }
    names.insert(name);
    if (name == "link") {
      EXPECT_EQ(e.at("type"), "symlink");
      EXPECT_EQ(e.at("link_target"), "to\nwhere");
    } else {
      EXPECT_EQ(e.at("type"), "file") << e;
      EXPECT_EQ(e.at("size"), 0) << e;
      EXPECT_TRUE(e.at("mode").is_number_unsigned()) << e;
      EXPECT_FALSE(e.contains("link_target")) << e;
    }
  }
  EXPECT_EQ(names, (std::multiset<std::string>{"real\nd0755 0 injected-dir", "zz\nboom",
                                               "evil\033]0;x\007", "\377\376latin1-\351", "link"}));
  // The text listing has one line per entry.
  Result text = Mvmctl({"fs", name_, "ls", "/tmp/names"});
  ASSERT_EQ(text.status, 0) << Describe(text);
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), 5) << text.out;
  EXPECT_THAT(text.out, HasSubstr("real\\x0ad0755 0 injected-dir\n"));
}

TEST_F(ContainmentE2E, RunEscapesTheEntrypointsOutputOnATerminal) {
  Result tty = MvmctlOnPty({"run", fixture_.string(), "--workload", "echo-args", "--", kAttack});
  EXPECT_EQ(tty.status, 7) << Describe(tty);
  EXPECT_FALSE(HasTerminalControls(tty.out)) << Describe(tty);
  EXPECT_THAT(tty.out, HasSubstr(std::string("args:") + kEscaped));
  Result raw =
      MvmctlOnPty({"run", fixture_.string(), "--workload", "echo-args", "--raw", "--", kAttack});
  EXPECT_THAT(raw.out, HasSubstr(std::string("args:") + kAttack)) << Describe(raw);
}

TEST_F(ContainmentE2E, ExecTimeoutKillsProcessesThatCalledSetsid) {
  Result timed = Mvmctl({"exec", name_, "--timeout", "2", "--", "sh", "-c",
                         "setsid sh -c 'exec sleep 1000' & (setsid sh -c 'exec sleep 1001' &); "
                         "sleep 1000"});
  EXPECT_EQ(timed.status, 124) << Describe(timed);
  // The limit came from `--timeout`, not from the workload's `timeout_seconds`.
  EXPECT_THAT(timed.err, HasSubstr("timed out after 2 s (--timeout)")) << Describe(timed);
  // What is left in the sandbox's pid namespace, by command name.
  Result ps = Exec("cat /proc/[0-9]*/comm");
  ASSERT_EQ(ps.status, 0) << Describe(ps);
  EXPECT_THAT(ps.out, Not(HasSubstr("sleep"))) << ps.out;
}

// The container's agent holds CAP_SETUID and CAP_SETGID to run commands as an image's User; a
// command that stays root holds neither (nor anything else), so it cannot become another user.
TEST_F(ContainmentE2E, ARootCommandHoldsNoCapabilityAlthoughTheAgentMaySwitchUsers) {
  Result caps = Exec(
      "grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status; su -c true nobody; "
      "echo su=$?");
  ASSERT_EQ(caps.status, 0) << Describe(caps);
  EXPECT_THAT(caps.out, HasSubstr("CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
                                  "CapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n"));
  EXPECT_THAT(caps.out, HasSubstr("su=1"));
  Result agent = Exec("grep -E '^Cap(Prm|Bnd)' /proc/1/status");
  EXPECT_EQ(agent.out, "CapPrm:\t00000000000000c0\nCapBnd:\t00000000000000c0\n");
}

TEST_F(ContainmentE2E, ADirectoryTreeTooDeepToNameDoesNotFailTheSnapshot) {
  // 200 levels of 30-character names: paths past 6000 bytes, beyond what the agent can name
  // (PATH_MAX), built 50 levels per `cd` so that no single path given to the kernel is that long.
  Result made = Exec(
      "set -e; echo top > /tmp/top.txt; mkdir /tmp/deep; cd /tmp/deep; "
      "level=dddddddddddddddddddddddddddddd; chunk=$level; "
      "for i in $(seq 49); do chunk=$chunk/$level; done; "
      "for i in 1 2 3 4; do mkdir -p $chunk; cd -P $chunk; done; echo leaf > leaf.txt");
  ASSERT_EQ(made.status, 0) << Describe(made);
  Result taken = Mvmctl({"snapshot", name_, "--label", "deep", "--format", "json"});
  ASSERT_EQ(taken.status, 0) << Describe(taken);
  const nlohmann::json s = nlohmann::json::parse(taken.out);
  ASSERT_EQ(s["too_deep"].size(), 1u) << taken.out;
  EXPECT_EQ(s["too_deep"][0].get<std::string>().rfind("/tmp/deep/ddd", 0), 0u);
  EXPECT_GE(s["files"].get<int>(), 1);  // /tmp/top.txt at least
}

}  // namespace
