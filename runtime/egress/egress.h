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
#include "runtime/egress/proxy.h"
#include "runtime/egress/settings.h"
#include "runtime/egress/substitute.h"

namespace mvm::runtime::egress {

/// Serves DNS on `dns_fd` (a bound UDP socket) and the proxy on `proxy_fd` (a listening TCP
/// socket) until the proxy's listener fails; records decisions through `writer`. `secrets` holds
/// the values of `settings.secrets`, loaded by the caller; when it is not empty, the settings'
/// CA must load (otherwise this says why on stderr and returns at once).
void RunEgress(const Settings& settings, SecretTable secrets, int proxy_fd, int dns_fd,
               EventLog::Writer writer);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_EGRESS_H_
