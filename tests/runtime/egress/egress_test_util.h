// What the egress unit tests share: addresses from text, and a real ClientHello made by OpenSSL's
// own client.
#ifndef MVM_TESTS_RUNTIME_EGRESS_EGRESS_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_EGRESS_EGRESS_TEST_UTIL_H_

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace mvm::testing {

inline in_addr V4(const char* text) {
  in_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET, text, &a), 1) << text;
  return a;
}

inline in6_addr V6(const char* text) {
  in6_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET6, text, &a), 1) << text;
  return a;
}

/// The first flight of OpenSSL's client for `sni` (none when empty), up to `max_version`.
inline std::string RealClientHello(const std::string& sni, int max_version = TLS1_3_VERSION) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, BIO_new(BIO_s_mem()), out);
  if (!sni.empty()) {
    SSL_set_tlsext_host_name(ssl, sni.c_str());
  }
  SSL_set_connect_state(ssl);
  (void)SSL_do_handshake(ssl);  // wants the server's answer: the hello is written by then
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

/// A TCP socket listening on 127.0.0.1 at a port the kernel picks, which `*port` receives: the
/// upstream servers of the proxy tests.
inline int ListenOnLoopback(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_EGRESS_EGRESS_TEST_UTIL_H_
