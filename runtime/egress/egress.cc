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
