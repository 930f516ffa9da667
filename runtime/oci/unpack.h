#ifndef MVM_RUNTIME_OCI_UNPACK_H_
#define MVM_RUNTIME_OCI_UNPACK_H_

// Safe OCI layer unpacking: layer tars (libarchive reads them) applied in order into a new tree,
// every entry written by mvm itself with fd-relative system calls beneath one root directory. A
// layer is untrusted input: nothing it names may land outside the tree being built, and an unpack
// that fails leaves no partial tree. docs/images.md (Unpacking: what is refused and why) explains
// every rule.
//
// Rules (an entry that breaks one fails the whole unpack, naming the layer, the member and the
// rule):
//   - a member name that is absolute, has a `..` component, is longer than PATH_MAX or deeper than
//     kMaxUnpackDepth is refused; `./` prefixes and empty components are dropped;
//   - parents are resolved inside the tree (openat2 RESOLVE_IN_ROOT), so a symlink an earlier layer
//     planted (`etc -> /`, `a -> ../../..`) leads back into the tree, never out of it; the last
//     component is never followed;
//   - a regular file always replaces what was there (a new inode: the other names of a hardlinked
//     file keep their content);
//   - a hardlink's target must be a regular file already in the tree, reached without any symlink;
//   - a symlink is stored verbatim and never followed;
//   - whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) remove what lower layers put
//     there, never what the same layer adds, whatever the order; they never land in the tree, nor
//     does aufs metadata (any other component starting `.wh..wh.`);
//   - every layer's entries and expanded bytes count against Limits::max_tree_entries and
//     Limits::max_tree_bytes, checked before the data is read.
// Policies (the entry is applied in part; UnpackReport counts each):
//   - setuid and setgid bits are cleared (sandboxes run with no_new_privs; no image file needs
//     them);
//   - device nodes, fifos and sockets are skipped (the runtime provides /dev; tree digests refuse
//     them);
//   - extended attributes (security.capability among them) and ACLs are dropped;
//   - owners, permission bits, the sticky bit and mtimes are kept (a directory's mtime, that of its
//     last entry in any layer, is set after the last layer). Owners are only set when mvm runs as
//     root.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/oci.h"

namespace mvm::runtime::oci {

/// The deepest member path (in components, after symlinks in the tree are resolved) an unpack
/// accepts.
inline constexpr int kMaxUnpackDepth = 256;

/// One layer to apply: its blob on disk (already checked against `digest` by the caller), its
/// media type (one of the tar layer types of oci.h) and its digest (named in errors and notes).
struct LayerFile {
  std::filesystem::path blob;
  std::string media_type;
  std::string digest;
};

/// What an unpack wrote, and what its policies changed.
struct UnpackReport {
  int64_t entries = 0;  ///< tar members read, over all layers (whiteouts and skipped ones too)
  int64_t bytes = 0;    ///< expanded content bytes read, over all layers
  int64_t files = 0;
  int64_t directories = 0;
  int64_t symlinks = 0;
  int64_t hardlinks = 0;
  int64_t whiteouts = 0;           ///< `.wh.` members applied, opaque markers included
  int64_t setid_bits_cleared = 0;  ///< entries whose setuid or setgid bit was cleared
  int64_t devices_skipped = 0;     ///< device nodes, fifos and sockets not created
  int64_t xattrs_dropped = 0;      ///< extended attributes (and ACL entries) not applied
  /// One line per policy action, "layer N (digest): `member`: what was done", the first
  /// kMaxUnpackNotes of them, then one line saying how many more there were.
  std::vector<std::string> notes;
};

/// How many notes an UnpackReport keeps.
inline constexpr size_t kMaxUnpackNotes = 64;

/// Applies `layers` in order into a new tree at `dest`, which must not exist (its parent must).
/// Builds in a sibling staging directory `.<dest name>.partial-XXXXXX` and renames it to `dest`
/// only when every layer applied; on any error the staging directory is removed (without following
/// symlinks) and `dest` does not exist. Errors name the layer digest, the member and the rule it
/// broke (ErrorKind::kInvalidInput), or the I/O that failed (kEnvironment). The tree's root gets
/// mode 0755 unless a layer has a `./` entry. Nothing is fsynced: a caller that publishes the tree
/// durably syncs it.
ErrorOr<UnpackReport> UnpackLayers(const std::vector<LayerFile>& layers,
                                   const std::filesystem::path& dest, const Limits& limits);

/// Removes the staging directories (`.NAME.partial-XXXXXX`) an unpack killed mid-way left in
/// `parent`, without following symlinks. Only for a caller that knows no unpack into `parent` is
/// running (the image cache, under its lock). The number removed, or the first error.
ErrorOr<int> RemoveStaleStaging(const std::filesystem::path& parent);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_UNPACK_H_
