#include "cli/host_terminal.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "gtest/gtest.h"

namespace mvm::cli {
namespace {

// What is waiting in the resize pipe: 'w' per resize noted, "" when nothing is.
std::string Pending(int fd) {
  std::string got;
  char c = 0;
  while (::read(fd, &c, 1) == 1) {
    got += c;
  }
  EXPECT_EQ(errno, EAGAIN);
  return got;
}

// A process forked from mvmctl without an exec (the microVM's supervisor) keeps the SIGWINCH
// handler, and the terminal's resize reaches it too, being in the same foreground group. Its
// descriptor of the pipe's number is then some other file of its own; the handler must not write
// there. Here the child still has the pipe itself, so a write shows up in it.
TEST(HostTerminal, ASigwinchInAForkedChildWritesNothing) {
  HostTerminal terminal;
  runtime::agent::ExecRequest request;
  terminal.Prepare(request);
  ASSERT_GE(request.resize_fd, 0);

  ASSERT_EQ(::raise(SIGWINCH), 0);
  EXPECT_EQ(Pending(request.resize_fd), "w") << "the owner's resize must be noted";

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::raise(SIGWINCH);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(Pending(request.resize_fd), "") << "a forked child wrote through the handler";
}

}  // namespace
}  // namespace mvm::cli
