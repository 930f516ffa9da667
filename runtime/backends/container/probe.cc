// Probe: each feature is tried for real in a throwaway child, because a sysctl or a config option
// can say "available" while a security module or a container around us refuses it.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "ir/support/os/unique_fd.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/container.h"

namespace mvm::runtime::container {
namespace {

using os::UniqueFd;

// Runs `body` in a forked child and reports whether it exited 0.
template <typename Body>
bool InChild(Body body) {
  pid_t pid = fork();
  if (pid < 0) {
    return false;
  }
  if (pid == 0) {
    _exit(body() ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return false;
    }
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool ProbeSeccomp() {
  return InChild([] {
    sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog program{1, allow};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
  });
}

// A child in a fresh user namespace with Start's mapping, and an idmapped mount of "/" made
// through it, as Start makes them.
bool ProbeIdmappedMount() {
  if (geteuid() != 0) {
    return false;
  }
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    return false;
  }
  UniqueFd read_end(ready[0]);
  UniqueFd write_end(ready[1]);
  pid_t pid = fork();
  if (pid < 0) {
    return false;
  }
  if (pid == 0) {
    // Exits once the parent closes its end, or at once when unshare fails (EOF for the parent).
    write_end.Reset();
    if (unshare(CLONE_NEWUSER) != 0) {
      _exit(1);
    }
    char byte;
    (void)!read(read_end.get(), &byte, 1);
    _exit(0);
  }
  read_end.Reset();
  bool ok = false;
  std::string proc = "/proc/" + std::to_string(pid);
  // The child may not have unshared yet; its user namespace differs from ours once it has.
  for (int tries = 0; tries < 1000 && !ok; ++tries) {
    char mine[64] = {};
    char theirs[64] = {};
    if (readlink("/proc/self/ns/user", mine, sizeof mine - 1) < 0 ||
        readlink((proc + "/ns/user").c_str(), theirs, sizeof theirs - 1) < 0) {
      break;
    }
    if (std::string(mine) != theirs) {
      ok = true;
    } else {
      usleep(1000);
    }
  }
  std::string map = "0 " + std::to_string(kHostIdBase) + " " + std::to_string(kIdRange) + "\n";
  auto write_file = [](const std::string& path, const std::string& text) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    return fd.valid() && write(fd.get(), text.data(), text.size()) == ssize_t(text.size());
  };
  ok = ok && write_file(proc + "/uid_map", map) && write_file(proc + "/gid_map", map);
  if (ok) {
    UniqueFd userns(open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    UniqueFd tree(open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<uint64_t>(userns.get());
    ok = userns.valid() && tree.valid() &&
         mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) == 0;
  }
  write_end.Reset();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return ok;
}

}  // namespace

HostSupport Probe() {
  HostSupport support;
  if (auto roots = HostCgroupRoots()) {
    support.cgroup_mode = roots->mode;
  }
  support.user_namespaces = InChild([] { return unshare(CLONE_NEWUSER) == 0; });
  support.seccomp = ProbeSeccomp();
  support.idmapped_mounts = ProbeIdmappedMount();
  return support;
}

}  // namespace mvm::runtime::container
