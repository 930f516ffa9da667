#ifndef MVM_RUNTIME_EGRESS_SETTINGS_H_
#define MVM_RUNTIME_EGRESS_SETTINGS_H_

// What the launcher hands a sandbox's egress helper (egress.h): its policy, limits and secrets'
// names. A library of its own without OpenSSL, ldns or http-parser, so that the launcher, which
// only writes these settings, does not load what the helper (the `mvm-egress` binary) parses with.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/egress/policy.h"

namespace mvm::runtime::egress {

/// What one sandbox's proxy allows itself.
struct ProxyLimits {
  /// Connections open at once; more are refused (and audited).
  size_t max_connections = 256;
  /// For the first bytes that decide a connection (a ClientHello, a request head).
  std::chrono::milliseconds decide_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};
  /// A connection with no byte either way for this long is closed.
  std::chrono::milliseconds idle_timeout{300000};
  /// Bytes both ways through all of the sandbox's connections; past it every connection closes.
  uint64_t max_bytes = uint64_t{16} << 30;
};

/// A sandbox's CA, PEM-encoded. The key is handed to the egress helper over a socket, never
/// written to disk; the certificate goes into the guest's trust store.
struct SandboxCa {
  std::string key_pem;
  std::string cert_pem;
};

/// A secret as the launcher hands it to the helper: never its value, which the helper loads
/// itself into locked memory.
struct SecretSetting {
  std::string name;
  std::string token;
  std::vector<std::string> hosts;
};

struct Settings {
  std::string sandbox;
  Policy policy;
  ProxyLimits limits;
  /// Whose resolvers answer upstream: the host's, in the network namespace mvmctl runs in.
  std::string resolv_conf = "/etc/resolv.conf";
  /// Names answered with these IPv4 addresses instead of asking the resolvers: what the host's own
  /// name service (e.g. /etc/hosts) says for a name mvm itself allows, such as the Debian archive
  /// a builder fetches from. The answers are still checked and pinned like any upstream answer.
  std::map<std::string, std::vector<std::string>> fixed_hosts;
  /// EventLog's window.
  std::chrono::milliseconds audit_window{60000};
  /// The sandbox's secrets, and the CA whose certificates the proxy shows for their hosts (PEM;
  /// empty when there are no secrets).
  std::vector<SecretSetting> secrets;
  std::string ca_key_pem;
  std::string ca_cert_pem;
};

nlohmann::json SettingsToJson(const Settings& settings);
ErrorOr<Settings> SettingsFromJson(const nlohmann::json& json);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_SETTINGS_H_
