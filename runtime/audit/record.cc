#include "runtime/audit/record.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "backend-emit/plan/base64.h"
#include "backend-emit/plan/time.h"
#include "ir/canonical_json.h"
#include "ir/digest.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::runtime::audit {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// A head file is one line of about 300 bytes; reading a little more than that is enough to see that
// a bigger file is not one.
constexpr size_t kMaxHeadFileBytes = 4096;

// Domain tags: the two kinds of signed message can never be mistaken for each other, nor for a plan
// signature (DSSE's PAE starts with "DSSEv1").
constexpr std::string_view kCheckpointTag = "mvm-audit-checkpoint-v1\n";
constexpr std::string_view kHeadTag = "mvm-audit-head-v1\n";

std::string_view Bytes(const plan::PublicKey& key) {
  return {reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()};
}

Json HeadJsonWithoutSignature(const Head& head) {
  return Json{{"seq", head.seq},
              {"hash", head.hash},
              {"key_id", head.public_key.KeyId()},
              {"public_key", plan::Base64Encode(Bytes(head.public_key))}};
}

}  // namespace

std::string RecordHash(const Json& record) {
  Json without_hash = record;
  without_hash.erase("hash");
  return "sha256:" + ir::Sha256Hex(ir::CanonicalJson(without_hash));
}

bool IsHash(std::string_view text) {
  if (text.size() != kGenesisHash.size() || !text.starts_with("sha256:")) {
    return false;
  }
  for (char c : text.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool IsEventName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() < 'a' || name.front() > 'z' ||
      name == kCheckpointEvent) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

ErrorOr<std::string> FormatRecordTime(int64_t unix_ms) {
  // Floor division, so that a (nonsensical but possible) clock before 1970 still formats.
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  auto base = plan::FormatTimestamp(seconds);
  if (!base) {
    return base.error();
  }
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03lldZ", static_cast<long long>(millis));
  base->pop_back();  // the 'Z'
  return *base + fraction;
}

std::optional<int64_t> ParseRecordTime(std::string_view text) {
  constexpr size_t kLength = std::string_view("2025-01-02T03:04:05.678Z").size();
  if (text.size() != kLength || text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  int64_t millis = 0;
  for (char c : text.substr(20, 3)) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    millis = millis * 10 + (c - '0');
  }
  std::optional<int64_t> seconds =
      plan::ParseCanonicalTimestamp(std::string(text.substr(0, 19)) + "Z");
  if (!seconds) {
    return std::nullopt;
  }
  return *seconds * 1000 + millis;
}

int JsonNesting(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string CheckpointMessage(const Json& record) {
  Json signed_part = record;
  signed_part.erase("hash");
  signed_part.erase("sig");
  return std::string(kCheckpointTag) + ir::CanonicalJson(signed_part);
}

std::string Head::Message() const {
  return std::string(kHeadTag) + ir::CanonicalJson(HeadJsonWithoutSignature(*this));
}

std::string Head::ToFileText() const {
  Json json = HeadJsonWithoutSignature(*this);
  json["sig"] = plan::Base64Encode(signature);
  return ir::CanonicalJson(json) + "\n";
}

std::optional<Head> Head::Parse(std::string_view text) {
  if (!text.ends_with('\n') || JsonNesting(text) > 1) {
    return std::nullopt;
  }
  Json json = Json::parse(text.substr(0, text.size() - 1), /*cb=*/nullptr,
                          /*allow_exceptions=*/false);
  if (!json.is_object() || json.size() != 5 || !json.contains("seq") ||
      !json["seq"].is_number_unsigned() || !json.contains("hash") || !json["hash"].is_string() ||
      !json.contains("key_id") || !json["key_id"].is_string() || !json.contains("public_key") ||
      !json["public_key"].is_string() || !json.contains("sig") || !json["sig"].is_string() ||
      ir::CanonicalJson(json) + "\n" != text) {
    return std::nullopt;
  }
  Head head;
  head.seq = json["seq"].get<uint64_t>();
  head.hash = json["hash"].get<std::string>();
  std::optional<std::string> key = plan::Base64Decode(json["public_key"].get<std::string>());
  std::optional<std::string> sig = plan::Base64Decode(json["sig"].get<std::string>());
  if (!IsHash(head.hash) || !key || key->size() != plan::kPublicKeyBytes || !sig ||
      sig->size() != plan::kSignatureBytes) {
    return std::nullopt;
  }
  std::memcpy(head.public_key.bytes.data(), key->data(), plan::kPublicKeyBytes);
  if (json["key_id"].get<std::string>() != head.public_key.KeyId()) {
    return std::nullopt;
  }
  head.signature = std::move(*sig);
  return head;
}

fs::path HeadPath(const fs::path& log) {
  fs::path head = log;
  head += ".head";
  return head;
}

ErrorOr<std::optional<std::string>> ReadHeadFile(const fs::path& head_path) {
  // O_NONBLOCK: a FIFO planted at the path must not hang the verifier.
  os::UniqueFd fd(open(head_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return Error{"cannot read the audit head file " + Quote(head_path) + ": " + ErrnoText(errno)};
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error{"the audit head file " + Quote(head_path) + " is not a regular file"};
  }
  std::string text;
  char buf[1024];
  while (text.size() <= kMaxHeadFileBytes) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read the audit head file " + Quote(head_path) + ": " + ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(text));
}

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

ErrorOr<FileLock> FileLock::Acquire(int fd, int operation, const fs::path& what) {
  while (flock(fd, operation) != 0) {
    if (errno != EINTR) {
      return Error{"cannot lock " + Quote(what) + ": " + ErrnoText(errno)};
    }
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
  }
}

}  // namespace mvm::runtime::audit
