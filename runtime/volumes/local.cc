// `local` and `memory`: a host directory the user names, and a tmpfs mounted for one attachment.

#include <sodium.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "runtime/volumes/backends.h"
#include "runtime/volumes/host_dir.h"

namespace mvm::runtime::volumes {
namespace {

using internal::HostDir;

/// A host directory behind the contract: what both backends serve once they have their directory.
class HostDirVolume : public Volume {
 public:
  HostDirVolume(const VolumeSpec& spec, Capabilities capabilities, HostDir dir,
                std::filesystem::path snapshots)
      : Volume(spec, capabilities), dir_(std::move(dir)), snapshots_(std::move(snapshots)) {}
  ~HostDirVolume() override { DetachInDestructor(); }

 protected:
  ErrorOr<Ok> DoHealth() override { return dir_.Health(); }
  ErrorOr<uint64_t> DoRead(const std::string& path, const ReadSink& sink) override {
    return dir_.Read(path, sink);
  }
  ErrorOr<std::unique_ptr<Writer>> DoOpenWriter(const std::string& path) override {
    return dir_.OpenWriter(path);
  }
  ErrorOr<std::vector<EntryInfo>> DoList(const std::string& path) override {
    return dir_.List(path);
  }
  ErrorOr<EntryInfo> DoStat(const std::string& path) override { return dir_.Stat(path); }
  ErrorOr<uint64_t> DoRemove(const std::string& path, bool recursive) override {
    return dir_.Remove(path, recursive);
  }
  ErrorOr<Ok> DoRename(const std::string& from, const std::string& to) override {
    return dir_.Rename(from, to);
  }
  ErrorOr<Ok> DoSnapshot(const std::string& label) override {
    auto root = internal::MakeAndOpenDirectory(snapshots_);
    if (!root) {
      return root.error();
    }
    if (mkdirat(root->get(), label.c_str(), 0700) != 0) {
      return MakeError(errno == EEXIST ? ErrorKind::kUsage : ErrorKind::kEnvironment,
                       Describe() + ": cannot make snapshot `" + label + "` in `" +
                           snapshots_.string() + "`: " + os::ErrnoText(errno));
    }
    os::UniqueFd to(internal::OpenBeneath(root->get(), label, O_RDONLY | O_DIRECTORY));
    if (!to.valid()) {
      return Error{Describe() + ": cannot open snapshot `" + label + "`: " + os::ErrnoText(errno)};
    }
    return internal::CopyTree(dir_.fd(), to.get(), Describe() + ": snapshot `" + label + "`");
  }

 private:
  HostDir dir_;
  std::filesystem::path snapshots_;
};

/// Where a local directory's snapshots go: one directory per source path under the state dir.
std::filesystem::path LocalSnapshots(const AttachContext& context,
                                     const std::filesystem::path& source) {
  unsigned char digest[crypto_generichash_BYTES];
  std::string text = source.string();
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return context.state_dir / "volumes" / "snapshots" / "local" / os::Hex(digest, 8);
}

class LocalBackend final : public VolumeBackend {
 public:
  std::string_view name() const override { return "local"; }
  std::string_view summary() const override { return "a host directory, as it is"; }
  Capabilities capabilities() const override {
    return {.mountable = true,
            .api_only = false,
            .snapshot = true,
            .encrypted_at_rest = false,
            .shared_between_sandboxes = true,
            .atomic_rename = true};
  }
  ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec,
                                          const AttachContext& context) const override {
    std::filesystem::path source(spec.source);
    if (!source.is_absolute()) {
      return MakeError(ErrorKind::kUsage, "local volume `" + spec.source +
                                              "`: the source must be an absolute host path");
    }
    auto dir = HostDir::Open(source, "volume `" + spec.source + "` (local)");
    if (!dir) {
      return dir.error();
    }
    return std::unique_ptr<Volume>(std::make_unique<HostDirVolume>(
        spec, capabilities(), std::move(*dir), LocalSnapshots(context, source)));
  }
  /// The user's directory itself, bound or shared: nothing to mount on the host.
  ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext& context) const override {
    MountedView view;
    view.kind = MountedView::Kind::kHostDirectory;
    view.read_only = spec.read_only;
    view.watch = MountedView::Watch::kSharedDirectory;
    if (context.from_snapshot) {
      // A restored VM's volumes are the copies its snapshot holds; the source need not exist.
      return view;
    }
    auto source = ResolveLocalSource(spec.source, context.project_root);
    if (!source) {
      return source.error();
    }
    view.host_dir = std::move(*source);
    return view;
  }
};

/// A tmpfs of spec.size_mb mounted (nosuid, nodev, noexec, 0700) under the state dir for this
/// attachment alone, and unmounted by Detach: its bytes live in memory and die with it.
class MemoryVolume final : public HostDirVolume {
 public:
  MemoryVolume(const VolumeSpec& spec, Capabilities capabilities, HostDir dir,
               std::filesystem::path mount_point)
      : HostDirVolume(spec, capabilities, std::move(dir), {}),
        mount_point_(std::move(mount_point)) {}
  ~MemoryVolume() override { DetachInDestructor(); }

 protected:
  ErrorOr<Ok> DoDetach() override {
    // MNT_DETACH: a writer still open keeps its file until it is discarded, and nothing else
    // reaches the tmpfs from now on.
    if (umount2(mount_point_.c_str(), MNT_DETACH) != 0) {
      return Error{Describe() + ": cannot unmount `" + mount_point_.string() +
                   "`: " + os::ErrnoText(errno)};
    }
    (void)rmdir(mount_point_.c_str());
    return Ok{};
  }

 private:
  std::filesystem::path mount_point_;
};

class MemoryBackend final : public VolumeBackend {
 public:
  std::string_view name() const override { return "memory"; }
  std::string_view summary() const override {
    return "a tmpfs of size_mb, one per attachment, gone at detach";
  }
  Capabilities capabilities() const override {
    return {.mountable = true,
            .api_only = false,
            .snapshot = false,
            .encrypted_at_rest = false,
            .shared_between_sandboxes = false,
            .atomic_rename = true};
  }
  ErrorOr<std::unique_ptr<Volume>> Attach(const VolumeSpec& spec,
                                          const AttachContext& context) const override {
    if (spec.size_mb == 0) {
      return MakeError(ErrorKind::kUsage, "memory volume: size_mb must be at least 1");
    }
    std::filesystem::path parent = context.state_dir / "volumes" / "memory";
    auto parent_fd = internal::MakeAndOpenDirectory(parent);
    if (!parent_fd) {
      return parent_fd.error();
    }
    std::string leaf = (context.sandbox.empty() ? std::string("volume") : context.sandbox) + "-" +
                       internal::TemporaryName().substr(internal::kTemporaryPrefix.size());
    std::filesystem::path mount_point = parent / leaf;
    if (mkdir(mount_point.c_str(), 0700) != 0) {
      return Error{"memory volume: cannot make `" + mount_point.string() +
                   "`: " + os::ErrnoText(errno)};
    }
    std::string options = "size=" + std::to_string(spec.size_mb) + "m,mode=0700";
    if (mount("tmpfs", mount_point.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              options.c_str()) != 0) {
      int error = errno;
      (void)rmdir(mount_point.c_str());
      return MakeError(
          ErrorKind::kEnvironment,
          "memory volume: cannot mount a tmpfs at `" + mount_point.string() +
              "`: " + os::ErrnoText(error) +
              (error == EPERM ? "; the memory backend needs CAP_SYS_ADMIN (run as root)" : ""));
    }
    auto dir = HostDir::Open(mount_point, "volume `" + leaf + "` (memory)");
    if (!dir) {
      (void)umount2(mount_point.c_str(), MNT_DETACH);
      (void)rmdir(mount_point.c_str());
      return dir.error();
    }
    VolumeSpec named = spec;
    named.source = leaf;
    return std::unique_ptr<Volume>(
        std::make_unique<MemoryVolume>(named, capabilities(), std::move(*dir), mount_point));
  }
  /// A tmpfs the sandbox makes in its own mounts (or its guest's memory): nothing on the host.
  ErrorOr<MountedView> Mount(const VolumeSpec& spec, const AttachContext&) const override {
    MountedView view;
    view.kind = MountedView::Kind::kTmpfs;
    view.read_only = false;
    view.size_mb = spec.size_mb;
    view.watch = MountedView::Watch::kSandboxTmpfs;
    return view;
  }
};

}  // namespace

ErrorOr<std::filesystem::path> ResolveLocalSource(const std::string& source,
                                                  const std::filesystem::path& project_root) {
  std::error_code ec;
  std::filesystem::path path = std::filesystem::path(source).is_absolute()
                                   ? std::filesystem::path(source)
                                   : project_root / source;
  path = std::filesystem::weakly_canonical(path, ec);
  if (ec || !std::filesystem::exists(path)) {
    return Error{"volume source `" + source + "` (`" + path.string() +
                 "`) does not exist; create it or fix `Volume.local(...)`"};
  }
  return path;
}

const VolumeBackend& LocalVolumeBackend() {
  static const LocalBackend backend;
  return backend;
}

const VolumeBackend& MemoryVolumeBackend() {
  static const MemoryBackend backend;
  return backend;
}

}  // namespace mvm::runtime::volumes
