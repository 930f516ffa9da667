#include "runtime/backends/container/cgroups.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "ir/support/os/errno_text.h"

namespace mvm::runtime::container {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kCpuPeriodUs = 100000;
// Processes killed through the cgroup need a moment to exit before their cgroup can go; a stuck
// one (uninterruptible I/O) gets this long before Remove gives up with an Error.
constexpr auto kRemoveDeadline = std::chrono::seconds(5);
constexpr auto kRemoveRetry = std::chrono::milliseconds(10);

using os::ErrnoText;

// O_CREAT is for the plain directory trees of the tests; in cgroupfs the files exist already.
ErrorOr<Ok> WriteFile(const fs::path& path, std::string_view text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{"cannot open " + path.string() + ": " + ErrnoText(errno)};
  }
  ssize_t n = write(fd, text.data(), text.size());
  int error = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return Error{"cannot write `" + std::string(text) + "` to " + path.string() + ": " +
                 (n < 0 ? ErrnoText(error) : std::string("short write"))};
  }
  return Ok{};
}

ErrorOr<std::string> ReadFile(const fs::path& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{"cannot open " + path.string() + ": " + ErrnoText(errno)};
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int error = errno;
      close(fd);
      return Error{"cannot read " + path.string() + ": " + ErrnoText(error)};
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

bool Exists(const fs::path& path) { return access(path.c_str(), F_OK) == 0; }

// Fields of one mountinfo line: mount point, filesystem type and super options.
struct MountLine {
  std::string mount_point;
  std::string fs_type;
  std::string super_options;
};

std::vector<MountLine> ParseMountinfo(std::string_view text) {
  std::vector<MountLine> lines;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string w; fields >> w;) {
      words.push_back(std::move(w));
    }
    // id parent major:minor root mount-point options [optional fields...] - type source super
    size_t dash = 0;
    for (size_t i = 6; i < words.size(); ++i) {
      if (words[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || words.size() < dash + 4) {
      continue;
    }
    lines.push_back({words[4], words[dash + 1], words[dash + 3]});
  }
  return lines;
}

bool HasOption(std::string_view options, std::string_view option) {
  size_t start = 0;
  while (start <= options.size()) {
    size_t end = options.find(',', start);
    if (end == std::string_view::npos) {
      end = options.size();
    }
    if (options.substr(start, end - start) == option) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// Creates `dir`; an existing one is fine when `may_exist`.
ErrorOr<Ok> MakeDir(const fs::path& dir, bool may_exist) {
  if (mkdir(dir.c_str(), 0755) == 0 || (may_exist && errno == EEXIST)) {
    return Ok{};
  }
  if (errno == EEXIST) {
    return Error{"cgroup " + dir.string() +
                 " already exists: a sandbox of that name is running, or a dead one was not "
                 "cleaned up (`mvmctl gc` removes it)"};
  }
  return Error{"cannot create cgroup " + dir.string() + ": " + ErrnoText(errno)};
}

ErrorOr<Ok> KillListed(const fs::path& procs) {
  auto text = ReadFile(procs);
  if (!text) {
    // The directory went away between the checks: nothing left to kill.
    return Exists(procs.parent_path()) ? ErrorOr<Ok>(text.error()) : ErrorOr<Ok>(Ok{});
  }
  std::istringstream in(*text);
  for (pid_t pid; in >> pid;) {
    // ESRCH: it exited after the read, which is what we want.
    (void)kill(pid, SIGKILL);
  }
  return Ok{};
}

ErrorOr<Ok> RemoveDir(const fs::path& dir, bool v2) {
  auto deadline = std::chrono::steady_clock::now() + kRemoveDeadline;
  while (Exists(dir)) {
    if (v2 && Exists(dir / "cgroup.kill")) {
      if (auto w = WriteFile(dir / "cgroup.kill", "1"); !w && Exists(dir)) {
        return w;
      }
    } else if (auto k = KillListed(dir / "cgroup.procs"); !k) {
      return k;
    }
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) {
      return Ok{};
    }
    if (errno != EBUSY) {
      return Error{"cannot remove cgroup " + dir.string() + ": " + ErrnoText(errno)};
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Error{"cannot remove cgroup " + dir.string() +
                   ": processes are still in it after being killed (stuck in the kernel?); "
                   "retry `mvmctl gc` later"};
    }
    std::this_thread::sleep_for(kRemoveRetry);
  }
  return Ok{};
}

// The freezer's state as the kernel reports it: true once every task is frozen (v1 FROZEN, v2
// "frozen 1"), false once thawed; nullopt while it is on its way (v1 FREEZING).
ErrorOr<std::optional<bool>> ReadFrozen(const fs::path& dir, bool v2) {
  auto text = ReadFile(dir / (v2 ? "cgroup.events" : "freezer.state"));
  if (!text) {
    return text.error();
  }
  if (v2) {
    std::istringstream in(*text);
    std::string key;
    int value = 0;
    while (in >> key >> value) {
      if (key == "frozen") {
        return std::optional<bool>(value == 1);
      }
    }
    return Error{(dir / "cgroup.events").string() +
                 " has no `frozen` line (kernel older than 5.2?)"};
  }
  std::string state = text->substr(0, text->find('\n'));
  if (state == "FROZEN") {
    return std::optional<bool>(true);
  }
  if (state == "THAWED") {
    return std::optional<bool>(false);
  }
  return std::optional<bool>();
}

ErrorOr<Ok> WriteFrozen(const fs::path& dir, bool v2, bool frozen) {
  return v2 ? WriteFile(dir / "cgroup.freeze", frozen ? "1" : "0")
            : WriteFile(dir / "freezer.state", frozen ? "FROZEN" : "THAWED");
}

}  // namespace

ErrorOr<Ok> SetCgroupFrozen(const fs::path& dir, bool v2, bool frozen,
                            std::chrono::milliseconds limit) {
  if (auto written = WriteFrozen(dir, v2, frozen); !written) {
    return written;
  }
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto state = ReadFrozen(dir, v2);
    if (!state) {
      return state.error();
    }
    if (*state == std::optional<bool>(frozen)) {
      return Ok{};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (frozen) {
    // Half frozen is neither state: let it all run again rather than leave some tasks stopped.
    (void)WriteFrozen(dir, v2, false);
  }
  return Error{"cgroup " + dir.string() + " was not " + (frozen ? "frozen" : "thawed") +
               " within " + std::to_string(limit.count()) + " ms (a process stuck in the kernel?)" +
               (frozen ? "; it runs on as before" : "")};
}

ErrorOr<CgroupRoots> ParseCgroupRoots(std::string_view mountinfo) {
  std::vector<MountLine> lines = ParseMountinfo(mountinfo);
  CgroupRoots roots;
  bool any_cgroup2 = false;
  for (const MountLine& m : lines) {
    if (m.fs_type == "cgroup2") {
      any_cgroup2 = true;
      if (m.mount_point == "/sys/fs/cgroup") {
        roots.mode = "v2";
        roots.unified = m.mount_point;
        return roots;
      }
    }
    if (m.fs_type != "cgroup") {
      continue;
    }
    for (auto [controller, root] :
         {std::pair{"memory", &roots.memory}, std::pair{"pids", &roots.pids},
          std::pair{"cpu", &roots.cpu}, std::pair{"freezer", &roots.freezer}}) {
      if (root->empty() && HasOption(m.super_options, controller)) {
        *root = m.mount_point;
      }
    }
  }
  if (roots.memory.empty() || roots.pids.empty() || roots.cpu.empty()) {
    return Error{
        "no usable cgroup hierarchy: /sys/fs/cgroup is not cgroup2 and the cgroup v1 "
        "controllers memory, pids and cpu are not all mounted (see /proc/self/mountinfo)"};
  }
  roots.mode = any_cgroup2 ? "hybrid" : "v1";
  return roots;
}

ErrorOr<CgroupRoots> HostCgroupRoots() {
  static std::mutex mutex;
  static std::optional<CgroupRoots> known;
  std::lock_guard<std::mutex> lock(mutex);
  if (known) {
    return *known;
  }
  auto text = ReadFile("/proc/self/mountinfo");
  if (!text) {
    return text.error();
  }
  auto roots = ParseCgroupRoots(*text);
  if (roots) {
    known = *roots;
  }
  return roots;
}

SandboxCgroups::SandboxCgroups(CgroupRoots roots, std::string_view name)
    : roots_(std::move(roots)), leaf_("mvm-" + std::string(name)) {}

std::vector<fs::path> SandboxCgroups::Dirs() const {
  if (roots_.v2()) {
    return {roots_.unified / "mvm" / leaf_};
  }
  std::vector<fs::path> dirs = {roots_.memory / "mvm" / leaf_, roots_.pids / "mvm" / leaf_,
                                roots_.cpu / "mvm" / leaf_};
  if (!roots_.freezer.empty()) {
    dirs.push_back(roots_.freezer / "mvm" / leaf_);
  }
  return dirs;
}

fs::path SandboxCgroups::FreezerDir() const {
  if (roots_.v2()) {
    return roots_.unified / "mvm" / leaf_;
  }
  return roots_.freezer.empty() ? fs::path() : roots_.freezer / "mvm" / leaf_;
}

ErrorOr<Ok> SandboxCgroups::SetFrozen(bool frozen, std::chrono::milliseconds limit) const {
  fs::path dir = FreezerDir();
  if (dir.empty()) {
    return Error{
        "this host has no cgroup freezer (cgroup v1 without the freezer hierarchy "
        "mounted), so its sandboxes cannot be paused"};
  }
  if (!Exists(dir / (roots_.v2() ? "cgroup.freeze" : "freezer.state"))) {
    return Error{"sandbox cgroup " + dir.string() +
                 " has no freezer: it is gone, or the sandbox was started by an mvm that did not "
                 "make one; start it again to pause it"};
  }
  return SetCgroupFrozen(dir, roots_.v2(), frozen, limit);
}

fs::path SandboxCgroups::MemoryDir() const { return Dirs().front(); }

ErrorOr<Ok> SandboxCgroups::Create(const Limits& limits) const {
  if (limits.cpu == 0 || limits.memory_mb == 0 || limits.pids_max == 0) {
    return Error{"sandbox limits must all be at least 1 (cpu " + std::to_string(limits.cpu) +
                 ", memory_mb " + std::to_string(limits.memory_mb) + ", pids_max " +
                 std::to_string(limits.pids_max) + ")"};
  }
  std::string memory = std::to_string(uint64_t{limits.memory_mb} << 20);
  std::string pids = std::to_string(limits.pids_max);
  std::string quota = std::to_string(uint64_t{limits.cpu} * kCpuPeriodUs);
  std::string period = std::to_string(kCpuPeriodUs);

  // (file, value) pairs per directory; the optional ones are skipped when the kernel lacks them
  // (no swap accounting).
  struct Setting {
    const char* file;
    std::string value;
    bool optional;
  };
  std::vector<std::pair<fs::path, std::vector<Setting>>> plan;
  std::vector<fs::path> dirs = Dirs();
  if (roots_.v2()) {
    // Controllers reach a leaf only when every ancestor enables them for its children.
    for (const fs::path& parent : {roots_.unified, roots_.unified / "mvm"}) {
      if (auto made = MakeDir(parent, true); !made) {
        return made;
      }
      if (auto w = WriteFile(parent / "cgroup.subtree_control", "+cpu +memory +pids"); !w) {
        return w;
      }
    }
    plan.push_back({dirs[0],
                    {{"memory.max", memory, false},
                     {"memory.swap.max", "0", true},
                     {"pids.max", pids, false},
                     {"cpu.max", quota + " " + period, false}}});
  } else {
    // memsw (memory + swap) must be set after, and not below, the memory limit.
    plan.push_back({dirs[0],
                    {{"memory.limit_in_bytes", memory, false},
                     {"memory.memsw.limit_in_bytes", memory, true}}});
    plan.push_back({dirs[1], {{"pids.max", pids, false}}});
    plan.push_back(
        {dirs[2], {{"cpu.cfs_period_us", period, false}, {"cpu.cfs_quota_us", quota, false}}});
    if (dirs.size() > 3) {
      // The freezer has nothing to set: membership is what lets `pause` stop the whole sandbox.
      plan.push_back({dirs[3], {}});
    }
  }

  std::vector<fs::path> created;
  auto undo = [&created] {
    for (const fs::path& dir : created) {
      (void)rmdir(dir.c_str());
    }
  };
  for (const auto& [dir, settings] : plan) {
    if (auto made = MakeDir(dir.parent_path(), true); !made) {
      undo();
      return made;
    }
    if (auto made = MakeDir(dir, false); !made) {
      undo();
      return made;
    }
    created.push_back(dir);
    for (const Setting& s : settings) {
      if (s.optional && !Exists(dir / s.file)) {
        continue;
      }
      if (auto w = WriteFile(dir / s.file, s.value); !w) {
        undo();
        return w;
      }
    }
  }
  return Ok{};
}

ErrorOr<std::vector<os::UniqueFd>> SandboxCgroups::OpenJoinFiles() const {
  // v1's `tasks` moves one thread; a process that writes its own "0" there is single-threaded and
  // the kernel then skips the global threadgroup lock, whose write side waits for an RCU grace
  // period (about 10 ms per launch when the parent wrote the pid into cgroup.procs).
  const char* file = roots_.v2() ? "cgroup.procs" : "tasks";
  std::vector<os::UniqueFd> fds;
  for (const fs::path& dir : Dirs()) {
    fs::path path = dir / file;
    os::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return Error{"cannot open " + path.string() + ": " + os::ErrnoText(errno)};
    }
    fds.push_back(std::move(fd));
  }
  return fds;
}

ErrorOr<uint64_t> SandboxCgroups::OomKills() const {
  fs::path file = MemoryDir() / (roots_.v2() ? "memory.events" : "memory.oom_control");
  auto text = ReadFile(file);
  if (!text) {
    return text.error();
  }
  std::istringstream in(*text);
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill") {
      return value;
    }
  }
  return Error{file.string() + " has no `oom_kill` line (kernel older than 4.13?)"};
}

ErrorOr<Ok> SandboxCgroups::Remove() const {
  // A v1 frozen task does not act on SIGKILL until it is thawed; without waiting, as the kill
  // below is retried until the directories can go.
  if (fs::path freezer = FreezerDir(); !freezer.empty() && Exists(freezer)) {
    (void)WriteFrozen(freezer, roots_.v2(), false);
  }
  for (const fs::path& dir : Dirs()) {
    if (auto removed = RemoveDir(dir, roots_.v2()); !removed) {
      return removed;
    }
  }
  return Ok{};
}

}  // namespace mvm::runtime::container
