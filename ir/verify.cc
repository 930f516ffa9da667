#include "ir/verify.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <string_view>
#include <utility>

namespace mvm::ir {
namespace {

namespace pb = google::protobuf;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::string SourceLocProblem(const v1::SourceLoc& loc) {
  if (loc.line() < 1 || loc.column() < 1) {
    return "line and column must be >= 1, got " + std::to_string(loc.line()) + ":" +
           std::to_string(loc.column());
  }
  // An end of 0:0 means "no end recorded" (the spec's own example has none).
  if (loc.end_line() == 0 && loc.end_column() == 0) {
    return {};
  }
  if (std::pair(loc.end_line(), loc.end_column()) < std::pair(loc.line(), loc.column())) {
    return "end " + std::to_string(loc.end_line()) + ":" + std::to_string(loc.end_column()) +
           " is before start " + std::to_string(loc.line()) + ":" + std::to_string(loc.column());
  }
  return {};
}

namespace {

// Walks every set SourceLoc by type, so a new node kind with a location is covered without edits
// here.
void CheckLocs(const pb::Message& message, const std::string& path,
               std::vector<std::string>& findings) {
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    // Maps of the IR hold strings; none carries a location.
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || field->is_map()) {
      continue;
    }
    std::string field_path = path.empty() ? field->name() : path + "." + field->name();
    auto visit = [&](const pb::Message& child, const std::string& child_path) {
      if (child.GetDescriptor() == v1::SourceLoc::descriptor()) {
        std::string problem = SourceLocProblem(static_cast<const v1::SourceLoc&>(child));
        if (!problem.empty()) {
          findings.push_back(child_path + ": " + problem);
        }
      } else {
        CheckLocs(child, child_path, findings);
      }
    };
    if (field->is_repeated()) {
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        visit(reflection->GetRepeatedMessage(message, field, k),
              field_path + "[" + std::to_string(k) + "]");
      }
    } else if (reflection->HasField(message, field)) {
      visit(reflection->GetMessage(message, field), field_path);
    }
  }
}

bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// Reports the first index where `items` is not strictly increasing under `key` (or merely
// non-decreasing, when duplicates are allowed).
template <typename Items, typename Key>
void CheckSorted(const Items& items, Key key, bool unique, const std::string& path,
                 std::vector<std::string>& findings) {
  for (int i = 1; i < items.size(); ++i) {
    auto prev = key(items[i - 1]);
    auto cur = key(items[i]);
    if (cur < prev) {
      findings.push_back(path + ": not sorted at index " + std::to_string(i));
      return;
    }
    if (unique && cur == prev) {
      findings.push_back(path + ": duplicate at index " + std::to_string(i));
      return;
    }
  }
}

void CheckNormalized(const v1::Workload& workload, const std::string& path,
                     std::vector<std::string>& findings) {
  const auto& rules = workload.network().rules();
  for (int i = 0; i < rules.size(); ++i) {
    if (HasUpper(rules[i].host())) {
      findings.push_back(path + ".network.rules[" + std::to_string(i) +
                         "].host: " + Quote(rules[i].host()) + " is not lowercase");
    }
  }
  CheckSorted(
      rules,
      [](const v1::NetworkRule& r) {
        return std::pair<std::string_view, std::string_view>(r.host(), r.protocol());
      },
      /*unique=*/true, path + ".network.rules", findings);

  const auto& secrets = workload.secrets();
  CheckSorted(
      secrets, [](const v1::Secret& s) { return std::string_view(s.env()); }, /*unique=*/false,
      path + ".secrets", findings);
  for (int i = 0; i < secrets.size(); ++i) {
    std::string hosts_path = path + ".secrets[" + std::to_string(i) + "].hosts";
    const auto& hosts = secrets[i].hosts();
    for (int k = 0; k < hosts.size(); ++k) {
      if (HasUpper(hosts[k])) {
        findings.push_back(hosts_path + "[" + std::to_string(k) + "]: " + Quote(hosts[k]) +
                           " is not lowercase");
      }
    }
    CheckSorted(
        hosts, [](const std::string& h) { return std::string_view(h); }, /*unique=*/true,
        hosts_path, findings);
  }
}

}  // namespace

std::vector<std::string> Verify(const Module& module, VerifyLevel level) {
  std::vector<std::string> findings;
  if (module.proto.schema_version() != kSchemaVersion) {
    findings.push_back("schema_version: expected " + Quote(kSchemaVersion) + ", got " +
                       Quote(module.proto.schema_version()));
  }
  if (module.locs.size() != static_cast<size_t>(module.proto.workloads_size())) {
    findings.push_back("locs: " + std::to_string(module.locs.size()) + " tables for " +
                       std::to_string(module.proto.workloads_size()) + " workloads");
  }
  CheckLocs(module.proto, "", findings);
  if (level == VerifyLevel::kNormalized) {
    for (int i = 0; i < module.proto.workloads_size(); ++i) {
      CheckNormalized(module.proto.workloads(i), "workloads[" + std::to_string(i) + "]", findings);
    }
  }
  return findings;
}

}  // namespace mvm::ir
