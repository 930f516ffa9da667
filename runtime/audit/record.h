#ifndef MVM_RUNTIME_AUDIT_RECORD_H_
#define MVM_RUNTIME_AUDIT_RECORD_H_

// The on-disk form of audit records and of the head file, shared by the writer (log.cc) and the
// verifier (verify.cc) so that the two cannot drift apart. Not for use outside runtime/audit.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "backend-emit/plan/keys.h"
#include "ir/support/error_or.h"
#include "ir/support/os/errno_text.h"

namespace mvm::runtime::audit {

/// `prev` of the first record.
inline constexpr std::string_view kGenesisHash =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The event name of checkpoint records; Append refuses it.
inline constexpr std::string_view kCheckpointEvent = "checkpoint";

/// Audit records name things (workloads, paths, commands), they do not carry contents; the bound
/// keeps a verifier's memory use small whatever the file holds.
inline constexpr size_t kMaxRecordBytes = 64 * 1024;

/// Deepest nesting of arrays and objects in a record (the record object itself is level 1). Bounds
/// the recursion of canonicalisation on a hostile file.
inline constexpr int kMaxNesting = 32;

/// Keys every record has; `fields` passed to Append must not use them.
inline constexpr std::string_view kReservedKeys[] = {"seq", "time", "event", "prev", "hash"};

/// "sha256:" + lowercase hex SHA-256 of the RFC 8785 form of `record` without its "hash" member.
std::string RecordHash(const nlohmann::json& record);

/// True for "sha256:" followed by 64 lowercase hex digits.
bool IsHash(std::string_view text);

/// True for event names Append accepts: 1 to 64 of `a-z`, `0-9`, `.`, `_`, `-`, starting with a
/// letter, and not `checkpoint`.
bool IsEventName(std::string_view name);

/// `unix_ms` as RFC 3339 UTC with milliseconds: `2025-01-02T03:04:05.678Z`. An Error outside the
/// years 0001..9999 (a wildly wrong clock).
ErrorOr<std::string> FormatRecordTime(int64_t unix_ms);

/// Reads exactly the form FormatRecordTime writes; nullopt for anything else.
std::optional<int64_t> ParseRecordTime(std::string_view text);

/// The nesting depth of the JSON text `text` (0 for a scalar), counted over the bytes without
/// parsing, so it is safe on any input.
int JsonNesting(std::string_view text);

/// The bytes a checkpoint's `sig` signs: a domain tag and the canonical record without "hash" and
/// "sig". The tag keeps a checkpoint signature from being passed off as a head signature.
std::string CheckpointMessage(const nlohmann::json& record);

/// The signed end of the log, kept in `<log>.head`: the last record's seq and hash, signed by the
/// checkpoint key. One canonical JSON line.
struct Head {
  uint64_t seq = 0;
  std::string hash;
  plan::PublicKey public_key;
  std::string signature;  ///< 64 raw bytes over HeadMessage

  /// The bytes `signature` signs.
  std::string Message() const;
  /// The file's text, ending in a newline.
  std::string ToFileText() const;
  /// Parses ToFileText's form strictly (canonical bytes, exact members); nullopt otherwise. Does
  /// not check the signature.
  static std::optional<Head> Parse(std::string_view text);
};

/// `<log>.head`.
std::filesystem::path HeadPath(const std::filesystem::path& log);

/// The head file's contents: nullopt when there is none, an Error when it cannot be read. At most
/// a few KiB are read; a longer file comes back cut off and fails Head::Parse.
ErrorOr<std::optional<std::string>> ReadHeadFile(const std::filesystem::path& head_path);

/// "`path`", for messages.
std::string Quote(const std::filesystem::path& path);

using os::ErrnoText;

/// Holds an flock on `fd` until destroyed.
class FileLock {
 public:
  /// Blocks until the lock (`LOCK_EX` or `LOCK_SH`) is held.
  static ErrorOr<FileLock> Acquire(int fd, int operation, const std::filesystem::path& what);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace mvm::runtime::audit

#endif  // MVM_RUNTIME_AUDIT_RECORD_H_
