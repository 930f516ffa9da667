#include "runtime/egress/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "ir/support/check.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/egress/address.h"
#include "runtime/egress/http_gate.h"
#include "runtime/egress/tls_hello.h"

namespace mvm::runtime::egress {

namespace {

using Clock = std::chrono::steady_clock;

std::optional<sockaddr_in> OriginalDestination(int fd) {
  sockaddr_in dst{};
  socklen_t len = sizeof dst;
  if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) {
    return std::nullopt;
  }
  sockaddr_in local{};
  len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
      local.sin_addr.s_addr == dst.sin_addr.s_addr && local.sin_port == dst.sin_port) {
    return std::nullopt;  // made to the proxy's own address, not redirected
  }
  return dst;
}

int ConnectOne(const sockaddr* address, socklen_t len, std::chrono::milliseconds timeout) {
  int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -1;
  }
  if (::connect(fd, address, len) != 0 && errno != EINPROGRESS) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  pollfd p = {fd, POLLOUT, 0};
  int error = 0;
  socklen_t elen = sizeof error;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen) != 0 || error != 0) {
    ::close(fd);
    errno = error != 0 ? error : ETIMEDOUT;
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

int ConnectUpstream(const std::vector<in_addr>& v4, const std::vector<in6_addr>& v6, uint16_t port,
                    std::chrono::milliseconds timeout) {
  std::vector<sockaddr_storage> addresses;
  for (const in_addr& a : v4) {
    sockaddr_in& sa = *reinterpret_cast<sockaddr_in*>(&addresses.emplace_back());
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr = a;
  }
  for (const in6_addr& a : v6) {
    sockaddr_in6& sa = *reinterpret_cast<sockaddr_in6*>(&addresses.emplace_back());
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = a;
  }
  errno = EHOSTUNREACH;
  for (const sockaddr_storage& a : addresses) {
    const socklen_t len = a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (int fd = ConnectOne(reinterpret_cast<const sockaddr*>(&a), len, timeout); fd >= 0) {
      return fd;
    }
  }
  return -1;
}

/// Reads what is there (at most 64 KiB) into `out`, waiting until `deadline`; false on EOF, error
/// or timeout.
bool ReadSome(int fd, std::string& out, Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pollfd p = {fd, POLLIN, 0};
  if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
    return false;
  }
  char buf[65536];
  ssize_t n;
  do {
    n = ::recv(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return false;
  }
  out.append(buf, static_cast<size_t>(n));
  return true;
}

/// "host" and port of a Host header or an authority ("api.example.com:8080"); the port is
/// `fallback` when none is given and 0 when it is not a number.
std::pair<std::string, uint16_t> SplitHostPort(std::string_view text, uint16_t fallback) {
  if (!text.empty() && text.front() == '[') {
    return {std::string(text), fallback};  // an IPv6 literal: NormaliseName refuses it
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return {std::string(text), fallback};
  }
  unsigned port = 0;
  std::string_view digits = text.substr(colon + 1);
  for (char c : digits) {
    if (c < '0' || c > '9' || port > 65535) {
      return {std::string(text.substr(0, colon)), 0};
    }
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (digits.empty() || port > 65535) {
    port = 0;
  }
  return {std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

}  // namespace

std::string ProxyAnswer(const char* status, const std::string& reason) {
  const std::string body = "mvm egress proxy: " + reason + "\n";
  return std::string("HTTP/1.1 ") + status +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

Proxy::Proxy(Policy policy, Resolver* resolver, EventLog* events, std::string sandbox,
             ProxyLimits limits, ProxyHooks hooks, const SecretTable* secrets,
             Interceptor* interceptor)
    : policy_(std::move(policy)),
      resolver_(resolver),
      events_(events),
      sandbox_(std::move(sandbox)),
      limits_(limits),
      hooks_(std::move(hooks)),
      secrets_(secrets != nullptr && !secrets->empty() ? secrets : nullptr),
      interceptor_(interceptor) {
  MVM_CHECK(secrets_ == nullptr || interceptor_ != nullptr);
  if (!hooks_.original_destination) {
    hooks_.original_destination = OriginalDestination;
  }
  if (!hooks_.connect_upstream) {
    hooks_.connect_upstream = ConnectUpstream;
  }
}

void Proxy::Serve(int listener) {
  // Threads wait in accept() themselves, so that a connection is served by the thread the kernel
  // wakes: no hand-off to another thread and no thread made on its path (measured in
  // docs/perf/egress.md, each was a scheduling delay). The calling thread is one of them and
  // returns when the listener fails.
  for (size_t i = 1; i < kSpareAcceptors; ++i) {
    std::thread([this, listener] { AcceptLoop(listener, /*owner=*/false); }).detach();
  }
  AcceptLoop(listener, /*owner=*/true);
}

void Proxy::AcceptLoop(int listener, bool owner) {
  while (true) {
    ++idle_;
    int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    --idle_;
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ||
          errno == ENOBUFS || errno == ENOMEM) {
        if (errno != EINTR && errno != ECONNABORTED) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // wait for a free fd
        }
        continue;
      }
      return;  // the listener was shut down
    }
    if (open_.load() >= limits_.max_connections) {
      events_->Record("deny", {{"sandbox", sandbox_},
                               {"reason", "more than " + std::to_string(limits_.max_connections) +
                                              " connections open at once"}});
      ::close(client);
      continue;
    }
    ++open_;
    if (idle_.load() == 0) {
      // This thread is busy now and no other waits: one more does (at most max_connections + the
      // spares exist, since each serves a connection or waits).
      std::thread([this, listener] { AcceptLoop(listener, /*owner=*/false); }).detach();
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Handle(client);
    --open_;
    if (!owner && idle_.load() >= kSpareAcceptors) {
      return;  // enough others wait
    }
  }
}

void Proxy::Deny(int client, const Target& target, const std::string& reason, bool http) {
  nlohmann::json fields = {{"sandbox", sandbox_}, {"reason", reason}, {"port", target.port}};
  if (!target.name.empty()) {
    fields["name"] = target.name;
  }
  if (!target.address.empty()) {
    fields["address"] = target.address;
  }
  events_->Record("deny", std::move(fields));
  if (http) {
    (void)os::WriteAll(client, ProxyAnswer("403 Forbidden", reason));
  }
}

void Proxy::Handle(int client) {
  timeval idle{static_cast<time_t>(limits_.idle_timeout.count() / 1000),
               static_cast<suseconds_t>((limits_.idle_timeout.count() % 1000) * 1000)};
  ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
  std::optional<sockaddr_in> dst = hooks_.original_destination(client);
  if (!dst) {
    ServeExplicit(client);
    ::close(client);
    return;
  }
  Target target;
  target.address = AddressText(dst->sin_addr);
  target.port = ntohs(dst->sin_port);
  std::optional<std::string> name = resolver_->NameOf(dst->sin_addr);
  if (!name) {
    Deny(client, target,
         "a connection to " + target.address + ":" + std::to_string(target.port) +
             ", an address the sandbox's resolver did not give out (raw IP addresses are refused)",
         target.port == 80);
    ::close(client);
    return;
  }
  target.name = *name;
  if (target.port == 443) {
    ServeTls(client, target, "");
  } else if (target.port == 80) {
    ServeHttp(client, target, "");
  } else {
    Deny(client, target,
         "port " + std::to_string(target.port) + " of `" + target.name +
             "`: only 80 (HTTP) and 443 (HTTPS) are proxied",
         false);
  }
  ::close(client);
}

int Proxy::ConnectName(const Target& target, std::string& error) {
  std::vector<in_addr> v4 = resolver_->PinnedV4(target.name);
  std::vector<in6_addr> v6 = resolver_->PinnedV6(target.name);
  if (v4.empty() && v6.empty()) {
    Resolver::Resolved resolved = resolver_->Resolve(target.name);
    if (resolved.refused) {
      error = "cannot resolve `" + target.name + "`: " + *resolved.refused;
      return -1;
    }
    v4 = std::move(resolved.v4);
    v6 = std::move(resolved.v6);
  }
  int fd = hooks_.connect_upstream(v4, v6, target.port, limits_.connect_timeout);
  if (fd < 0) {
    error = "cannot connect to `" + target.name + "` port " + std::to_string(target.port) + ": " +
            os::ErrnoText(errno);
    events_->Record("proxy-fail", {{"sandbox", sandbox_},
                                   {"name", target.name},
                                   {"port", target.port},
                                   {"stage", "connect"},
                                   {"reason", error}});
    return -1;
  }
  timeval idle{static_cast<time_t>(limits_.idle_timeout.count() / 1000),
               static_cast<suseconds_t>((limits_.idle_timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof idle);
  // Bytes are relayed as they come; waiting to coalesce them would only add latency.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void Proxy::ServeTls(int client, Target target, std::string bytes) {
  const auto deadline = Clock::now() + limits_.decide_timeout;
  ClientHello hello = ParseClientHello(bytes);
  while (hello.status == ClientHello::Status::kNeedMore) {
    if (!ReadSome(client, bytes, deadline)) {
      if (!bytes.empty()) {
        Deny(client, target, "no complete TLS ClientHello arrived", false);
      }
      return;
    }
    hello = ParseClientHello(bytes);
  }
  std::optional<std::string> refusal;
  std::optional<std::string> sni;
  if (hello.status == ClientHello::Status::kInvalid) {
    refusal = hello.error;
  } else if (hello.encrypted_name) {
    refusal = "the ClientHello hides its server name (encrypted ClientHello)";
  } else if (hello.server_name.empty()) {
    refusal = "the ClientHello names no server (no SNI)";
  } else if (!(sni = NormaliseName(hello.server_name))) {
    refusal = "the ClientHello's server name `" + hello.server_name +
              "` is not a DNS name (IP addresses are refused)";
  } else if (*sni != target.name) {
    refusal = "the ClientHello's server name `" + *sni + "` is not `" + target.name +
              "`, the name the connection was made for";
  }
  std::optional<std::string> rule;
  if (!refusal && !(rule = policy_.Match(target.name, Protocol::kHttps))) {
    refusal = "no https rule allows `" + target.name + "`";
  }
  if (refusal) {
    Deny(client, target, *refusal, false);
    return;
  }
  const bool intercepted = secrets_ != nullptr && secrets_->IsSecretHost(target.name);
  nlohmann::json allowed = {{"sandbox", sandbox_},
                            {"name", target.name},
                            {"port", target.port},
                            {"protocol", "https"},
                            {"rule", *rule}};
  if (intercepted) {
    allowed["intercepted"] = true;
  }
  events_->Record("allow", std::move(allowed));
  if (intercepted) {
    ServeIntercepted(client, target, *rule, bytes);
    return;
  }
  std::string error;
  int upstream = ConnectName(target, error);
  if (upstream < 0) {
    return;
  }
  Relay(client, upstream, bytes);
  ::close(upstream);
}

void Proxy::ServeHttp(int client, Target target, std::string bytes) {
  HttpGate gate([&](const HttpRequestHead& head) -> std::optional<std::string> {
    if (head.method == "CONNECT") {
      return "CONNECT is refused on a connection to `" + target.name + "` port 80";
    }
    if (!head.has_host || head.host.empty()) {
      return "the request has no Host header";
    }
    auto [host, port] = SplitHostPort(head.host, 80);
    std::optional<std::string> name = NormaliseName(host);
    if (!name) {
      return "the Host `" + head.host + "` is not a DNS name (IP addresses are refused)";
    }
    if (*name != target.name || port != target.port) {
      return "the Host `" + head.host + "` is not `" + target.name + "`, the name the connection " +
             "was made for";
    }
    if (!head.target.empty() && head.target.front() != '/' && head.target != "*") {
      http_parser_url url{};
      http_parser_url_init(&url);
      if (http_parser_parse_url(head.target.data(), head.target.size(), 0, &url) != 0 ||
          (url.field_set & (1 << UF_HOST)) == 0) {
        return "the request target `" + head.target + "` is not a URL";
      }
      std::string url_host =
          head.target.substr(url.field_data[UF_HOST].off, url.field_data[UF_HOST].len);
      std::optional<std::string> url_name = NormaliseName(url_host);
      const uint16_t url_port = (url.field_set & (1 << UF_PORT)) != 0 ? url.port : 80;
      if (!url_name || *url_name != target.name || url_port != target.port) {
        return "the request target `" + head.target + "` is not on `" + target.name + "`";
      }
    }
    std::optional<std::string> rule = policy_.Match(target.name, Protocol::kHttp);
    if (!rule) {
      return "no http rule allows `" + target.name + "`";
    }
    events_->Record("allow", {{"sandbox", sandbox_},
                              {"name", target.name},
                              {"port", target.port},
                              {"protocol", "http"},
                              {"rule", *rule}});
    return std::nullopt;
  });
  // Tokens are never substituted over plain HTTP, where the value would cross the network in
  // clear: a token in anything the client sends is an attempt to send it elsewhere.
  std::optional<TokenScanner> scanner;
  if (secrets_ != nullptr) {
    scanner.emplace(*secrets_);
  }
  auto token_in = [&](std::string_view in) {
    const SandboxSecret* secret = scanner ? scanner->Feed(in) : nullptr;
    if (secret != nullptr) {
      RefuseToken(client, target, *secret, "a plain-HTTP request");
    }
    return secret != nullptr;
  };
  const auto deadline = Clock::now() + limits_.decide_timeout;
  std::string first;
  while (true) {
    if (token_in(bytes)) {
      return;
    }
    HttpGate::Verdict v = gate.Feed(bytes);
    bytes.clear();
    first += v.forward;
    if (v.denied) {
      Deny(client, target, *v.denied, true);
      return;
    }
    if (!first.empty()) {
      break;
    }
    if (!ReadSome(client, bytes, deadline)) {
      return;
    }
  }
  std::string error;
  int upstream = ConnectName(target, error);
  if (upstream < 0) {
    (void)os::WriteAll(client, ProxyAnswer("502 Bad Gateway", error));
    return;
  }
  // The rest of the connection goes through the gate too: every later request is checked.
  bool tunnel = false;
  auto filter = [&](std::string_view in, std::string& out) -> bool {
    if (token_in(in)) {
      return false;
    }
    if (tunnel) {
      out.assign(in);
      return true;
    }
    HttpGate::Verdict v = gate.Feed(in);
    out = std::move(v.forward);
    tunnel = v.tunnel;
    if (v.denied) {
      Deny(client, target, *v.denied, false);
      return false;
    }
    return true;
  };
  Relay(client, upstream, first, filter);
  ::close(upstream);
}

bool Proxy::CountBytes(size_t n) {
  if (bytes_.fetch_add(n) + n <= limits_.max_bytes) {
    return true;
  }
  events_->Record("deny",
                  {{"sandbox", sandbox_},
                   {"reason", "the sandbox moved more than " + std::to_string(limits_.max_bytes) +
                                  " bytes through the proxy"}});
  return false;
}

void Proxy::Relay(int client, int upstream, const std::string& to_upstream, const Filter& filter) {
  if (!to_upstream.empty() &&
      (!CountBytes(to_upstream.size()) || 0 != os::WriteAll(upstream, to_upstream))) {
    return;
  }
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  bool client_open = true;
  bool upstream_open = true;
  std::string buffer(65536, '\0');
  std::string filtered;
  // Bytes that pass unfiltered (answers, TLS) move socket → pipe → socket inside the kernel, never
  // copied into this process; without a pipe, through the buffer.
  int pipe_fds[2] = {-1, -1};
  const bool spliced = ::pipe2(pipe_fds, O_CLOEXEC) == 0;
  const os::UniqueFd pipe_out(pipe_fds[0]);
  const os::UniqueFd pipe_in(pipe_fds[1]);
  while (client_open || upstream_open) {
    fds[0].events = client_open ? POLLIN : 0;
    fds[1].events = upstream_open ? POLLIN : 0;
    const int ready = ::poll(fds, 2, static_cast<int>(limits_.idle_timeout.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return;  // idle for the whole timeout, or poll failed
    }
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const int from = fds[i].fd;
      const int to = i == 0 ? upstream : client;
      const bool splice_it = spliced && !(i == 0 && filter);
      ssize_t n;
      do {
        n = splice_it ? ::splice(from, nullptr, pipe_in.get(), nullptr, buffer.size(),
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                      : ::recv(from, buffer.data(), buffer.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && errno == EAGAIN) {
        continue;  // readable by poll, yet nothing to move: poll again
      }
      if (n <= 0) {
        // One direction ended: pass the end on, keep the other direction.
        ::shutdown(to, SHUT_WR);
        (i == 0 ? client_open : upstream_open) = false;
        if (n < 0) {
          return;
        }
        continue;
      }
      if (splice_it) {
        if (!CountBytes(static_cast<size_t>(n))) {
          return;
        }
        for (size_t left = static_cast<size_t>(n); left > 0;) {
          const ssize_t m = ::splice(pipe_out.get(), nullptr, to, nullptr, left, SPLICE_F_MOVE);
          if (m < 0 && errno == EINTR) {
            continue;
          }
          if (m <= 0) {
            return;
          }
          left -= static_cast<size_t>(m);
        }
        continue;
      }
      std::string_view chunk(buffer.data(), static_cast<size_t>(n));
      if (i == 0 && filter) {
        if (!filter(chunk, filtered)) {
          return;
        }
        chunk = filtered;
      }
      if (!CountBytes(chunk.size())) {
        return;
      }
      if (0 != os::WriteAll(to, chunk)) {
        return;
      }
    }
  }
}

void Proxy::ServeExplicit(int client) {
  // A client told to use the proxy: its first request says where to. Parsed by a gate of its own
  // that only looks; the connection is then served as if it had been redirected there.
  Target target;  // no address: the client dialled the proxy itself
  bool connect = false;
  const SandboxSecret* exfiltrated = nullptr;
  HttpGate probe([&](const HttpRequestHead& head) -> std::optional<std::string> {
    connect = head.method == "CONNECT";
    std::string authority = head.target;
    uint16_t fallback = connect ? 443 : 80;
    if (!connect) {
      http_parser_url url{};
      http_parser_url_init(&url);
      if (head.target.empty() || head.target.front() == '/' ||
          http_parser_parse_url(head.target.data(), head.target.size(), 0, &url) != 0 ||
          (url.field_set & (1 << UF_HOST)) == 0) {
        return "a request to the proxy must be CONNECT host:443 or name an http:// URL";
      }
      std::string schema =
          (url.field_set & (1 << UF_SCHEMA)) != 0
              ? head.target.substr(url.field_data[UF_SCHEMA].off, url.field_data[UF_SCHEMA].len)
              : "";
      if (NormaliseName(schema) != std::optional<std::string>("http")) {
        return "the proxy forwards plain http:// URLs; use CONNECT for https";
      }
      authority = head.target.substr(url.field_data[UF_HOST].off, url.field_data[UF_HOST].len);
      if ((url.field_set & (1 << UF_PORT)) != 0) {
        authority += ":" + std::to_string(url.port);
      }
    }
    auto [host, port] = SplitHostPort(authority, fallback);
    target.port = port;
    std::optional<std::string> name = NormaliseName(host);
    if (!name) {
      return "`" + host + "` is not a DNS name (IP addresses are refused)";
    }
    target.name = *name;
    if (secrets_ != nullptr) {
      if (const SandboxSecret* secret = secrets_->FindToken(target.name)) {
        exfiltrated = secret;
        return "a secret's token in the requested name";
      }
    }
    if (connect && port != 443) {
      return "CONNECT to port " + std::to_string(port) + ": only 443 is tunnelled";
    }
    if (!connect && port != 80) {
      return "http:// to port " + std::to_string(port) + ": only 80 is proxied";
    }
    return std::nullopt;
  });
  const auto deadline = Clock::now() + limits_.decide_timeout;
  std::string bytes;
  while (true) {
    const size_t before = bytes.size();
    if (!ReadSome(client, bytes, deadline)) {
      return;
    }
    HttpGate::Verdict v = probe.Feed(std::string_view(bytes).substr(before));
    if (exfiltrated != nullptr) {
      // The name itself would carry the token out: in the upstream DNS lookup and the SNI.
      target.name.clear();
      RefuseToken(client, target, *exfiltrated, "the name of a proxy request");
      return;
    }
    if (v.denied) {
      Deny(client, target, *v.denied, true);
      return;
    }
    if (v.tunnel && connect) {
      if (0 != os::WriteAll(client, "HTTP/1.1 200 Connection established\r\n\r\n")) {
        return;
      }
      ServeTls(client, target, v.forward.substr(v.tunnel_at));
      return;
    }
    if (!v.forward.empty() || v.tunnel) {
      // An absolute-form request: served from its first byte by the plain-HTTP path, whose gate
      // checks it (and every later one) against the name it asked for.
      ServeHttp(client, target, std::move(bytes));
      return;
    }
  }
}

void Proxy::RefuseToken(int client, const Target& target, const SandboxSecret& secret,
                        const std::string& where) {
  const std::string reason = "a token of the secret `" + secret.name + "` in " + where +
                             (target.name.empty() ? "" : " to `" + target.name + "`") +
                             ": tokens are replaced only over HTTPS to the secret's hosts";
  nlohmann::json fields = {{"sandbox", sandbox_}, {"secret", secret.name}, {"reason", reason}};
  if (!target.name.empty()) {
    fields["name"] = target.name;
  }
  events_->Record("secret-exfiltration", std::move(fields));
  (void)os::WriteAll(client, ProxyAnswer("403 Forbidden", reason));
}

}  // namespace mvm::runtime::egress
