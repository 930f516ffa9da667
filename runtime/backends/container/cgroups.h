#ifndef MVM_RUNTIME_BACKENDS_CONTAINER_CGROUPS_H_
#define MVM_RUNTIME_BACKENDS_CONTAINER_CGROUPS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/container/container.h"

namespace mvm::runtime::container {

/// Where the cgroup controllers this backend uses are mounted. Everything below takes these roots
/// as data, so tests can point the same code at a plain directory tree.
struct CgroupRoots {
  /// "v2": one unified hierarchy with the controllers; "v1": one hierarchy per controller;
  /// "hybrid": v1 controllers beside a v2 mount that has none of them (treated as v1).
  std::string mode;
  std::filesystem::path unified;  ///< v2 root (mode "v2" only)
  std::filesystem::path memory;   ///< v1 hierarchy roots (modes "v1" and "hybrid")
  std::filesystem::path pids;
  std::filesystem::path cpu;
  /// The v1 freezer hierarchy, empty when it is not mounted (then sandboxes cannot be paused). v2
  /// needs no controller for it: every cgroup but the root has `cgroup.freeze`.
  std::filesystem::path freezer;

  bool v2() const { return mode == "v2"; }
};

/// Finds the roots in the text of /proc/self/mountinfo: /sys/fs/cgroup of type cgroup2 is v2; v1
/// hierarchies are the cgroup mounts whose super options name memory, pids and cpu. An Error when
/// neither layout is complete.
ErrorOr<CgroupRoots> ParseCgroupRoots(std::string_view mountinfo);

/// How long SetCgroupFrozen waits for the kernel by default: freezing waits for every task to
/// reach the refrigerator, which one stuck in uninterruptible I/O does not.
inline constexpr std::chrono::milliseconds kFreezeWait{5000};

/// Freezes (`frozen`) or thaws every process of the cgroup `dir` and waits until the kernel says
/// it is done: v1 writes FROZEN or THAWED to `freezer.state` and reads it back, v2 writes 1 or 0
/// to `cgroup.freeze` and reads `frozen` in `cgroup.events`. A freeze that is not complete within
/// `limit` is undone (thawed) and is an Error naming the cgroup.
ErrorOr<Ok> SetCgroupFrozen(const std::filesystem::path& dir, bool v2, bool frozen,
                            std::chrono::milliseconds limit = kFreezeWait);

/// ParseCgroupRoots of this process's /proc/self/mountinfo, read once per process: the
/// hierarchies' mount points do not move under a running mvm, and a `run` asks four times (its
/// start, the exec's OOM counts before and after, its clean-up). An Error is not kept: the next
/// call reads again.
ErrorOr<CgroupRoots> HostCgroupRoots();

/// One sandbox's cgroups: <root>/mvm/mvm-<name> in each v1 hierarchy, or in the v2 root. The
/// intermediate "mvm" directories are shared by all sandboxes and never removed.
class SandboxCgroups {
 public:
  SandboxCgroups(CgroupRoots roots, std::string_view name);

  /// The sandbox's cgroup directories: memory, pids, cpu and, when mounted, freezer (v1), or the
  /// single one (v2).
  std::vector<std::filesystem::path> Dirs() const;

  /// The cgroup whose freezer holds the whole sandbox: the v1 freezer's, or the v2 one; empty on a
  /// v1 host without the freezer hierarchy.
  std::filesystem::path FreezerDir() const;

  /// SetCgroupFrozen on FreezerDir(); an Error when there is none or it does not exist (a
  /// sandbox started before its freezer cgroup was made).
  ErrorOr<Ok> SetFrozen(bool frozen, std::chrono::milliseconds limit = kFreezeWait) const;

  /// Creates the directories and sets the limits. v2 first enables the controllers for the "mvm"
  /// subtree. An Error (and nothing left behind) when a directory already exists: a sandbox of
  /// that name is alive, or a dead one was not cleaned up (RemoveCgroups).
  ErrorOr<Ok> Create(const Limits& limits) const;

  /// One descriptor per directory, open for writing, through which a single-threaded process
  /// joins that cgroup by writing "0" (itself): v1's `tasks`, v2's `cgroup.procs`. Opened by the
  /// host's root so that the write is allowed after the process has entered its user namespace.
  ErrorOr<std::vector<os::UniqueFd>> OpenJoinFiles() const;

  /// The memory cgroup's "oom_kill" count.
  ErrorOr<uint64_t> OomKills() const;

  /// Thaws a frozen sandbox (v1 freezes SIGKILL too), SIGKILLs every process left (v2:
  /// cgroup.kill when the kernel has it) and removes the directories, retrying for a few seconds
  /// while the processes exit. Missing directories are fine, so this is idempotent.
  ErrorOr<Ok> Remove() const;

 private:
  std::filesystem::path MemoryDir() const;

  CgroupRoots roots_;
  std::string leaf_;  // "mvm-<name>"
};

}  // namespace mvm::runtime::container

#endif  // MVM_RUNTIME_BACKENDS_CONTAINER_CGROUPS_H_
