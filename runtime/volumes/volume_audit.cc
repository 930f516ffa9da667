// Aggregated audit records of volume operations (volume_audit.h).

#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime::volumes {

std::string_view OpName(VolumeOp op) {
  switch (op) {
    case VolumeOp::kAttach:
      return "attach";
    case VolumeOp::kDetach:
      return "detach";
    case VolumeOp::kSnapshot:
      return "snapshot";
    case VolumeOp::kRead:
      return "read";
    case VolumeOp::kWrite:
      return "write";
    case VolumeOp::kDelete:
      return "delete";
    case VolumeOp::kRename:
      return "rename";
    case VolumeOp::kList:
      return "list";
    case VolumeOp::kStat:
      return "stat";
    case VolumeOp::kHealth:
      return "health";
    case VolumeOp::kCreate:
      return "create";
  }
  return "unknown";
}

VolumeAudit::VolumeAudit(VolumeAuditSink sink, Options options)
    : sink_(std::move(sink)), options_(std::move(options)) {}

VolumeAudit::~VolumeAudit() { Flush(); }

std::chrono::steady_clock::time_point VolumeAudit::Now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void VolumeAudit::FlushLocked(const Key& key, Pending& pending) {
  if (pending.ops.empty()) {
    return;
  }
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [name, c] : pending.ops) {
    ops[name] = {{"count", c.count}, {"failed", c.failed}, {"bytes", c.bytes}};
    if (pending.at_least.contains(name)) {
      ops[name]["at_least"] = true;
    }
  }
  const auto span =
      std::chrono::duration_cast<std::chrono::milliseconds>(Now() - pending.since).count();
  Emit("volume.ops",
       {{"sandbox", key.first}, {"volume", key.second}, {"ops", ops}, {"span_ms", span}});
  pending.ops.clear();
}

void VolumeAudit::Emit(std::string_view event, nlohmann::json fields) {
  if (!options_.reported_by.empty()) {
    fields["reported_by"] = options_.reported_by;
  }
  sink_(event, fields);
}

void VolumeAudit::Record(std::string_view sandbox, std::string_view volume, VolumeOp op,
                         uint64_t bytes, bool ok, std::string_view detail) {
  std::lock_guard lock(mu_);
  const Key key{std::string(sandbox), std::string(volume)};
  const auto now = Now();
  auto [it, fresh] = pending_.try_emplace(key);
  if (fresh) {
    it->second.since = now;
  }
  if (op == VolumeOp::kAttach || op == VolumeOp::kDetach || op == VolumeOp::kSnapshot) {
    // What came before belongs before it in the chain.
    FlushLocked(key, it->second);
    nlohmann::json fields = {{"sandbox", key.first}, {"volume", key.second}, {"ok", ok}};
    if (!detail.empty()) {
      fields[op == VolumeOp::kSnapshot ? "label" : "detail"] = std::string(detail);
    }
    Emit("volume." + std::string(OpName(op)), std::move(fields));
    if (op == VolumeOp::kDetach) {
      pending_.erase(it);
    } else {
      it->second.since = now;
    }
    return;
  }
  CountLocked(key, op, 1, ok ? 0 : 1, bytes);
}

void VolumeAudit::RecordCounts(std::string_view sandbox, std::string_view volume, VolumeOp op,
                               uint64_t count, uint64_t failed, uint64_t bytes) {
  std::lock_guard lock(mu_);
  CountLocked(Key{std::string(sandbox), std::string(volume)}, op, count, failed, bytes);
}

void VolumeAudit::CountLocked(const Key& key, VolumeOp op, uint64_t count, uint64_t failed,
                              uint64_t bytes) {
  const auto now = Now();
  auto [it, fresh] = pending_.try_emplace(key);
  if (fresh || it->second.ops.empty()) {
    it->second.since = now;
  }
  Counter& c = it->second.ops[std::string(OpName(op))];
  auto add = [](uint64_t& to, uint64_t more) {
    to = to > UINT64_MAX - more ? UINT64_MAX : to + more;
  };
  add(c.count, count);
  add(c.failed, failed);
  add(c.bytes, bytes);
  if (now - it->second.since >= options_.flush_every) {
    FlushLocked(key, it->second);
    it->second.since = now;
  }
}

void VolumeAudit::CountsAreLowerBounds(std::string_view sandbox, std::string_view volume,
                                       VolumeOp op) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = pending_.try_emplace(Key{std::string(sandbox), std::string(volume)});
  if (fresh) {
    it->second.since = Now();
  }
  it->second.at_least.insert(std::string(OpName(op)));
}

void VolumeAudit::Flush() {
  std::lock_guard lock(mu_);
  for (auto& [key, pending] : pending_) {
    FlushLocked(key, pending);
  }
}

}  // namespace mvm::runtime::volumes
