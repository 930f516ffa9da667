#include "runtime/egress/tls_hello.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <memory>

namespace mvm::runtime::egress {

namespace {

constexpr unsigned kServerName = 0;                 // RFC 6066
constexpr unsigned kEncryptedClientHello = 0xfe0d;  // draft-ietf-tls-esni
constexpr unsigned kEncryptedServerName = 0xffce;   // the earlier ESNI drafts

/// The host_name entry of a server_name extension's body, or "" (RFC 6066 section 3).
std::string HostName(const unsigned char* p, size_t n) {
  if (n < 2) {
    return "";
  }
  size_t list = (size_t{p[0]} << 8) | p[1];
  p += 2;
  n -= 2;
  if (list > n) {
    return "";
  }
  n = list;
  while (n >= 3) {
    const unsigned type = p[0];
    const size_t len = (size_t{p[1]} << 8) | p[2];
    p += 3;
    n -= 3;
    if (len > n) {
      return "";
    }
    if (type == 0) {
      return std::string(reinterpret_cast<const char*>(p), len);
    }
    p += len;
    n -= len;
  }
  return "";
}

/// Runs in SSL_accept once the ClientHello is parsed: records what the proxy needs and stops the
/// handshake there.
int ResultIndex();

int OnClientHello(SSL* ssl, int* alert, void* /*arg*/) {
  auto* out = static_cast<ClientHello*>(SSL_get_ex_data(ssl, ResultIndex()));
  out->status = ClientHello::Status::kHello;
  if (SSL_client_hello_isv2(ssl) != 0) {
    out->status = ClientHello::Status::kInvalid;
    out->error = "an SSLv2 ClientHello";
  }
  const unsigned char* ext = nullptr;
  size_t len = 0;
  // OpenSSL collects only extensions it knows; these two are registered below for that.
  for (unsigned type : {kEncryptedClientHello, kEncryptedServerName}) {
    if (SSL_client_hello_get0_ext(ssl, type, &ext, &len) == 1) {
      out->encrypted_name = true;
    }
  }
  if (SSL_client_hello_get0_ext(ssl, kServerName, &ext, &len) == 1) {
    out->server_name = HostName(ext, len);
  }
  *alert = SSL_AD_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

/// The ex_data slot of an SSL that points at its ClientHello result.
int ResultIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

SSL_CTX* ServerContext() {
  // One context for the process (OpenSSL makes sharing it between threads safe); each parse
  // finds its result through the SSL's ex_data.
  static std::unique_ptr<SSL_CTX, CtxFree> ctx([] {
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    if (c != nullptr) {
      // Every version a client may offer is parsed; none is negotiated.
      SSL_CTX_set_min_proto_version(c, 0);
      SSL_CTX_set_client_hello_cb(c, OnClientHello, nullptr);
      for (unsigned type : {kEncryptedClientHello, kEncryptedServerName}) {
        SSL_CTX_add_custom_ext(c, type, SSL_EXT_CLIENT_HELLO, nullptr, nullptr, nullptr, nullptr,
                               nullptr);
      }
    }
    return c;
  }());
  return ctx.get();
}

}  // namespace

ClientHello ParseClientHello(std::string_view bytes) {
  ClientHello out;
  if (bytes.empty()) {
    return out;
  }
  // A TLS record of type handshake (22) or nothing this proxy forwards: say so at the first byte,
  // so that a plain-HTTP request to port 443 is named rather than waited on.
  if (static_cast<uint8_t>(bytes[0]) != 22) {
    out.status = ClientHello::Status::kInvalid;
    out.error = "not a TLS handshake (the first byte is not a handshake record)";
    return out;
  }
  SSL_CTX* ctx = ServerContext();
  if (ctx == nullptr) {
    out.status = ClientHello::Status::kInvalid;
    out.error = "OpenSSL could not make a server context";
    return out;
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* sink = BIO_new(BIO_s_mem());
  if (!ssl || in == nullptr || sink == nullptr) {
    BIO_free(in);
    BIO_free(sink);
    out.status = ClientHello::Status::kInvalid;
    out.error = "OpenSSL is out of memory";
    return out;
  }
  BIO_write(in, bytes.data(), static_cast<int>(bytes.size()));
  BIO_set_mem_eof_return(in, -1);  // the end of what we have is "more may come", not EOF
  SSL_set_bio(ssl.get(), in, sink);
  SSL_set_accept_state(ssl.get());
  SSL_set_ex_data(ssl.get(), ResultIndex(), &out);
  const int accepted = SSL_accept(ssl.get());
  if (out.status == ClientHello::Status::kNeedMore) {
    const int error = SSL_get_error(ssl.get(), accepted);
    if (error != SSL_ERROR_WANT_READ) {
      out.status = ClientHello::Status::kInvalid;
      const char* reason = ERR_reason_error_string(ERR_peek_last_error());
      out.error = std::string("not a TLS ClientHello") + (reason != nullptr ? ": " : "") +
                  (reason != nullptr ? reason : "");
    } else if (bytes.size() > kMaxClientHelloBytes) {
      out.status = ClientHello::Status::kInvalid;
      out.error =
          "no complete ClientHello in the first " + std::to_string(kMaxClientHelloBytes) + " bytes";
    }
  }
  ERR_clear_error();
  return out;
}

}  // namespace mvm::runtime::egress
