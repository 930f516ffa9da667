#ifndef MVM_RUNTIME_BACKENDS_CONTAINER_SECCOMP_FILTER_H_
#define MVM_RUNTIME_BACKENDS_CONTAINER_SECCOMP_FILTER_H_

#include <linux/filter.h>

#include <span>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::container {

/// System calls the sandbox may make without conditions (x86_64 names). Names this libseccomp does
/// not know are skipped, so they fall to the default action.
std::span<const char* const> AllowedSyscalls();

/// System calls the sandbox must never make; they fail with EPERM like every call not allowed. A
/// name in both lists is a bug (BuildSeccompProgram CHECKs it).
std::span<const char* const> DeniedSyscalls();

/// The sandbox's seccomp filter, compiled by libseccomp to classic BPF so that the child only has
/// to hand it to the kernel. Anything not allowed fails with EPERM rather than killing the caller:
/// general-purpose programs probe for features and cope with an error, while a kill turns the
/// probe into an unexplained crash. clone may not create namespaces; clone3, whose flags live in
/// memory a filter cannot read, fails with ENOSYS so that libc falls back to clone. socket and
/// socketpair are allowed for AF_UNIX, AF_INET, AF_INET6 and netlink route/diag only; no call may
/// set or create a set-uid or set-gid mode (openat2, whose mode is in memory too, stays allowed
/// for the agent, which denies it to every workload with a filter of its own). Another
/// architecture (i386 or x32 entry points) kills the process. An Error on hosts other than x86_64.
/// `setid_files` lifts the set-id rule (and only it): for the builder's Debian builds, whose dpkg
/// installs set-id programs into a tree whose writable mounts are nosuid on the host and whose
/// set-id bits the host drops when it copies the tree out.
ErrorOr<std::vector<sock_filter>> BuildSeccompProgram(bool setid_files = false);

}  // namespace mvm::runtime::container

#endif  // MVM_RUNTIME_BACKENDS_CONTAINER_SECCOMP_FILTER_H_
