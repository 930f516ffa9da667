#ifndef MVM_IR_MODULE_H_
#define MVM_IR_MODULE_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ir/support/source_loc.h"
#include "ir/workload.pb.h"

namespace mvm::ir {

inline constexpr std::string_view kSchemaVersion = "mvm.ir/v1";

/// True when `id` is a workload id, `[a-z0-9][a-z0-9-]{0,62}` (so it is also safe as a file name).
bool IsWorkloadId(std::string_view id);

/// Escapes one JSON Pointer reference token (RFC 6901: `~` -> `~0`, `/` -> `~1`), for map keys that
/// become part of a pointer.
std::string EscapePointerToken(std::string_view token);

/// Source locations of values inside one workload, keyed by a JSON Pointer relative to the workload
/// ("/resources/cpu", "/secrets/0/hosts/1"). Nodes carry their own SourceLoc in the proto; this
/// table adds the finer positions diagnostics point at. Only valid until a pass reorders the
/// workload (normalize runs last for that reason).
class LocTable {
 public:
  void Set(std::string pointer, SourceLoc loc) { locs_[std::move(pointer)] = std::move(loc); }
  /// The location recorded for `pointer`, else for its nearest recorded ancestor, else invalid.
  SourceLoc Find(std::string_view pointer) const;
  bool empty() const { return locs_.empty(); }

  /// Marks the workload as read only in part: the frontend reported errors and left out what they
  /// concerned (an entrypoint with a bad command, say), so passes must not report its absence
  /// again.
  void MarkIncomplete() { incomplete_ = true; }
  bool incomplete() const { return incomplete_; }

 private:
  std::unordered_map<std::string, SourceLoc> locs_;
  bool incomplete_ = false;
};

/// A module of workloads plus the value locations of each workload (`locs[i]` belongs to
/// `proto.workloads(i)`). Owned by value; passes mutate it in place.
struct Module {
  v1::Module proto;
  std::vector<LocTable> locs;

  Module() { proto.set_schema_version(std::string(kSchemaVersion)); }

  /// Location for a value of workload `index`: the table's entry or ancestor, falling back to the
  /// workload's own `source`.
  SourceLoc Loc(int index, std::string_view pointer) const;

  /// Appends the workloads of `other` (ids are not checked here; the validate pass does that).
  void Append(Module other);
};

/// Converts between the proto and support SourceLoc types.
SourceLoc FromProto(const v1::SourceLoc& loc);
v1::SourceLoc ToProto(const SourceLoc& loc);

}  // namespace mvm::ir

#endif  // MVM_IR_MODULE_H_
