// The audit log's records, as tests read them back: JSON objects, one a line, from the state
// directory's audit.jsonl. Lines that are not objects (a cut-off tail) are skipped.
#ifndef MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_
#define MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mvm::testing {

/// The records of `event` about sandbox `sandbox` in `state`'s audit log, oldest first.
inline std::vector<nlohmann::json> AuditRecords(const std::filesystem::path& state,
                                                const std::string& sandbox,
                                                const std::string& event) {
  std::vector<nlohmann::json> out;
  std::ifstream in(state / "audit.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.value("event", "") == event &&
        record.value("sandbox", "") == sandbox) {
      out.push_back(std::move(record));
    }
  }
  return out;
}

/// Which volume records ReadVolumeCounts sums: of sandbox `sandbox` (every one when empty), from
/// line `from_line` of the log on, and reported by `reported_by` (`""` for the host's own, which
/// carry none; every reporter when unset).
struct VolumeRecordFilter {
  std::string sandbox;
  size_t from_line = 0;
  std::optional<std::string> reported_by;
};

/// What the audit log says of one volume: whether it was attached and detached (by any record, and
/// by one with `"ok": true`), the summed count of each operation in its `volume.ops` records, which
/// counts were marked lower bounds, and whether a record's text holds `forbidden` (a path).
struct VolumeCounts {
  bool attached = false, detached = false;
  bool attached_ok = false, detached_ok = false;
  bool holds_forbidden = false;
  std::map<std::string, uint64_t> count;
  std::map<std::string, bool> at_least;
};

/// VolumeCounts per volume label, of the records `which` selects in `state`'s audit log.
inline std::map<std::string, VolumeCounts> ReadVolumeCountsByLabel(
    const std::filesystem::path& state, const VolumeRecordFilter& which,
    const std::string& forbidden = "") {
  std::map<std::string, VolumeCounts> out;
  std::ifstream in(state / "audit.jsonl");
  std::string line;
  for (size_t at = 0; std::getline(in, line); ++at) {
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (at < which.from_line || !record.is_object() || !record.contains("volume") ||
        (!which.sandbox.empty() && record.value("sandbox", "") != which.sandbox) ||
        (which.reported_by && record.value("reported_by", "") != *which.reported_by)) {
      continue;
    }
    VolumeCounts& counts = out[record.value("volume", "")];
    counts.holds_forbidden =
        counts.holds_forbidden || (!forbidden.empty() && line.find(forbidden) != std::string::npos);
    const std::string event = record.value("event", "");
    const bool ok = record.value("ok", false);
    counts.attached = counts.attached || event == "volume.attach";
    counts.detached = counts.detached || event == "volume.detach";
    counts.attached_ok = counts.attached_ok || (event == "volume.attach" && ok);
    counts.detached_ok = counts.detached_ok || (event == "volume.detach" && ok);
    if (event == "volume.ops") {
      for (const auto& [op, c] : record["ops"].items()) {
        counts.count[op] += c.at("count").get<uint64_t>();
        counts.at_least[op] = counts.at_least[op] || c.value("at_least", false);
      }
    }
  }
  return out;
}

/// The VolumeCounts of volume `label` over every sandbox and reporter.
inline VolumeCounts ReadVolumeCounts(const std::filesystem::path& state, const std::string& label,
                                     const std::string& forbidden = "") {
  return ReadVolumeCountsByLabel(state, {}, forbidden)[label];
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_
