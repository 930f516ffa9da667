#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "ir/canonical_json.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/audit/audit.h"
#include "runtime/audit/record.h"

namespace mvm::runtime::audit {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// Shown whenever the log on disk is not one that may be appended to.
std::string VerifyHint(const fs::path& path) {
  return "run `mvmctl audit verify " + path.string() +
         "` to see what is wrong, then move the log aside (with its .head file) to start a new one";
}

/// Keeps SIGINT, SIGTERM, SIGHUP and SIGQUIT from ending the process while a step's records and
/// its head are written: one that arrives meanwhile is held and sent again at the end. A Ctrl-C
/// between a record and its head left the head one step behind the log, and every later append
/// refused the log until someone moved it aside. Dispositions, not a thread's signal mask: a
/// process-directed signal goes to any thread that does not block it. SIGKILL still stops the
/// writer anywhere, which is the crash that refusal is for.
class TerminationSignalsDeferred {
 public:
  TerminationSignalsDeferred() : lock_(Mutex()) {
    for (size_t i = 0; i < kSignals.size(); ++i) {
      if (::sigaction(kSignals[i], nullptr, &old_[i]) != 0) {
        continue;
      }
      const bool ignored = (old_[i].sa_flags & SA_SIGINFO) == 0 && old_[i].sa_handler == SIG_IGN;
      if (ignored) {
        continue;
      }
      struct sigaction hold {};
      hold.sa_handler = Hold;
      sigemptyset(&hold.sa_mask);
      hold.sa_flags = SA_RESTART;
      installed_[i] = ::sigaction(kSignals[i], &hold, nullptr) == 0;
    }
  }
  ~TerminationSignalsDeferred() {
    for (size_t i = 0; i < kSignals.size(); ++i) {
      if (installed_[i]) {
        ::sigaction(kSignals[i], &old_[i], nullptr);
      }
    }
    for (size_t i = 0; i < kSignals.size(); ++i) {
      if (installed_[i] && held_[i].exchange(false)) {
        ::kill(::getpid(), kSignals[i]);
      }
    }
  }
  TerminationSignalsDeferred(const TerminationSignalsDeferred&) = delete;
  TerminationSignalsDeferred& operator=(const TerminationSignalsDeferred&) = delete;

 private:
  static constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  static void Hold(int signal) {
    for (size_t i = 0; i < kSignals.size(); ++i) {
      if (kSignals[i] == signal) {
        held_[i].store(true);
      }
    }
  }
  /// One deferral at a time in a process: each saves and restores the dispositions it found.
  static std::mutex& Mutex() {
    static std::mutex mutex;
    return mutex;
  }
  static inline std::array<std::atomic<bool>, 4> held_{};

  std::lock_guard<std::mutex> lock_;
  std::array<struct sigaction, 4> old_{};
  std::array<bool, 4> installed_{};
};

// Creates the missing directories above the log with mode 0700: the log says what ran, which is
// nobody else's business. Directories that already exist are left as they are.
ErrorOr<Ok> CreateParents(const fs::path& dir) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), 0700) != 0) {
      if (errno == EEXIST) {
        continue;  // another process made it meanwhile
      }
      return Error{"cannot create the audit log directory " + Quote(*it) + ": " + ErrnoText(errno)};
    }
    // mkdir applied the umask; the mode must not depend on it.
    if (chmod(it->c_str(), 0700) != 0) {
      return Error{"cannot set the mode of " + Quote(*it) + ": " + ErrnoText(errno)};
    }
  }
  return Ok{};
}

// The last `want` bytes of the open log `fd`, `size` bytes long (all of it when shorter): a step's
// records and the tail are the end of the log, never more than a few records.
ErrorOr<std::string> ReadEnd(int fd, off_t size, size_t want) {
  want = std::min(static_cast<size_t>(size), want);
  std::string buf(want, '\0');
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd, buf.data() + got, want - got,
                      size - static_cast<off_t>(want) + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{n < 0 ? ErrnoText(errno) : std::string("it shrank while being read")};
    }
    got += static_cast<size_t>(n);
  }
  return buf;
}

// Non-finite numbers would abort canonicalisation and too deep nesting would exhaust its stack, so
// both are refused before the record is built.
ErrorOr<Ok> CheckValue(const Json& value, int depth) {
  if (value.is_structured() && depth > kMaxNesting) {
    return Error{"audit fields are nested more than " + std::to_string(kMaxNesting) +
                 " levels deep"};
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    return Error{"audit fields must not hold NaN or infinite numbers"};
  }
  if (value.is_structured()) {
    for (const Json& child : value) {
      if (auto ok = CheckValue(child, depth + 1); !ok) {
        return ok;
      }
    }
  }
  return Ok{};
}

ErrorOr<Ok> CheckFields(std::string_view event, const Json& fields) {
  if (!IsEventName(event)) {
    return Error{"invalid audit event name `" + std::string(event) +
                 "`: use 1 to 64 of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter (and not "
                 "`checkpoint`, which the log writes itself)"};
  }
  if (!fields.is_object()) {
    return Error{std::string("audit fields must be a JSON object, not ") + fields.type_name()};
  }
  for (std::string_view key : kReservedKeys) {
    if (fields.contains(key)) {
      return Error{"audit field `" + std::string(key) +
                   "` is reserved: every record sets it itself; rename the field"};
    }
  }
  return CheckValue(fields, 1);
}

std::string AuditId(uint64_t seq, std::string_view hash) {
  return std::to_string(seq) + "-" + std::string(hash.substr(7, 12));
}

}  // namespace

struct Log::Tail {
  uint64_t seq = 0;
  std::string hash{kGenesisHash};
  off_t size = 0;  // bytes in the file, where the next record starts
};

struct Log::LockedTail {
  FileLock lock;
  Tail tail;
};

Log::Log(fs::path path, int fd, const plan::SecretKey* key, LogOptions options)
    : path_(std::move(path)), fd_(fd), key_(key), options_(std::move(options)) {}

Log::Log(Log&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      key_(other.key_),
      options_(std::move(other.options_)),
      since_checkpoint_(std::exchange(other.since_checkpoint_, 0)) {}

Log& Log::operator=(Log&& other) noexcept {
  if (this != &other) {
    (void)Close();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    key_ = other.key_;
    options_ = std::move(other.options_);
    since_checkpoint_ = std::exchange(other.since_checkpoint_, 0);
  }
  return *this;
}

Log::~Log() { (void)Close(); }

ErrorOr<Log> Log::Open(const fs::path& path, const plan::SecretKey* checkpoint_key) {
  return Open(path, checkpoint_key, LogOptions{});
}

ErrorOr<Log> Log::Open(const fs::path& path, const plan::SecretKey* checkpoint_key,
                       LogOptions options) {
  if (path.empty() || !path.has_filename()) {
    return Error{"the audit log path `" + path.string() + "` does not name a file"};
  }
  if (auto made = CreateParents(path.parent_path()); !made) {
    return made.error();
  }
  // O_NOFOLLOW: a symlink planted at the path must not redirect the log into another file.
  int fd = open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool created = fd >= 0;
  if (!created && errno == EEXIST) {
    fd = open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) {
    return Error{"cannot open the audit log " + Quote(path) + ": " + ErrnoText(errno)};
  }
  Log log(path, fd, checkpoint_key, std::move(options));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{"the audit log " + Quote(path) + " is not a regular file"};
  }
  if (created) {
    if (fchmod(fd, 0600) != 0) {
      return Error{"cannot set the mode of " + Quote(path) + ": " + ErrnoText(errno)};
    }
    if (auto synced = os::SyncDirectory(path.parent_path()); !synced) {
      return synced.error();
    }
  }
  auto locked = log.LockAndReadTail();
  if (!locked) {
    return locked.error();
  }
  if (checkpoint_key != nullptr) {
    if (auto head = log.CheckHead(locked->tail); !head) {
      return head.error();
    }
  } else {
    auto head = ReadHeadFile(HeadPath(path));
    if (!head) {
      return head.error();
    }
    if (head->has_value()) {
      return Error{"the audit log " + Quote(path) +
                   " has a signed head file; open it with its checkpoint key, or appends would "
                   "leave the head behind and the log would no longer verify"};
    }
  }
  return log;
}

ErrorOr<Log::LockedTail> Log::LockAndReadTail() const {
  auto lock = FileLock::Acquire(fd_, LOCK_EX, path_);
  if (!lock) {
    return lock.error();
  }
  auto tail = ReadTail();
  if (!tail) {
    return tail.error();
  }
  return LockedTail{std::move(*lock), std::move(*tail)};
}

ErrorOr<Log::Tail> Log::ReadTail() const {
  struct stat st {};
  if (fstat(fd_, &st) != 0) {
    return Error{"cannot read the audit log " + Quote(path_) + ": " + ErrnoText(errno)};
  }
  Tail tail;
  tail.size = st.st_size;
  if (st.st_size == 0) {
    return tail;
  }
  // The last line and the newline before it; a longer last line is not a record.
  auto end = ReadEnd(fd_, st.st_size, kMaxRecordBytes + 1);
  if (!end) {
    return Error{"cannot read the audit log " + Quote(path_) + ": " + end.error().message};
  }
  const std::string& buf = *end;
  if (buf.back() != '\n') {
    return Error{"the audit log " + Quote(path_) +
                 " ends in a cut-short record (its last line has no newline: a write was "
                 "interrupted by a crash or a full disk, or the file was truncated); new records "
                 "must not chain onto a broken tail: " +
                 VerifyHint(path_)};
  }
  size_t start = buf.size() >= 2 ? buf.rfind('\n', buf.size() - 2) : std::string::npos;
  if (start == std::string::npos && buf.size() < static_cast<size_t>(st.st_size)) {
    return Error{"the last line of the audit log " + Quote(path_) +
                 " is longer than any audit record: " + VerifyHint(path_)};
  }
  std::string_view line(buf);
  line = line.substr(start == std::string::npos ? 0 : start + 1);
  line.remove_suffix(1);
  auto damaged = [&](std::string_view what) {
    return Error{"the last record of the audit log " + Quote(path_) + " is damaged (" +
                 std::string(what) +
                 "), so new records must not chain onto it: " + VerifyHint(path_)};
  };
  if (JsonNesting(line) > kMaxNesting) {
    return damaged("it is nested too deeply");
  }
  Json record = Json::parse(line, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() ||
      !record.contains("hash") || !record["hash"].is_string() ||
      !IsHash(record["hash"].get<std::string>())) {
    return damaged("it is not a JSON record with `seq` and `hash`");
  }
  if (ir::CanonicalJson(record) != line || RecordHash(record) != record["hash"]) {
    return damaged("its hash does not match its contents");
  }
  tail.seq = record["seq"].get<uint64_t>();
  tail.hash = record["hash"].get<std::string>();
  return tail;
}

ErrorOr<Ok> Log::CheckHead(const Tail& tail) {
  fs::path head_path = HeadPath(path_);
  auto text = ReadHeadFile(head_path);
  if (!text) {
    return text.error();
  }
  if (!text->has_value()) {
    if (tail.seq == 0) {
      return WriteHead(tail, std::nullopt);  // a new log: its (empty) end is signed from the start
    }
    return Error{"the audit log " + Quote(path_) + " has records but no head file " +
                 Quote(head_path) +
                 ": it was deleted, so records may have been removed from the end of the log; " +
                 VerifyHint(path_)};
  }
  std::optional<Head> head = Head::Parse(**text);
  if (!head) {
    return Error{"the audit head file " + Quote(head_path) + " is malformed; " + VerifyHint(path_)};
  }
  plan::PublicKey ours = key_->public_key();
  if (head->public_key != ours) {
    return Error{"the audit head file " + Quote(head_path) + " is signed by key " +
                 head->public_key.KeyId() + ", not by this log's checkpoint key " + ours.KeyId() +
                 "; one log is kept by one key, so when the key changes, move the log aside (with "
                 "its .head file) to start a new one"};
  }
  if (!plan::VerifySignature(ours, head->Message(), head->signature)) {
    return Error{"the signature of the audit head file " + Quote(head_path) + " does not verify; " +
                 VerifyHint(path_)};
  }
  if (head->seq < tail.seq && ChainsFrom(head->seq, head->hash, tail)) {
    // A writer killed (SIGKILL, a crash) between a step's records and its head: the records are
    // whole and chain from the signed end, so they are signed over now, and the log says so.
    auto next = AppendLocked(tail, "audit-head-recovered",
                             {{"from_seq", head->seq + 1}, {"to_seq", tail.seq}}, /*sync=*/true);
    if (!next) {
      return next.error();
    }
    return WriteHead(*next, std::nullopt);
  }
  if (head->seq != tail.seq || head->hash != tail.hash) {
    return Error{"the audit head file " + Quote(head_path) + " names record " +
                 std::to_string(head->seq) + " as the last, but the log ends with record " +
                 std::to_string(tail.seq) +
                 " (records were removed from or added to its end, or the writer crashed between a "
                 "record and its head); " +
                 VerifyHint(path_)};
  }
  return Ok{};
}

bool Log::ChainsFrom(uint64_t head_seq, const std::string& head_hash, const Tail& tail) const {
  if (tail.seq - head_seq > kMaxHeadLag) {
    return false;
  }
  // The lagging records are the last lines; a step's records are a few KiB.
  struct stat st {};
  if (fstat(fd_, &st) != 0) {
    return false;
  }
  auto text = ReadEnd(fd_, st.st_size, kMaxHeadLag * kMaxRecordBytes);
  if (!text) {
    return false;
  }
  std::vector<std::string_view> lines;
  std::string_view rest(*text);
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) {
      return false;
    }
    lines.push_back(rest.substr(0, newline));
    rest.remove_prefix(newline + 1);
  }
  const uint64_t lag = tail.seq - head_seq;
  if (lines.size() < lag) {
    return false;
  }
  std::string prev = head_hash;
  for (size_t i = lines.size() - lag; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (JsonNesting(line) > kMaxNesting) {
      return false;
    }
    Json record = Json::parse(line, /*cb=*/nullptr, /*allow_exceptions=*/false);
    const uint64_t want = head_seq + 1 + (i - (lines.size() - lag));
    if (!record.is_object() || !record.contains("seq") || !record["seq"].is_number_unsigned() ||
        record["seq"].get<uint64_t>() != want || !record.contains("prev") ||
        record["prev"] != prev || !record.contains("hash") || !record["hash"].is_string() ||
        ir::CanonicalJson(record) != line || RecordHash(record) != record["hash"]) {
      return false;
    }
    prev = record["hash"].get<std::string>();
  }
  return prev == tail.hash;
}

int64_t Log::NowUnixMs() const {
  if (options_.now_unix_ms) {
    return options_.now_unix_ms();
  }
  struct timespec now {};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

ErrorOr<Log::Tail> Log::AppendLocked(const Tail& tail, std::string_view event, Json record,
                                     bool sync) {
  // Stamped under the lock, so record order and time order agree but for clock steps.
  auto time = FormatRecordTime(NowUnixMs());
  if (!time) {
    return Error{"cannot time-stamp an audit record: " + time.error().message};
  }
  record["seq"] = tail.seq + 1;
  record["time"] = *time;
  record["event"] = std::string(event);
  record["prev"] = tail.hash;
  if (event == kCheckpointEvent) {
    record["sig"] = plan::Base64Encode(key_->Sign(CheckpointMessage(record)));
  }
  std::string hash = RecordHash(record);
  record["hash"] = hash;
  std::string line = ir::CanonicalJson(record);
  // What Verify will check: the line must parse back to itself. Invalid UTF-8 in a field is the
  // way to fail this.
  Json reparsed = Json::parse(line, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (reparsed.is_discarded() || ir::CanonicalJson(reparsed) != line) {
    return Error{"audit event `" + std::string(event) +
                 "`: its fields do not survive a JSON round trip; strings must be valid UTF-8"};
  }
  line.push_back('\n');
  if (line.size() > kMaxRecordBytes) {
    return Error{"audit event `" + std::string(event) + "` is " + std::to_string(line.size()) +
                 " bytes, more than the " + std::to_string(kMaxRecordBytes) +
                 " an audit record may have; record names, not contents"};
  }
  if (int error = os::WriteAll(fd_, line); error != 0) {
    // Cut off a partial line so that the log stays appendable.
    int ignored = ftruncate(fd_, tail.size);
    (void)ignored;
    return Error{"cannot write to the audit log " + Quote(path_) + ": " + ErrnoText(error)};
  }
  // A record that is not on disk has not been recorded.
  if (sync && fdatasync(fd_) != 0) {
    return Error{"cannot sync the audit log " + Quote(path_) + ": " + ErrnoText(errno)};
  }
  return Tail{tail.seq + 1, std::move(hash), tail.size + static_cast<off_t>(line.size())};
}

ErrorOr<Log::Tail> Log::AppendCheckpointLocked(const Tail& tail, bool sync) {
  plan::PublicKey key = key_->public_key();
  Json fields = {
      {"key_id", key.KeyId()},
      {"public_key", plan::Base64Encode(std::string_view(
                         reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()))}};
  auto next = AppendLocked(tail, kCheckpointEvent, std::move(fields), sync);
  if (next) {
    since_checkpoint_ = 0;
  }
  return next;
}

ErrorOr<Ok> Log::WriteHead(const Tail& tail, std::optional<uint64_t> step_from) const {
  Head head;
  head.seq = tail.seq;
  head.hash = tail.hash;
  head.public_key = key_->public_key();
  head.signature = key_->Sign(head.Message());
  const std::string text = head.ToFileText();
  const fs::path head_path = HeadPath(path_);
  auto fail = [&](const std::string& what, int error) {
    return Error{"the audit head file: cannot " + what + " " + Quote(head_path) + ": " +
                 ErrnoText(error)};
  };
  // Overwritten in place, not renamed over: a rename is durable only with a sync of the new file
  // and one of the directory, two of a step's three syncs. One pwrite at offset 0 of less than a
  // sector (a head is at most about 330 bytes, with a 20-digit seq) is whole or absent after a
  // power loss (the assumption PostgreSQL makes for its control file), and readers hold the log's
  // flock, so none sees half of one.
  static_assert(kHeadSyncEvery * 2 <= kMaxHeadLag);
  bool created = true;
  os::UniqueFd fd(
      open(head_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid() && errno == EEXIST) {
    created = false;
    fd.Reset(open(head_path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  }
  if (!fd.valid()) {
    return fail("open", errno);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return fail("stat", errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"the audit head file " + Quote(head_path) + " is not a regular file"};
  }
  if (created && fchmod(fd.get(), 0600) != 0) {
    return fail("set the mode of", errno);
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = pwrite(fd.get(), text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail("write", n < 0 ? errno : EIO);
    }
    done += static_cast<size_t>(n);
  }
  const bool resized = static_cast<size_t>(st.st_size) != text.size();
  if (static_cast<size_t>(st.st_size) > text.size() && ftruncate(fd.get(), text.size()) != 0) {
    return fail("truncate", errno);
  }
  // The head's durability follows the log's: a power loss may take back unsynced heads, and the
  // next Open signs over the records the durable head lags (CheckHead). Syncing whenever the head
  // enters a new block of kHeadSyncEvery records keeps that lag under 2 * kHeadSyncEvery for steps
  // of up to kHeadSyncEvery records; a size change (a new file, one more digit) is metadata a
  // power loss could otherwise cut.
  const bool crosses = !step_from || tail.seq / kHeadSyncEvery != *step_from / kHeadSyncEvery ||
                       tail.seq - *step_from >= kHeadSyncEvery;
  if (!created && !resized && !crosses) {
    return Ok{};
  }
  if (fdatasync(fd.get()) != 0) {
    return fail("sync", errno);
  }
  if (created) {
    if (auto synced = os::SyncDirectory(head_path.parent_path()); !synced) {
      return Error{"the audit head file: " + synced.error().message};
    }
  }
  if (options_.head_made_durable) {
    options_.head_made_durable(text);
  }
  return Ok{};
}

ErrorOr<std::string> Log::Append(std::string_view event, const Json& fields) {
  Event one{event, fields};
  auto ids = AppendAll(std::span<const Event>(&one, 1));
  if (!ids) {
    return ids.error();
  }
  return std::move(ids->front());
}

ErrorOr<std::vector<std::string>> Log::AppendAll(std::span<const Event> events, Seal seal) {
  if (fd_ < 0) {
    return Error{"the audit log " + Quote(path_) + " is closed"};
  }
  if (seal == Seal::kWithCheckpoint && key_ == nullptr) {
    return Error{"the audit log " + Quote(path_) + " was opened without a checkpoint key"};
  }
  for (const Event& e : events) {
    if (auto ok = CheckFields(e.event, e.fields); !ok) {
      return ok.error();
    }
  }
  if (events.empty() && seal == Seal::kNo) {
    return std::vector<std::string>{};
  }
  TerminationSignalsDeferred deferred;
  auto locked = LockAndReadTail();
  if (!locked) {
    return locked.error();
  }
  std::vector<std::string> ids;
  Tail tail = locked->tail;
  auto written = [&ids](const Error& then) {
    std::string text;
    for (const std::string& id : ids) {
      text += (text.empty() ? "" : ", ") + id;
    }
    return ids.empty() ? then : Error{"wrote audit events " + text + ", but then " + then.message};
  };
  auto checkpoint = [&]() -> ErrorOr<Ok> {
    auto sealed = AppendCheckpointLocked(tail, /*sync=*/false);
    if (!sealed) {
      return written(sealed.error());
    }
    tail = std::move(*sealed);
    return Ok{};
  };
  for (const Event& e : events) {
    auto next = AppendLocked(tail, e.event, e.fields, /*sync=*/false);
    if (!next) {
      return written(next.error());
    }
    tail = std::move(*next);
    ++since_checkpoint_;
    ids.push_back(AuditId(tail.seq, tail.hash));
    if (key_ != nullptr && options_.checkpoint_every != 0 &&
        since_checkpoint_ >= options_.checkpoint_every) {
      if (auto ok = checkpoint(); !ok) {
        return ok.error();
      }
    }
  }
  if (seal == Seal::kWithCheckpoint && since_checkpoint_ > 0) {
    if (auto ok = checkpoint(); !ok) {
      return ok.error();
    }
  }
  // A record that is not on disk has not been recorded.
  if (fdatasync(fd_) != 0) {
    return written(Error{"cannot sync the audit log " + Quote(path_) + ": " + ErrnoText(errno)});
  }
  if (key_ != nullptr) {
    if (auto head = WriteHead(tail, locked->tail.seq); !head) {
      return written(head.error());
    }
  }
  return ids;
}

ErrorOr<std::string> Log::Checkpoint() {
  if (key_ == nullptr) {
    return Error{"the audit log " + Quote(path_) + " was opened without a checkpoint key"};
  }
  if (fd_ < 0) {
    return Error{"the audit log " + Quote(path_) + " is closed"};
  }
  TerminationSignalsDeferred deferred;
  auto locked = LockAndReadTail();
  if (!locked) {
    return locked.error();
  }
  auto next = AppendCheckpointLocked(locked->tail);
  if (!next) {
    return next.error();
  }
  if (auto head = WriteHead(*next, locked->tail.seq); !head) {
    return head.error();
  }
  return AuditId(next->seq, next->hash);
}

ErrorOr<Ok> Log::Close() {
  if (fd_ < 0) {
    return Ok{};
  }
  ErrorOr<Ok> result = Ok{};
  if (key_ != nullptr && since_checkpoint_ > 0) {
    if (auto checkpoint = Checkpoint(); !checkpoint) {
      result = checkpoint.error();
    }
  }
  close(fd_);
  fd_ = -1;
  return result;
}

}  // namespace mvm::runtime::audit
