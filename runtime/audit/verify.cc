#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "backend-emit/plan/base64.h"
#include "ir/canonical_json.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/audit/audit.h"
#include "runtime/audit/record.h"

namespace mvm::runtime::audit {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// Reads a file line by line in bounded memory: a line longer than any record is reported rather
// than buffered.
class LineReader {
 public:
  enum class Result { kLine, kEnd, kCutShort, kTooLong, kError };

  explicit LineReader(int fd) : fd_(fd) {}

  // The next line, without its newline, in `line`.
  Result Next(std::string& line) {
    while (true) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        if (nl - pos_ + 1 > kMaxRecordBytes) {
          return Result::kTooLong;
        }
        line.assign(buf_, pos_, nl - pos_);
        pos_ = nl + 1;
        return Result::kLine;
      }
      if (buf_.size() - pos_ + 1 > kMaxRecordBytes) {
        return Result::kTooLong;
      }
      if (eof_) {
        return pos_ == buf_.size() ? Result::kEnd : Result::kCutShort;
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      char chunk[16384];
      ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        error_ = errno;
        return Result::kError;
      }
      if (n == 0) {
        eof_ = true;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  int error() const { return error_; }

 private:
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  int error_ = 0;
};

std::string TrustedIds(std::span<const plan::PublicKey> trusted) {
  std::string ids;
  for (const plan::PublicKey& key : trusted) {
    ids += (ids.empty() ? "" : ", ") + key.KeyId();
  }
  return ids;
}

bool IsTrusted(const plan::PublicKey& key, std::span<const plan::PublicKey> trusted) {
  return trusted.empty() || std::find(trusted.begin(), trusted.end(), key) != trusted.end();
}

std::string Record(uint64_t seq) { return "record " + std::to_string(seq); }

// Walks the records in order; each Check either accepts the next line or says why not.
class ChainChecker {
 public:
  ChainChecker(std::span<const plan::PublicKey> trusted, VerifyReport& report)
      : trusted_(trusted), report_(report) {}

  std::optional<std::string> Check(std::string_view line) {
    if (JsonNesting(line) > kMaxNesting) {
      return "the line nests arrays and objects more than " + std::to_string(kMaxNesting) +
             " levels deep, more than any audit record";
    }
    Json record = Json::parse(line, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) {
      return std::string("the line is not a JSON object");
    }
    auto is_string = [&](const char* key) {
      return record.contains(key) && record[key].is_string();
    };
    if (!record.contains("seq") || !record["seq"].is_number_unsigned() || !is_string("time") ||
        !is_string("event") || !is_string("prev") || !is_string("hash")) {
      return std::string(
          "the record lacks `seq`, `time`, `event`, `prev` or `hash`, or one of them has the "
          "wrong type");
    }
    uint64_t seq = record["seq"].get<uint64_t>();
    std::string hash = record["hash"].get<std::string>();
    uint64_t expected = last_seq_ + 1;
    if (ir::CanonicalJson(record) != line) {
      return Record(seq) + ": the line is not in canonical (RFC 8785) form, so it was edited";
    }
    if (!IsHash(hash) || RecordHash(record) != hash) {
      return Record(seq) + ": its hash does not match its contents (the record was edited)";
    }
    if (seq > expected) {
      return Record(seq) + " found where " + Record(expected) + " belongs (" + Record(expected) +
             " was deleted, or records were reordered)";
    }
    if (seq < expected) {
      return Record(seq) + " found where " + Record(expected) +
             " belongs (a record was duplicated, inserted or reordered)";
    }
    if (record["prev"].get<std::string>() != last_hash_) {
      return Record(seq) + ": prev does not match the hash of " +
             (seq == 1 ? std::string("the genesis (64 zeros)") : Record(seq - 1)) +
             " (a record was deleted, inserted or reordered)";
    }
    std::string time = record["time"].get<std::string>();
    std::optional<int64_t> ms = ParseRecordTime(time);
    if (!ms) {
      return Record(seq) + ": time `" + time +
             "` is not an RFC 3339 UTC time with milliseconds (`2025-01-02T03:04:05.678Z`)";
    }
    if (last_ms_ && *last_ms_ - *ms > kMaxClockStepBackMs) {
      return Record(seq) + ": its time " + time + " is more than " +
             std::to_string(kMaxClockStepBackMs / 60000) + " minutes before the time " +
             last_time_ + " of " + Record(seq - 1) +
             " (records were reordered or spliced in, or the clock was set back)";
    }
    if (record["event"] == kCheckpointEvent) {
      if (auto bad = CheckCheckpoint(record); bad) {
        return Record(seq) + ": " + *bad;
      }
      ++report_.checkpoints;
    }
    last_seq_ = seq;
    last_hash_ = std::move(hash);
    last_ms_ = ms;
    last_time_ = std::move(time);
    ++report_.records;
    return std::nullopt;
  }

  uint64_t last_seq() const { return last_seq_; }
  const std::string& last_hash() const { return last_hash_; }
  // Keys that signed checkpoints so far, and the head's once it verified.
  std::set<std::string>& key_ids() { return key_ids_; }

 private:
  std::optional<std::string> CheckCheckpoint(const Json& record) {
    if (record.size() != 8 || !record.contains("key_id") || !record["key_id"].is_string() ||
        !record.contains("public_key") || !record["public_key"].is_string() ||
        !record.contains("sig") || !record["sig"].is_string()) {
      return std::string(
          "a checkpoint has exactly `key_id`, `public_key` and `sig` besides `seq`, `time`, "
          "`event`, `prev` and `hash`");
    }
    std::optional<std::string> raw_key =
        plan::Base64Decode(record["public_key"].get<std::string>());
    std::optional<std::string> sig = plan::Base64Decode(record["sig"].get<std::string>());
    if (!raw_key || raw_key->size() != plan::kPublicKeyBytes || !sig ||
        sig->size() != plan::kSignatureBytes) {
      return std::string(
          "the checkpoint's `public_key` or `sig` is not canonical base64 of an Ed25519 key or "
          "signature");
    }
    plan::PublicKey key;
    std::memcpy(key.bytes.data(), raw_key->data(), plan::kPublicKeyBytes);
    std::string key_id = record["key_id"].get<std::string>();
    if (key_id != key.KeyId()) {
      return "the checkpoint's key_id " + key_id + " is not the id of its public key (" +
             key.KeyId() + ")";
    }
    if (!IsTrusted(key, trusted_)) {
      return "the checkpoint is signed by key " + key_id +
             ", which is not trusted (trusted: " + TrustedIds(trusted_) + ")";
    }
    if (!plan::VerifySignature(key, CheckpointMessage(record), *sig)) {
      return "the checkpoint's signature does not verify under key " + key_id +
             " (the checkpoint was forged or edited)";
    }
    key_ids_.insert(key_id);
    return std::nullopt;
  }

  std::span<const plan::PublicKey> trusted_;
  VerifyReport& report_;
  std::set<std::string> key_ids_;
  uint64_t last_seq_ = 0;
  std::string last_hash_{kGenesisHash};
  std::optional<int64_t> last_ms_;
  std::string last_time_;
};

}  // namespace

VerifyReport Verify(const fs::path& path, std::span<const plan::PublicKey> trusted) {
  VerifyReport report;
  auto unreadable = [&](std::string reason) {
    report.unreadable = true;
    report.reason = std::move(reason);
    return report;
  };
  // O_NONBLOCK: a FIFO planted at the path must not hang the verifier.
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    return unreadable(errno == ENOENT
                          ? "there is no audit log at " + Quote(path)
                          : "cannot read the audit log " + Quote(path) + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return unreadable("the audit log " + Quote(path) + " is not a regular file");
  }
  // Writers hold the exclusive lock while they append a record and rewrite the head, so under the
  // shared lock the log and its head belong together.
  auto lock = FileLock::Acquire(fd.get(), LOCK_SH, path);
  if (!lock) {
    return unreadable(lock.error().message);
  }

  ChainChecker chain(trusted, report);
  LineReader reader(fd.get());
  std::string line;
  uint64_t line_no = 0;
  auto broken = [&](uint64_t bad_line, std::string reason) {
    report.first_bad_line = bad_line;
    report.reason = std::move(reason);
    report.key_ids.assign(chain.key_ids().begin(), chain.key_ids().end());
    return report;
  };
  while (true) {
    LineReader::Result result = reader.Next(line);
    if (result == LineReader::Result::kEnd) {
      break;
    }
    ++line_no;
    switch (result) {
      case LineReader::Result::kError:
        return unreadable("cannot read the audit log " + Quote(path) + ": " +
                          ErrnoText(reader.error()));
      case LineReader::Result::kTooLong:
        return broken(line_no, "the line is longer than " + std::to_string(kMaxRecordBytes) +
                                   " bytes, more than any audit record");
      case LineReader::Result::kCutShort:
        return broken(line_no,
                      "the last line is cut short (no newline at its end): a write was "
                      "interrupted, or the file was truncated");
      case LineReader::Result::kLine:
      case LineReader::Result::kEnd:
        break;
    }
    if (std::optional<std::string> bad = chain.Check(line)) {
      return broken(line_no, std::move(*bad));
    }
  }

  fs::path head_path = HeadPath(path);
  auto head_text = ReadHeadFile(head_path);
  if (!head_text) {
    return unreadable(head_text.error().message);
  }
  if (!head_text->has_value()) {
    if (!trusted.empty()) {
      return broken(0, "there is no head file " + Quote(head_path) +
                           ", so the end of the log is not signed: it was deleted (and records "
                           "may have been removed from the end), or the log was written without "
                           "a checkpoint key");
    }
    if (report.checkpoints > 0) {
      return broken(0, "the head file " + Quote(head_path) +
                           " is missing, but the log has checkpoints, so it was written with a "
                           "key and always had one: the head was deleted, and records may have "
                           "been removed from the end");
    }
    report.ok = true;  // a keyless log: no key ids to report
    return report;
  }
  std::optional<Head> head = Head::Parse(**head_text);
  if (!head) {
    return broken(0, "the head file " + Quote(head_path) + " is malformed");
  }
  std::string head_key = head->public_key.KeyId();
  if (!IsTrusted(head->public_key, trusted)) {
    return broken(0, "the head file " + Quote(head_path) + " is signed by key " + head_key +
                         ", which is not trusted (trusted: " + TrustedIds(trusted) + ")");
  }
  if (!plan::VerifySignature(head->public_key, head->Message(), head->signature)) {
    return broken(0, "the signature of the head file " + Quote(head_path) +
                         " does not verify under key " + head_key +
                         " (the head was forged or edited)");
  }
  chain.key_ids().insert(head_key);
  uint64_t last = chain.last_seq();
  if (head->seq > last) {
    return broken(last + 1,
                  "the log ends " +
                      (last == 0 ? std::string("before its first record") : "at " + Record(last)) +
                      ", but its signed head file names " + Record(head->seq) +
                      " as the last: records were removed from the end of the log");
  }
  if (head->seq < last) {
    return broken(head->seq + 1,
                  "the records after " + Record(head->seq) +
                      ", the last one the signed head file names, are not covered by it: they "
                      "were appended by something other than the audit log, or its writer "
                      "crashed between writing a record and its head");
  }
  if (head->hash != chain.last_hash()) {
    return broken(last, Record(last) +
                            ": its hash differs from the one the signed head file names (the last "
                            "record was replaced)");
  }
  report.ok = true;
  report.key_ids.assign(chain.key_ids().begin(), chain.key_ids().end());
  return report;
}

}  // namespace mvm::runtime::audit
