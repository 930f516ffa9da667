#include "runtime/egress/intercept.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "ir/support/check.h"

namespace mvm::runtime::egress {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

/// The CA's lifetime. Detached sandboxes can run for weeks, so a day would be too short; the key
/// lives only in the egress helper's memory and dies with it, so a long life adds little risk.
constexpr long kCaDays = 90;

/// OpenSSL's first queued error as text (the queue is cleared), after `what`.
std::string OpensslError(std::string_view what) {
  std::string out(what);
  if (unsigned long e = ERR_get_error(); e != 0) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    out += ": ";
    out += text;
  }
  ERR_clear_error();
  return out;
}

PkeyPtr NewP256Key() { return PkeyPtr(EVP_EC_gen("P-256")); }

/// 127 random bits: positive in DER, and unpredictable, so that no two certificates share one.
bool SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return false;
  }
  bytes[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  if (bn == nullptr) {
    return false;
  }
  const bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return false;
  }
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

/// subjectAltName dNSName = `host`, built as a value rather than parsed from config text, so
/// that no character of a name can change what the extension says.
bool AddDnsName(X509* cert, const std::string& host) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* name = GENERAL_NAME_new();
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  bool ok = names != nullptr && name != nullptr && text != nullptr &&
            ASN1_STRING_set(text, host.data(), static_cast<int>(host.size())) == 1;
  if (ok) {
    GENERAL_NAME_set0_value(name, GEN_DNS, text);
    text = nullptr;
    ok = sk_GENERAL_NAME_push(names, name) > 0;
    if (ok) {
      name = nullptr;
    }
  }
  ok = ok && X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
  ASN1_IA5STRING_free(text);
  GENERAL_NAME_free(name);
  GENERAL_NAMES_free(names);
  return ok;
}

/// Sets the subject's CN to `cn`, cut to the 64 characters X.509 allows (ub-common-name): the
/// certificate is still told apart by its key identifier and, for leaves, by its SAN.
bool SetCommonName(X509_NAME* name, std::string cn) {
  if (cn.size() > 64) {
    cn.resize(64);
  }
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.data()),
                                    static_cast<int>(cn.size()), -1, 0) == 1;
}

std::string Pem(int (*write)(BIO*, void*), void* object) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) {
    return "";
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string KeyPem(EVP_PKEY* key) {
  return Pem(
      [](BIO* bio, void* k) {
        return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0,
                                        nullptr, nullptr);
      },
      key);
}

std::string CertPem(X509* cert) {
  return Pem([](BIO* bio, void* c) { return PEM_write_bio_X509(bio, static_cast<X509*>(c)); },
             cert);
}

constexpr unsigned char kHttp11[] = "\x08http/1.1";

/// Marks, in an SSL's app data, a handshake refused for its ALPN offer.
char alpn_refused_marker;

int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void* /*arg*/) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof kHttp11 - 1, in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  SSL_set_app_data(ssl, &alpn_refused_marker);
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

void SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }

ErrorOr<SandboxCa> MakeSandboxCa(std::string_view sandbox) {
  PkeyPtr key = NewP256Key();
  X509Ptr cert(X509_new());
  if (!key || !cert) {
    return Error{OpensslError("cannot make the sandbox's CA key")};
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 && SetRandomSerial(cert.get()) &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kCaDays, 0, nullptr) != nullptr &&
      SetCommonName(name, "mvm egress CA for " + std::string(sandbox)) &&
      X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key.get()) == 1 &&
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") &&
      X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) {
    return Error{OpensslError("cannot make the sandbox's CA certificate")};
  }
  SandboxCa ca{KeyPem(key.get()), CertPem(cert.get())};
  if (ca.key_pem.empty() || ca.cert_pem.empty()) {
    return Error{OpensslError("cannot encode the sandbox's CA")};
  }
  return ca;
}

struct Interceptor::Leaf {
  X509Ptr cert;
  PkeyPtr key;
};

Interceptor::~Interceptor() {
  SSL_CTX_free(server_ctx_);
  SSL_CTX_free(client_ctx_);
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
}

ErrorOr<std::unique_ptr<Interceptor>> Interceptor::Create(const SandboxCa& ca) {
  std::unique_ptr<Interceptor> out(new Interceptor());
  BioPtr key_bio(BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size())));
  BioPtr cert_bio(BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size())));
  if (!key_bio || !cert_bio) {
    return Error{OpensslError("cannot read the sandbox's CA")};
  }
  out->ca_key_ = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  out->ca_cert_ = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  if (out->ca_key_ == nullptr || out->ca_cert_ == nullptr) {
    return Error{OpensslError("the sandbox's CA is not a PEM key and certificate")};
  }
  if (X509_check_private_key(out->ca_cert_, out->ca_key_) != 1) {
    return Error{OpensslError("the sandbox's CA key is not its certificate's")};
  }

  out->server_ctx_ = SSL_CTX_new(TLS_server_method());
  out->client_ctx_ = SSL_CTX_new(TLS_client_method());
  if (out->server_ctx_ == nullptr || out->client_ctx_ == nullptr) {
    return Error{OpensslError("cannot make the TLS contexts")};
  }
  // A sandbox that ends the TCP connection without close_notify ends its side, and what upstream
  // answers still reaches it (after a fatal "unexpected EOF" OpenSSL would not write any more).
  // Upstream, such an end stays an error (ReadPlain's kTruncated), so that it is passed on as one.
  SSL_CTX_set_options(out->server_ctx_,
                      SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_options(out->client_ctx_, SSL_OP_NO_RENEGOTIATION);
  // No resumption towards the sandbox: every connection is shown the certificate of its own
  // name, never a session made for another host's.
  SSL_CTX_set_session_cache_mode(out->server_ctx_, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(out->server_ctx_, 0);
  if (SSL_CTX_set_min_proto_version(out->server_ctx_, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_min_proto_version(out->client_ctx_, TLS1_2_VERSION) != 1) {
    return Error{OpensslError("cannot require TLS 1.2")};
  }
  SSL_CTX_set_alpn_select_cb(out->server_ctx_, SelectAlpn, nullptr);

  if (SSL_CTX_set_default_verify_paths(out->client_ctx_) != 1) {
    return Error{OpensslError("cannot load the host's trusted certificates")};
  }
  SSL_CTX_set_verify(out->client_ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_alpn_protos(out->client_ctx_, kHttp11, sizeof kHttp11 - 1) != 0) {
    return Error{OpensslError("cannot set the upstream ALPN")};
  }
  return out;
}

ErrorOr<std::shared_ptr<const Interceptor::Leaf>> Interceptor::LeafFor(const std::string& host) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = leaves_.find(host); it != leaves_.end()) {
      return it->second;
    }
  }
  // Minted outside the lock: two connections to a new name may both mint, and one is kept.
  auto leaf = std::make_shared<Leaf>();
  leaf->key = NewP256Key();
  leaf->cert.reset(X509_new());
  X509* cert = leaf->cert.get();
  if (!leaf->key || !cert) {
    return Error{OpensslError("cannot make a key for `" + host + "`")};
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  // Valid exactly as long as the CA: within its validity, as a verifier requires.
  const bool ok = X509_set_version(cert, X509_VERSION_3) == 1 && SetRandomSerial(cert) &&
                  X509_set1_notBefore(cert, X509_get0_notBefore(ca_cert_)) == 1 &&
                  X509_set1_notAfter(cert, X509_get0_notAfter(ca_cert_)) == 1 &&
                  SetCommonName(subject, host) &&
                  X509_set_issuer_name(cert, X509_get_subject_name(ca_cert_)) == 1 &&
                  X509_set_pubkey(cert, leaf->key.get()) == 1 &&
                  AddExtension(cert, ca_cert_, NID_basic_constraints, "critical,CA:FALSE") &&
                  AddExtension(cert, ca_cert_, NID_key_usage, "critical,digitalSignature") &&
                  AddExtension(cert, ca_cert_, NID_ext_key_usage, "serverAuth") &&
                  AddExtension(cert, ca_cert_, NID_subject_key_identifier, "hash") &&
                  AddExtension(cert, ca_cert_, NID_authority_key_identifier, "keyid:always") &&
                  AddDnsName(cert, host) && X509_sign(cert, ca_key_, EVP_sha256()) > 0;
  if (!ok) {
    return Error{OpensslError("cannot make a certificate for `" + host + "`")};
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = leaves_.emplace(host, std::move(leaf));
  if (added) {
    order_.push_back(host);
    if (order_.size() > kMaxLeaves) {
      leaves_.erase(order_.front());
      order_.pop_front();
    }
  }
  return it->second;
}

ErrorOr<SslPtr> Interceptor::NewServer(const std::string& host) {
  auto leaf = LeafFor(host);
  if (!leaf) {
    return leaf.error();
  }
  SslPtr ssl(SSL_new(server_ctx_));
  if (!ssl || SSL_use_certificate(ssl.get(), (*leaf)->cert.get()) != 1 ||
      SSL_use_PrivateKey(ssl.get(), (*leaf)->key.get()) != 1 ||
      SSL_add1_chain_cert(ssl.get(), ca_cert_) != 1) {
    return Error{OpensslError("cannot set up TLS towards the sandbox for `" + host + "`")};
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

ErrorOr<SslPtr> Interceptor::NewClient(const std::string& host) {
  SslPtr ssl(SSL_new(client_ctx_));
  if (!ssl || SSL_set_tlsext_host_name(ssl.get(), host.c_str()) != 1 ||
      SSL_set1_host(ssl.get(), host.c_str()) != 1) {
    return Error{OpensslError("cannot set up TLS to `" + host + "`")};
  }
  SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  SSL_set_connect_state(ssl.get());
  return ssl;
}

ErrorOr<std::string> Interceptor::LeafPem(const std::string& host) {
  auto leaf = LeafFor(host);
  if (!leaf) {
    return leaf.error();
  }
  return CertPem((*leaf)->cert.get());
}

bool Interceptor::RefusedAlpn(const SSL* ssl) {
  return SSL_get_app_data(ssl) == &alpn_refused_marker;
}

TlsStream::TlsStream(SslPtr ssl, int fd) : ssl_(std::move(ssl)), fd_(fd) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  MVM_CHECK(in_ != nullptr && out_ != nullptr);
  // An empty input is "wait for more" until the socket ends (ReadSocket sets the end).
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_.get(), in_, out_);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

void TlsStream::Prime(std::string_view bytes) {
  if (!bytes.empty()) {
    BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
  }
}

void TlsStream::Collect() {
  char buf[16384];
  while (BIO_ctrl_pending(out_) > 0) {
    const int n = BIO_read(out_, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    unsent_.append(buf, static_cast<size_t>(n));
  }
}

bool TlsStream::ReadSocket() {
  if (socket_ended_) {
    return false;
  }
  // At most 256 KiB a call, so that one fast peer cannot make the other end's buffer grow
  // without bound between two polls.
  char buf[16384];
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    }
    if (n <= 0) {
      socket_ended_ = true;
      BIO_set_mem_eof_return(in_, 0);
      return false;
    }
    BIO_write(in_, buf, static_cast<int>(n));
  }
  return true;
}

bool TlsStream::FlushSocket() {
  while (!unsent_.empty()) {
    const ssize_t n = ::send(fd_, unsent_.data(), unsent_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    }
    if (n <= 0) {
      return false;
    }
    unsent_.erase(0, static_cast<size_t>(n));
  }
  return true;
}

void TlsStream::Drain(Clock::time_point deadline) {
  while (!unsent_.empty() && FlushSocket() && !unsent_.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p = {fd_, POLLOUT, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
      return;
    }
  }
}

bool TlsStream::Handshake(Clock::time_point deadline, std::string& error) {
  while (true) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    Collect();
    // What the handshake wrote goes out before waiting for the answer to it, and its last flight
    // before the caller moves on (TLS 1.2's server Finished would otherwise wait in the buffer).
    Drain(deadline);
    if (r == 1) {
      if (!unsent_.empty()) {
        error = "the TLS handshake did not finish in time";
        return false;
      }
      return true;
    }
    const int e = SSL_get_error(ssl_.get(), r);
    if (e == SSL_ERROR_WANT_READ && !socket_ended_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p = {fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) {
        error = "the TLS handshake did not finish in time";
        return false;
      }
      (void)ReadSocket();
      continue;
    }
    const long verify = SSL_get_verify_result(ssl_.get());
    if (!SSL_is_server(ssl_.get()) && verify != X509_V_OK) {
      error =
          std::string("the certificate does not verify: ") + X509_verify_cert_error_string(verify);
      ERR_clear_error();
    } else if (ERR_peek_error() != 0) {
      error = OpensslError("the TLS handshake failed");
    } else {
      error = "the connection ended during the TLS handshake";
    }
    return false;
  }
}

TlsStream::Read TlsStream::ReadPlain(std::string& out, std::string& error) {
  char buf[16384];
  while (true) {
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), buf, sizeof buf);
    Collect();
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), n);
    if (e == SSL_ERROR_WANT_READ) {
      return socket_ended_ ? Read::kClosed : Read::kMore;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      return Read::kClosed;
    }
    if (e == SSL_ERROR_SSL &&
        ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      ERR_clear_error();
      return Read::kTruncated;
    }
    error = OpensslError("TLS failed");
    return Read::kFailed;
  }
}

void TlsStream::WritePlain(std::string_view bytes) {
  while (!bytes.empty()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
    Collect();
    if (n <= 0) {
      // Only after this end was shut down: what would go is dropped with the connection.
      ERR_clear_error();
      return;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void TlsStream::Shutdown() {
  if ((SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) == 0) {
    ERR_clear_error();
    (void)SSL_shutdown(ssl_.get());
    ERR_clear_error();
    Collect();
  }
}

}  // namespace mvm::runtime::egress
