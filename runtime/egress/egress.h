#ifndef MVM_RUNTIME_EGRESS_EGRESS_H_
#define MVM_RUNTIME_EGRESS_EGRESS_H_

// The egress helper of one sandbox: its pinning resolver and its proxy, in one host-side process
// the launcher starts per sandbox whose plan allows any network (a process per sandbox, so that
// one sandbox's load, limits and failures are its own, and it ends with its sandbox). Its policy
// comes only from the verified plan, handed over by the launcher; the sandbox talks to it only
// through the two sockets the backend opened in the sandbox's network.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/egress/event_log.h"
#include "runtime/egress/policy.h"
#include "runtime/egress/proxy.h"
#include "runtime/egress/substitute.h"

namespace mvm::runtime::egress {

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

/// Serves DNS on `dns_fd` (a bound UDP socket) and the proxy on `proxy_fd` (a listening TCP
/// socket) until the proxy's listener fails; records decisions through `writer`. `secrets` holds
/// the values of `settings.secrets`, loaded by the caller; when it is not empty, the settings'
/// CA must load (otherwise this says why on stderr and returns at once).
void RunEgress(const Settings& settings, SecretTable secrets, int proxy_fd, int dns_fd,
               EventLog::Writer writer);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_EGRESS_H_
