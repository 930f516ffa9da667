#ifndef MVM_RUNTIME_EGRESS_PROXY_H_
#define MVM_RUNTIME_EGRESS_PROXY_H_

// The egress proxy of one sandbox. Every TCP connection the sandbox opens to anything but its own
// loopback arrives here (the backend redirects it), with its original destination:
//   - a sandbox-side address of the resolver (198.18.x.y) on port 443: HTTPS for that name, decided
//     by the TLS ClientHello's server name, which must be that name, and forwarded without
//     terminating TLS, unless a secret may be sent to that name: then TLS is terminated with the
//     sandbox's CA (intercept.h), the request's tokens replaced by values and the answer's values
//     masked (substitute.h), and a verified TLS connection made upstream;
//   - the same on port 80: plain HTTP for that name, every request's Host (and absolute-form
//     target) checked against it;
//   - the proxy's own address: a client that was told to use it (HTTP_PROXY, HTTPS_PROXY), with
//     CONNECT host:443 (then the ClientHello is checked as above) or absolute-form http://
//     requests;
//   - anything else (an IP address the resolver did not hand out, another port): refused.
// Upstream, a name is connected only to the addresses the resolver pinned for it. What the sandbox
// sends in clear (plain HTTP, the names it asks the proxy for) is scanned for its secrets' tokens,
// which are refused there: a token is replaced only inside TLS to one of its secret's hosts.

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/egress/event_log.h"
#include "runtime/egress/intercept.h"
#include "runtime/egress/policy.h"
#include "runtime/egress/resolver.h"
#include "runtime/egress/settings.h"
#include "runtime/egress/substitute.h"

namespace mvm::runtime::egress {

/// How the proxy learns where a connection was going and reaches upstream; tests replace them.
struct ProxyHooks {
  /// The connection's destination before the redirect; nothing when it was not redirected (it was
  /// made to the proxy's own address). Default: SO_ORIGINAL_DST.
  std::function<std::optional<sockaddr_in>(int fd)> original_destination;
  /// A connected socket to one of `v4`/`v6` on `port`, or -1 with errno set. Default: each address
  /// in turn, IPv4 first, with the connect timeout.
  std::function<int(const std::vector<in_addr>& v4, const std::vector<in6_addr>& v6, uint16_t port,
                    std::chrono::milliseconds timeout)>
      connect_upstream;
};

/// The proxy's own HTTP answer, `status` being "403 Forbidden" or "502 Bad Gateway", with the
/// reason in its body.
std::string ProxyAnswer(const char* status, const std::string& reason);

class Proxy {
 public:
  /// `secrets` and `interceptor` are borrowed and outlive the proxy; with no secrets (null or
  /// empty) no connection is terminated and `interceptor` may be null, otherwise it may not.
  Proxy(Policy policy, Resolver* resolver, EventLog* events, std::string sandbox,
        ProxyLimits limits, ProxyHooks hooks = {}, const SecretTable* secrets = nullptr,
        Interceptor* interceptor = nullptr);

  /// Accepts on `listener` and serves each connection on a thread of its own, until the listener
  /// fails (it is closed or shut down).
  void Serve(int listener);

  /// Serves one accepted connection to its end; closes `client`.
  void Handle(int client);

  uint64_t bytes() const { return bytes_.load(); }

 private:
  struct Target {
    std::string name;     ///< normalised; empty when the destination had no name
    std::string address;  ///< the destination as the sandbox dialled it
    uint16_t port = 0;
  };
  void Deny(int client, const Target& target, const std::string& reason, bool http);
  void ServeTls(int client, Target target, std::string first);
  /// ServeTls for a name some secret may go to; `first` holds the ClientHello.
  void ServeIntercepted(int client, const Target& target, const std::string& rule,
                        const std::string& first);
  /// Moves bytes both ways between the two TLS ends until both are done.
  void PumpIntercepted(TlsStream& down, TlsStream& up, const Target& target,
                       const std::string& rule);
  /// Records a token seen in clear towards `target` and answers 403 over plain HTTP.
  void RefuseToken(int client, const Target& target, const SandboxSecret& secret,
                   const std::string& where);
  void ServeHttp(int client, Target target, std::string first);
  void ServeExplicit(int client);
  int ConnectName(const Target& target, std::string& error);
  /// Client bytes pass through `filter` on their way upstream (false: end the connection).
  using Filter = std::function<bool(std::string_view in, std::string& out)>;
  void Relay(int client, int upstream, const std::string& to_upstream, const Filter& filter = {});
  /// Adds `n` to the sandbox's bytes; false (and a `deny` record) past the limit.
  bool CountBytes(size_t n);

  Policy policy_;
  Resolver* resolver_;
  EventLog* events_;
  std::string sandbox_;
  ProxyLimits limits_;
  ProxyHooks hooks_;
  const SecretTable* secrets_;
  Interceptor* interceptor_;
  /// Threads kept waiting in accept() (Serve).
  static constexpr size_t kSpareAcceptors = 4;
  void AcceptLoop(int listener, bool owner);

  std::atomic<size_t> open_{0};
  std::atomic<size_t> idle_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_PROXY_H_
