#include "runtime/egress/egress.h"

#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>

#include "runtime/egress/intercept.h"
#include "runtime/egress/resolver.h"

namespace mvm::runtime::egress {

namespace {

/// DNS queries answered at once; more wait in the socket's queue (and are dropped when it fills,
/// as a busy resolver's are).
constexpr int kMaxQueriesInFlight = 32;

void ServeDns(int fd, Resolver& resolver, std::atomic<int>& in_flight) {
  char packet[4096];
  while (true) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, packet, sizeof packet, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    while (in_flight.load() >= kMaxQueriesInFlight) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ++in_flight;
    std::thread([fd, &resolver, &in_flight, query = std::string(packet, static_cast<size_t>(n)),
                 from, len] {
      std::string answer = resolver.Answer(query);
      if (!answer.empty()) {
        (void)::sendto(fd, answer.data(), answer.size(), 0,
                       reinterpret_cast<const sockaddr*>(&from), len);
      }
      --in_flight;
    }).detach();
  }
}

}  // namespace

void RunEgress(const Settings& settings, SecretTable secrets, int proxy_fd, int dns_fd,
               EventLog::Writer writer) {
  std::unique_ptr<Interceptor> interceptor;
  if (!secrets.empty()) {
    if (settings.ca_key_pem.empty() || settings.ca_cert_pem.empty()) {
      std::fprintf(stderr,
                   "mvm egress helper: the sandbox has secrets but no CA to terminate "
                   "TLS for their hosts\n");
      return;
    }
    auto made = Interceptor::Create({settings.ca_key_pem, settings.ca_cert_pem});
    if (!made) {
      std::fprintf(stderr, "mvm egress helper: %s\n", made.error().message.c_str());
      return;
    }
    interceptor = std::move(*made);
  }
  // Connections and queries are served on detached threads that may outlive Serve (they end with
  // the process), so what they use is never destroyed: only the event log is closed, which writes
  // what it holds and drops what comes later.
  struct Server {
    Server(const Settings& s, SecretTable t, std::unique_ptr<Interceptor> i, EventLog::Writer w)
        : secrets(std::move(t)),
          interceptor(std::move(i)),
          events(std::move(w), s.audit_window),
          resolver(
              s.policy,
              [conf = s.resolv_conf, fixed = s.fixed_hosts](const std::string& name) {
                return LookupFixedOrUpstream(name, fixed, conf);
              },
              &events, s.sandbox, &secrets),
          proxy(s.policy, &resolver, &events, s.sandbox, s.limits, {}, &secrets,
                interceptor.get()) {}
    SecretTable secrets;
    std::unique_ptr<Interceptor> interceptor;
    EventLog events;
    Resolver resolver;
    Proxy proxy;
    std::atomic<int> dns_in_flight{0};
  };
  // Never deleted (see above); kept reachable, so that a leak checker does not count it.
  static Server* server = nullptr;
  server = new Server(settings, std::move(secrets), std::move(interceptor), std::move(writer));
  if (dns_fd >= 0 && settings.policy.dns) {
    Server* serving = server;
    std::thread([dns_fd, serving] {
      ServeDns(dns_fd, serving->resolver, serving->dns_in_flight);
    }).detach();
  }
  server->proxy.Serve(proxy_fd);
  server->events.Close();
}

}  // namespace mvm::runtime::egress
