#include "cli/org_policy_file.h"

#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "ir/options.h"
#include "ir/support/source_file.h"
#include "ir/support/suggest.h"
#include "passes/host.h"

namespace mvm::cli {
namespace {

using Json = nlohmann::json;

constexpr std::array<std::string_view, 8> kFields = {
    "schema",        "allowed_registries", "egress_allow",        "max_cpu",
    "max_memory_mb", "max_disk_mb",        "max_timeout_seconds", "required_isolation"};

constexpr std::string_view kSchema = "mvm.policy/v1";

// Why `entry` cannot name a registry (`host[:port]` with an optional `/path` prefix); empty when it
// can. IP literals are fine here, unlike egress hosts: a registry on 127.0.0.1:5000 is common.
std::string RegistryError(std::string_view entry) {
  if (entry.empty()) {
    return "it is empty";
  }
  if (entry.find("://") != std::string_view::npos) {
    return "write the registry without a scheme, e.g. `ghcr.io/acme`";
  }
  if (entry.front() == '/' || entry.back() == '/' || entry.find("//") != std::string_view::npos) {
    return "it has an empty path component";
  }
  for (char c : entry) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == ':' || c == '/' || c == '[' || c == ']';
    if (!ok) {
      return "only lowercase letters, digits and `.-_:/` may appear in it";
    }
  }
  return "";
}

// Finds the first syntax error without exceptions: nlohmann hands its message (with line and
// column) only to a SAX handler's parse_error.
class SyntaxErrorFinder final : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool /*value*/) override { return true; }
  bool number_integer(number_integer_t /*value*/) override { return true; }
  bool number_unsigned(number_unsigned_t /*value*/) override { return true; }
  bool number_float(number_float_t /*value*/, const string_t& /*raw*/) override { return true; }
  bool string(string_t& /*value*/) override { return true; }
  bool binary(binary_t& /*value*/) override { return true; }
  bool start_object(std::size_t /*size*/) override { return true; }
  bool key(string_t& /*value*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*size*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) override {
    std::string_view what = ex.what();
    // Drop the "[json.exception.parse_error.101] " prefix; keep "parse error at line L, column C:".
    if (size_t bracket = what.find("] "); what.starts_with("[") && bracket != what.npos) {
      what.remove_prefix(bracket + 2);
    }
    error = "not valid JSON: " + std::string(what);
    return false;
  }

  std::string error;
};

std::string SyntaxError(std::string_view text) {
  SyntaxErrorFinder finder;
  Json::sax_parse(text, &finder);
  return finder.error;
}

class PolicyReader {
 public:
  explicit PolicyReader(std::string_view path) : path_(path) {}

  ErrorOr<passes::OrgPolicy> Read(std::string_view text) {
    std::set<std::string> seen;
    std::string duplicate;
    // Policies are security settings: a member given twice has no clear meaning, so it is refused
    // rather than letting the last one win silently.
    auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
      if (event == Json::parse_event_t::key && depth == 1 && parsed.is_string() &&
          !seen.insert(parsed.get<std::string>()).second && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
      return true;
    };
    if (std::string error = SyntaxError(text); !error.empty()) {
      return Fail(error);
    }
    Json json = Json::parse(text, callback, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return Fail("not valid JSON");
    }
    if (!json.is_object()) {
      return Fail("the top level must be a JSON object");
    }
    if (!duplicate.empty()) {
      return Fail("`" + duplicate + "` is given more than once");
    }
    passes::OrgPolicy policy;
    policy.path = std::string(path_);
    for (const auto& [key, value] : json.items()) {
      bool known = false;
      for (std::string_view f : kFields) {
        known = known || f == key;
      }
      if (!known) {
        std::string message = "unknown field `" + key + "`";
        if (auto guess = DidYouMean(key, kFields)) {
          message += "; did you mean `" + *guess + "`?";
        } else {
          message +=
              "; known fields: allowed_registries, egress_allow, max_cpu, max_memory_mb, "
              "max_disk_mb, max_timeout_seconds, required_isolation";
        }
        return Fail(message);
      }
    }
    if (json.contains("schema") &&
        (!json["schema"].is_string() || json["schema"].get<std::string>() != kSchema)) {
      return Fail("`schema` must be \"" + std::string(kSchema) + "\", got " +
                  json["schema"].dump());
    }
    if (auto e = StringList(json, "allowed_registries", policy.allowed_registries, RegistryError);
        !e.empty()) {
      return Fail(e);
    }
    if (auto e = StringList(json, "egress_allow", policy.egress_allow, passes::HostError);
        !e.empty()) {
      return Fail(e);
    }
    if (policy.egress_allow) {
      for (std::string& host : *policy.egress_allow) {
        host = passes::LowercaseHost(host);
      }
    }
    for (auto [field, option, slot] :
         {std::tuple{"max_cpu", "cpu", &policy.max_cpu},
          std::tuple{"max_memory_mb", "memory_mb", &policy.max_memory_mb},
          std::tuple{"max_disk_mb", "disk_mb", &policy.max_disk_mb},
          std::tuple{"max_timeout_seconds", "timeout_seconds", &policy.max_timeout_seconds}}) {
      if (auto e = Limit(json, field, option, *slot); !e.empty()) {
        return Fail(e);
      }
    }
    if (json.contains("required_isolation")) {
      const Json& v = json["required_isolation"];
      if (!v.is_string() || v.get<std::string>() != "microvm") {
        return Fail("`required_isolation` can only be \"microvm\", got " + v.dump() +
                    ": a policy may tighten the profile, never loosen it");
      }
      policy.required_isolation = "microvm";
    }
    return policy;
  }

 private:
  Error Fail(const std::string& message) const {
    return Error{"policy file `" + std::string(path_) + "`: " + message};
  }

  // Reads an optional list of strings, each checked by `problem` (empty when fine).
  template <typename Check>
  std::string StringList(const Json& json, const std::string& field,
                         std::optional<std::vector<std::string>>& out, Check problem) {
    if (!json.contains(field)) {
      return "";
    }
    const Json& v = json[field];
    if (!v.is_array()) {
      return "`" + field + "` must be a list of strings, got " + v.dump();
    }
    out.emplace();
    for (size_t i = 0; i < v.size(); ++i) {
      std::string where = "`" + field + "[" + std::to_string(i) + "]`";
      if (!v[i].is_string()) {
        return where + " must be a string, got " + v[i].dump();
      }
      std::string item = v[i].get<std::string>();
      if (std::string why = problem(item); !why.empty()) {
        return where + " `" + item + "` is invalid: " + why;
      }
      out->push_back(std::move(item));
    }
    return "";
  }

  std::string Limit(const Json& json, const std::string& field, std::string_view option,
                    std::optional<int32_t>& out) {
    if (!json.contains(field)) {
      return "";
    }
    const ir::OptionInfo* info = ir::FindOption(ir::OptionContext::kWorkload, option);
    const Json& v = json[field];
    // Unsigned first: a huge literal must not wrap around into the range.
    bool in_range = v.is_number_integer() &&
                    !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(info->max)) &&
                    v.get<int64_t>() >= info->min && v.get<int64_t>() <= info->max;
    if (!in_range) {
      // The range is the option's own: a limit outside it could never bind, or never be met.
      return "`" + field + "` must be an integer in " + std::to_string(info->min) + ".." +
             std::to_string(info->max) + ", got " + v.dump();
    }
    out = static_cast<int32_t>(v.get<int64_t>());
    return "";
  }

  std::string_view path_;
};

}  // namespace

ErrorOr<passes::OrgPolicy> ParseOrgPolicy(std::string_view path, std::string_view text) {
  return PolicyReader(path).Read(text);
}

ErrorOr<passes::OrgPolicy> ReadOrgPolicy(const std::string& path) {
  auto file = SourceFile::Read(path);
  if (!file) {
    return Error{"cannot read policy file: " + file.error().message};
  }
  return ParseOrgPolicy(path, file->contents());
}

}  // namespace mvm::cli
