#ifndef MVM_RUNTIME_VOLUMES_VOLUME_AUDIT_H_
#define MVM_RUNTIME_VOLUMES_VOLUME_AUDIT_H_

// Audit records of volume operations, aggregated so that a busy workload cannot flood the
// hash-chained log (runtime/audit): attach, detach and snapshot are one record each, as they
// happen; read, write, delete, rename, list, stat and health only add to counters per sandbox,
// volume and operation (how many, how many failed, bytes), which go out as one `volume.ops` record
// per volume at most every `flush_every`, and at detach. A volume therefore writes at most
// 2 + snapshots + ceil(attached time / flush_every) records, whatever it is asked.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace mvm::runtime::volumes {

enum class VolumeOp {
  kAttach,
  kDetach,
  kSnapshot,
  kRead,
  kWrite,
  kDelete,
  kRename,
  kList,
  kStat,
  kHealth,
  /// A file or directory made on a mounted volume (mount_watch.h); the API's writes are kWrite.
  kCreate,
};

/// The name records use: "read", "write", …
std::string_view OpName(VolumeOp op);

/// Where records go: an event name (`volume.attach`, `volume.ops`, …) and its fields, e.g.
/// audit::Log::Append. Failures to record are the sink's to report; operations never fail for it.
using VolumeAuditSink = std::function<void(std::string_view event, const nlohmann::json& fields)>;

/// Thread-safe: the operations of several volumes, on several threads, record into one.
class VolumeAudit {
 public:
  struct Options {
    std::chrono::milliseconds flush_every{std::chrono::seconds(10)};
    /// The clock that decides when counters are due; steady_clock when empty. Tests set it.
    std::function<std::chrono::steady_clock::time_point()> now;
    /// Set: every record carries `"reported_by": reported_by`, for counts the host did not measure
    /// itself ("guest-agent": a microVM's agent's word, which its root can make say anything).
    std::string reported_by;
  };

  explicit VolumeAudit(VolumeAuditSink sink) : VolumeAudit(std::move(sink), Options{}) {}
  VolumeAudit(VolumeAuditSink sink, Options options);
  /// Flushes what is counted.
  ~VolumeAudit();
  VolumeAudit(const VolumeAudit&) = delete;
  VolumeAudit& operator=(const VolumeAudit&) = delete;

  /// One operation of `volume` ("local:/srv/data", as Volume::AuditName says) for `sandbox`;
  /// `bytes` read or written; `detail` (a snapshot's label, a backend's name) goes into the
  /// records of attach, detach and snapshot. Never holds paths or contents.
  void Record(std::string_view sandbox, std::string_view volume, VolumeOp op, uint64_t bytes,
              bool ok, std::string_view detail = {});
  /// `count` operations (`failed` of them failed) of `op` at once, e.g. as another counter
  /// reported them; counters saturate rather than wrap.
  void RecordCounts(std::string_view sandbox, std::string_view volume, VolumeOp op, uint64_t count,
                    uint64_t failed, uint64_t bytes);
  /// Writes every volume's counters now (one `volume.ops` record each that has any).
  void Flush();
  /// From now until `volume`'s detach, its counters of `op` may be lower than what happened (one
  /// event standing for several: mount_watch.h), and its `volume.ops` records say so with
  /// `"at_least": true` beside that operation's count.
  void CountsAreLowerBounds(std::string_view sandbox, std::string_view volume, VolumeOp op);

 private:
  struct Counter {
    uint64_t count = 0, failed = 0, bytes = 0;
  };
  struct Pending {
    std::map<std::string, Counter> ops;  // by OpName
    std::set<std::string> at_least;      // OpNames whose counts are lower bounds
    std::chrono::steady_clock::time_point since;
  };
  using Key = std::pair<std::string, std::string>;  // sandbox, volume
  std::chrono::steady_clock::time_point Now() const;
  /// Emits and clears `key`'s counters; mu_ held.
  void FlushLocked(const Key& key, Pending& pending);
  /// Adds to `key`'s counters of `op` and flushes them when due; mu_ held.
  void CountLocked(const Key& key, VolumeOp op, uint64_t count, uint64_t failed, uint64_t bytes);
  void Emit(std::string_view event, nlohmann::json fields);

  VolumeAuditSink sink_;
  Options options_;
  std::mutex mu_;
  std::map<Key, Pending> pending_;
};

}  // namespace mvm::runtime::volumes

#endif  // MVM_RUNTIME_VOLUMES_VOLUME_AUDIT_H_
