#ifndef MVM_RUNTIME_AUDIT_AUDIT_H_
#define MVM_RUNTIME_AUDIT_AUDIT_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/plan/keys.h"
#include "ir/support/error_or.h"

namespace mvm::runtime::audit {

/// Settings of a Log beyond its path and key.
struct LogOptions {
  /// Append adds a checkpoint after this many records appended through this Log since its last
  /// checkpoint; 0 leaves checkpoints to Checkpoint() and Close().
  uint64_t checkpoint_every = 64;
  /// Milliseconds since 1970-01-01T00:00:00Z; the wall clock (`CLOCK_REALTIME`) when empty. Tests
  /// set it to write records with chosen times.
  std::function<int64_t()> now_unix_ms;
  /// Called with the head file's text whenever it has been synced (what a power loss would
  /// leave). Tests use it to rebuild the files such a loss leaves.
  std::function<void(std::string_view head_text)> head_made_durable;
};

/// The launcher's append-only audit log: one JSON object per line (JSONL), each in canonical
/// (RFC 8785) form:
///
///     {"event":"exec","hash":"sha256:…","prev":"sha256:…","sandbox":"web","seq":7,"time":"…"}
///
/// `seq` counts from 1 without gaps; `prev` is the previous record's `hash` ("sha256:" and 64 zeros
/// for the first); `hash` is "sha256:" + SHA-256 of the record's canonical JSON without `hash`. So
/// editing, deleting, inserting or reordering any record breaks the chain at that record.
///
/// A Log with a checkpoint key also signs: every so often a `checkpoint` record carries an Ed25519
/// signature over itself (and so, through `prev`, over everything before it), and after every
/// append `<path>.head` is overwritten in place with the last record's seq and hash, signed. The
/// head is what makes removing records from the end detectable. Rolling the log and its head back
/// together to an earlier copy is not detectable from the files alone; ship records off the host
/// when that matters.
///
/// Several processes may append to one log at once: each append happens under an exclusive flock
/// on the log file. One Log per process: a Log must not be used across fork() (the flock belongs to
/// the open file, which a child would share) nor from several threads at once.
///
/// Records name what happened (workload ids, paths, commands, key ids, reasons); callers never
/// pass secret values or file contents, and the log does not try to recognise them.
class Log {
 public:
  /// Opens (creating, mode 0600, parent dirs 0700) the JSONL log at `path`. `checkpoint_key`
  /// signs checkpoints and the head, and must outlive the Log; nullptr = no checkpoints and no
  /// head (tests only). Validates the last record's hash on open (so appends never chain onto a
  /// broken tail; an Error says so and names `mvmctl audit verify`). With a key, the head file must
  /// also match the last record and be signed by that key; a new or empty log gets a head at once.
  static ErrorOr<Log> Open(const std::filesystem::path& path,
                           const plan::SecretKey* checkpoint_key);
  /// The same, with options.
  static ErrorOr<Log> Open(const std::filesystem::path& path, const plan::SecretKey* checkpoint_key,
                           LogOptions options);

  Log(Log&& other) noexcept;
  Log& operator=(Log&& other) noexcept;
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  /// Close(), ignoring its errors; call Close() to see them.
  ~Log();

  /// Appends one record {"seq","time","event","prev","hash", ...fields} under an exclusive flock
  /// (several mvmctl processes append to one log); returns the record's audit id
  /// ("<seq>-<first 12 hex of hash>"). `event` must satisfy IsEventName (`a-z0-9._-`, starting
  /// with a letter, at most 64 characters, not `checkpoint`). `fields` must be a JSON object
  /// without the reserved keys (seq, time, event, prev, hash), of valid UTF-8 and finite numbers,
  /// nested at most 32 levels deep (counting `fields` itself), and the record's line must fit in
  /// 64 KiB. `time` is the wall clock in RFC 3339 UTC with milliseconds. Writes with one write()
  /// and fdatasync so a crash leaves at most one truncated last line, which Open then reports.
  /// Errors when the log's tail is broken (another writer crashed mid-record), on I/O failure, or
  /// for bad arguments.
  ErrorOr<std::string> Append(std::string_view event, const nlohmann::json& fields);

  /// One record for AppendAll.
  struct Event {
    std::string_view event;
    nlohmann::json fields;
  };
  /// Whether AppendAll seals the records with a checkpoint.
  enum class Seal { kNo, kWithCheckpoint };
  /// Appends `events` in order as Append would, for the records of one step (a plan's verify and
  /// admit, a sandbox's destroy): under one lock, with one fdatasync and one head update instead of
  /// one each. Durability is per call: after a crash the log holds all of them or a prefix, and
  /// until the head names the last one Open reports the log as unfinished, as it does after a crash
  /// inside one Append. `kWithCheckpoint` adds the checkpoint Close would have written, in the same
  /// sync. Nothing is written when any event's fields are refused. Returns one id per event.
  ErrorOr<std::vector<std::string>> AppendAll(std::span<const Event> events, Seal seal = Seal::kNo);

  /// Appends a signed checkpoint record covering everything before it and returns its audit id.
  /// Append also checkpoints automatically every `checkpoint_every` records (default 64) and
  /// Close/the destructor checkpoints when records were added since the last one. An Error
  /// without a checkpoint key.
  ErrorOr<std::string> Checkpoint();

  /// Checkpoints when this Log appended records since its last checkpoint, then closes the file.
  /// Later calls do nothing; Append and Checkpoint then fail.
  ErrorOr<Ok> Close();

  /// The log file's path.
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Tail;

  Log(std::filesystem::path path, int fd, const plan::SecretKey* key, LogOptions options);
  // The last record, read under the lock (another process may have appended since our last write).
  ErrorOr<Tail> ReadTail() const;
  struct LockedTail;
  // Takes the log's lock, then ReadTail; the lock is held while the result lives.
  ErrorOr<LockedTail> LockAndReadTail() const;
  // Writes one record after `tail` (the lock held) and returns the new tail.
  // A checkpoint `record` (event kCheckpointEvent) is signed here, once its seq, time and prev are
  // known.
  // `sync`: fdatasync after the write; AppendAll leaves it to the last record.
  ErrorOr<Tail> AppendLocked(const Tail& tail, std::string_view event, nlohmann::json record,
                             bool sync = true);
  ErrorOr<Tail> AppendCheckpointLocked(const Tail& tail, bool sync = true);
  // Signs `tail` into the head file. `step_from`: the seq the step began at, so that the head is
  // synced only when it enters a new block of kHeadSyncEvery records; nullopt syncs it always.
  ErrorOr<Ok> WriteHead(const Tail& tail, std::optional<uint64_t> step_from) const;
  static constexpr uint64_t kHeadSyncEvery = 16;
  // At Open: the head must be this key's and name the last record, or lag it by at most
  // kMaxHeadLag records that ChainsFrom it (then an `audit-head-recovered` record and a new head).
  static constexpr uint64_t kMaxHeadLag = 32;
  ErrorOr<Ok> CheckHead(const Tail& tail);
  /// Whether the records after `head` up to `tail` (at most kMaxHeadLag) are whole, canonical and
  /// chained from the record `head` names: what a writer killed between a step's records and its
  /// head leaves.
  bool ChainsFrom(uint64_t head_seq, const std::string& head_hash, const Tail& tail) const;
  int64_t NowUnixMs() const;

  std::filesystem::path path_;
  int fd_ = -1;
  const plan::SecretKey* key_ = nullptr;
  LogOptions options_;
  uint64_t since_checkpoint_ = 0;
};

/// How far a record's time may lie before the previous record's. Records are stamped while the
/// writer holds the log's lock, so in a true log time goes backwards only when the wall clock is
/// stepped back: NTP steps only past an offset of 128 ms and usually by far less than a second,
/// while a host that booted with a drifted hardware clock can step back by tens of seconds at its
/// first sync. Five minutes absorbs both; a record spliced in from another time still shows.
inline constexpr int64_t kMaxClockStepBackMs = 5 * 60 * 1000;

/// What Verify found.
struct VerifyReport {
  bool ok = false;
  /// Records (checkpoints included) that verified, all of them when `ok`.
  uint64_t records = 0, checkpoints = 0;
  /// 1-based line of the first bad record when !ok; one past the last line when records are
  /// missing from the end; 0 when the fault is not in a record (an unreadable log, a missing or bad
  /// head file).
  uint64_t first_bad_line = 0;
  /// e.g. "record 17: prev does not match the hash of record 16 (a record was deleted, inserted or
  /// reordered)"
  std::string reason;
  /// Keys that signed checkpoints or the head, sorted, each once.
  std::vector<std::string> key_ids;
  /// The log could not be read at all (missing, unreadable, not a file): an environment failure
  /// rather than evidence of tampering. `reason` says what happened.
  bool unreadable = false;
};

/// Verifies the whole chain: every line parses and is in canonical (RFC 8785) form, seq is 1,2,3…
/// without gaps, each prev is the previous record's hash (genesis prev = "sha256:" + 64 zeros),
/// each hash is SHA-256 over the record's canonical JSON without the "hash" field, timestamps
/// never go backwards by more than kMaxClockStepBackMs, and every checkpoint's signature verifies
/// under one of `trusted` (empty = accept the key each checkpoint names, and report the ids; the
/// CLI passes the launcher key).
///
/// The end of the log is checked against `<path>.head`, the signed {seq, hash} of the last record
/// that a Log with a checkpoint key rewrites on each append, so records removed from the end show.
/// The rule for logs without one:
/// - with `trusted` keys, the head file is required (and must be signed by a trusted key): a
///   launcher's log always has one, so a log without is one whose end cannot be vouched for;
/// - with no trusted keys, a log with neither head file nor checkpoints is accepted (and reports
///   no key ids): it was written without a key (tests), and only its chain can be checked, so
///   removing records from its end goes unnoticed. A log with checkpoints but no head file is
///   refused: a Log that signs always writes its head.
///
/// The log is read under a shared flock, so a verify running beside appends sees the log and its
/// head at one point in time.
VerifyReport Verify(const std::filesystem::path& path, std::span<const plan::PublicKey> trusted);

}  // namespace mvm::runtime::audit

#endif  // MVM_RUNTIME_AUDIT_AUDIT_H_
