// The proxy's path for hosts a secret may be sent to (proxy.h): TLS terminated on both sides, the
// request rewritten and the answer masked between them.

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "ir/support/os/unique_fd.h"
#include "runtime/egress/proxy.h"

namespace mvm::runtime::egress {

using Clock = std::chrono::steady_clock;

void Proxy::ServeIntercepted(int client, const Target& target, const std::string& rule,
                             const std::string& first) {
  auto fail = [&](const std::string& stage, const std::string& reason) {
    events_->Record("proxy-fail", {{"sandbox", sandbox_},
                                   {"name", target.name},
                                   {"port", target.port},
                                   {"stage", stage},
                                   {"reason", reason}});
  };
  ErrorOr<SslPtr> server = interceptor_->NewServer(target.name);
  if (!server) {
    fail("tls", server.error().message);
    return;
  }
  TlsStream down(std::move(*server), client);
  down.Prime(first);
  std::string error;
  if (!down.Handshake(Clock::now() + limits_.decide_timeout, error)) {
    if (Interceptor::RefusedAlpn(down.ssl())) {
      Deny(client, target,
           "the TLS client offers no HTTP/1.1 (ALPN): a connection to a host of a secret is "
           "terminated by the proxy, which speaks HTTP/1.1 there",
           false);
    } else {
      fail("sandbox-tls", "the sandbox's TLS handshake failed: " + error);
    }
    return;
  }
  const int upstream = ConnectName(target, error);
  if (upstream < 0) {
    down.WritePlain(ProxyAnswer("502 Bad Gateway", error));
    down.Shutdown();
    down.Drain(Clock::now() + limits_.decide_timeout);
    return;
  }
  const os::UniqueFd upstream_owner(upstream);
  ErrorOr<SslPtr> client_ssl = interceptor_->NewClient(target.name);
  if (!client_ssl) {
    fail("tls", client_ssl.error().message);
    return;
  }
  TlsStream up(std::move(*client_ssl), upstream);
  if (!up.Handshake(Clock::now() + limits_.connect_timeout, error)) {
    // The sandbox sees the connection end: answering as the host would claim a reply it never
    // gave.
    fail("tls", "TLS to `" + target.name + "`: " + error);
    return;
  }
  PumpIntercepted(down, up, target, rule);
}

void Proxy::PumpIntercepted(TlsStream& down, TlsStream& up, const Target& target,
                            const std::string& rule) {
  RequestRewriter rewriter(*secrets_, target.name);
  ResponseMasker masker(*secrets_, target.name);
  // Past this many bytes waiting for one socket, the other is not read: a slow reader slows the
  // writer down instead of growing the buffer.
  constexpr size_t kHighWater = size_t{256} << 10;
  bool requests_open = true;   // sandbox → upstream
  bool responses_open = true;  // upstream → sandbox
  bool down_shut = false;
  bool up_shut = false;
  std::string plain;
  std::string error;
  // Each moves what its source's TLS can give now; false: the connection is done. Both also run
  // once before the first poll, for the bytes the handshakes read past their last message (a
  // request sent with the client's Finished).
  auto requests = [&]() -> bool {
    plain.clear();
    const TlsStream::Read read = down.ReadPlain(plain, error);
    if (!plain.empty()) {
      RequestRewriter::Verdict v = rewriter.Feed(plain);
      if (!v.forward.empty()) {
        if (!CountBytes(v.forward.size())) {
          return false;
        }
        up.WritePlain(v.forward);
      }
      for (const std::string& secret : v.substituted) {
        events_->Record(
            "secret-use",
            {{"sandbox", sandbox_}, {"name", target.name}, {"secret", secret}, {"rule", rule}});
      }
      if (v.denied) {
        if (!v.exfiltrated.empty()) {
          events_->Record("secret-exfiltration", {{"sandbox", sandbox_},
                                                  {"name", target.name},
                                                  {"secret", v.exfiltrated},
                                                  {"reason", *v.denied}});
        } else {
          Deny(down.fd(), target, *v.denied, false);
        }
        // What was allowed before the refused request still goes; then the sandbox is told why
        // over its TLS, and both ends close.
        up.Drain(Clock::now() + limits_.decide_timeout);
        down.WritePlain(ProxyAnswer("403 Forbidden", *v.denied));
        down.Shutdown();
        down.Drain(Clock::now() + limits_.decide_timeout);
        return false;
      }
    }
    if (read == TlsStream::Read::kFailed) {
      return false;
    }
    if (read == TlsStream::Read::kClosed || read == TlsStream::Read::kTruncated) {
      requests_open = false;
      up.Shutdown();
    }
    return true;
  };
  auto responses = [&]() -> bool {
    plain.clear();
    const TlsStream::Read read = up.ReadPlain(plain, error);
    std::string masked = masker.Feed(plain);
    if (read != TlsStream::Read::kMore && read != TlsStream::Read::kFailed) {
      masked += masker.Finish();
    }
    if (!masked.empty()) {
      if (!CountBytes(masked.size())) {
        return false;
      }
      down.WritePlain(masked);
    }
    if (read == TlsStream::Read::kFailed) {
      down.Drain(Clock::now() + limits_.decide_timeout);
      return false;
    }
    if (read == TlsStream::Read::kClosed || read == TlsStream::Read::kTruncated) {
      responses_open = false;
      // A truncated answer reaches the sandbox as one, without close_notify: its TLS client
      // tells a cut-off body from a whole one by that.
      if (read == TlsStream::Read::kClosed) {
        down.Shutdown();
      }
    }
    return true;
  };
  if (!requests() || !responses()) {
    return;
  }
  while (true) {
    // An ended direction is passed on once its last bytes are out: close_notify, then FIN.
    if (!requests_open && !up_shut && up.unsent() == 0) {
      ::shutdown(up.fd(), SHUT_WR);
      up_shut = true;
    }
    if (!responses_open && !down_shut && down.unsent() == 0) {
      ::shutdown(down.fd(), SHUT_WR);
      down_shut = true;
    }
    if (down_shut && up_shut) {
      return;
    }
    pollfd fds[2] = {{down.fd(), 0, 0}, {up.fd(), 0, 0}};
    if (requests_open && up.unsent() < kHighWater) {
      fds[0].events |= POLLIN;
    }
    if (down.unsent() > 0) {
      fds[0].events |= POLLOUT;
    }
    if (responses_open && down.unsent() < kHighWater) {
      fds[1].events |= POLLIN;
    }
    if (up.unsent() > 0) {
      fds[1].events |= POLLOUT;
    }
    for (pollfd& p : fds) {
      if (p.events == 0) {
        p.fd = -1;  // not even its hang-up: that would wake the loop without end
      }
    }
    const int ready = ::poll(fds, 2, static_cast<int>(limits_.idle_timeout.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return;  // idle for the whole timeout, or poll failed
    }
    if ((fds[0].revents & POLLOUT) != 0 && !down.FlushSocket()) {
      return;
    }
    if ((fds[1].revents & POLLOUT) != 0 && !up.FlushSocket()) {
      return;
    }
    if (requests_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      (void)down.ReadSocket();
      if (!requests()) {
        return;
      }
    }
    if (responses_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      (void)up.ReadSocket();
      if (!responses()) {
        return;
      }
    }
    // Most writes fit the socket at once: send them now rather than after another poll.
    if (!down.FlushSocket() || !up.FlushSocket()) {
      return;
    }
  }
}

}  // namespace mvm::runtime::egress
