// TLS termination for secret hosts, end to end through Proxy::Handle: the sandbox's side is an
// OpenSSL client on one end of a socket pair that trusts the sandbox's CA, upstream is an OpenSSL
// server on loopback with a certificate from a test CA that the proxy trusts through
// SSL_CERT_FILE, and the upstream records the request it got.

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/egress/egress.h"
#include "runtime/egress/intercept.h"
#include "runtime/egress/proxy.h"
#include "runtime/egress/resolver.h"
#include "runtime/egress/substitute.h"
#include "runtime/secrets/secrets.h"
#include "tests/runtime/egress/egress_test_util.h"
#include "tests/runtime/egress/tls_test_util.h"
#include "tests/support/temp_dir.h"

namespace {

namespace eg = mvm::runtime::egress;
namespace secrets = mvm::runtime::secrets;

using mvm::testing::CertFromPem;
using mvm::testing::CommonName;
using mvm::testing::CtxPtr;
using mvm::testing::PemOf;
using mvm::testing::PkeyPtr;
using mvm::testing::V4;
using mvm::testing::X509Ptr;

void AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate made here, independently of the code under test: a CA when `dns` is empty,
/// otherwise a server certificate for `dns`, signed by `issuer` (itself when null).
struct TestCert {
  PkeyPtr key;
  X509Ptr cert;
};
TestCert MakeCert(const std::string& cn, const std::string& dns, const TestCert* issuer) {
  TestCert out{PkeyPtr(EVP_EC_gen("P-256")), X509Ptr(X509_new())};
  X509* cert = out.cert.get();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), std::rand() + 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  X509_set_pubkey(cert, out.key.get());
  if (dns.empty()) {
    AddExt(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert, signer, NID_key_usage, "critical,keyCertSign");
    AddExt(cert, signer, NID_subject_key_identifier, "hash");
  } else {
    AddExt(cert, signer, NID_subject_alt_name, "DNS:" + dns);
    AddExt(cert, signer, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(cert, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

/// Reads through `ssl` until the peer ends (close_notify, EOF, error or 5 s without a byte).
std::string SslReadAll(SSL* ssl) {
  std::string out;
  char buf[4096];
  while (true) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

void SetTimeouts(int fd) {
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof five);
}

/// An HTTPS server on loopback: one request per connection (its head and a Content-Length body),
/// recorded with the SNI and ALPN it came with, answered with `reply`, or, when `echo` is set,
/// with the value of the request's Authorization header as the body.
class TlsUpstream {
 public:
  /// Without `close_notify`, the answer ends with the TCP connection only: a truncation.
  TlsUpstream(const TestCert& cert, bool echo = false, bool close_notify = true)
      : echo_(echo), close_notify_(close_notify) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(ctx_.get(), cert.cert.get());
    SSL_CTX_use_PrivateKey(ctx_.get(), cert.key.get());
    SSL_CTX_set_alpn_select_cb(
        ctx_.get(),
        [](SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
           unsigned int in_len, void*) {
          *out = in + 1;  // the client's first protocol
          *out_len = in[0];
          (void)in_len;
          return SSL_TLSEXT_ERR_OK;
        },
        nullptr);
    fd_ = mvm::testing::ListenOnLoopback(&port_);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) {
          return;
        }
        ++connections_;
        SetTimeouts(c);
        Serve(c);
        ::close(c);
      }
    });
  }
  ~TlsUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  struct Got {
    std::string request, sni, alpn;
  };
  std::vector<Got> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  void Serve(int c) {
    SSL* ssl = SSL_new(ctx_.get());
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      Got got;
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      got.sni = sni != nullptr ? sni : "";
      const unsigned char* alpn = nullptr;
      unsigned int alpn_len = 0;
      SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
      got.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
      char buf[4096];
      size_t want = std::string::npos;
      while (got.request.size() < want) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        got.request.append(buf, static_cast<size_t>(n));
        if (const size_t end = got.request.find("\r\n\r\n"); end != std::string::npos) {
          const size_t cl = got.request.find("Content-Length: ");
          want = end + 4 + (cl < end ? std::stoul(got.request.substr(cl + 16)) : 0);
        }
      }
      std::string body = "hello from upstream";
      if (echo_) {
        const size_t at = got.request.find("Authorization: ");
        body = at == std::string::npos
                   ? ""
                   : got.request.substr(at + 15, got.request.find("\r\n", at) - at - 15);
      }
      const std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      {
        // Before answering: a test looks once its client has the answer.
        std::lock_guard<std::mutex> lock(mu_);
        received_.push_back(std::move(got));
      }
      SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
      if (close_notify_) {
        SSL_shutdown(ssl);
      }
    }
    SSL_free(ssl);
  }

  bool echo_;
  bool close_notify_;
  CtxPtr ctx_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<Got> received_;
};

/// What the sandbox's TLS client saw.
struct ClientSaw {
  bool handshake = false;
  std::string issuer;  ///< the CN of the server certificate's issuer
  std::string response;
  bool close_notify = false;  ///< the answer ended with close_notify, not just the connection
};

/// A TLS client on `fd` trusting only `ca_pem`, for `host`, offering `alpn`; sends `request`.
ClientSaw TlsClient(int fd, const std::string& ca_pem, const std::string& host,
                    const std::string& request, const std::vector<std::string>& alpn) {
  ClientSaw saw;
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  X509Ptr ca = CertFromPem(ca_pem);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::string protos;
  for (const std::string& p : alpn) {
    protos += static_cast<char>(p.size()) + p;
  }
  if (!protos.empty()) {
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(protos.data()),
                            static_cast<unsigned>(protos.size()));
  }
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_tlsext_host_name(ssl, host.c_str());
  SSL_set1_host(ssl, host.c_str());
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    saw.handshake = true;
    X509* peer = SSL_get1_peer_certificate(ssl);
    saw.issuer = CommonName(X509_get_issuer_name(peer));
    X509_free(peer);
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    saw.response = SslReadAll(ssl);
    saw.close_notify = (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
  }
  SSL_free(ssl);
  ERR_clear_error();
  return saw;
}

/// Reads until EOF or 5 s.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  pollfd p = {fd, POLLIN, 0};
  while (::poll(&p, 1, 5000) == 1) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

constexpr char kValue[] = "sk-real-value-0123456789";
constexpr char kOtherValue[] = "other-value-abcdef";

class InterceptTest : public ::testing::Test {
 protected:
  InterceptTest()
      : events_(
            [this](const std::string& e, const nlohmann::json& f) {
              std::lock_guard<std::mutex> lock(mu_);
              recorded_.emplace_back(e, f);
            },
            std::chrono::milliseconds(60000)),
        test_ca_(MakeCert("mvm test upstream CA", "", nullptr)),
        api_cert_(MakeCert("api.test", "api.test", &test_ca_)) {
    // The test's TLS ends write with write(2): a peer gone must be an error, not the end of the
    // test binary (the egress helper ignores SIGPIPE too).
    std::signal(SIGPIPE, SIG_IGN);
    ca_file_ = (tmp_.path() / "test-ca.pem").string();
    std::ofstream(ca_file_) << PemOf(test_ca_.cert.get());
    // Before the interceptor's upstream context reads it.
    ::setenv("SSL_CERT_FILE", ca_file_.c_str(), 1);
    auto ca = eg::MakeSandboxCa("box");
    EXPECT_TRUE(ca.ok());
    ca_ = *ca;
    interceptor_ = std::move(*eg::Interceptor::Create(ca_));

    std::vector<eg::SandboxSecret> list;
    token_ = secrets::MintToken();
    other_token_ = secrets::MintToken();
    list.push_back({"openai",
                    token_,
                    {"api.test"},
                    std::make_shared<const secrets::SecretBytes>(
                        std::move(*secrets::SecretBytes::Copy(kValue)))});
    list.push_back({"other",
                    other_token_,
                    {"other-secret.test"},
                    std::make_shared<const secrets::SecretBytes>(
                        std::move(*secrets::SecretBytes::Copy(kOtherValue)))});
    table_ = eg::SecretTable(std::move(list));

    policy_.rules = {{"api.test", eg::Protocol::kHttps},
                     {"passthrough.test", eg::Protocol::kHttps},
                     {"plain.test", eg::Protocol::kHttp},
                     {"*.example.test", eg::Protocol::kHttps}};
    policy_.dns = true;
    resolver_ = std::make_unique<eg::Resolver>(
        policy_,
        [this](const std::string&) {
          ++lookups_;
          eg::UpstreamAnswer a;
          a.rcode = eg::Rcode::kNoError;
          a.v4 = {V4("203.0.113.10")};
          return a;
        },
        &events_, "box", &table_);
  }
  ~InterceptTest() override { ::unsetenv("SSL_CERT_FILE"); }

  /// Serves one connection to `name` port `port` (0: to the proxy itself) through the proxy, with
  /// an upstream on `upstream_port` behind it; `client` runs on the sandbox's end of the pair.
  void Through(const std::string& name, uint16_t port, uint16_t upstream_port,
               const std::function<void(int fd)>& client) {
    eg::ProxyHooks hooks;
    const std::string address = inet_ntoa(resolver_->Resolve(name).synthetic);
    hooks.original_destination = [address, port](int) -> std::optional<sockaddr_in> {
      if (port == 0) {
        return std::nullopt;  // made to the proxy itself
      }
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr = V4(address.c_str());
      sa.sin_port = htons(port);
      return sa;
    };
    hooks.connect_upstream = [this, upstream_port](const std::vector<in_addr>&,
                                                   const std::vector<in6_addr>&, uint16_t,
                                                   std::chrono::milliseconds) {
      ++dialled_;
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(upstream_port);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      return fd;
    };
    eg::ProxyLimits limits;
    limits.decide_timeout = std::chrono::milliseconds(3000);
    limits.connect_timeout = std::chrono::milliseconds(3000);
    limits.idle_timeout = std::chrono::milliseconds(3000);
    eg::Proxy proxy(policy_, resolver_.get(), &events_, "box", limits, hooks, &table_,
                    interceptor_.get());
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    SetTimeouts(pair[0]);
    std::thread serve([&] { proxy.Handle(pair[1]); });
    client(pair[0]);
    ::close(pair[0]);
    serve.join();
  }

  ClientSaw Https(const std::string& name, const TlsUpstream& upstream, const std::string& request,
                  const std::vector<std::string>& alpn = {"http/1.1"}) {
    ClientSaw saw;
    Through(name, 443, upstream.port(),
            [&](int fd) { saw = TlsClient(fd, ca_.cert_pem, name, request, alpn); });
    return saw;
  }

  /// The records of `event`, once the log has written everything.
  std::vector<nlohmann::json> Events(const std::string& event) {
    events_.Close();
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<nlohmann::json> out;
    for (const auto& [e, f] : recorded_) {
      if (e == event) {
        out.push_back(f);
      }
    }
    return out;
  }

  /// Whether any record, in any field, holds a secret's value.
  bool AnyRecordHoldsAValue() {
    events_.Close();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [e, f] : recorded_) {
      const std::string text = f.dump();
      if (text.find(kValue) != std::string::npos || text.find(kOtherValue) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, nlohmann::json>> recorded_;
  eg::EventLog events_;
  mvm::testing::TempDir tmp_;
  std::string ca_file_;
  TestCert test_ca_;
  TestCert api_cert_;
  eg::SandboxCa ca_;
  std::unique_ptr<eg::Interceptor> interceptor_;
  std::string token_;
  std::string other_token_;
  eg::SecretTable table_;
  eg::Policy policy_;
  std::unique_ptr<eg::Resolver> resolver_;
  std::atomic<int> lookups_{0};
  std::atomic<int> dialled_{0};
};

TEST_F(InterceptTest, TheUpstreamGetsTheRealValueWhereTheSandboxSentItsToken) {
  TlsUpstream upstream(api_cert_);
  const std::string sent = "GET /v1/models HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer " +
                           token_ + "\r\nAccept: */*\r\n\r\n";
  ClientSaw saw = Https("api.test", upstream, sent);
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(saw.issuer, "mvm egress CA for box");
  EXPECT_EQ(
      saw.response,
      "HTTP/1.1 200 OK\r\nContent-Length: 19\r\nConnection: close\r\n\r\nhello from upstream");
  ASSERT_EQ(upstream.received().size(), 1u);
  const TlsUpstream::Got got = upstream.received()[0];
  EXPECT_EQ(got.request, std::string("GET /v1/models HTTP/1.1\r\nHost: api.test\r\n") +
                             "Authorization: Bearer " + kValue + "\r\nAccept: */*\r\n\r\n");
  EXPECT_TRUE(saw.close_notify);
  EXPECT_EQ(got.sni, "api.test");
  EXPECT_EQ(got.alpn, "http/1.1");
  auto allow = Events("allow");
  ASSERT_EQ(allow.size(), 1u);
  EXPECT_EQ(allow[0].value("intercepted", false), true);
  auto use = Events("secret-use");
  ASSERT_EQ(use.size(), 1u);
  EXPECT_EQ(use[0].value("secret", ""), "openai");
  EXPECT_EQ(use[0].value("name", ""), "api.test");
  EXPECT_EQ(use[0].value("rule", ""), "https api.test");
  EXPECT_FALSE(AnyRecordHoldsAValue());
}

TEST_F(InterceptTest, AnAnswerCutOffUpstreamReachesTheSandboxCutOff) {
  TlsUpstream upstream(api_cert_, /*echo=*/false, /*close_notify=*/false);
  ClientSaw saw = Https("api.test", upstream, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n");
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(
      saw.response,
      "HTTP/1.1 200 OK\r\nContent-Length: 19\r\nConnection: close\r\n\r\nhello from upstream");
  EXPECT_FALSE(saw.close_notify);
}

TEST_F(InterceptTest, AnExplicitProxyClientIsInterceptedAfterConnect) {
  TlsUpstream upstream(api_cert_);
  ClientSaw saw;
  std::string established;
  const std::string connect = "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n";
  Through("api.test", 0, upstream.port(), [&](int fd) {
    (void)!::write(fd, connect.data(), connect.size());
    char buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    established.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    saw = TlsClient(fd, ca_.cert_pem, "api.test",
                    "GET / HTTP/1.1\r\nHost: api.test\r\nX-Key: " + token_ + "\r\n\r\n",
                    {"http/1.1"});
  });
  EXPECT_EQ(established, "HTTP/1.1 200 Connection established\r\n\r\n");
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(saw.issuer, "mvm egress CA for box");
  ASSERT_EQ(upstream.received().size(), 1u);
  EXPECT_EQ(upstream.received()[0].request,
            std::string("GET / HTTP/1.1\r\nHost: api.test\r\nX-Key: ") + kValue + "\r\n\r\n");
}

TEST_F(InterceptTest, AValueTheUpstreamEchoesReachesTheSandboxMasked) {
  TlsUpstream upstream(api_cert_, /*echo=*/true);
  ClientSaw saw =
      Https("api.test", upstream,
            "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer " + token_ + "\r\n\r\n");
  ASSERT_TRUE(saw.handshake);
  const std::string masked = "Bearer " + std::string(sizeof kValue - 1, '*');
  EXPECT_EQ(saw.response, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(masked.size()) +
                              "\r\nConnection: close\r\n\r\n" + masked);
  EXPECT_EQ(saw.response.find(kValue), std::string::npos);
}

TEST_F(InterceptTest, ATokenOfAnotherHostsSecretIsRefusedOverTlsAndNothingGoesUpstream) {
  TlsUpstream upstream(api_cert_);
  ClientSaw saw = Https("api.test", upstream,
                        "GET / HTTP/1.1\r\nHost: api.test\r\nX-Key: " + other_token_ + "\r\n\r\n");
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(saw.response.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << saw.response;
  for (const TlsUpstream::Got& got : upstream.received()) {
    EXPECT_EQ(got.request, "");
  }
  auto exfiltration = Events("secret-exfiltration");
  ASSERT_EQ(exfiltration.size(), 1u);
  EXPECT_EQ(exfiltration[0].value("secret", ""), "other");
  EXPECT_EQ(exfiltration[0].value("name", ""), "api.test");
  EXPECT_TRUE(Events("secret-use").empty());
  EXPECT_FALSE(AnyRecordHoldsAValue());
}

TEST_F(InterceptTest, AnUpstreamCertificateForAnotherNameEndsTheConnection) {
  TestCert wrong = MakeCert("elsewhere.test", "elsewhere.test", &test_ca_);
  TlsUpstream upstream(wrong);
  ClientSaw saw =
      Https("api.test", upstream,
            "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: " + token_ + "\r\n\r\n");
  EXPECT_TRUE(saw.handshake);  // with the proxy
  EXPECT_EQ(saw.response, "");
  EXPECT_TRUE(upstream.received().empty());
  auto fail = Events("proxy-fail");
  ASSERT_EQ(fail.size(), 1u);
  EXPECT_EQ(fail[0].value("stage", ""), "tls");
  EXPECT_EQ(fail[0].value("name", ""), "api.test");
  EXPECT_NE(fail[0].value("reason", "").find("hostname mismatch"), std::string::npos)
      << fail[0].dump();
}

TEST_F(InterceptTest, AnUpstreamTheHostDoesNotTrustEndsTheConnection) {
  // The host's trust store holds another CA only.
  TestCert stranger = MakeCert("some other CA", "", nullptr);
  const std::string other_file = (tmp_.path() / "other-ca.pem").string();
  std::ofstream(other_file) << PemOf(stranger.cert.get());
  ::setenv("SSL_CERT_FILE", other_file.c_str(), 1);
  interceptor_ = std::move(*eg::Interceptor::Create(ca_));
  TlsUpstream upstream(api_cert_);
  ClientSaw saw =
      Https("api.test", upstream,
            "GET / HTTP/1.1\r\nHost: api.test\r\nAuthorization: " + token_ + "\r\n\r\n");
  EXPECT_TRUE(saw.handshake);
  EXPECT_EQ(saw.response, "");
  EXPECT_TRUE(upstream.received().empty());
  auto fail = Events("proxy-fail");
  ASSERT_EQ(fail.size(), 1u);
  EXPECT_EQ(fail[0].value("stage", ""), "tls");
  EXPECT_NE(fail[0].value("reason", "").find("unable to get local issuer certificate"),
            std::string::npos)
      << fail[0].dump();
}

TEST_F(InterceptTest, AClientOfferingOnlyH2IsRefusedInTheHandshake) {
  TlsUpstream upstream(api_cert_);
  ClientSaw saw = Https("api.test", upstream, "x", {"h2"});
  EXPECT_FALSE(saw.handshake);
  EXPECT_EQ(dialled_.load(), 0);
  auto deny = Events("deny");
  ASSERT_EQ(deny.size(), 1u);
  EXPECT_NE(deny[0].value("reason", "").find("ALPN"), std::string::npos);
}

TEST_F(InterceptTest, AClientOfferingH2AndHttp11GetsHttp11) {
  TlsUpstream upstream(api_cert_);
  ClientSaw saw =
      Https("api.test", upstream, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n", {"h2", "http/1.1"});
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(saw.response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << saw.response;
}

TEST_F(InterceptTest, AHostWithoutASecretIsPassedThroughWithItsOwnCertificate) {
  TestCert pass = MakeCert("passthrough.test", "passthrough.test", &test_ca_);
  TlsUpstream upstream(pass);
  const std::string request = "GET / HTTP/1.1\r\nHost: passthrough.test\r\n\r\n";
  ClientSaw saw;
  Through("passthrough.test", 443, upstream.port(), [&](int fd) {
    saw = TlsClient(fd, PemOf(test_ca_.cert.get()), "passthrough.test", request, {"http/1.1"});
  });
  ASSERT_TRUE(saw.handshake);
  EXPECT_EQ(saw.issuer, "mvm test upstream CA");
  ASSERT_EQ(upstream.received().size(), 1u);
  EXPECT_EQ(upstream.received()[0].request, request);
  auto allow = Events("allow");
  ASSERT_EQ(allow.size(), 1u);
  EXPECT_FALSE(allow[0].contains("intercepted"));
}

TEST_F(InterceptTest, ATokenInPlainHttpIsRefusedAndNeverSentUpstream) {
  std::string back;
  // Split in the middle of the token: found across two reads.
  const std::string request = "GET / HTTP/1.1\r\nHost: plain.test\r\nX-Key: " + token_ + "\r\n\r\n";
  Through("plain.test", 80, 1, [&](int fd) {
    const size_t cut = request.size() - 20;
    (void)!::write(fd, request.data(), cut);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)!::write(fd, request.data() + cut, request.size() - cut);
    back = ReadAll(fd);
  });
  EXPECT_EQ(back.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << back;
  auto exfiltration = Events("secret-exfiltration");
  ASSERT_EQ(exfiltration.size(), 1u);
  EXPECT_EQ(exfiltration[0].value("secret", ""), "openai");
  EXPECT_EQ(exfiltration[0].value("name", ""), "plain.test");
  EXPECT_EQ(dialled_.load(), 0);
}

TEST_F(InterceptTest, AnExplicitProxyRequestForANameHoldingATokenIsRefused) {
  for (const std::string& request :
       {"CONNECT " + token_ + ".example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://plain.test/?k=" + token_ + " HTTP/1.1\r\nHost: plain.test\r\n\r\n"}) {
    eg::ProxyHooks hooks;
    hooks.original_destination = [](int) -> std::optional<sockaddr_in> { return std::nullopt; };
    hooks.connect_upstream = [this](const std::vector<in_addr>&, const std::vector<in6_addr>&,
                                    uint16_t, std::chrono::milliseconds) {
      ++dialled_;
      return -1;
    };
    eg::Proxy proxy(policy_, resolver_.get(), &events_, "box", {}, hooks, &table_,
                    interceptor_.get());
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    std::thread serve([&] { proxy.Handle(pair[1]); });
    // The proxy may refuse and close before reading: no SIGPIPE for the test then.
    (void)!::send(pair[0], request.data(), request.size(), MSG_NOSIGNAL);
    const std::string back = ReadAll(pair[0]);
    ::close(pair[0]);
    serve.join();
    EXPECT_EQ(back.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << back;
  }
  EXPECT_EQ(dialled_.load(), 0);
  EXPECT_EQ(lookups_.load(), 0);
  EXPECT_EQ(Events("secret-exfiltration").size(), 2u);
}

TEST(EgressSettingsTest, SecretsAndTheCaRoundTripAndAreOmittedWithoutSecrets) {
  eg::Settings s;
  s.sandbox = "box";
  s.policy.rules = {{"api.test", eg::Protocol::kHttps}};
  EXPECT_FALSE(eg::SettingsToJson(s).contains("secrets"));
  EXPECT_FALSE(eg::SettingsToJson(s).contains("ca_key_pem"));
  s.secrets = {{"openai", "mvmtok-aaaa", {"api.test", "*.openai.test"}},
               {"other", "mvmtok-bbbb", {"other.test"}}};
  s.ca_key_pem = "KEY";
  s.ca_cert_pem = "CERT";
  auto back = eg::SettingsFromJson(nlohmann::json::parse(eg::SettingsToJson(s).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->secrets.size(), 2u);
  EXPECT_EQ(back->secrets[0].name, "openai");
  EXPECT_EQ(back->secrets[0].token, "mvmtok-aaaa");
  EXPECT_EQ(back->secrets[0].hosts, (std::vector<std::string>{"api.test", "*.openai.test"}));
  EXPECT_EQ(back->secrets[1].hosts, std::vector<std::string>{"other.test"});
  EXPECT_EQ(back->ca_key_pem, "KEY");
  EXPECT_EQ(back->ca_cert_pem, "CERT");
  EXPECT_EQ(eg::SettingsToJson(*back), eg::SettingsToJson(s));
}

TEST(EgressSettingsTest, FixedHostsRoundTripAndAnswerWithoutTheResolvers) {
  eg::Settings s;
  s.sandbox = "box";
  EXPECT_FALSE(eg::SettingsToJson(s).contains("fixed_hosts"));
  s.fixed_hosts = {{"deb.debian.org", {"203.0.113.80"}}, {"bad.test", {"not-an-address"}}};
  auto back = eg::SettingsFromJson(nlohmann::json::parse(eg::SettingsToJson(s).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->fixed_hosts, s.fixed_hosts);
  // No resolver is asked for a fixed name: this resolv.conf does not exist.
  eg::UpstreamAnswer fixed =
      eg::LookupFixedOrUpstream("deb.debian.org", s.fixed_hosts, "/nonexistent/resolv.conf");
  EXPECT_TRUE(fixed.error.empty()) << fixed.error;
  ASSERT_EQ(fixed.v4.size(), 1u);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &fixed.v4[0], text, sizeof text);
  EXPECT_STREQ(text, "203.0.113.80");
  EXPECT_NE(eg::LookupFixedOrUpstream("bad.test", s.fixed_hosts, "/nonexistent/resolv.conf")
                .error.find("not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(eg::LookupFixedOrUpstream("other.test", s.fixed_hosts, "/nonexistent/resolv.conf")
                .error.find("cannot read the host's resolvers"),
            std::string::npos);
}

TEST(EgressSettingsTest, SecretsWithoutACaServeNothing) {
  eg::Settings s;
  s.sandbox = "box";
  std::vector<eg::SandboxSecret> list;
  list.push_back({"openai",
                  secrets::MintToken(),
                  {"api.test"},
                  std::make_shared<const secrets::SecretBytes>(
                      std::move(*secrets::SecretBytes::Copy(kValue)))});
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  // Returns at once, without serving the listener: a secret whose host the proxy could not
  // terminate TLS for must not be passed through instead.
  eg::RunEgress(s, eg::SecretTable(std::move(list)), listener, -1,
                [](const std::string&, const nlohmann::json&) {});
  ::close(listener);
}

}  // namespace
