#ifndef MVM_RUNTIME_AGENT_VOLUME_OPS_H_
#define MVM_RUNTIME_AGENT_VOLUME_OPS_H_

// The workload's operations on the volumes the agent was told to watch (agent.proto, VolumeOps),
// counted by the host's own code (runtime/volumes/mount_watch.h) run inside the sandbox: in a
// microVM that is the only place where a `Volume.memory` tmpfs or a read-only `Volume.local` copy
// can be seen, and where a read-write `Volume.local` is seen through the guest's virtio-fs mount,
// which carries the guest's changes only, not the host's. Each volume gets a fanotify mark on its
// own mount (reads, written files) where the kernel lets the agent make one, else inotify only;
// and inotify on its tree for creates, deletes and renames, bounded by TreeWatch::kMaxDirs for all
// of them together. The agent's own file requests on a volume (`mvmctl cp`) count too.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "runtime/agent/agent.pb.h"
#include "runtime/volumes/mount_watch.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::agent {

namespace v1 = ::mvm::agent::v1;

class GuestVolumes {
 public:
  /// Watches each of `targets` (absolute paths in the agent's view). A target that cannot be
  /// watched is reported with `watched` false and why; the sandbox runs all the same.
  explicit GuestVolumes(const std::vector<std::string>& targets);
  GuestVolumes(const GuestVolumes&) = delete;  // its audit's sink holds `this`
  GuestVolumes& operator=(const GuestVolumes&) = delete;

  /// The descriptors to poll; when one is readable, Drain.
  std::vector<int> fds() const;
  /// Counts the events queued now, without waiting, so that the kernel's queues do not overflow
  /// between two VolumeOps.
  void Drain();
  /// The counts since the last Take, handed over (they start again from zero).
  v1::VolumeOpsReply Take();

 private:
  struct Volume {
    std::string target;
    bool watched = false;
    std::string detail;
    std::map<std::string, v1::VolumeOpCount> ops;  // by op name
  };
  void Sink(std::string_view event, const nlohmann::json& fields);

  std::vector<Volume> volumes_;
  std::shared_ptr<volumes::VolumeAudit> audit_;
  std::unique_ptr<volumes::MountWatch> watch_;
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_VOLUME_OPS_H_
