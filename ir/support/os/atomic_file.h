#ifndef MVM_IR_SUPPORT_OS_ATOMIC_FILE_H_
#define MVM_IR_SUPPORT_OS_ATOMIC_FILE_H_

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::os {

/// The permission bits of a file WriteFileAtomically creates.
struct FileMode {
  mode_t bits = 0666;
  /// false: `bits` less the process's umask, as open(2) and std::ofstream create files. true:
  /// exactly `bits` whatever the umask (set before the rename, so no reader sees another mode).
  bool exact = false;
};

/// For files that are nobody else's business (state, replay records, audit heads): 0600 exactly.
inline constexpr FileMode kPrivateFile{0600, true};

/// What WriteFileAtomically promises after a crash or power loss.
enum class Durability {
  /// The name holds the old file or the whole new one.
  kSurvivesCrash,
  /// For files that describe what a reboot ends anyway (a running sandbox's records): readers
  /// still see the old file or the whole new one, but nothing is synced, so after a crash the name
  /// may hold either, an empty file or nothing. Saves two fsyncs per write.
  kThisBootOnly,
};

/// Replaces `path` with a file holding `bytes`, by the one durability rule of mvm: the bytes go to
/// a new file in the same directory (so the rename cannot cross file systems), which is fsync-ed,
/// renamed over `path`, and then the directory is fsync-ed. A reader sees the old file or the whole
/// new one, never a part; after a crash or power loss the name holds one of the two, never an empty
/// or half-written file, and once this returns Ok the new file survives one. The directory must
/// exist. A symlink at `path` is replaced, not followed. On an Error the temporary file is removed
/// and `path` is as it was, unless only the final directory fsync failed (the message says so).
ErrorOr<Ok> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes,
                                FileMode mode = {},
                                Durability durability = Durability::kSurvivesCrash);

/// fsyncs the directory `dir`, so that entries created, renamed or removed in it survive a crash.
ErrorOr<Ok> SyncDirectory(const std::filesystem::path& dir);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_ATOMIC_FILE_H_
