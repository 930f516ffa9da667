// What a snapshot accepts of what the guest tells it: the sandbox's mount table and the directory
// listings of its agent. A microVM guest's root can stop the agent and answer in its place, so all
// of it is hostile. Pure functions, so that they can be unit-tested and fuzzed
// (runtime/agent/fuzz/snapshot_listing_fuzz.cc) without a sandbox.
#ifndef MVM_RUNTIME_LAUNCHER_SNAPSHOT_GUEST_H_
#define MVM_RUNTIME_LAUNCHER_SNAPSHOT_GUEST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/agent/client.h"

namespace mvm::runtime {

/// The longest name of one directory entry a snapshot stores (NAME_MAX: no Linux file system
/// holds a longer one, so a longer name in a listing is forged).
inline constexpr size_t kMaxSnapshotNameBytes = 255;

/// The writable memory file systems in a /proc/self/mountinfo: tmpfs mounted read-write, except
/// /dev, which holds only the device nodes the launcher put there. The paths are as the guest wrote
/// them (unescaped): check them with CheckSnapshotPath before use.
std::vector<std::string> WritableMemoryMounts(std::string_view mountinfo);

/// Checks a path to capture (given with `--path`, or a mount point from the guest's mount table):
/// absolute and normalised (no empty, `.` or `..` component), every component a name a snapshot
/// stores (see CheckListing), at most agent::kMaxPathBytes in all.
ErrorOr<Ok> CheckSnapshotPath(std::string_view path);

/// What a snapshot does with one entry of a checked listing.
enum class SnapshotEntryKind {
  kFile,        ///< stored as a regular file, its contents read through the agent
  kDirectory,   ///< stored, then descended into
  kSymlink,     ///< stored as a symlink to `link_target`
  kUnsafeLink,  ///< a symlink left out: its target climbs out of the sandbox's tree
  kOther,       ///< a fifo, socket or device: left out, listed as skipped
};

/// One directory entry, checked.
struct SnapshotEntry {
  std::string name;  ///< one path component: not empty, `.` or `..`; no `/`, NUL or control byte
  SnapshotEntryKind kind = SnapshotEntryKind::kOther;
  /// The permission bits to store: never set-uid or set-gid; sticky only on directories.
  uint32_t mode = 0;
  uint64_t size = 0;        ///< as the guest reported it (kFile): a hint, bounded again on read
  std::string link_target;  ///< kSymlink: relative, and staying inside the sandbox's tree
};

/// A directory listing, checked.
struct CheckedListing {
  std::vector<SnapshotEntry> entries;  ///< sorted by name, each name once
  /// Entries left out because their names hold control bytes (a Linux file system allows them, a
  /// tar extractor and an operator's terminal should not get them); counted, never stored.
  size_t bad_names = 0;
};

/// Checks what the agent listed for the sandbox directory `dir` (absolute, normalised; what the
/// host asked for). An Error, naming the entry, for what no Linux directory listing holds, so only
/// a forged listing can: an empty name, `.`, `..`, a name with `/` or NUL, one longer than
/// kMaxSnapshotNameBytes, a name listed twice. Names with other control bytes are counted and left
/// out. Set-uid and set-gid bits are cleared, and the sticky bit on all but directories. A symlink
/// target is kept when it is relative and, read from `dir`, stays inside the sandbox's root: its
/// `..` components all come first and are no more than `dir` is deep. An absolute target without
/// `..` is rewritten relative to `dir` (from `/tmp`, `/usr/bin/python3` becomes
/// `../usr/bin/python3`), so it names the same file in the sandbox's tree and nothing outside an
/// extraction directory. Other targets (empty, with control bytes, climbing out) make the entry
/// kUnsafeLink.
ErrorOr<CheckedListing> CheckListing(std::string_view dir, std::vector<agent::FileEntry> entries);

/// The target a snapshot stores for a symlink in `dir` pointing at `target` (see CheckListing), or
/// std::nullopt when it stores none.
std::optional<std::string> SafeLinkTarget(std::string_view dir, std::string_view target);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_SNAPSHOT_GUEST_H_
