#include "runtime/backends/container/container.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/container/cgroups.h"
#include "runtime/backends/container/child.h"
#include "runtime/backends/container/seccomp_filter.h"

namespace mvm::runtime::container {
namespace fs = std::filesystem;
using os::UniqueFd;

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kNamespaces =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
// A child that has not exec'd by then is stuck (a hung file system behind a bind source?).
constexpr auto kSetupTimeout = std::chrono::milliseconds(30000);

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its wrappers.
int PidfdSendSignal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

using os::ErrnoText;

uint32_t MicrosSince(Clock::time_point start) {
  return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count());
}

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

// An absolute path without empty, "." or ".." components (they would let a target resolve to a
// different place than it reads).
bool IsCleanTarget(std::string_view target) {
  if (target.size() < 2 || target.front() != '/' || target.size() >= 4096) {
    return false;
  }
  size_t start = 1;
  while (start <= target.size()) {
    size_t end = std::min(target.find('/', start), target.size());
    std::string_view part = target.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

ErrorOr<Ok> Validate(const Spec& spec) {
  if (geteuid() != 0) {
    return Error{
        "the container backend must run as root: it creates user namespaces with mapped ids, "
        "cgroups and idmapped mounts; run it with sudo"};
  }
  if (auto name = CheckName(spec.name); !name) {
    return name;
  }
  if (spec.network) {
    return Error{"sandbox `" + spec.name +
                 "` asks for network access, which the container backend does not provide yet; "
                 "drop the egress rules or use another backend"};
  }
  std::error_code ec;
  if (!fs::is_directory(spec.rootfs, ec)) {
    return Error{"rootfs " + Quote(spec.rootfs) + " is not a directory"};
  }
  if (!fs::is_regular_file(spec.init, ec) || access(spec.init.c_str(), X_OK) != 0) {
    return Error{"init " + Quote(spec.init) + " is not an executable file"};
  }
  if (spec.stdout_fd >= 0 && fcntl(spec.stdout_fd, F_GETFD) < 0) {
    return Error{"stdout_fd " + std::to_string(spec.stdout_fd) + " is not an open fd"};
  }
  for (const Mount& m : spec.mounts) {
    if (m.stage && (m.kind != Mount::Kind::kBind || !m.read_only)) {
      return Error{"mount " + m.target + " is staged, which only read-only binds can be"};
    }
    if (!IsCleanTarget(m.target)) {
      return Error{"mount target `" + m.target +
                   "` must be an absolute path inside the sandbox without `.` or `..` parts, "
                   "like `/data`"};
    }
    if (m.kind == Mount::Kind::kBind && !fs::exists(m.source, ec)) {
      return Error{"bind source " + Quote(m.source) + " (for " + m.target + ") does not exist"};
    }
    if (m.kind == Mount::Kind::kTmpfs && m.size_mb == 0) {
      return Error{"tmpfs " + m.target + " has size 0; give it at least 1 MiB"};
    }
  }
  if (spec.tmp_size_mb == 0) {
    return Error{"tmp_size_mb is 0; /tmp needs at least 1 MiB"};
  }
  for (int fd : spec.inherit_fds) {
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
      return Error{"inherit_fds lists " + std::to_string(fd) + ", which is not an open fd"};
    }
  }
  if (spec.parent_death_signal < 0 || spec.parent_death_signal >= NSIG) {
    return Error{"parent_death_signal " + std::to_string(spec.parent_death_signal) +
                 " is not a signal number"};
  }
  return Ok{};
}

ErrorOr<const std::vector<sock_filter>*> SeccompProgram(bool setid_files) {
  if (setid_files) {
    // Only the builder sandbox lifts the set-id rule; compiled when one starts, which is rare.
    static const ErrorOr<std::vector<sock_filter>> with_setid = BuildSeccompProgram(true);
    if (!with_setid) {
      return with_setid.error();
    }
    return &*with_setid;
  }
  if (EmbeddedSeccompProgram().empty()) {
    return Error{"the container backend's seccomp filter supports x86_64 hosts only"};
  }
  return &EmbeddedSeccompProgram();
}

ErrorOr<Ok> WriteProcFile(pid_t pid, const char* file, std::string_view text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() || write(fd.get(), text.data(), text.size()) != ssize_t(text.size())) {
    return Error{"cannot write " + path + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

// A detached tmpfs (mode 0755) of this process's user namespace, of at most `size` bytes and
// `nr_inodes` inodes, mounted with `attrs`; `what` names it in errors.
ErrorOr<UniqueFd> DetachedTmpfs(const std::string& what, const std::string& size,
                                std::optional<std::string> nr_inodes, unsigned attrs) {
  UniqueFd config(fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!config.valid()) {
    return Error{"cannot create " + what + ": fsopen: " + ErrnoText(errno)};
  }
  if (fsconfig(config.get(), FSCONFIG_SET_STRING, "size", size.c_str(), 0) != 0 ||
      (nr_inodes &&
       fsconfig(config.get(), FSCONFIG_SET_STRING, "nr_inodes", nr_inodes->c_str(), 0) != 0) ||
      fsconfig(config.get(), FSCONFIG_SET_STRING, "mode", "0755", 0) != 0 ||
      fsconfig(config.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return Error{"cannot create " + what + ": " + ErrnoText(errno)};
  }
  UniqueFd mount(fsmount(config.get(), FSMOUNT_CLOEXEC, attrs));
  if (!mount.valid()) {
    return Error{"cannot mount " + what + ": " + ErrnoText(errno)};
  }
  return mount;
}

// The sandbox's staging tmpfs: a detached mount (in no mount namespace) that holds copies of the
// staged sources and the masked /proc texts. Binds from it show only "/s<N>" in the sandbox's
// mountinfo. Its files belong to the sandbox's root; it is bound read-only.
ErrorOr<UniqueFd> MakeStaging(const std::vector<StagedFile>& files) {
  if (files.empty()) {
    return UniqueFd();
  }
  uint64_t bytes = 1u << 20;
  std::error_code ec;
  for (const StagedFile& f : files) {
    bytes += f.contents.size() + 4096;
    if (f.copy_from.empty()) {
      continue;
    }
    if (fs::is_directory(f.copy_from, ec)) {
      for (auto it = fs::recursive_directory_iterator(f.copy_from, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        bytes += (it->is_regular_file(ec) ? it->file_size(ec) : 0) + 4096;
      }
    } else {
      bytes += fs::file_size(f.copy_from, ec) + 4096;
    }
    if (ec) {
      return Error{"cannot read " + Quote(f.copy_from) + " to stage it: " + ec.message()};
    }
  }
  auto made = DetachedTmpfs("the staging tmpfs", std::to_string(bytes), std::nullopt,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (!made) {
    return made.error();
  }
  UniqueFd staging = std::move(*made);
  // A detached mount has no path of its own; its fd's /proc link reaches it.
  fs::path root = "/proc/self/fd/" + std::to_string(staging.get());
  for (const StagedFile& f : files) {
    fs::path to = root / f.name;
    if (f.copy_from.empty()) {
      UniqueFd out(openat(staging.get(), f.name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444));
      if (!out.valid() || write(out.get(), f.contents.data(), f.contents.size()) !=
                              static_cast<ssize_t>(f.contents.size())) {
        return Error{"cannot write the staging tmpfs: " + ErrnoText(errno)};
      }
    } else {
      fs::copy(f.copy_from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
      if (ec) {
        return Error{"cannot stage " + Quote(f.copy_from) + ": " + ec.message()};
      }
    }
    // The copy must not carry set-id bits, and belongs to the sandbox's root.
    auto own = [&](const fs::path& p) {
      if (lchown(p.c_str(), kHostIdBase, kHostIdBase) != 0) {
        ec = std::error_code(errno, std::generic_category());
      }
      struct stat st {};
      if (!ec && lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
        (void)chmod(p.c_str(), st.st_mode & 0777);
      }
    };
    own(to);
    if (fs::is_directory(to, ec)) {
      for (auto it = fs::recursive_directory_iterator(to, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        own(it->path());
      }
    }
    if (ec) {
      return Error{"cannot hand the staged copy of " + Quote(f.copy_from) +
                   " to the sandbox's root: " + ec.message()};
    }
  }
  return staging;
}

// The sandbox's /dev (kDevNodes in child.h): a detached tmpfs of this process's user namespace,
// so that its device nodes open in the sandbox, with copies of the host's nodes, the links and the
// mount points. One mount for the child to attach, where it took a tmpfs, six binds of the host's
// nodes and five symlinks, each with its path walk in the child. Left writable: OpenSources makes
// it read-only with the attributes the plan gives it.
ErrorOr<UniqueFd> MakeDev() {
  auto made =
      DetachedTmpfs("the sandbox's /dev", "16k", "32", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
  if (!made) {
    return made.error();
  }
  UniqueFd dev = std::move(*made);
  for (const char* node : kDevNodes) {
    const std::string host = std::string("/dev/") + node;
    struct stat st {};
    if (stat(host.c_str(), &st) != 0) {
      return Error{"cannot copy the host's " + host +
                   " into the sandbox's /dev: " + ErrnoText(errno)};
    }
    if (!S_ISCHR(st.st_mode)) {
      return Error{"cannot copy the host's " + host +
                   " into the sandbox's /dev: it is not a character device"};
    }
    // mknodat applies the umask; the mode is the host's.
    if (mknodat(dev.get(), node, S_IFCHR | 0600, st.st_rdev) != 0 ||
        fchmodat(dev.get(), node, st.st_mode & 07777, 0) != 0) {
      return Error{"cannot make " + host + " in the sandbox's /dev: " + ErrnoText(errno)};
    }
  }
  for (const DevLink& link : kDevLinks) {
    if (symlinkat(link.target, dev.get(), link.name) != 0) {
      return Error{std::string("cannot make the link /dev/") + link.name +
                   " in the sandbox's /dev: " + ErrnoText(errno)};
    }
  }
  for (const char* dir : kDevMountPoints) {
    if (mkdirat(dev.get(), dir, 0755) != 0 || fchmodat(dev.get(), dir, 0755, 0) != 0) {
      return Error{std::string("cannot make /dev/") + dir +
                   " in the sandbox's /dev: " + ErrnoText(errno)};
    }
  }
  return dev;
}

// Detached mounts of the host sources, made here because the child, an unprivileged host uid by
// now, could not even look up a source below a root-only directory, and because only host root
// can create idmapped mounts. The /dev source takes `dev` (MakeDev) itself.
ErrorOr<std::vector<UniqueFd>> OpenSources(const std::vector<HostSource>& sources, int userns,
                                           int staging, UniqueFd& dev) {
  std::vector<UniqueFd> fds;
  for (const HostSource& s : sources) {
    UniqueFd fd;
    if (s.dev) {
      fd = std::move(dev);
    } else if (s.staged.empty()) {
      fd.Reset(open_tree(AT_FDCWD, s.path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    } else {
      fd.Reset(open_tree(staging, s.staged.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    }
    if (!fd.valid()) {
      if (s.dev) {
        return Error{"the sandbox's /dev was not made, or is listed twice"};
      }
      return Error{"cannot bind " + (s.staged.empty() ? Quote(s.path) : "staged " + s.staged) +
                   ": " + ErrnoText(errno)};
    }
    mount_attr attr{};
    attr.attr_set = s.attrs | (s.idmap ? MOUNT_ATTR_IDMAP : 0);
    attr.userns_fd = s.idmap ? static_cast<uint64_t>(userns) : 0;
    if (mount_setattr(fd.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      if (s.idmap) {
        return Error{"cannot create an idmapped mount of " + Quote(s.path) + ": " +
                     ErrnoText(errno) +
                     "; the sandbox's root can only own and write its files through one, so put "
                     "it on a file system that supports idmapped mounts (ext4, xfs, btrfs, or "
                     "tmpfs on Linux 6.3 and later)"};
      }
      return Error{"cannot set the mount options of " + Quote(s.path) + ": " + ErrnoText(errno)};
    }
    fds.push_back(std::move(fd));
  }
  return fds;
}

ErrorOr<Ok> SendGo(int sock, const std::vector<UniqueFd>& fds) {
  char byte = 'g';
  iovec iov{&byte, 1};
  std::vector<char> control(CMSG_SPACE(fds.size() * sizeof(int)));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  auto* out = reinterpret_cast<int*>(CMSG_DATA(c));
  for (size_t i = 0; i < fds.size(); ++i) {
    out[i] = fds[i].get();
  }
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
    return Error{"cannot hand the mounts to the sandbox's PID 1: " + ErrnoText(errno)};
  }
  return Ok{};
}

// A started child until Start hands it over: on any failure the child is killed and reaped and
// the cgroups are removed, so a failed Start leaves nothing behind.
class Launch {
 public:
  explicit Launch(SandboxCgroups cgroups) : cgroups_(std::move(cgroups)) {}
  Launch(const Launch&) = delete;
  Launch& operator=(const Launch&) = delete;
  ~Launch() {
    if (pidfd_.valid()) {
      (void)PidfdSendSignal(pidfd_.get(), SIGKILL);
      siginfo_t info{};
      while (waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) != 0 &&
             errno == EINTR) {
      }
    }
    if (!released_) {
      (void)cgroups_.Remove();
    }
  }

  const SandboxCgroups& cgroups() const { return cgroups_; }
  UniqueFd& pidfd() { return pidfd_; }
  int Release() {
    released_ = true;
    return pidfd_.Release();
  }

 private:
  SandboxCgroups cgroups_;
  UniqueFd pidfd_;
  bool released_ = false;
};

// Reads the child's reports until its end of the control socket closes at the exec, or until
// `timeout` passes without a report.
ErrorOr<Ok> AwaitExec(int sock, Timings& t, Clock::time_point mounts_start,
                      std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Clock::time_point exec_start = mounts_start;
  bool executing = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{sock, POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready == 0) {
      return Error{"the sandbox's PID 1 did not finish its setup within " +
                   std::to_string(timeout.count()) + " ms"};
    }
    ChildReport report;
    ssize_t n = recv(sock, &report, sizeof report, 0);
    // A child that exits with our messages still unread in its queue leaves ECONNRESET pending on
    // this seqpacket socket, and the kernel reports that error before the reports already queued
    // here; reading it clears it, so read on to get the child's last words.
    if (n < 0 && (errno == EINTR || errno == ECONNRESET)) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read the sandbox's setup reports: " + ErrnoText(errno)};
    }
    if (n == 0) {
      if (!executing) {
        return Error{"the sandbox's PID 1 died during its setup without saying why"};
      }
      t.exec_us = MicrosSince(exec_start);
      return Ok{};
    }
    if (n != sizeof report) {
      return Error{"the sandbox's PID 1 sent a malformed setup report"};
    }
    switch (report.kind) {
      case ChildReport::kMounted:
        // The child's clock: this process may be scheduled well after the child sent the report.
        // steady_clock is CLOCK_MONOTONIC too.
        exec_start = Clock::time_point(std::chrono::nanoseconds(report.at_ns));
        t.mounts_us += static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(exec_start - mounts_start)
                .count());
        break;
      case ChildReport::kExecuting:
        executing = true;
        break;
      default:
        report.step[sizeof report.step - 1] = '\0';
        return Error{std::string(report.step) + ": " + ErrnoText(report.error)};
    }
  }
}

}  // namespace

const std::vector<sock_filter>& EmbeddedSeccompProgram() {
  static const std::vector<sock_filter> program = {
#include "runtime/backends/container/seccomp_program.inc"
  };
  return program;
}

ErrorOr<Ok> CheckName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && name.front() != '-';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!ok) {
    return Error{"`" + std::string(name) +
                 "` is not a valid sandbox name: use 1 to 63 lowercase letters, digits and '-', "
                 "starting with a letter or digit"};
  }
  return Ok{};
}

ErrorOr<Sandbox> Start(const Spec& spec, Timings* timings) {
  if (auto valid = Validate(spec); !valid) {
    return valid.error();
  }
  auto program = SeccompProgram(spec.setid_files);
  if (!program) {
    return program.error();
  }
  auto roots = HostCgroupRoots();
  if (!roots) {
    return roots.error();
  }
  ChildPlan plan = BuildChildPlan(spec, **program);
  if (plan.sources.size() > kMaxSources) {
    return Error{"sandbox `" + spec.name + "` needs " + std::to_string(plan.sources.size()) +
                 " host mounts, more than the " + std::to_string(kMaxSources) +
                 " that can be handed over; use fewer bind mounts"};
  }
  Timings t;

  auto start = Clock::now();
  SandboxCgroups cgroups(*roots, spec.name);
  if (auto created = cgroups.Create(spec.limits); !created) {
    return created.error();
  }
  Launch launch(std::move(cgroups));
  auto join = launch.cgroups().OpenJoinFiles();
  if (!join) {
    return join.error();
  }
  for (const UniqueFd& fd : *join) {
    plan.cgroup_fds.push_back(fd.get());
  }
  t.cgroups_us = MicrosSince(start);

  auto staging = MakeStaging(plan.staged_files);
  if (!staging) {
    return staging.error();
  }
  auto dev = MakeDev();
  if (!dev) {
    return dev.error();
  }
  UniqueFd init(open(spec.init.c_str(), O_RDONLY | O_CLOEXEC));
  if (!init.valid()) {
    return Error{"cannot open init " + Quote(spec.init) + ": " + ErrnoText(errno)};
  }
  plan.init_fd = init.get();
  plan.keep_fds.insert(std::upper_bound(plan.keep_fds.begin(), plan.keep_fds.end(), init.get()),
                       init.get());
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Error{"cannot create the control socket: " + ErrnoText(errno)};
  }
  UniqueFd control(sv[0]);
  UniqueFd child_end(sv[1]);
  plan.keep_fds.insert(std::upper_bound(plan.keep_fds.begin(), plan.keep_fds.end(), sv[1]), sv[1]);

  // clone3 without a stack works like fork and hands back a pidfd with no pid-reuse race.
  int pidfd = -1;
  clone_args args{};
  args.flags = kNamespaces | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  start = Clock::now();
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    control.Release();
    close(sv[0]);
    RunChild(plan, sv[1]);
  }
  if (pid < 0) {
    return Error{"cannot create the sandbox's namespaces (clone3): " + ErrnoText(errno) +
                 (errno == ENOSPC ? " (user.max_user_namespaces reached?)" : "")};
  }
  launch.pidfd().Reset(pidfd);
  child_end.Reset();

  // Root of the sandbox is host uid kHostIdBase; "deny" keeps the sandbox from ever dropping its
  // supplementary groups to get around a permission that excludes one of them.
  std::string map = "0 " + std::to_string(kHostIdBase) + " " + std::to_string(kIdRange) + "\n";
  for (auto [file, text] : {std::pair<const char*, std::string_view>{"setgroups", "deny"},
                            {"uid_map", map},
                            {"gid_map", map}}) {
    if (auto w = WriteProcFile(static_cast<pid_t>(pid), file, text); !w) {
      return Error{"cannot map the sandbox's user ids: " + w.error().message};
    }
  }
  t.clone_us = MicrosSince(start);

  start = Clock::now();
  std::string userns_path = "/proc/" + std::to_string(pid) + "/ns/user";
  UniqueFd userns(open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns.valid()) {
    return Error{"cannot open " + userns_path + ": " + ErrnoText(errno)};
  }
  auto sources = OpenSources(plan.sources, userns.get(), staging->get(), *dev);
  if (!sources) {
    return sources.error();
  }
  if (auto sent = SendGo(control.get(), *sources); !sent) {
    return sent.error();
  }
  sources->clear();

  if (auto done = AwaitExec(control.get(), t, start, kSetupTimeout); !done) {
    return done.error();
  }

  if (timings != nullptr) {
    *timings = t;
  }
  Sandbox sandbox;
  sandbox.pid = static_cast<pid_t>(pid);
  sandbox.name = spec.name;
  sandbox.cgroup_dirs = launch.cgroups().Dirs();
  sandbox.pidfd = launch.Release();
  return sandbox;
}

ErrorOr<ExitStatus> Wait(Sandbox& sandbox, std::optional<std::chrono::milliseconds> timeout) {
  if (sandbox.exit_status) {
    return *sandbox.exit_status;
  }
  if (sandbox.pidfd < 0) {
    return Error{"sandbox `" + sandbox.name + "` has no pidfd to wait on"};
  }
  if (timeout) {
    auto deadline = Clock::now() + *timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{sandbox.pidfd, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (ready > 0) {
        break;
      }
      if (ready == 0) {
        return Error{"sandbox `" + sandbox.name + "` is still running after " +
                     std::to_string(timeout->count()) + " ms"};
      }
      if (errno != EINTR) {
        return Error{"cannot wait for sandbox `" + sandbox.name + "`: " + ErrnoText(errno)};
      }
    }
  }
  siginfo_t info{};
  while (waitid(P_PIDFD, static_cast<id_t>(sandbox.pidfd), &info, WEXITED) != 0) {
    if (errno != EINTR) {
      return Error{"cannot reap sandbox `" + sandbox.name + "`'s PID 1: " + ErrnoText(errno)};
    }
  }
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exit_code = info.si_status;
  } else {
    status.signal = info.si_status;
  }
  sandbox.exit_status = status;
  return status;
}

ErrorOr<Ok> Kill(const Sandbox& sandbox, int signal) {
  if (sandbox.pidfd < 0) {
    return Error{"sandbox `" + sandbox.name + "` has no pidfd to signal"};
  }
  if (PidfdSendSignal(sandbox.pidfd, signal) != 0 && errno != ESRCH) {
    return Error{"cannot signal sandbox `" + sandbox.name + "`: " + ErrnoText(errno)};
  }
  return Ok{};
}

ErrorOr<Ok> RemoveCgroups(std::string_view name) {
  if (auto valid = CheckName(name); !valid) {
    return valid;
  }
  auto roots = HostCgroupRoots();
  if (!roots) {
    return roots.error();
  }
  return SandboxCgroups(*roots, name).Remove();
}

ErrorOr<uint64_t> OomKills(std::string_view name) {
  if (auto valid = CheckName(name); !valid) {
    return valid.error();
  }
  auto roots = HostCgroupRoots();
  if (!roots) {
    return roots.error();
  }
  return SandboxCgroups(*roots, name).OomKills();
}

ErrorOr<Ok> SetFrozen(std::string_view name, bool frozen) {
  if (auto valid = CheckName(name); !valid) {
    return valid;
  }
  auto roots = HostCgroupRoots();
  if (!roots) {
    return roots.error();
  }
  return SandboxCgroups(*roots, name).SetFrozen(frozen);
}

}  // namespace mvm::runtime::container
