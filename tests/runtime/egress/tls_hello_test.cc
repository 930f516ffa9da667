#include "runtime/egress/tls_hello.h"

#include <openssl/ssl.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/runtime/egress/egress_test_util.h"

namespace {

using mvm::runtime::egress::ClientHello;
using mvm::runtime::egress::ParseClientHello;

using mvm::testing::RealClientHello;

TEST(ClientHello, ReadsTheServerNameOfARealHello) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ClientHello h = ParseClientHello(RealClientHello("api.example.com", version));
    EXPECT_EQ(h.status, ClientHello::Status::kHello) << h.error;
    EXPECT_EQ(h.server_name, "api.example.com");
    EXPECT_FALSE(h.encrypted_name);
  }
}

TEST(ClientHello, AHelloWithoutServerNameHasAnEmptyOne) {
  ClientHello h = ParseClientHello(RealClientHello(""));
  EXPECT_EQ(h.status, ClientHello::Status::kHello);
  EXPECT_EQ(h.server_name, "");
}

TEST(ClientHello, EveryPrefixNeedsMoreAndTheWholeDecides) {
  const std::string hello = RealClientHello("www.example.org");
  for (size_t n = 1; n < hello.size(); n += 7) {
    ClientHello h = ParseClientHello(hello.substr(0, n));
    EXPECT_EQ(h.status, ClientHello::Status::kNeedMore) << n << ": " << h.error;
  }
  EXPECT_EQ(ParseClientHello(hello).server_name, "www.example.org");
  // What a client sends after its hello does not change the verdict.
  EXPECT_EQ(ParseClientHello(hello + "more bytes").server_name, "www.example.org");
}

TEST(ClientHello, PlainHttpAndGarbageAreInvalidAtOnce) {
  ClientHello h = ParseClientHello("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(h.status, ClientHello::Status::kInvalid);
  EXPECT_NE(h.error.find("not a TLS handshake"), std::string::npos);
  // A handshake record whose body is not a hello.
  const char raw[] = "\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00";
  std::string bad(raw, sizeof raw - 1);
  EXPECT_EQ(ParseClientHello(bad).status, ClientHello::Status::kInvalid);
}

TEST(ClientHello, AnEncryptedClientHelloExtensionIsReported) {
  std::string hello = RealClientHello("public.example.com", TLS1_2_VERSION);
  // Rewrite the hello with one more extension (type 0xfe0d, empty), fixing the three lengths:
  // record (bytes 3-4), handshake (6-8), extensions (after the fixed fields).
  const size_t session_at = 5 + 4 + 2 + 32;
  size_t at = session_at + 1 + static_cast<uint8_t>(hello[session_at]);
  const size_t ciphers =
      (static_cast<uint8_t>(hello[at]) << 8) | static_cast<uint8_t>(hello[at + 1]);
  at += 2 + ciphers;
  at += 1 + static_cast<uint8_t>(hello[at]);  // compression methods
  const size_t ext_len =
      (static_cast<uint8_t>(hello[at]) << 8) | static_cast<uint8_t>(hello[at + 1]);
  std::string ech("\xfe\x0d\x00\x00", 4);
  auto put16 = [&](size_t pos, size_t v) {
    hello[pos] = static_cast<char>(v >> 8);
    hello[pos + 1] = static_cast<char>(v & 0xff);
  };
  put16(at, ext_len + 4);
  const size_t record = (static_cast<uint8_t>(hello[3]) << 8) | static_cast<uint8_t>(hello[4]);
  put16(3, record + 4);
  const size_t handshake = (static_cast<uint8_t>(hello[7]) << 8) | static_cast<uint8_t>(hello[8]);
  put16(7, handshake + 4);
  hello.insert(at + 2 + ext_len, ech);
  ClientHello h = ParseClientHello(hello);
  EXPECT_EQ(h.status, ClientHello::Status::kHello) << h.error;
  EXPECT_TRUE(h.encrypted_name);
}

}  // namespace
