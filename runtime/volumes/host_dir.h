#ifndef MVM_RUNTIME_VOLUMES_HOST_DIR_H_
#define MVM_RUNTIME_VOLUMES_HOST_DIR_H_

// A host directory as a volume (internal to runtime/volumes): the `local` backend serves the
// user's directory with it, `memory` a tmpfs it mounted, and `encrypted` keeps its sealed files in
// one. Every lookup is openat2 beneath one directory descriptor with RESOLVE_BENEATH,
// RESOLVE_NO_SYMLINKS and RESOLVE_NO_XDEV: a symlink, a `..` or a mount point on the way is an
// Error, never followed, so nothing outside the directory is reached whatever the workload put in
// it. Writes go to an unnamed O_TMPFILE in the target's directory, linked under a reserved name
// and renamed over the target once whole and fsync-ed: a killed writer leaves nothing visible.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes::internal {

/// openat2(dirfd, path, flags | O_CLOEXEC) confined as above; -1 and errno on failure.
int OpenBeneath(int dirfd, const std::string& path, uint64_t flags);

/// A directory descriptor and the operations on paths beneath it. Copyable only by moving.
class HostDir {
 public:
  /// Opens `dir`, which must be an existing directory (not a symlink to one).
  static ErrorOr<HostDir> Open(const std::filesystem::path& dir, std::string what);

  int fd() const { return root_.get(); }
  /// What messages call it ("volume `x` (local)").
  const std::string& what() const { return what_; }

  /// The directory holding `path`'s last component, opened O_RDONLY|O_DIRECTORY, and that name;
  /// with `make`, missing directories on the way are created (0755 less the umask).
  struct Parent {
    os::UniqueFd dir;
    std::string name;
  };
  ErrorOr<Parent> OpenParent(const std::string& path, bool make) const;
  /// Directory `path` ("" for the root) opened O_RDONLY|O_DIRECTORY.
  ErrorOr<os::UniqueFd> OpenDirectory(const std::string& path) const;
  /// Regular file `path` opened for reading, with its size.
  ErrorOr<std::pair<os::UniqueFd, uint64_t>> OpenFile(const std::string& path) const;

  ErrorOr<uint64_t> Read(const std::string& path, const ReadSink& sink) const;
  ErrorOr<std::unique_ptr<Writer>> OpenWriter(const std::string& path) const;
  ErrorOr<std::vector<EntryInfo>> List(const std::string& path) const;
  ErrorOr<EntryInfo> Stat(const std::string& path) const;
  ErrorOr<uint64_t> Remove(const std::string& path, bool recursive) const;
  ErrorOr<Ok> Rename(const std::string& from, const std::string& to) const;
  ErrorOr<Ok> Health() const;

  /// "<what>: <message> `path`: <errno text>".
  Error Failure(std::string_view doing, std::string_view path, int error) const;

 private:
  HostDir(os::UniqueFd root, std::string what) : root_(std::move(root)), what_(std::move(what)) {}
  os::UniqueFd root_;
  std::string what_;
};

/// Writes a file into `dir` by the rule above: bytes to an unnamed temporary file there, published
/// under `name` by Commit. Destroyed before Commit, it leaves nothing.
class TmpfileWriter final : public Writer {
 public:
  static ErrorOr<std::unique_ptr<TmpfileWriter>> Create(os::UniqueFd dir, std::string name,
                                                        std::string what);
  ~TmpfileWriter() override;
  ErrorOr<Ok> Write(std::string_view chunk) override;
  ErrorOr<Ok> Commit() override;

 private:
  TmpfileWriter(os::UniqueFd dir, os::UniqueFd file, std::string name, std::string fallback_name,
                std::string what);
  os::UniqueFd dir_;
  os::UniqueFd file_;
  std::string name_;
  /// Where the file is while written when the file system has no O_TMPFILE; empty otherwise.
  std::string fallback_name_;
  std::string what_;
};

/// A fresh reserved name for a file being written: kTemporaryPrefix and 16 random hex digits.
inline constexpr std::string_view kTemporaryPrefix = ".mvm-tmp-";
std::string TemporaryName();

/// Copies the tree beneath `from` into the empty directory `to` (regular files and directories;
/// symlinks are copied as symlinks, never followed; other entries are skipped). Files being written
/// (kTemporaryPrefix) are not copied; other reserved names are.
ErrorOr<Ok> CopyTree(int from, int to, const std::string& what);

/// `dir` made (with its parents) unless it exists, then opened O_RDONLY|O_DIRECTORY: a backend's
/// own state.
ErrorOr<os::UniqueFd> MakeAndOpenDirectory(const std::filesystem::path& dir);

}  // namespace mvm::runtime::volumes::internal

#endif  // MVM_RUNTIME_VOLUMES_HOST_DIR_H_
