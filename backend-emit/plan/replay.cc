#include "backend-emit/plan/replay.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "backend-emit/plan/payload.h"
#include "ir/canonical_json.h"
#include "ir/module.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::plan {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxStateFileBytes = 4096;

std::string Quote(const fs::path& path) { return "`" + path.string() + "`"; }

using os::ErrnoText;

bool IsDigest(std::string_view s) {
  if (s.size() != 7 + 64 || !s.starts_with("sha256:")) {
    return false;
  }
  for (char c : s.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

ErrorOr<std::optional<ReplayRecord>> ReadRecord(const fs::path& path) {
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return std::optional<ReplayRecord>();
    }
    return Error{"cannot read replay state " + Quote(path) + ": " + ErrnoText(errno)};
  }
  std::string text;
  char buf[1024];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read replay state " + Quote(path) + ": " + ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxStateFileBytes) {
      break;
    }
  }
  // A state file that cannot be read back is never treated as "nothing admitted yet": that would
  // reopen the door to every replay.
  auto corrupt = [&] {
    return Error{"replay state " + Quote(path) +
                 " is corrupt; refusing to admit plans for this workload until it is repaired or "
                 "removed by an operator"};
  };
  Json json = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || json.size() != 2 || !json.contains("epoch") ||
      !json["epoch"].is_number_unsigned() || !json.contains("payload_digest") ||
      !json["payload_digest"].is_string()) {
    return corrupt();
  }
  uint64_t epoch = json["epoch"].get<uint64_t>();
  std::string digest = json["payload_digest"].get<std::string>();
  if (epoch > std::numeric_limits<uint32_t>::max() || !IsDigest(digest)) {
    return corrupt();
  }
  return std::optional<ReplayRecord>(ReplayRecord{static_cast<uint32_t>(epoch), digest});
}

// After a crash the name must point at complete contents, never at an empty file that would read
// as corrupt (or worse, be mistaken for a fresh start): os::WriteFileAtomically's rule.
ErrorOr<Ok> WriteRecord(const fs::path& path, const ReplayRecord& record) {
  std::string bytes =
      ir::CanonicalJson(Json{{"epoch", record.epoch}, {"payload_digest", record.payload_digest}});
  if (auto written = os::WriteFileAtomically(path, bytes, {0600, true}); !written) {
    return Error{"replay state: " + written.error().message};
  }
  return Ok{};
}

}  // namespace

ErrorOr<OrRefusal<Admission>> ReplayState::Admit(const VerifiedPlan& plan) {
  return Admit(plan.plan.workload().id(), plan.plan.epoch(), plan.payload_digest);
}

ErrorOr<std::optional<ReplayRecord>> ReplayState::Last(std::string_view workload_id) const {
  if (!ir::IsWorkloadId(workload_id)) {
    return Error{"invalid workload id `" + std::string(workload_id) + "` for replay state"};
  }
  return ReadRecord(dir_ / (std::string(workload_id) + ".json"));
}

ErrorOr<OrRefusal<Admission>> ReplayState::Admit(std::string_view workload_id, uint32_t epoch,
                                                 std::string_view payload_digest) {
  // VerifyPlan has checked the id; this guards direct callers, since the id becomes a file name.
  if (!ir::IsWorkloadId(workload_id)) {
    return Error{"invalid workload id `" + std::string(workload_id) + "` for replay state"};
  }
  if (!IsDigest(payload_digest)) {
    return Error{"invalid payload digest `" + std::string(payload_digest) + "` for replay state"};
  }
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    fs::create_directories(dir_, ec);
    if (ec) {
      return Error{"cannot create replay state directory " + Quote(dir_) + ": " + ec.message()};
    }
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  std::string id(workload_id);
  fs::path lock_path = dir_ / (id + ".lock");
  os::UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock.get() < 0) {
    return Error{"cannot open replay lock " + Quote(lock_path) + ": " + ErrnoText(errno)};
  }
  // Two launchers admitting plans of one workload at once must not both read the old epoch.
  while (flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error{"cannot lock " + Quote(lock_path) + ": " + ErrnoText(errno)};
    }
  }
  fs::path path = dir_ / (id + ".json");
  auto last = ReadRecord(path);
  if (!last) {
    return last.error();
  }
  Admission admission = Admission::kFirst;
  if (last->has_value()) {
    const ReplayRecord& prev = **last;
    if (epoch < prev.epoch) {
      return OrRefusal<Admission>(
          Refusal{RefusalReason::kReplayed, "epoch " + std::to_string(epoch) + " of workload `" +
                                                id + "` is lower than epoch " +
                                                std::to_string(prev.epoch) + ", admitted before"});
    }
    if (epoch == prev.epoch) {
      if (payload_digest == prev.payload_digest) {
        return OrRefusal<Admission>(Admission::kSame);
      }
      return OrRefusal<Admission>(Refusal{RefusalReason::kReplayed,
                                          "epoch " + std::to_string(epoch) + " of workload `" + id +
                                              "` was already admitted for a different plan (" +
                                              prev.payload_digest +
                                              "); sign the new plan with a higher "
                                              "`--epoch`"});
    }
    admission = Admission::kNewer;
  }
  if (auto wrote = WriteRecord(path, {epoch, std::string(payload_digest)}); !wrote) {
    return wrote.error();
  }
  return OrRefusal<Admission>(admission);
}

}  // namespace mvm::plan
