// The parent's half of the child's work: turning a Spec into plain data the child can act on.

#include <sys/mount.h>
#include <sys/random.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>

#include "runtime/backends/container/child.h"

namespace mvm::runtime::container {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr uint32_t kShmSizeMb = 64;

std::string Megabytes(uint32_t mb) { return std::to_string(mb) + "m"; }

// What the sandbox reads in place of the host's file. Static texts: a snapshot at Start would go
// stale, and the live values describe the host, not the sandbox.
std::string MaskedProcText(std::string_view file, const Limits& limits) {
  if (file == "/proc/meminfo") {
    // Sized by the sandbox's memory limit, as tools that read it to size caches should see it.
    std::string kb = std::to_string(uint64_t{limits.memory_mb} * 1024) + " kB\n";
    return "MemTotal:       " + kb + "MemFree:        " + kb + "MemAvailable:   " + kb +
           "Buffers:        0 kB\nCached:         0 kB\nSwapTotal:      0 kB\n"
           "SwapFree:       0 kB\n";
  }
  if (file == "/proc/loadavg") {
    return "0.00 0.00 0.00 1/1 1\n";
  }
  if (file == "/proc/version") {
    utsname u{};
    uname(&u);  // the release is visible through uname(2) anyway; the build host is not
    return std::string("Linux version ") + u.release + " (mvm sandbox)\n";
  }
  if (file == "/proc/sys/kernel/random/boot_id") {
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != sizeof b) {
      std::memset(b, 0, sizeof b);
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // a version-4 UUID, as the kernel's
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    char text[40];
    std::snprintf(text, sizeof text,
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\n", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                  b[14], b[15]);
    return text;
  }
  return "";
}

class PlanBuilder {
 public:
  explicit PlanBuilder(ChildPlan& plan) : plan_(plan) {}

  void Attach(const fs::path& source, uint64_t attrs, bool idmap, std::string_view target,
              bool is_dir, std::string what) {
    plan_.sources.push_back({source, attrs, idmap, {}, false});
    AddAttach(target, is_dir, std::move(what));
  }

  /// Binds a new entry of the staging tmpfs: a copy of `copy_from`, or `contents`.
  void Stage(const fs::path& copy_from, std::string contents, uint64_t attrs,
             std::string_view target, bool is_dir, std::string what) {
    std::string name = "s" + std::to_string(plan_.staged_files.size());
    plan_.staged_files.push_back({name, copy_from, std::move(contents)});
    plan_.sources.push_back({{}, attrs, false, name, false});
    AddAttach(target, is_dir, std::move(what));
  }

  /// Attaches the /dev the parent makes (HostSource::dev).
  void Dev(uint64_t attrs, std::string_view target) {
    plan_.sources.push_back({{}, attrs, false, {}, true});
    AddAttach(target, true, "attach the sandbox's " + std::string(target));
  }

  void AddAttach(std::string_view target, bool is_dir, std::string what) {
    ChildMount m;
    m.kind = ChildMount::Kind::kAttach;
    m.target = target.substr(1);
    m.target_is_dir = is_dir;
    m.fd_index = plan_.sources.size() - 1;
    m.what = std::move(what);
    plan_.mounts.push_back(std::move(m));
  }

  void Fresh(std::string fs_type, std::vector<std::pair<std::string, std::string>> options,
             uint64_t attrs, std::string_view target) {
    ChildMount m;
    m.kind = ChildMount::Kind::kFresh;
    m.target = target.substr(1);
    m.what = "mount " + fs_type + " at " + std::string(target);
    m.fs_type = std::move(fs_type);
    m.options = std::move(options);
    m.attrs = attrs;
    plan_.mounts.push_back(std::move(m));
  }

 private:
  ChildPlan& plan_;
};

}  // namespace

ChildPlan BuildChildPlan(const Spec& spec, std::vector<sock_filter> seccomp) {
  ChildPlan plan;
  plan.hostname = spec.name;
  plan.rootfs = spec.rootfs.string();
  plan.init = spec.init.string();
  std::string staging = kStagingDir;
  // userxattr: overlay's trusted.* xattrs are out of reach in a user namespace.
  plan.overlay_options = "lowerdir=" + staging + "/lower,upperdir=" + staging +
                         "/upper,workdir=" + staging + "/work,userxattr";
  // The rootfs, idmapped so that its root-owned files belong to the sandbox's root.
  plan.sources.push_back(
      {spec.rootfs, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true, {}, false});

  PlanBuilder b(plan);
  b.Fresh("proc", {}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "/proc");
  // A minimal /dev, read-only: the nodes, links and mount points of kDevNodes, kDevLinks and
  // kDevMountPoints in one mount that the parent makes, since a user namespace cannot mknod.
  b.Dev(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "/dev");
  b.Fresh("devpts", {{"ptmxmode", "0666"}, {"mode", "0620"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
          "/dev/pts");
  b.Fresh("tmpfs", {{"mode", "1777"}, {"size", Megabytes(kShmSizeMb)}},
          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "/dev/shm");
  // No /sys: it describes the host's hardware and kernel, nothing in a sandbox needs it, and every
  // file left out is attack surface and a fingerprint less.
  b.Fresh("tmpfs", {{"mode", "1777"}, {"size", Megabytes(spec.tmp_size_mb)}},
          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "/tmp");
  constexpr uint64_t kReadOnly = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  for (const char* file : kMaskedProcFiles) {
    std::error_code ec;
    if (fs::exists(file, ec)) {  // the sandbox's /proc is of the same kernel
      b.Stage({}, MaskedProcText(file, spec.limits), kReadOnly | MOUNT_ATTR_NOEXEC, file, false,
              std::string("mask ") + file);
    }
  }
  for (const Mount& m : spec.mounts) {
    if (m.kind == Mount::Kind::kTmpfs) {
      b.Fresh("tmpfs", {{"mode", "1777"}, {"size", Megabytes(m.size_mb)}},
              MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, m.target);
      continue;
    }
    std::error_code ec;
    if (m.stage) {
      b.Stage(m.source, {}, kReadOnly, m.target, fs::is_directory(m.source, ec),
              "bind a copy of " + m.source.string() + " at " + m.target);
      continue;
    }
    uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m.read_only ? MOUNT_ATTR_RDONLY : 0);
    b.Attach(m.source, attrs, m.idmap, m.target, fs::is_directory(m.source, ec),
             std::string("bind ") + (m.read_only ? "read-only " : "read-write ") +
                 m.source.string() + " at " + m.target);
  }

  plan.stdout_fd = spec.stdout_fd;
  plan.keep_fds = {0, 1, 2};
  plan.keep_fds.insert(plan.keep_fds.end(), spec.inherit_fds.begin(), spec.inherit_fds.end());
  std::sort(plan.keep_fds.begin(), plan.keep_fds.end());
  plan.keep_fds.erase(std::unique(plan.keep_fds.begin(), plan.keep_fds.end()), plan.keep_fds.end());
  plan.inherit_fds = spec.inherit_fds;
  plan.death_signal = spec.parent_death_signal;
  plan.init_switches_users = spec.init_switches_users;

  // The host file name, not "/.mvm/init": multi-call binaries such as busybox pick their applet by
  // argv[0], and "init" would be one.
  plan.argv_storage.push_back(spec.init.filename().string());
  plan.argv_storage.insert(plan.argv_storage.end(), spec.init_args.begin(), spec.init_args.end());
  plan.envp_storage.push_back(kPath);
  for (std::string& s : plan.argv_storage) {
    plan.argv.push_back(s.data());
  }
  plan.argv.push_back(nullptr);
  for (std::string& s : plan.envp_storage) {
    plan.envp.push_back(s.data());
  }
  plan.envp.push_back(nullptr);
  plan.seccomp = std::move(seccomp);
  plan.received_fds.resize(plan.sources.size(), -1);
  return plan;
}

}  // namespace mvm::runtime::container
