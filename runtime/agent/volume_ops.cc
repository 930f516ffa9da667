// Counting the workload's operations on its volumes inside the sandbox (volume_ops.h).

#include "runtime/agent/volume_ops.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>

namespace mvm::runtime::agent {
namespace {

// The aggregation's own flushes only feed Take's counters: the host decides when records go out.
constexpr std::chrono::hours kNeverDue{24 * 365};

/// Whether `path` is the root of a mount: only then is a mark on its mount the volume's alone (a
/// mark on the mount a plain directory is in would count every file of that mount).
bool IsMountRoot(const std::string& path) {
  struct statx stx {};
  return ::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
         (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

}  // namespace

GuestVolumes::GuestVolumes(const std::vector<std::string>& targets) {
  volumes::VolumeAudit::Options options;
  options.flush_every = kNeverDue;
  audit_ = std::make_shared<volumes::VolumeAudit>(
      [this](std::string_view event, const nlohmann::json& fields) { Sink(event, fields); },
      options);
  watch_ = std::make_unique<volumes::MountWatch>("guest", audit_);
  for (const std::string& target : targets) {
    volumes_.push_back({target, false, {}, {}});
    volumes::WatchedVolume volume{target, {}, target, volumes::WatchAccess::kMount};
    ErrorOr<Ok> added = Error{target + " is not a mount's root"};
    if (IsMountRoot(target)) {
      added = watch_->Add(volume);
    }
    if (!added) {
      // fanotify is missing or refused (a kernel without it, an agent without CAP_SYS_ADMIN), or
      // the target is no mount of its own: inotify alone still counts every create, delete and
      // rename, and reads and written files.
      const std::string why = added.error().message;
      volume.access = volumes::WatchAccess::kTree;
      added = watch_->Add(volume);
      if (!added) {
        volumes_.back().detail = why + "; " + added.error().message;
        continue;
      }
    }
    volumes_.back().watched = true;
  }
}

void GuestVolumes::Sink(std::string_view event, const nlohmann::json& fields) {
  const std::string label = fields.value("volume", "");
  Volume* volume = nullptr;
  for (Volume& v : volumes_) {
    if (v.target == label) {
      volume = &v;
    }
  }
  if (volume == nullptr) {
    return;
  }
  if (event == "volume.attach") {
    volume->detail = fields.value("detail", "");
    return;
  }
  if (event != "volume.ops") {
    return;
  }
  for (const auto& [name, c] : fields.at("ops").items()) {
    v1::VolumeOpCount& count = volume->ops[name];
    count.set_op(name);
    count.set_count(count.count() + c.value("count", uint64_t{0}));
    count.set_failed(count.failed() + c.value("failed", uint64_t{0}));
    count.set_bytes(count.bytes() + c.value("bytes", uint64_t{0}));
    count.set_at_least(count.at_least() || c.value("at_least", false));
  }
}

std::vector<int> GuestVolumes::fds() const { return watch_->fds(); }

void GuestVolumes::Drain() { watch_->Drain(); }

v1::VolumeOpsReply GuestVolumes::Take() {
  watch_->Drain();
  audit_->Flush();
  v1::VolumeOpsReply reply;
  for (Volume& v : volumes_) {
    v1::GuestVolume* out = reply.add_volumes();
    out->set_target(v.target);
    out->set_watched(v.watched);
    out->set_detail(v.detail);
    for (auto& [name, count] : v.ops) {
      *out->add_ops() = std::move(count);
    }
    v.ops.clear();
  }
  return reply;
}

}  // namespace mvm::runtime::agent
