#include "runtime/egress/settings.h"

namespace mvm::runtime::egress {

nlohmann::json SettingsToJson(const Settings& s) {
  nlohmann::json rules = nlohmann::json::array();
  for (const Rule& r : s.policy.rules) {
    rules.push_back({{"host", r.host}, {"protocol", ProtocolName(r.protocol)}});
  }
  nlohmann::json out = {{"sandbox", s.sandbox},
                        {"rules", rules},
                        {"dns", s.policy.dns},
                        {"resolv_conf", s.resolv_conf},
                        {"audit_window_ms", s.audit_window.count()},
                        {"max_connections", s.limits.max_connections},
                        {"decide_timeout_ms", s.limits.decide_timeout.count()},
                        {"connect_timeout_ms", s.limits.connect_timeout.count()},
                        {"idle_timeout_ms", s.limits.idle_timeout.count()},
                        {"max_bytes", s.limits.max_bytes}};
  // Omitted without secrets, so that a sandbox without any sends what it sent before.
  if (!s.secrets.empty()) {
    nlohmann::json secrets = nlohmann::json::array();
    for (const SecretSetting& secret : s.secrets) {
      secrets.push_back({{"name", secret.name}, {"token", secret.token}, {"hosts", secret.hosts}});
    }
    out["secrets"] = std::move(secrets);
  }
  if (!s.fixed_hosts.empty()) {
    out["fixed_hosts"] = s.fixed_hosts;
  }
  if (!s.ca_key_pem.empty() || !s.ca_cert_pem.empty()) {
    out["ca_key_pem"] = s.ca_key_pem;
    out["ca_cert_pem"] = s.ca_cert_pem;
  }
  return out;
}

ErrorOr<Settings> SettingsFromJson(const nlohmann::json& j) {
  try {
    Settings s;
    s.sandbox = j.at("sandbox").get<std::string>();
    for (const nlohmann::json& r : j.at("rules")) {
      Rule rule;
      rule.host = r.at("host").get<std::string>();
      const std::string protocol = r.at("protocol").get<std::string>();
      if (protocol != "http" && protocol != "https") {
        return Error{"egress settings: unknown protocol `" + protocol + "`"};
      }
      rule.protocol = protocol == "http" ? Protocol::kHttp : Protocol::kHttps;
      s.policy.rules.push_back(std::move(rule));
    }
    s.policy.dns = j.at("dns").get<bool>();
    s.resolv_conf = j.at("resolv_conf").get<std::string>();
    s.audit_window = std::chrono::milliseconds(j.at("audit_window_ms").get<int64_t>());
    s.limits.max_connections = j.at("max_connections").get<size_t>();
    s.limits.decide_timeout = std::chrono::milliseconds(j.at("decide_timeout_ms").get<int64_t>());
    s.limits.connect_timeout = std::chrono::milliseconds(j.at("connect_timeout_ms").get<int64_t>());
    s.limits.idle_timeout = std::chrono::milliseconds(j.at("idle_timeout_ms").get<int64_t>());
    s.limits.max_bytes = j.at("max_bytes").get<uint64_t>();
    if (j.contains("secrets")) {
      for (const nlohmann::json& secret : j.at("secrets")) {
        s.secrets.push_back({secret.at("name").get<std::string>(),
                             secret.at("token").get<std::string>(),
                             secret.at("hosts").get<std::vector<std::string>>()});
      }
    }
    if (j.contains("fixed_hosts")) {
      s.fixed_hosts = j.at("fixed_hosts").get<std::map<std::string, std::vector<std::string>>>();
    }
    s.ca_key_pem = j.value("ca_key_pem", "");
    s.ca_cert_pem = j.value("ca_cert_pem", "");
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("egress settings: ") + e.what()};
  }
}

}  // namespace mvm::runtime::egress
