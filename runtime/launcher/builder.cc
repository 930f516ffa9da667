// The builder sandbox (builder.h): its store, its root, the plan it starts from, and one build in
// it from the request to the imported tree.

#include "runtime/launcher/builder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/nar.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/backends/container/container.h"
#include "runtime/backends/helper.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"
#include "runtime/guest/guest.h"
#include "runtime/launcher/internal.h"
#include "runtime/rootfs/debian_image.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

using os::ErrnoText;

// Where the builder sees its inputs; the mount points exist in its root (WriteBuilderRootfs).
constexpr std::string_view kSrcMount = "/src";
constexpr std::string_view kStoreMount = "/nix";
constexpr std::string_view kBuildDirMount = "/build";

// Enough of Nix's log to show why a build failed without burying the message.
constexpr size_t kTailLines = 25;

// Settings the builder's Nix reads besides the command line: nothing comes from anywhere else.
constexpr std::string_view kNixConf =
    "# mvm's builder sandbox: no substituters, no build users, Nix's own sandbox off (this\n"
    "# sandbox is the boundary; see docs/nix.md)\n"
    "substituters =\n"
    "build-users-group =\n"
    "sandbox = false\n"
    "filter-syscalls = false\n"
    "experimental-features = nix-command flakes\n";

// The microVM builder's store is a host directory shared over virtio-fs: SQLite's write-ahead log
// needs shared memory maps of the database, which its page cache does not keep coherent.
constexpr std::string_view kMicrovmNixConf = "use-sqlite-wal = false\n";

// Where the microVM builder's nix.conf is made on the host, copied into the VM at /etc/nix.
constexpr std::string_view kMicrovmNixConfDir = "microvm-etc-nix";
// The pin of the microVM builder's root as last resolved, so that later starts find it in the
// rootfs cache without asking the archive.
constexpr std::string_view kMicrovmRootPin = "microvm-root.pin";

bool IsMounted(const fs::path& dir) {
  struct stat here {};
  struct stat parent {};
  return ::stat(dir.c_str(), &here) == 0 && ::stat(dir.parent_path().c_str(), &parent) == 0 &&
         here.st_dev != parent.st_dev;
}

/// The builder's /nix as the host reaches it from any mount namespace: through the root of the
/// sandbox's PID 1. The store's host-side mount lives only in the mount namespace of whoever
/// started the builder (a warm builder outlives that), the sandbox's own view as long as it runs.
/// `path()` names the opened directory (`/proc/self/fd/N`) for the importers, which open beneath
/// it.
class StoreView {
 public:
  static ErrorOr<StoreView> Open(const StateDir& state, const SandboxRecord& record) {
    if (record.backend == kMicrovmBuilder) {
      return OpenHostMount(state, record);
    }
    const std::string proc_root = "/proc/" + std::to_string(record.pid) + "/root";
    os::UniqueFd root(::open(proc_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    os::UniqueFd nix(
        root.valid() ? static_cast<int>(::syscall(SYS_openat2, root.get(), "nix", &how, sizeof how))
                     : -1);
    const int err = errno;
    // Checked after opening: a pid taken over by another process since would name its root.
    if (!nix.valid() || backends::ProcessStartTime(record.pid) != record.pid_start_time) {
      return Error{
          "cannot reach the store of the builder `" + record.name + "` through `" + proc_root +
          "/nix`: " + (nix.valid() ? std::string("the builder has ended") : ErrnoText(err))};
    }
    return StoreView(std::move(nix));
  }
  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_.get()); }

 private:
  /// A microVM builder's store is the host's mount of the image, which virtiofsd serves: the
  /// guest never touches the image's blocks, so what the host reads is what its own ext4 wrote.
  static ErrorOr<StoreView> OpenHostMount(const StateDir& state, const SandboxRecord& record) {
    const fs::path store = BuilderPathsFor(state).store;
    os::UniqueFd nix(::open(store.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat here {};
    struct stat parent {};
    if (!nix.valid() || ::fstat(nix.get(), &here) != 0 ||
        ::stat(store.parent_path().c_str(), &parent) != 0 || here.st_dev == parent.st_dev) {
      return Error{"cannot reach the store of the microVM builder `" + record.name + "` at `" +
                   store.string() +
                   "`: it is not mounted in this mount namespace (it is in the one `builder "
                   "start` ran in); build from there, or `mvmctl builder stop` and build again"};
    }
    return StoreView(std::move(nix));
  }

  explicit StoreView(os::UniqueFd fd) : fd_(std::move(fd)) {}
  os::UniqueFd fd_;
};

ErrorOr<Ok> Run(const std::vector<std::string>& argv, std::string_view what) {
  os::RunOptions run;
  run.spawn.argv = argv;
  run.merge_stderr = true;
  auto ran = os::RunProcess(run);
  if (!ran) {
    return Error{"cannot " + std::string(what) + ": " + ran.error().message};
  }
  if (!ran->success()) {
    return Error{"cannot " + std::string(what) + " (`" + argv[0] + "` " + ran->Describe() +
                 "): " + ran->Tail(5)};
  }
  return Ok{};
}

/// The builder's root: mount points, symlinks into /usr as Debian's merged /usr has them, and an
/// /etc of its own. Written afresh on each start, so it is exactly this.
ErrorOr<std::string> WriteBuilderRootfs(const fs::path& root) {
  std::error_code ec;
  // etc/apt/apt.conf.d: apt (mmdebstrap's, in a Debian build) warns about each one it lacks.
  for (const char* dir : {"usr", "nix", "src", "build", "etc/nix", "etc/apt/apt.conf.d", "tmp",
                          "proc", "dev", "sys", "run/mvm", ".mvm", "app", "root"}) {
    fs::create_directories(root / dir, ec);
    if (ec) {
      return Error{"cannot create `" + (root / dir).string() + "`: " + ec.message()};
    }
  }
  for (const char* link : {"bin", "lib", "lib64", "sbin"}) {
    const fs::path path = root / link;
    fs::remove(path, ec);
    fs::create_directory_symlink(std::string("usr/") + link, path, ec);
    if (ec) {
      return Error{"cannot create `" + path.string() + "`: " + ec.message()};
    }
  }
  // Debian's /usr/bin/fakeroot is a link into /etc/alternatives, which is the host's and not here;
  // mmdebstrap's fakechroot mode runs it.
  fs::create_directories(root / "etc/alternatives", ec);
  fs::remove(root / "etc/alternatives/fakeroot", ec);
  fs::create_symlink("/usr/bin/fakeroot-sysv", root / "etc/alternatives/fakeroot", ec);
  if (ec) {
    return Error{"cannot create `" + (root / "etc/alternatives/fakeroot").string() +
                 "`: " + ec.message()};
  }
  const std::pair<const char*, std::string_view> files[] = {
      {"etc/passwd",
       "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
      {"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
      {"etc/nix/nix.conf", kNixConf}};
  for (const auto& [name, text] : files) {
    if (auto written = os::WriteFileAtomically(root / name, text, os::FileMode{0644, true});
        !written) {
      return written.error();
    }
  }
  return rootfs::TreeDigest(root);
}

/// The plan the builder starts from: made here, never read from anywhere, so it is not admitted
/// (there is no signature to check) but it is audited (builder-start) like every start.
plan::v1::ExecutionPlan BuilderPlan(const BuilderPaths& paths, const BuilderSettings& settings,
                                    const std::vector<ArchiveHost>& archive, bool microvm) {
  plan::v1::ExecutionPlan p;
  p.mutable_workload()->set_id(std::string(kWarmBuilder));
  p.mutable_lifecycle()->set_cpu(static_cast<int32_t>(settings.cpus));
  p.mutable_lifecycle()->set_memory_mb(static_cast<int32_t>(settings.memory_mb));
  p.mutable_lifecycle()->set_isolation(microvm ? "microvm" : "container");
  auto mount = [&](const char* kind, const fs::path& source, std::string_view target,
                   const char* mode, int32_t size_mb) {
    plan::v1::Mount* m = p.add_mounts();
    m->set_kind(kind);
    m->set_source(source.string());
    m->set_target(std::string(target));
    m->set_mode(mode);
    m->set_size_mb(size_mb);
  };
  if (microvm) {
    // Its root is a Debian image of its own, /usr and all; only Nix's settings come from here.
    mount("local", paths.dir / kMicrovmNixConfDir, "/etc/nix", "ro", 0);
  } else {
    mount("local", "/usr", "/usr", "ro", 0);
  }
  mount("local", paths.store, kStoreMount, "rw", 0);
  mount("local", paths.inbox, kSrcMount, "ro", 0);
  mount("memory", {}, kBuildDirMount, "rw", static_cast<int32_t>(settings.build_dir_mb));
  p.mutable_network()->set_default_("deny");
  for (const ArchiveHost& host : archive) {
    plan::v1::EgressRule* rule = p.mutable_network()->add_rules();
    rule->set_protocol(host.protocol);
    rule->set_host(host.host);
  }
  return p;
}

/// Copies the flake directory `from` to `to`: symlinks as symlinks, so a link out of the flake
/// points at nothing in the builder.
ErrorOr<Ok> CopyFlakeSource(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::is_directory(from, ec)) {
    return Error{"the flake `" + from.string() + "` is not a directory"};
  }
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    return Error{"cannot copy the flake `" + from.string() + "` for the builder: " + ec.message()};
  }
  return Ok{};
}

/// The local directory a flake reference names, and its `?query`; nullopt for one that needs
/// fetching.
std::optional<std::pair<fs::path, std::string>> LocalFlake(std::string_view ref) {
  std::string_view path = ref;
  if (path.starts_with("path:")) {
    path.remove_prefix(5);
  }
  std::string query;
  if (size_t q = path.find('?'); q != std::string_view::npos) {
    query = std::string(path.substr(q));
    path = path.substr(0, q);
  }
  if (!path.starts_with("/")) {
    return std::nullopt;
  }
  return std::make_pair(fs::path(path), query);
}

std::string LastLines(const std::vector<std::string>& lines) {
  std::string out;
  size_t from = lines.size() > kTailLines ? lines.size() - kTailLines : 0;
  for (size_t i = from; i < lines.size(); ++i) {
    out += "\n  " + lines[i];
  }
  return out;
}

struct NixRun {
  int exit_status = 0;
  std::string message;  // DescribeExec's, when not a plain exit
  std::string stdout_text;
  std::vector<std::string> log;
};

/// Runs `argv` in the builder through its agent, Nix's stderr to `job.on_log` line by line.
ErrorOr<NixRun> RunNixInBuilder(
    const LauncherOptions& options, const SandboxRecord& record, agent::Client& agent,
    const std::vector<std::string>& argv, const BuilderJob& job, audit::Log& audit,
    const std::vector<std::pair<std::string, std::string>>& extra_env = {}) {
  agent::ExecRequest request;
  request.argv = argv;
  request.env = {{"PATH", "/usr/bin:/bin"},          {"HOME", "/build/home"},
                 {"XDG_CACHE_HOME", "/build/cache"}, {"TMPDIR", std::string(kBuildDirMount)},
                 {"NIX_CONF_DIR", "/etc/nix"},       {"USER", "root"}};
  request.env.insert(request.env.end(), extra_env.begin(), extra_env.end());
  request.cwd = std::string(kBuildDirMount);
  NixRun run;
  std::string partial;
  auto sink = [&](agent::Stream stream, std::string_view data) {
    if (stream == agent::Stream::kStdout) {
      run.stdout_text.append(data);
      return;
    }
    partial.append(data);
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, nl);
      partial.erase(0, nl + 1);
      if (job.on_log) {
        job.on_log(line);
      }
      run.log.push_back(std::move(line));
      if (run.log.size() > 4 * kTailLines) {
        run.log.erase(run.log.begin(), run.log.begin() + static_cast<long>(kTailLines));
      }
    }
  };
  auto outcome = Exec(options, record, agent, std::move(request), sink, job.timeout_seconds, audit,
                      "--build-timeout");
  if (!partial.empty()) {
    if (job.on_log) {
      job.on_log(partial);
    }
    run.log.push_back(partial);
  }
  if (!outcome) {
    return outcome.error();
  }
  run.exit_status = outcome->exit_status;
  run.message = outcome->message;
  return run;
}

}  // namespace

BuilderPaths BuilderPathsFor(const StateDir& state) {
  const fs::path dir = state.root / "builder";
  return {dir, dir / "store.img", dir / "store", dir / "rootfs", dir / "inbox", dir / "lock"};
}

ErrorOr<BuilderLock> BuilderLock::Acquire(const StateDir& state) {
  const BuilderPaths paths = BuilderPathsFor(state);
  std::error_code ec;
  fs::create_directories(paths.dir, ec);
  if (ec) {
    return Error{"cannot create `" + paths.dir.string() + "`: " + ec.message()};
  }
  int fd = ::open(paths.lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{"cannot open `" + paths.lock.string() + "`: " + ErrnoText(errno)};
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return Error{"cannot lock `" + paths.lock.string() + "`: " + ErrnoText(err)};
    }
  }
  return BuilderLock(fd);
}

BuilderLock::~BuilderLock() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

ErrorOr<Ok> MountBuilderStore(const StateDir& state, const BuilderSettings& settings) {
  const BuilderPaths paths = BuilderPathsFor(state);
  std::error_code ec;
  fs::create_directories(paths.store, ec);
  if (ec) {
    return Error{"cannot create `" + paths.store.string() + "`: " + ec.message()};
  }
  if (IsMounted(paths.store)) {
    return Ok{};
  }
  if (!fs::exists(paths.store_image, ec)) {
    // A file system of its own bounds what builds can write: a build that fills it fails with
    // ENOSPC in the builder, and the host's disk keeps its space.
    const fs::path partial = paths.store_image.string() + ".new";
    {
      int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(settings.store_mb) << 20) != 0) {
        const int err = errno;
        if (fd >= 0) {
          ::close(fd);
        }
        return Error{"cannot create the builder's store image `" + partial.string() +
                     "`: " + ErrnoText(err)};
      }
      ::close(fd);
    }
    if (!os::FindProgram("mkfs.ext4")) {
      return Error{
          "mkfs.ext4 not found on PATH; the builder's store is an ext4 image: install "
          "e2fsprogs (apt-get install e2fsprogs)"};
    }
    if (auto made =
            Run({"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=0:0", partial.string()},
                "make the builder's store file system");
        !made) {
      fs::remove(partial, ec);
      return made.error();
    }
    fs::rename(partial, paths.store_image, ec);
    if (ec) {
      return Error{"cannot rename `" + partial.string() + "`: " + ec.message()};
    }
  }
  return Run({"mount", "-o", "loop,nosuid,nodev,noatime", paths.store_image.string(),
              paths.store.string()},
             "mount the builder's store `" + paths.store_image.string() + "`");
}

ErrorOr<Ok> UnmountBuilderStore(const StateDir& state) {
  const BuilderPaths paths = BuilderPathsFor(state);
  if (!IsMounted(paths.store)) {
    return Ok{};
  }
  if (::umount2(paths.store.c_str(), 0) != 0 &&
      (errno != EBUSY || ::umount2(paths.store.c_str(), MNT_DETACH) != 0)) {
    return Error{"cannot unmount the builder's store `" + paths.store.string() +
                 "`: " + ErrnoText(errno)};
  }
  return Ok{};
}

namespace {

/// The microVM builder's root from the rootfs cache: by the recorded pin, or resolved afresh when
/// there is none or the archive has moved on from it. With `debootstrap`, a miss is built (in a
/// container builder); without, a miss is an Error.
ErrorOr<ResolvedRootfs> MicrovmBuilderRoot(const LauncherOptions& options,
                                           const rootfs::DebootstrapFn& debootstrap) {
  const fs::path pin_file = BuilderPathsFor(options.state).dir / kMicrovmRootPin;
  std::string pinned;
  {
    std::ifstream in(pin_file);
    std::getline(in, pinned);
  }
  if (!nix::IsSha256Digest(pinned)) {
    pinned.clear();
  }
  rootfs::DebianImageSpec spec{"bookworm", {}};
  for (std::string_view package : kMicrovmBuilderPackages) {
    spec.packages.emplace_back(package);
  }
  auto note = [&](std::string_view line) {
    if (options.note) {
      options.note(line);
    }
  };
  auto made =
      rootfs::MaterializeDebianImage(spec, pinned, options.state.RootfsCache(), note, debootstrap);
  if (!made && !pinned.empty() && debootstrap) {
    made = rootfs::MaterializeDebianImage(spec, "", options.state.RootfsCache(), note, debootstrap);
  }
  if (!made) {
    return Error{"the microVM builder's root (Debian bookworm with nix-bin and busybox-static): " +
                 made.error().message};
  }
  if (!made->pin.digest.empty() && made->pin.digest != pinned) {
    std::error_code ec;
    fs::create_directories(pin_file.parent_path(), ec);
    if (auto written =
            os::WriteFileAtomically(pin_file, made->pin.digest + "\n", os::FileMode{0600, true});
        !written) {
      return written.error();
    }
  }
  return ResolvedRootfs{made->tree.dir, made->tree.digest, std::nullopt};
}

}  // namespace

BuilderBackendChoice DefaultBuilderBackend(bool qemu_available, std::string_view accel,
                                           std::string_view accel_reason) {
  if (!qemu_available) {
    return {std::string(kContainerBuilder),
            "qemu-system-x86_64 is not installed, so no microVM can boot here", false};
  }
  if (accel == "kvm") {
    return {std::string(kMicrovmBuilder),
            "KVM boots a guest here (" + std::string(accel_reason) +
                "): a hardware-virtualised boundary for about a second of boot",
            false};
  }
  return {std::string(kContainerBuilder),
          "no guest boots under KVM here (" + std::string(accel_reason) +
              "), and under TCG emulation every instruction of Nix's evaluation is emulated",
          false};
}

ErrorOr<BuilderBackendChoice> ChooseBuilderBackend(const LauncherOptions& options,
                                                   std::string_view requested) {
  if (requested == kContainerBuilder || requested == kMicrovmBuilder) {
    return BuilderBackendChoice{std::string(requested),
                                "named by --builder-backend or " + std::string(kBuilderBackendEnv),
                                true};
  }
  if (!requested.empty() && requested != "auto") {
    return Error{"unknown builder backend `" + std::string(requested) + "`; give `" +
                 std::string(kContainerBuilder) + "`, `" + std::string(kMicrovmBuilder) +
                 "` or `auto` (--builder-backend, or " + kBuilderBackendEnv + ")"};
  }
  if (!qemu_microvm::QemuAvailable()) {
    return DefaultBuilderBackend(false, "", "");
  }
  const fs::path cache = options.state.GuestCache();
  std::error_code ec;
  fs::create_directories(cache, ec);
  qemu_microvm::Acceleration accel = qemu_microvm::ChooseAcceleration(cache / "kvm-probe", [&] {
    auto files = guest::EnsureBootFiles(cache, options.agent_binary, options.note);
    return files && qemu_microvm::ProbeBoot(files->vmlinux, files->initramfs, "kvm", cache,
                                            std::chrono::seconds(10));
  });
  return DefaultBuilderBackend(true, accel.name, accel.reason);
}

ErrorOr<Ok> PrepareBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                           audit::Log& audit) {
  if (settings.backend != kMicrovmBuilder) {
    return Ok{};
  }
  LauncherOptions on_container = options;
  on_container.backend = std::string(kContainerBuilder);
  auto root = MicrovmBuilderRoot(on_container, BuilderDebootstrap(on_container, audit));
  if (!root) {
    return root.error();
  }
  return Ok{};
}

ErrorOr<Sandbox> StartBuilder(const LauncherOptions& base_options, const BuilderSettings& settings,
                              const std::string& name, bool detached, audit::Log& audit,
                              const std::vector<ArchiveHost>& archive) {
  LauncherOptions options = base_options;
  options.backend = settings.backend;
  const BuilderPaths paths = BuilderPathsFor(options.state);
  auto backend = backends::Find(options.backend);
  if (!backend) {
    return backend.error();
  }
  const bool microvm = (*backend)->capabilities().microvm_isolation;
  if (microvm && !archive.empty()) {
    // mmdebstrap's fakechroot mode and its set-id files are the container builder's.
    return Error{"a Debian build runs in a container builder, not on `" + options.backend + "`"};
  }
  if (auto found = os::FindProgram("nix"); !found && !microvm) {
    return Error{"nix not found on PATH; install Debian's nix-bin (apt-get install nix-bin)"};
  }
  std::error_code ec;
  fs::create_directories(paths.inbox, ec);
  ErrorOr<ResolvedRootfs> root = Error{""};
  if (microvm) {
    root = MicrovmBuilderRoot(options, {});
    fs::create_directories(paths.dir / kMicrovmNixConfDir, ec);
    if (root) {
      if (auto written = os::WriteFileAtomically(
              paths.dir / kMicrovmNixConfDir / "nix.conf",
              std::string(kNixConf) + std::string(kMicrovmNixConf), os::FileMode{0644, true});
          !written) {
        return written.error();
      }
    }
  } else {
    auto digest = WriteBuilderRootfs(paths.rootfs);
    root = digest ? ErrorOr<ResolvedRootfs>(ResolvedRootfs{paths.rootfs, *digest, std::nullopt})
                  : ErrorOr<ResolvedRootfs>(digest.error());
  }
  if (!root) {
    return root.error();
  }
  if (auto mounted = MountBuilderStore(options.state, settings); !mounted) {
    return mounted.error();
  }
  auto lock = LockNameForNewSandbox(options.state, name);
  if (!lock) {
    return lock.error();
  }
  AdmittedPlan admitted;
  admitted.verified.plan = BuilderPlan(paths, settings, archive, microvm);
  admitted.verified.payload_digest = "builder";
  StartOptions start;
  start.name = name;
  start.detached = detached;
  start.use_pool = false;
  // A warm builder is given each build's flake after it started.
  start.live_read_only = {std::string(kSrcMount)};
  // A Debian build's dpkg installs set-id programs (su, mount); its store is nosuid on the host and
  // the host drops set-id bits when it copies the tree out.
  start.setid_files = !archive.empty();
  nlohmann::json hosts = nlohmann::json::array();
  for (const ArchiveHost& host : archive) {
    start.egress_fixed_hosts[host.host] = host.addresses;
    hosts.push_back(host.protocol + "://" + host.host);
  }
  auto sandbox =
      SandboxAccess::StartOn(**backend, options, admitted, start, audit, nullptr, name, *root);
  (void)audit.Append("builder-start", {{"sandbox", name},
                                       {"backend", options.backend},
                                       {"warm", detached},
                                       {"store", paths.store.string()},
                                       {"store_mb", settings.store_mb},
                                       {"network", hosts},
                                       {"ok", sandbox.ok()}});
  return sandbox;
}

ErrorOr<std::vector<std::string>> BuilderArgv(const nix::NixBuildRequest& request,
                                              std::string_view dir) {
  auto local = LocalFlake(request.flake_ref);
  if (!local) {
    // The hook for fetching builds: once the egress proxy serves builders, a request that names
    // the hosts it may fetch from gets a builder with that network instead of this refusal.
    return Error{"the flake `" + request.flake_ref +
                 "` must be fetched, and the builder sandbox has no network (builds are offline "
                 "until fetch sources can be allowed through the egress proxy); put the flake in a "
                 "local directory and name it `path:/abs/dir`"};
  }
  std::vector<std::string> argv = request.argv;
  argv[0] = "/usr/bin/nix";
  for (size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--store") {
      argv[i + 1] = "local";  // the builder's /nix, not the host path the request names
      ++i;
    } else if (argv[i] == "--option" && i + 2 < argv.size() && argv[i + 1] == "sandbox") {
      argv[i + 2] = "false";
      i += 2;
    }
  }
  argv.back() = "path:" + std::string(kSrcMount) + "/" + std::string(dir) + local->second + "#" +
                request.attr;
  return argv;
}

namespace {

/// The builder a job runs in (the warm one when it runs, otherwise one for this job, under the
/// lock so that no other build unmounts the store beneath it) and the job's flake, copied to
/// `/src/<dir>`. ReleaseBuilder ends both.
struct TakenBuilder {
  std::optional<BuilderLock> lock;
  std::optional<Sandbox> own;
  std::optional<Attached> warm;
  std::string name;
  std::string backend;
  fs::path flake_copy;

  const SandboxRecord& record() const { return own ? own->record() : warm->record; }
  agent::Client& agent() { return own ? own->agent() : warm->agent; }
};

/// Removes the job's flake copy and ends a builder started for the job.
void ReleaseBuilder(const LauncherOptions& options, TakenBuilder& taken, audit::Log& audit) {
  std::error_code ec;
  if (!taken.flake_copy.empty()) {
    fs::remove_all(taken.flake_copy, ec);
  }
  if (taken.own) {
    (void)Destroy(options, *taken.own, audit, "build finished");
    (void)UnmountBuilderStore(options.state);
    taken.own.reset();
  }
}

/// What BuildInBuilder and EvaluateInBuilder share before Nix runs: the builder, and the flake
/// copied in for it as `/src/<dir>`. On an Error nothing is left taken.
ErrorOr<Ok> TakeBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                        const nix::NixBuildRequest& request, std::string_view dir,
                        audit::Log& audit, TakenBuilder& taken) {
  auto local = LocalFlake(request.flake_ref);
  if (!local) {
    return Error{"the flake `" + request.flake_ref + "` is not a local directory"};
  }
  auto attached = Attach(options, kWarmBuilder);
  if (attached) {
    taken.warm.emplace(std::move(*attached));
    taken.name = std::string(kWarmBuilder);
    taken.backend = taken.warm->record.backend;
  } else if (auto record = ReadRecord(options.state, kWarmBuilder); record && IsRunning(*record)) {
    // A builder of its own would share the warm one's store and unmount it from under it after.
    return Error{"the warm builder runs but cannot take the build (" + attached.error().message +
                 "); `mvmctl resume mvm-builder`, or `mvmctl builder stop` and build again"};
  } else {
    const std::string installable = request.flake_ref + "#" + request.attr;
    // Before the lock: the microVM builder's root may need a Debian build, which takes it.
    if (auto prepared = PrepareBuilder(options, settings, audit); !prepared) {
      return Error{"the build of `" + installable + "` cannot start: " + prepared.error().message};
    }
    auto locked = BuilderLock::Acquire(options.state);
    if (!locked) {
      return locked.error();
    }
    taken.lock.emplace(std::move(*locked));
    taken.name = std::string(kWarmBuilder) + "-" + RandomSuffix();
    taken.backend = settings.backend;
    auto started = StartBuilder(options, settings, taken.name, /*detached=*/false, audit);
    if (!started) {
      (void)UnmountBuilderStore(options.state);
      return Error{"the build of `" + installable + "` cannot start: " + started.error().message};
    }
    taken.own.emplace(std::move(*started));
  }
  taken.flake_copy = BuilderPathsFor(options.state).inbox / std::string(dir);
  if (auto copied = CopyFlakeSource(local->first, taken.flake_copy); !copied) {
    ReleaseBuilder(options, taken, audit);
    return copied.error();
  }
  return Ok{};
}

}  // namespace

ErrorOr<BuilderOutput> BuildInBuilder(const LauncherOptions& options,
                                      const BuilderSettings& settings, const BuilderJob& job,
                                      audit::Log& audit) {
  const std::string dir = RandomSuffix() + RandomSuffix();
  auto argv = BuilderArgv(job.request, dir);
  if (!argv) {
    return argv.error();
  }
  TakenBuilder taken;
  if (auto took = TakeBuilder(options, settings, job.request, dir, audit, taken); !took) {
    return took.error();
  }
  BuilderOutput out;
  out.warm = taken.warm.has_value();
  out.sandbox = taken.name;
  out.backend = taken.backend;
  auto finish = [&] { ReleaseBuilder(options, taken, audit); };
  const SandboxRecord& record = taken.record();
  agent::Client& agent = taken.agent();

  auto ran = RunNixInBuilder(options, record, agent, *argv, job, audit);
  const std::string installable = job.request.flake_ref + "#" + job.request.attr;
  nlohmann::json build = {{"sandbox", out.sandbox},
                          {"backend", out.backend},
                          {"flake_ref", job.request.flake_ref},
                          {"attr", job.request.attr},
                          {"warm", out.warm}};
  if (!ran) {
    build["ok"] = false;
    build["problem"] = ran.error().message;
    (void)audit.Append("builder-build", build);
    finish();
    return Error{"the build of `" + installable +
                 "` in the builder failed: " + ran.error().message};
  }
  build["exit_status"] = ran->exit_status;
  if (ran->exit_status != 0) {
    build["ok"] = false;
    (void)audit.Append("builder-build", build);
    finish();
    std::string why =
        ran->message.empty() ? "exit status " + std::to_string(ran->exit_status) : ran->message;
    return Error{"`nix build` of `" + installable + "` failed in the builder sandbox (" + why +
                 "); the last lines of its log:" + LastLines(ran->log)};
  }
  // The builder's answer says which path to take; nothing it says about the path is believed.
  nlohmann::json answer = nlohmann::json::parse(ran->stdout_text, nullptr, false);
  std::string store_path;
  if (answer.is_array() && answer.size() == 1 && answer[0].is_object()) {
    auto outputs = answer[0].find("outputs");
    if (outputs != answer[0].end() && outputs->is_object()) {
      auto o = outputs->find(job.request.outputs.front());
      if (o != outputs->end() && o->is_string()) {
        store_path = o->get<std::string>();
      }
    }
  }
  build["ok"] = !store_path.empty();
  build["store_path"] = store_path;
  (void)audit.Append("builder-build", build);
  if (store_path.empty()) {
    finish();
    return Error{"`nix build --json` of `" + installable + "` in the builder printed no `" +
                 job.request.outputs.front() + "` output: " + ran->stdout_text.substr(0, 512)};
  }
  auto store = StoreView::Open(options.state, record);
  auto imported =
      store ? nix::ImportBuiltTree(options.state.root, store->path(), store_path, job.pinned)
            : ErrorOr<nix::ImportedTree>(store.error());
  nlohmann::json import = {{"sandbox", out.sandbox},
                           {"store_path", store_path},
                           {"pinned", job.pinned},
                           {"ok", imported.ok()}};
  if (imported) {
    import["nar_hash"] = imported->nar_hash;
    import["tree"] = imported->tree.string();
  } else {
    import["problem"] = imported.error().message;
  }
  (void)audit.Append("builder-import", import);
  finish();
  if (!imported) {
    return imported.error();
  }
  out.imported = std::move(*imported);
  out.store_path = store_path;
  return out;
}

ErrorOr<std::vector<std::string>> BuilderEvalArgv(const nix::NixBuildRequest& request,
                                                  std::string_view dir) {
  auto build = BuilderArgv(request, dir);
  if (!build) {
    return build.error();
  }
  // The same evaluation as the build's (its store, `--impure`, `--option`s), asked only for the
  // derivation. The remote builders are the host's business: the builder gets no machines list.
  std::vector<std::string> argv;
  bool subcommand = false;
  for (size_t i = 0; i < build->size(); ++i) {
    const std::string& a = (*build)[i];
    if (a == "--option" && i + 2 < build->size()) {
      argv.insert(argv.end(), build->begin() + static_cast<long>(i),
                  build->begin() + static_cast<long>(i) + 3);
      i += 2;
    } else if (a == "--builders" || a == "--max-jobs" || a == "-j") {
      ++i;
    } else if (a == "--no-link" || a == "--json" || a == "--print-build-logs" || a == "-L") {
      continue;
    } else if (a == "build" && !subcommand) {
      argv.insert(argv.end(), {"path-info", "--derivation"});
      subcommand = true;
    } else {
      argv.push_back(a);
    }
  }
  if (!subcommand) {
    return Error{"the request's command has no `build`; it is not a `nix build` command"};
  }
  return argv;
}

ErrorOr<BuilderDerivation> EvaluateInBuilder(const LauncherOptions& options,
                                             const BuilderSettings& settings, const BuilderJob& job,
                                             audit::Log& audit) {
  const BuilderPaths paths = BuilderPathsFor(options.state);
  const std::string dir = RandomSuffix() + RandomSuffix();
  auto argv = BuilderEvalArgv(job.request, dir);
  if (!argv) {
    return argv.error();
  }
  TakenBuilder taken;
  if (auto took = TakeBuilder(options, settings, job.request, dir, audit, taken); !took) {
    return took.error();
  }
  BuilderDerivation out;
  out.warm = taken.warm.has_value();
  out.sandbox = taken.name;
  out.backend = taken.backend;
  auto finish = [&] { ReleaseBuilder(options, taken, audit); };
  const std::string installable = job.request.flake_ref + "#" + job.request.attr;
  nlohmann::json record = {{"sandbox", out.sandbox},
                           {"backend", out.backend},
                           {"flake_ref", job.request.flake_ref},
                           {"attr", job.request.attr},
                           {"warm", out.warm}};
  auto failed = [&](std::string problem) {
    record["ok"] = false;
    record["problem"] = problem;
    (void)audit.Append("builder-evaluate", record);
    finish();
    return Error{std::move(problem)};
  };

  // 1. Evaluate to a derivation. Its path is all the host takes from the answer, once checked.
  auto evaluated = RunNixInBuilder(options, taken.record(), taken.agent(), *argv, job, audit);
  if (!evaluated || evaluated->exit_status != 0) {
    std::string why = !evaluated ? evaluated.error().message
                      : evaluated->message.empty()
                          ? "exit status " + std::to_string(evaluated->exit_status)
                          : evaluated->message;
    return failed(
        "the evaluation of `" + installable + "` in the builder sandbox failed (" + why + ")" +
        (evaluated ? "; the last lines of its log:" + LastLines(evaluated->log) : std::string()));
  }
  std::string drv = evaluated->stdout_text;
  while (!drv.empty() && (drv.back() == '\n' || drv.back() == ' ')) {
    drv.pop_back();
  }
  if (!nix::IsStorePath(drv) || !drv.ends_with(".drv")) {
    return failed("the evaluation of `" + installable + "` in the builder printed `" +
                  drv.substr(0, 256) +
                  "`, not one derivation path (`/nix/store/<hash>-<name>.drv`)");
  }
  out.drv_path = drv;
  record["drv_path"] = drv;
  // 2. Export the derivation's closure as a binary cache in the builder's own (bounded) store, then
  // copy it out as plain files: the host reads it without following anything the builder made.
  const std::string exported = "var/mvm-export/" + dir;
  std::vector<std::string> copy = {
      "/usr/bin/nix",
      "--extra-experimental-features",
      "nix-command",
      "copy",
      "--derivation",
      "--to",
      "file://" + std::string(kStoreMount) + "/" + exported + "?compression=none",
      drv};
  auto copied = RunNixInBuilder(options, taken.record(), taken.agent(), copy, job, audit);
  if (!copied || copied->exit_status != 0) {
    return failed("cannot export the derivation `" + drv + "` in the builder sandbox" +
                  (copied ? "; the last lines of its log:" + LastLines(copied->log)
                          : ": " + copied.error().message));
  }
  out.export_dir = paths.dir / ("export-" + dir);
  auto store = StoreView::Open(options.state, taken.record());
  auto moved = store ? nix::CopyOutOfBuilder(store->path(), exported, out.export_dir)
                     : ErrorOr<Ok>(store.error());
  (void)taken.agent().Remove(std::string(kStoreMount) + "/" + exported, /*recursive=*/true);
  if (!moved) {
    return failed(moved.error().message);
  }
  record["ok"] = true;
  record["export"] = out.export_dir.string();
  (void)audit.Append("builder-evaluate", record);
  finish();
  return out;
}

namespace {

// The host of an `http://` or `https://` URI, lowercase, and its scheme; nullopt for other URIs.
std::optional<std::pair<std::string, std::string>> UriHost(std::string_view uri) {
  std::string_view scheme;
  for (std::string_view s : {"http", "https"}) {
    if (uri.starts_with(std::string(s) + "://")) {
      scheme = s;
    }
  }
  if (scheme.empty()) {
    return std::nullopt;
  }
  std::string_view rest = uri.substr(scheme.size() + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  rest = rest.substr(0, rest.find(':'));
  std::string host(rest);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host.empty()) {
    return std::nullopt;
  }
  return std::make_pair(host, std::string(scheme));
}

// The http(s) URIs an apt sources file names: every word of a one-line-style `deb` line, and
// every word after `URIs:` in a deb822 `.sources` file.
std::vector<std::string> SourceUris(const std::string& text, bool deb822) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (deb822 ? first != "URIs:" : first != "deb" && first != "deb-src") {
      continue;
    }
    for (std::string word; words >> word;) {
      if (word.starts_with("http://") || word.starts_with("https://")) {
        out.push_back(word);
      }
    }
  }
  return out;
}

}  // namespace

ErrorOr<std::vector<ArchiveHost>> ArchiveHostsFromApt(const fs::path& apt_dir) {
  std::vector<std::pair<fs::path, bool>> files;
  std::error_code ec;
  if (fs::is_regular_file(apt_dir / "sources.list", ec)) {
    files.emplace_back(apt_dir / "sources.list", false);
  }
  for (fs::directory_iterator it(apt_dir / "sources.list.d", ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.extension() == ".list" || path.extension() == ".sources") {
      files.emplace_back(path, path.extension() == ".sources");
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<ArchiveHost> out;
  for (const auto& [path, deb822] : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    for (const std::string& uri : SourceUris(text.str(), deb822)) {
      auto host = UriHost(uri);
      if (!host || std::any_of(out.begin(), out.end(), [&](const ArchiveHost& h) {
            return h.host == host->first && h.protocol == host->second;
          })) {
        continue;
      }
      addrinfo hints{};
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      if (int rc = ::getaddrinfo(host->first.c_str(), nullptr, &hints, &found); rc != 0) {
        return Error{"the Debian archive host `" + host->first + "` (in `" + path.string() +
                     "`) does not resolve on this host: " + ::gai_strerror(rc) +
                     "; the builder reaches the archive at the address this host's apt uses"};
      }
      ArchiveHost archive{host->first, host->second, {}};
      for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        char text_address[INET_ADDRSTRLEN] = {};
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
        if (::inet_ntop(AF_INET, &in4->sin_addr, text_address, sizeof text_address) != nullptr &&
            std::find(archive.addresses.begin(), archive.addresses.end(), text_address) ==
                archive.addresses.end()) {
          archive.addresses.emplace_back(text_address);
        }
      }
      ::freeaddrinfo(found);
      out.push_back(std::move(archive));
    }
  }
  if (out.empty()) {
    return Error{"no http or https Debian archive in this host's apt sources (`" +
                 apt_dir.string() +
                 "/sources.list` and `sources.list.d/`); the builder fetches packages only from "
                 "the archives the host's apt names, so add one there"};
  }
  return out;
}

namespace {

// Where the tree is made in the builder's store; the host copies it out from the same place.
constexpr std::string_view kDebootstrapDir = "var/mvm-debian";

// mmdebstrap's way of installing without chroot(2), mount(2) or unshare(2), all of which the
// sandbox's seccomp filter refuses: fakechroot and fakeroot, from the builder's /usr.
constexpr std::string_view kDebootstrapMode = "--mode=fakechroot";

// The usrmerge package's preinst fails under fakechroot in the sandbox; this hook makes /usr merged
// as debootstrap does and installs usr-is-merged instead, which ResolveDebianImage asks for too.
constexpr std::string_view kMergedUsrHook = "/usr/share/mmdebstrap/hooks/merged-usr";

// Where Debian's fakechroot keeps the library it preloads.
constexpr std::string_view kFakechrootLibDir = "/usr/lib/x86_64-linux-gnu/fakechroot";

// Debian's archive keyring, from the host's /usr, which the builder sees read-only.
constexpr std::string_view kDebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

}  // namespace

ErrorOr<Ok> DebootstrapInBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                                 const rootfs::DebootstrapRequest& request, const fs::path& root,
                                 const rootfs::ProgressFn& progress, audit::Log& audit) {
  nlohmann::json record = {{"suite", request.suite}, {"include", request.include}};
  auto refuse = [&](std::string problem) -> Error {
    record["ok"] = false;
    record["problem"] = problem;
    (void)audit.Append("builder-debootstrap", record);
    return Error{std::move(problem)};
  };
  auto archive = ArchiveHostsFromApt();
  if (!archive) {
    return refuse(archive.error().message);
  }
  nlohmann::json hosts = nlohmann::json::array();
  for (const ArchiveHost& host : *archive) {
    hosts.push_back(
        {{"host", host.host}, {"protocol", host.protocol}, {"addresses", host.addresses}});
  }
  record["network"] = hosts;
  // mmdebstrap fetches from the request's sources, which must be among the archives allowed.
  for (const std::string& line : request.sources) {
    for (const std::string& uri : SourceUris(line, false)) {
      auto host = UriHost(uri);
      if (!host || std::none_of(archive->begin(), archive->end(), [&](const ArchiveHost& h) {
            return h.host == host->first && h.protocol == host->second;
          })) {
        return refuse("the Debian source `" + line +
                      "` is not an archive this host's apt sources name; the builder may fetch "
                      "only from those");
      }
    }
  }
  auto lock = BuilderLock::Acquire(options.state);
  if (!lock) {
    return refuse(lock.error().message);
  }
  const std::string name = std::string(kWarmBuilder) + "-deb-" + RandomSuffix();
  auto warm = ReadRecord(options.state, kWarmBuilder);
  const bool warm_running = warm && IsRunning(*warm);
  if (warm_running && !IsMounted(BuilderPathsFor(options.state).store)) {
    // Mounting the image a second time beside the warm builder's mount would give two file systems
    // on one ext4 image.
    return refuse(
        "the warm builder runs with its store mounted in another mount namespace, and a "
        "Debian build shares that store; run `mvmctl builder stop` (or build from the "
        "namespace `builder start` ran in) and build again");
  }
  record["sandbox"] = name;
  auto started = StartBuilder(options, settings, name, /*detached=*/false, audit, *archive);
  if (!started) {
    if (!warm_running) {
      (void)UnmountBuilderStore(options.state);
    }
    return refuse("the builder for Debian " + request.suite +
                  " cannot start: " + started.error().message);
  }
  const std::string dir = RandomSuffix() + RandomSuffix();
  const std::string relative = std::string(kDebootstrapDir) + "/" + dir + "/root";
  const std::string target = std::string(kStoreMount) + "/" + relative;
  std::vector<std::string> argv = {
      "/bin/sh",
      "-c",
      "mkdir -p \"$0\" && exec \"$@\"",
      target,
      "/usr/bin/mmdebstrap",
      std::string(kDebootstrapMode),
      "--variant=minbase",
      "--hook-dir=" + std::string(kMergedUsrHook),
      "--keyring=" + std::string(kDebianKeyring),
      "--aptopt=Acquire::http::Proxy \"" + started->record().egress_proxy + "\"",
      "--aptopt=APT::Install-Recommends \"false\""};
  if (!request.include.empty()) {
    std::string include;
    for (const std::string& p : request.include) {
      include += (include.empty() ? "" : ",") + p;
    }
    argv.push_back("--include=" + include);
  }
  argv.push_back(request.suite);
  argv.push_back(target);
  argv.insert(argv.end(), request.sources.begin(), request.sources.end());
  BuilderJob job;
  job.timeout_seconds = 1800;
  // dpkg says why a package failed long before mmdebstrap gives up, beyond the log's last lines.
  std::vector<std::string> errors;
  bool reason_next = false;
  job.on_log = [&](std::string_view line) {
    if (progress && line.starts_with("I: ")) {
      progress("mmdebstrap: " + std::string(line.substr(3)));
    }
    // The line after dpkg's `error processing` says what went wrong.
    if ((line.starts_with("dpkg: error") || reason_next) && errors.size() < 12) {
      errors.emplace_back(line);
    }
    reason_next = line.starts_with("dpkg: error");
  };
  const std::string proxy = started->record().egress_proxy;
  auto ran = RunNixInBuilder(options, started->record(), started->agent(), argv, job, audit,
                             {{"http_proxy", proxy},
                              {"https_proxy", proxy},
                              {"LC_ALL", "C.UTF-8"},
                              {"DEBIAN_FRONTEND", "noninteractive"},
                              // The builder's /etc has no ld.so.cache to find the preload in.
                              {"LD_LIBRARY_PATH", std::string(kFakechrootLibDir)}});
  std::optional<Error> failed;
  if (!ran) {
    failed = Error{"mmdebstrap in the builder sandbox: " + ran.error().message};
  } else if (ran->exit_status != 0) {
    failed = Error{
        "mmdebstrap failed in the builder sandbox (" +
        (ran->message.empty() ? "exit status " + std::to_string(ran->exit_status) : ran->message) +
        "); the last lines of its log:" + LastLines(ran->log) +
        (errors.empty() ? std::string() : "\ndpkg's errors:" + LastLines(errors)) +
        "\nhint: the builder reaches only the archives of this host's apt sources, through the "
        "egress proxy; check that this host's apt can reach them"};
  } else if (auto store = StoreView::Open(options.state, started->record()); !store) {
    failed = store.error();
  } else if (auto copied = nix::CopyRootfsOutOfBuilder(
                 store->path(), relative, root, target,
                 nix::BuilderIds{container::kHostIdBase, container::kIdRange});
             !copied) {
    failed = copied.error();
  }
  (void)started->agent().Remove(
      std::string(kStoreMount) + "/" + std::string(kDebootstrapDir) + "/" + dir,
      /*recursive=*/true);
  (void)Destroy(options, *started, audit, "debootstrap finished");
  if (!warm_running) {
    (void)UnmountBuilderStore(options.state);
  }
  if (failed) {
    return refuse(failed->message);
  }
  record["ok"] = true;
  (void)audit.Append("builder-debootstrap", record);
  return Ok{};
}

rootfs::DebootstrapFn BuilderDebootstrap(const LauncherOptions& options, audit::Log& audit) {
  return [&options, &audit](const rootfs::DebootstrapRequest& request, const fs::path& root,
                            const rootfs::ProgressFn& progress) {
    return DebootstrapInBuilder(options, BuilderSettings{}, request, root, progress, audit);
  };
}

}  // namespace mvm::runtime
