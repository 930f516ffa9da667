// The filter's lists; what it does to real system calls is in security_test.cc.

#include <gtest/gtest.h>
#include <seccomp.h>

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

}  // namespace
}  // namespace mvm::runtime::container
