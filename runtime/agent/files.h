#ifndef MVM_RUNTIME_AGENT_FILES_H_
#define MVM_RUNTIME_AGENT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/agent.pb.h"

namespace mvm::runtime::agent {

/// The file operations of the protocol, confined to one directory tree. Every client path is
/// absolute and resolved beneath the root with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS):
/// `..` above the root, absolute symlinks and symlinks leading out of it are refused with an
/// Error, never clamped. Paths in Errors are the client's, quoted.
class SandboxFiles {
 public:
  /// Opens the directory `root`; the object keeps it open, so later renames of `root` do not
  /// change what it confines to.
  static ErrorOr<SandboxFiles> Open(const std::string& root);

  /// A regular file opened for reading, and its size when it was opened.
  struct ReadableFile {
    os::UniqueFd fd;
    uint64_t size = 0;
  };
  /// Opens a regular file for reading; an Error for other file types (a FIFO would block the agent)
  /// and for files larger than `max_bytes`.
  ErrorOr<ReadableFile> OpenForRead(std::string_view path, uint64_t max_bytes) const;

  /// Creates or truncates the regular file `path` and sets its permission bits to `mode` (at most
  /// 07777) whatever the umask. Missing parent directories are an Error unless `make_parents`,
  /// which creates them with mode 0755 (less the umask).
  ErrorOr<os::UniqueFd> OpenForWrite(std::string_view path, uint32_t mode, bool make_parents) const;

  /// The entries of directory `path` (without `.` and `..`), sorted by name. Symlinks are listed,
  /// not followed.
  ErrorOr<std::vector<::mvm::agent::v1::FileEntry>> List(std::string_view path) const;

  /// Removes a file, symlink or empty directory; with `recursive`, a directory and everything in
  /// it. Symlinks are removed, never followed, and mount points are not descended into. Returns
  /// the number of entries removed.
  ErrorOr<uint64_t> Remove(std::string_view path, bool recursive) const;

  /// Creates directory `path` with permission bits `mode` whatever the umask; an existing directory
  /// (not a symlink to one) is kept and given `mode`. Its parent must exist.
  ErrorOr<Ok> MakeDirectory(std::string_view path, uint32_t mode) const;

  /// Creates symlink `path` holding `target`, which is stored as given and never resolved here
  /// (every later lookup through it is confined like any other). An existing entry is an Error.
  ErrorOr<Ok> MakeSymlink(std::string_view path, std::string_view target) const;

 private:
  explicit SandboxFiles(os::UniqueFd root) : root_(std::move(root)) {}

  ErrorOr<Ok> MakeParents(std::string_view parent, std::string_view path) const;
  /// The entry the client's `path` names, for an operation on the entry itself: its parent
  /// directory opened O_PATH (confined to the root) and its name there.
  struct ParentEntry {
    os::UniqueFd parent;
    std::string name;
  };
  ErrorOr<ParentEntry> OpenParentOf(std::string_view path) const;

  os::UniqueFd root_;
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_FILES_H_
