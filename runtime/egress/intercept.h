#ifndef MVM_RUNTIME_EGRESS_INTERCEPT_H_
#define MVM_RUNTIME_EGRESS_INTERCEPT_H_

// TLS termination for the hosts a sandbox's secrets may be sent to (substitute.h). The launcher
// makes a CA per sandbox (MakeSandboxCa), installs its certificate in the guest's trust store and
// hands its key to the sandbox's egress helper only; the helper's Interceptor mints a certificate
// per host name from it, so that the guest's TLS client accepts the proxy as that host, and opens
// its own verified TLS connection upstream. Everything TLS is OpenSSL's; nothing here parses or
// encrypts by hand.

#include <openssl/types.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/egress/settings.h"

namespace mvm::runtime::egress {

/// A fresh CA for `sandbox`: ECDSA P-256, "mvm egress CA for <sandbox>", CA:TRUE with pathlen 0,
/// for signing certificates only, valid from an hour ago for 90 days. An Error when OpenSSL fails.
ErrorOr<SandboxCa> MakeSandboxCa(std::string_view sandbox);

/// Frees an SSL (and the BIOs it was given) when its owner goes.
struct SslFree {
  void operator()(SSL* ssl) const;
};
/// An SSL owned by one connection.
using SslPtr = std::unique_ptr<SSL, SslFree>;

/// The certificates and TLS contexts of one sandbox's interception. Thread-safe.
class Interceptor {
 public:
  /// Leaf certificates kept at once; the oldest is dropped (and minted again when asked for).
  static constexpr size_t kMaxLeaves = 256;

  /// Loads `ca` (an Error when it does not parse or its key is not its certificate's) and builds
  /// the contexts. The upstream context trusts the host's store as OpenSSL finds it now
  /// (SSL_CERT_FILE and SSL_CERT_DIR are read here, once).
  static ErrorOr<std::unique_ptr<Interceptor>> Create(const SandboxCa& ca);
  Interceptor(const Interceptor&) = delete;
  Interceptor& operator=(const Interceptor&) = delete;
  ~Interceptor();

  /// A server-side SSL presenting a certificate for `host` (normalised), minted on first use.
  /// ALPN: "http/1.1" is chosen when offered; a client that offers only other protocols is
  /// refused in the handshake, since a terminated connection speaks HTTP/1.1 only.
  ErrorOr<SslPtr> NewServer(const std::string& host);
  /// A client-side SSL for `host`: SNI and ALPN "http/1.1" sent, the chain verified against the
  /// host's trust store and the certificate's names against `host`.
  ErrorOr<SslPtr> NewClient(const std::string& host);
  /// The PEM certificate NewServer presents for `host`, for tests and diagnostics.
  ErrorOr<std::string> LeafPem(const std::string& host);
  /// Whether the handshake of `ssl` (from NewServer) was refused for its ALPN offer.
  static bool RefusedAlpn(const SSL* ssl);

 private:
  struct Leaf;
  Interceptor() = default;
  ErrorOr<std::shared_ptr<const Leaf>> LeafFor(const std::string& host);

  X509* ca_cert_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Leaf>, std::less<>> leaves_;
  std::deque<std::string> order_;  ///< names in leaves_, oldest first
};

/// One end of an intercepted connection: an SSL over memory BIOs and the non-blocking socket whose
/// bytes they carry. TLS records go through the BIOs so that bytes the proxy already read (the
/// ClientHello it decided on) reach OpenSSL first, and so that one thread can pump both ends
/// with poll.
class TlsStream {
 public:
  using Clock = std::chrono::steady_clock;

  /// Takes `ssl`; `fd` stays the caller's (and is made non-blocking).
  TlsStream(SslPtr ssl, int fd);
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_.get(); }

  /// Bytes read from the socket before: OpenSSL reads them first.
  void Prime(std::string_view bytes);
  /// Runs the handshake until it ends or `deadline`; false with `error` set.
  bool Handshake(Clock::time_point deadline, std::string& error);

  /// Moves what the socket has into OpenSSL; false once the socket is at its end (or failed).
  bool ReadSocket();
  /// Sends what OpenSSL wrote, as far as the socket takes it now; false when the socket failed.
  bool FlushSocket();
  /// Bytes waiting for the socket to take them.
  size_t unsent() const { return unsent_.size(); }

  enum class Read { kMore, kClosed, kTruncated, kFailed };
  /// Appends the plaintext OpenSSL can give now to `out`. kClosed: the peer ended its side with
  /// close_notify (or, towards the sandbox, with the socket's end); kTruncated: the upstream's
  /// socket ended without close_notify; kFailed: a TLS error, in `error`.
  Read ReadPlain(std::string& out, std::string& error);
  /// Encrypts `bytes` for the socket (sent by FlushSocket).
  void WritePlain(std::string_view bytes);
  /// Sends close_notify (sent by FlushSocket).
  void Shutdown();
  /// Sends what is unsent until `deadline`, blocking in poll.
  void Drain(Clock::time_point deadline);

 private:
  void Collect();

  SslPtr ssl_;
  BIO* in_ = nullptr;   ///< socket → OpenSSL; owned by ssl_
  BIO* out_ = nullptr;  ///< OpenSSL → socket; owned by ssl_
  int fd_;
  bool socket_ended_ = false;
  std::string unsent_;
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_INTERCEPT_H_
