#ifndef MVM_RUNTIME_LAUNCHER_BUILDER_H_
#define MVM_RUNTIME_LAUNCHER_BUILDER_H_

// The builder sandbox: where `mvmctl build` evaluates and builds a flake, so that neither runs on
// the host. It is an ordinary sandbox of a backend, started from a plan the launcher makes itself:
// the container backend, or the qemu-microvm backend (ChooseBuilderBackend says which and why).
// It sees
//
//   /usr    container: the host's /usr, read-only (Debian's nix-bin and its libraries, and the
//           busybox the template flake imports); microVM: its root is a Debian image of its own
//           (kMicrovmBuilderPackages, built by mmdebstrap in a container builder), /usr included
//   /nix    its own store, `<state>/builder/store`: an ext4 image of bounded size mounted there on
//           the host (a microVM reaches it over virtio-fs, never as a block device it could shape)
//   /src    flake sources copied in for each build, read-only (live over virtio-fs in a microVM)
//   /build  a bounded tmpfs for Nix's build directories
//
// and nothing else of the host: no state directory, no keys, no secrets, no home directory, and no
// network. What it builds crosses back as data (nix::ImportBuiltTree): the host copies the tree
// and hashes it itself.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/request.h"
#include "ir/support/error_or.h"
#include "runtime/launcher/launcher.h"
#include "runtime/rootfs/rootfs.h"

namespace mvm::runtime {

/// The name of the warm builder `mvmctl builder start` keeps; a build's own builder is
/// `mvm-builder-<6 hex digits>`.
inline constexpr std::string_view kWarmBuilder = "mvm-builder";

/// The backends a builder runs on.
inline constexpr std::string_view kContainerBuilder = "container";
inline constexpr std::string_view kMicrovmBuilder = "qemu-microvm";
/// Names the builder's backend when `--builder-backend` does not: `container`, `qemu-microvm` or
/// `auto` (the default: ChooseBuilderBackend's probe).
inline constexpr char kBuilderBackendEnv[] = "MVM_BUILDER_BACKEND";

/// The packages of the microVM builder's root, an `Image.debian` of bookworm: Nix, and the
/// busybox-static the template flake imports from /usr/bin by its hash.
inline constexpr std::string_view kMicrovmBuilderPackages[] = {"nix-bin", "busybox-static"};

/// How a builder sandbox is sized. The store's size is fixed when its image is first made.
struct BuilderSettings {
  /// kContainerBuilder or kMicrovmBuilder (ChooseBuilderBackend).
  std::string backend = std::string(kContainerBuilder);
  uint32_t cpus = 2;
  uint32_t memory_mb = 2048;
  uint32_t store_mb = 8192;      ///< the store image (sparse: only what is written uses disk)
  uint32_t build_dir_mb = 1024;  ///< /build, a tmpfs that counts against memory_mb
};

/// `<state>/builder` and what it holds.
struct BuilderPaths {
  std::filesystem::path dir;
  std::filesystem::path store_image;  ///< store.img: the ext4 image of the store
  std::filesystem::path store;        ///< store/: where the image is mounted; the builder's /nix
  std::filesystem::path rootfs;  ///< rootfs/: the builder's own small root (mount points, /etc)
  std::filesystem::path inbox;   ///< inbox/: flake sources, the builder's /src
  std::filesystem::path lock;    ///< builds without a warm builder take it, one at a time
};
BuilderPaths BuilderPathsFor(const StateDir& state);

/// Holds `<state>/builder/lock` (flock) while it lives: store mounts and unmounts happen under it.
class BuilderLock {
 public:
  static ErrorOr<BuilderLock> Acquire(const StateDir& state);
  BuilderLock(BuilderLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  BuilderLock& operator=(BuilderLock&&) = delete;
  BuilderLock(const BuilderLock&) = delete;
  ~BuilderLock();

 private:
  explicit BuilderLock(int fd) : fd_(fd) {}
  int fd_;
};

/// Which backend a builder runs on, and why.
struct BuilderBackendChoice {
  std::string backend;  ///< kContainerBuilder or kMicrovmBuilder
  std::string reason;   ///< one sentence, for `builder status` and `-v`
  bool asked = false;   ///< named by the flag or kBuilderBackendEnv, not chosen by the probe
};

/// The default when nobody names one: the microVM where KVM boots a guest (`accel` is the qemu
/// backend's probe result), since then a build pays a boot of about a second for a hardware
/// boundary; else the container, since under TCG emulation every instruction of Nix's evaluation
/// is emulated. `qemu_available`: qemu-system-x86_64 is on PATH.
BuilderBackendChoice DefaultBuilderBackend(bool qemu_available, std::string_view accel,
                                           std::string_view accel_reason);

/// `requested` (the flag's value, else kBuilderBackendEnv's, else empty) when it names a backend;
/// for empty or `auto`, DefaultBuilderBackend over the qemu backend's KVM probe (a test boot, once
/// per host kernel, cached in `<state>/guest/kvm-probe`). An Error for another name.
ErrorOr<BuilderBackendChoice> ChooseBuilderBackend(const LauncherOptions& options,
                                                   std::string_view requested);

/// Makes what a builder on `settings.backend` needs before it starts, outside BuilderLock (a
/// Debian build takes the lock itself): for the microVM, its Debian root (built once in a
/// container builder, then found in the rootfs cache by the pin recorded in
/// `<state>/builder/microvm-root.pin`). Nothing for the container.
ErrorOr<Ok> PrepareBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                           audit::Log& audit);

/// Makes the store image (first time: `settings.store_mb`, ext4) and mounts it at
/// BuilderPaths::store unless it is mounted already. Needs root and e2fsprogs; call with the lock.
ErrorOr<Ok> MountBuilderStore(const StateDir& state, const BuilderSettings& settings);
/// Unmounts the store (lazily when busy); nothing when it is not mounted. Call with the lock.
ErrorOr<Ok> UnmountBuilderStore(const StateDir& state);

/// A host a builder may fetch Debian packages from, as this host's apt reaches it.
struct ArchiveHost {
  std::string host;                    ///< lowercase DNS name, from a URI of the host's apt sources
  std::string protocol;                ///< "http" or "https", the URI's scheme
  std::vector<std::string> addresses;  ///< IPv4 addresses this host's name service gives it
};

/// The hosts the http and https URIs of this host's apt sources name (`<apt_dir>/sources.list`,
/// `sources.list.d/*.list` and `*.sources`), each resolved here with getaddrinfo, so that
/// `/etc/hosts` counts as it does for apt. An Error when there is none, or one does not resolve.
ErrorOr<std::vector<ArchiveHost>> ArchiveHostsFromApt(
    const std::filesystem::path& apt_dir = "/etc/apt");

/// Starts a builder sandbox called `name` on `settings.backend` (PrepareBuilder first), its store
/// mounted first. Audited as
/// `builder-start` (besides the launcher's `launch`). Detached for the warm builder. With
/// `archive`, its network is the egress proxy allowing exactly those hosts (over their protocol),
/// answered with their `addresses`; without, it has none.
ErrorOr<Sandbox> StartBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                              const std::string& name, bool detached, audit::Log& audit,
                              const std::vector<ArchiveHost>& archive = {});

/// One build in a builder sandbox.
struct BuilderJob {
  nix::NixBuildRequest request;  ///< as parsed or lowered on the host
  /// The digest the output must have (a plan's pinned rootfs digest), or empty.
  std::string pinned;
  uint32_t timeout_seconds = 1800;
  /// Each line Nix writes to stderr in the builder, as it arrives.
  std::function<void(std::string_view)> on_log;
};

/// What a build in the builder produced, as the host measured it.
struct BuilderOutput {
  nix::ImportedTree imported;
  std::string store_path;  ///< the builder's answer, checked to be a store path and nothing more
  bool warm = false;       ///< built in the warm builder rather than one started for this build
  std::string sandbox;     ///< which builder
  std::string backend;     ///< the builder's backend
};

/// The `nix build` argv of `request` as it runs in the builder, its flake copied to `/src/<dir>`:
/// the host store becomes the builder's own (`--store local`), Nix's sandbox is off (the builder
/// sandbox is the boundary, and its seccomp filter forbids the namespaces Nix's would need), the
/// flake reference points at the copy. Every other flag of the request (`--builders`, `--impure`,
/// `--max-jobs`) is kept. An Error for a flake the builder cannot reach offline.
ErrorOr<std::vector<std::string>> BuilderArgv(const nix::NixBuildRequest& request,
                                              std::string_view dir);

/// Builds `job` in the warm builder when it runs (whatever its backend), else in a builder on
/// `settings.backend` started for this build and destroyed after it, then imports the output into
/// the host's artifact store. Audited as `builder-build` and `builder-import`. An Error when the
/// flake cannot be built offline, Nix fails or runs past the time limit (with the last lines of its
/// log), or the output is not a store path, not importable or not the pinned digest.
ErrorOr<BuilderOutput> BuildInBuilder(const LauncherOptions& options,
                                      const BuilderSettings& settings, const BuilderJob& job,
                                      audit::Log& audit);

/// The `nix path-info --derivation` argv that evaluates `request` in the builder to its derivation,
/// its flake copied to `/src/<dir>`: BuilderArgv's command with `build` asked for the derivation
/// only, and without `--builders`, `--max-jobs`, `--no-link`, `--json` and `--print-build-logs`.
ErrorOr<std::vector<std::string>> BuilderEvalArgv(const nix::NixBuildRequest& request,
                                                  std::string_view dir);

/// A derivation evaluated in a builder sandbox, exported as data.
struct BuilderDerivation {
  std::string drv_path;  ///< the builder's answer, checked to be a `.drv` store path and no more
  /// A binary cache directory (`nix copy --to file://`) holding `drv_path`'s closure, copied out of
  /// the builder's store to `<state>/builder/export-<random>` with no symlink taken. The caller
  /// removes it. Untrusted: import it only as content-addressed paths (nix::ImportDerivations).
  std::filesystem::path export_dir;
  bool warm = false;
  std::string sandbox;
  std::string backend;
};

/// Evaluates `job.request` in the builder sandbox (the warm one when it runs, as BuildInBuilder)
/// to its derivation and exports the derivation's closure (`.drv` files and sources, no outputs)
/// for a build elsewhere: `mvmctl build --builders` then builds it on remote builders without the
/// host evaluating anything. Nothing is built in the builder. Audited as `builder-evaluate`.
ErrorOr<BuilderDerivation> EvaluateInBuilder(const LauncherOptions& options,
                                             const BuilderSettings& settings, const BuilderJob& job,
                                             audit::Log& audit);

/// Runs mmdebstrap for `request` in a builder sandbox started for it, with the network of
/// ArchiveHostsFromApt() through the egress proxy and nothing else; apt and mmdebstrap use the
/// proxy as their HTTP proxy and Debian's keyring from the builder's read-only /usr. The tree is
/// made in the builder's store and copied into `root` as data (nix::CopyRootfsOutOfBuilder).
/// Audited as `builder-debootstrap` (the request, the hosts, the outcome). The checks of the tree
/// (its package set, its files) are the caller's, on `root`.
ErrorOr<Ok> DebootstrapInBuilder(const LauncherOptions& options, const BuilderSettings& settings,
                                 const rootfs::DebootstrapRequest& request,
                                 const std::filesystem::path& root,
                                 const rootfs::ProgressFn& progress, audit::Log& audit);

/// DebootstrapInBuilder as the rootfs layer calls it; `options` and `audit` must outlive it.
rootfs::DebootstrapFn BuilderDebootstrap(const LauncherOptions& options, audit::Log& audit);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_BUILDER_H_
