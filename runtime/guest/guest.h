#ifndef MVM_RUNTIME_GUEST_GUEST_H_
#define MVM_RUNTIME_GUEST_GUEST_H_

// What a microVM boots: a kernel, an initramfs whose /init is the guest agent, and root images made
// from the template trees of runtime/rootfs. All of it is built on the host from Debian packages
// and cached in the state directory, so after the first download nothing needs the network.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::runtime::guest {

/// The Debian kernel package the guest kernel comes from, pinned by version and by the SHA-256 that
/// the bookworm(-security) archive metadata gives for the .deb (`apt-cache show`), so that every
/// host boots the same kernel. Debian's stock configuration has CONFIG_PVH=y (qemu boots the
/// uncompressed vmlinux directly, no firmware and no decompression under emulation) and builds
/// virtio, virtio_mmio, virtio_blk, virtio_console, ext4, overlay, fuse and virtiofs as modules,
/// which the initramfs carries and the agent loads. To move the pin, change all three and the docs.
inline constexpr std::string_view kKernelPackage = "linux-image-6.1.0-57-amd64";
inline constexpr std::string_view kKernelVersion = "6.1.192-3";
inline constexpr std::string_view kKernelDebSha256 =
    "14d219d01e1283261817d961dbb3895cb5b4288d0de10e0ba0632a0d993e15bf";

/// Lines of progress for the slow first build; may be empty.
using ProgressFn = std::function<void(std::string_view line)>;

/// The kernel and initramfs a microVM boots.
struct BootFiles {
  std::filesystem::path vmlinux;    ///< uncompressed ELF with the PVH entry note
  std::filesystem::path initramfs;  ///< uncompressed newc cpio: /init (the agent) and modules
  std::string kernel_release;       ///< "6.1.0-57-amd64"
  std::string initramfs_digest;     ///< "sha256:<hex>" of the cpio bytes
};

/// Makes (once) or finds the boot files under `cache_dir` (`<state-dir>/guest`). The kernel .deb is
/// taken from `$MVM_KERNEL_DEB` when set, else from `<cache_dir>/debs/`, else fetched there with
/// `apt-get download`; its SHA-256 must equal kKernelDebSha256 whatever its origin. The vmlinux is
/// the bzImage's XZ payload, decompressed; the initramfs is rebuilt whenever the agent binary
/// changes and is named by the digest of its bytes, which depend only on the agent and the .deb.
/// Safe against concurrent callers: everything is written beside its final name and renamed.
ErrorOr<BootFiles> EnsureBootFiles(const std::filesystem::path& cache_dir,
                                   const std::filesystem::path& agent_binary,
                                   const ProgressFn& progress);

/// An ext4 image of the template tree `tree` whose TreeDigest is `digest`, made once with
/// `mkfs.ext4 -d` into `<cache_dir>/images/` and named by that digest. Attached read-only, so one
/// image serves every VM of its template. Reproducible: the UUID and directory hash seed derive
/// from `digest`, and every timestamp but the files' mtimes is fixed, so the same tree gives the
/// same bytes on any host and at any time (needs `debugfs`, also from e2fsprogs).
ErrorOr<std::filesystem::path> EnsureRootImage(const std::filesystem::path& tree,
                                               std::string_view digest,
                                               const std::filesystem::path& cache_dir,
                                               const ProgressFn& progress);

/// One entry of a sandbox's extras image, which the guest's init mounts per its manifest.
struct ExtraMount {
  enum class Kind { kCopy, kTmpfs, kVirtiofs };
  Kind kind = Kind::kCopy;
  /// kCopy: a host file or directory copied into the image (read-only in the guest, and a snapshot
  /// taken at start: later host changes are not seen). kVirtiofs: a host directory shared
  /// read-write, live, through a virtiofsd on the host; not copied: the manifest names the tag
  /// VirtiofsTag(n) for the n-th kVirtiofs entry, which the VM's device must carry.
  std::filesystem::path source;
  std::string target;     ///< absolute guest path; no tabs or newlines
  uint32_t size_mb = 64;  ///< kTmpfs
  /// kVirtiofs: a FUSE mount whose files already have the ids the VM's virtiofsd maps
  /// (backends::SandboxMount::owned_by_sandbox), served without an idmapping, which FUSE cannot
  /// have; shared even when read-only, since a copy would put its plaintext in the extras image.
  bool owned_by_sandbox = false;
  bool read_only = false;  ///< kVirtiofs: the host mount handed to virtiofsd is read-only
  /// A volume of the plan whose operations the guest agent counts (runtime/agent/volume_ops.h):
  /// the manifest names it in a `watch` line after its mount.
  bool watched = false;
};

/// The virtio-fs tag of the `n`-th (from 0) kVirtiofs entry of a sandbox's mounts: "mvm-vfs<n>".
std::string VirtiofsTag(size_t n);

/// Builds the per-sandbox extras image `image` from `mounts`, staging the tree in `staging` (which
/// must not exist; removed afterwards). An Error names a target the manifest cannot carry or the
/// copy or mkfs step that failed.
ErrorOr<Ok> BuildExtrasImage(const std::vector<ExtraMount>& mounts,
                             const std::filesystem::path& staging,
                             const std::filesystem::path& image);

/// Writes a newc cpio archive (what the kernel unpacks as the initramfs) of `entries` to bytes,
/// with libarchive's newc writer. Exposed for tests. Every entry has owner 0:0, mtime 0 and the
/// inode number of its position (from 1), so the bytes depend only on the input.
struct CpioEntry {
  std::string path;                         ///< without a leading '/'
  uint32_t mode;                            ///< full st_mode: S_IFDIR/S_IFREG/S_IFCHR | permissions
  std::string data;                         ///< S_IFREG only
  uint32_t rdev_major = 0, rdev_minor = 0;  ///< S_IFCHR only
};
/// An Error only when libarchive cannot be loaded.
ErrorOr<std::string> WriteCpio(const std::vector<CpioEntry>& entries);

}  // namespace mvm::runtime::guest

#endif  // MVM_RUNTIME_GUEST_GUEST_H_
