// The filter's lists; what it does to real system calls is in security_test.cc.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

#include "runtime/backends/container/container.h"
#include "runtime/backends/container/seccomp_filter.h"

namespace mvm::runtime::container {
namespace {

TEST(SeccompFilterTest, AllowedAndDeniedAreDisjointAndKnown) {
  std::set<std::string> allowed(AllowedSyscalls().begin(), AllowedSyscalls().end());
  EXPECT_EQ(allowed.size(), AllowedSyscalls().size()) << "a name is listed twice";
  for (const char* name : DeniedSyscalls()) {
    EXPECT_EQ(allowed.count(name), 0u) << name;
  }
  // The calls the sandbox must never make are all known to this libseccomp, so none of them is
  // left to the default action by accident of a typo.
  for (const char* name : {"mount", "ptrace", "bpf", "unshare", "setns", "keyctl", "io_uring_setup",
                           "open_by_handle_at", "kexec_load", "move_mount"}) {
    EXPECT_NE(seccomp_syscall_resolve_name(name), __NR_SCMP_ERROR) << name;
  }
  for (const char* name : DeniedSyscalls()) {
    EXPECT_NE(seccomp_syscall_resolve_name(name), __NR_SCMP_ERROR) << name;
  }
}

TEST(SeccompFilterTest, CompilesToABpfProgram) {
  auto program = BuildSeccompProgram();
  ASSERT_TRUE(program.ok()) << program.error().message;
  // Classic BPF programs are limited to 4096 instructions.
  EXPECT_GT(program->size(), 100u);
  EXPECT_LT(program->size(), 4096u);
}

// The sandboxes get the program compiled at build time (tools/seccomp_gen.cc); it must be exactly
// what libseccomp makes of the lists here and now, or the lists and the sandboxes disagree.
TEST(SeccompFilterTest, TheEmbeddedProgramIsWhatLibseccompCompiles) {
  auto program = BuildSeccompProgram();
  ASSERT_TRUE(program.ok()) << program.error().message;
  const std::vector<sock_filter>& embedded = EmbeddedSeccompProgram();
  ASSERT_EQ(embedded.size(), program->size());
  for (size_t i = 0; i < embedded.size(); ++i) {
    const sock_filter& a = embedded[i];
    const sock_filter& b = (*program)[i];
    EXPECT_TRUE(a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k)
        << "instruction " << i << " differs";
  }
}

// In a child under the filter built with `setid_files`: bit 0 set when chmod to a set-uid mode
// worked, bit 1 when an open creating a set-gid file did, bit 2 when mount did.
int SetIdCallsUnder(bool setid_files, const std::string& dir) {
  auto program = BuildSeccompProgram(setid_files);
  if (!program.ok()) {
    return -1;
  }
  pid_t child = ::fork();
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(program->size()), program->data()};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      ::_exit(100);
    }
    const std::string file = dir + "/f";
    int fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0644);
    int got = 0;
    got |= (fd >= 0 && ::chmod(file.c_str(), 04755) == 0) ? 1 : 0;
    const std::string setgid = dir + "/g";
    got |= ::open(setgid.c_str(), O_CREAT | O_WRONLY, 02755) >= 0 ? 2 : 0;
    got |= ::mount("none", dir.c_str(), "tmpfs", 0, nullptr) == 0 ? 4 : 0;
    ::_exit(got);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SeccompFilterTest, SetIdFilesLiftsTheSetIdRuleAndNothingElse) {
  char plain[] = "/tmp/mvm-seccomp-XXXXXX";
  char lifted[] = "/tmp/mvm-seccomp-XXXXXX";
  ASSERT_NE(::mkdtemp(plain), nullptr);
  ASSERT_NE(::mkdtemp(lifted), nullptr);
  EXPECT_EQ(SetIdCallsUnder(false, plain), 0);
  EXPECT_EQ(SetIdCallsUnder(true, lifted), 1 | 2);
  std::system(("rm -rf " + std::string(plain) + " " + std::string(lifted)).c_str());
}

}  // namespace
}  // namespace mvm::runtime::container
