// The audit log's records, as tests read them back: JSON objects, one a line, from the state
// directory's audit.jsonl. Lines that are not objects (a cut-off tail) are skipped.
#ifndef MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_
#define MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_AUDIT_RECORDS_H_
