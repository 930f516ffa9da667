#include "runtime/egress/http_gate.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

using mvm::runtime::egress::HttpGate;
using mvm::runtime::egress::HttpRequestHead;

/// A gate that lets through requests whose Host is `allowed`, and remembers every head it saw.
struct Fixture {
  explicit Fixture(std::string allowed)
      : gate([this, allowed](const HttpRequestHead& head) -> std::optional<std::string> {
          heads.push_back(head);
          if (head.host != allowed) {
            return "Host " + head.host;
          }
          return std::nullopt;
        }) {}
  std::vector<HttpRequestHead> heads;
  HttpGate gate;
};

TEST(HttpGate, ARequestIsHeldUntilItsHeadIsCompleteThenPassedWhole) {
  Fixture f("a.example");
  const std::string request =
      "GET /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello";
  std::string forwarded;
  for (size_t i = 0; i < request.size(); ++i) {
    HttpGate::Verdict v = f.gate.Feed(request.substr(i, 1));
    ASSERT_FALSE(v.denied) << *v.denied;
    if (i < request.find("\r\n\r\n") + 3) {
      EXPECT_EQ(v.forward, "") << i;
    }
    forwarded += v.forward;
  }
  EXPECT_EQ(forwarded, request);
  ASSERT_EQ(f.heads.size(), 1u);
  EXPECT_EQ(f.heads[0].method, "GET");
  EXPECT_EQ(f.heads[0].target, "/x");
}

TEST(HttpGate, ASecondPipelinedRequestForAnotherHostIsRefusedAndNothingOfItPasses) {
  Fixture f("a.example");
  const std::string first = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
  const std::string second = "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
  HttpGate::Verdict v = f.gate.Feed(first + second);
  ASSERT_TRUE(v.denied);
  EXPECT_EQ(*v.denied, "Host b.example");
  EXPECT_EQ(v.forward, first);
  EXPECT_TRUE(f.gate.Feed("more").denied);  // the connection stays refused
}

TEST(HttpGate, ARequestHiddenInABodyIsBodyNotARequest) {
  Fixture f("a.example");
  const std::string inner = "GET / HTTP/1.1\r\nHost: b.example\r\n\r\n";
  const std::string outer =
      "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: " + std::to_string(inner.size()) +
      "\r\n\r\n" + inner;
  HttpGate::Verdict v = f.gate.Feed(outer);
  EXPECT_FALSE(v.denied);
  EXPECT_EQ(v.forward, outer);
  EXPECT_EQ(f.heads.size(), 1u);
  // A chunked body too, and the request after it is checked.
  Fixture g("a.example");
  const std::string chunked =
      "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string("5\r\nhello\r\n0\r\n\r\n");
  v = g.gate.Feed(chunked + "GET / HTTP/1.1\r\nHost: c.example\r\n\r\n");
  ASSERT_TRUE(v.denied);
  EXPECT_EQ(v.forward, chunked);
}

TEST(HttpGate, TwoHostHeadersOrNoneOrGarbageAreRefused) {
  Fixture f("a.example");
  auto v = f.gate.Feed("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
  ASSERT_TRUE(v.denied);
  EXPECT_NE(v.denied->find("2 Host headers"), std::string::npos);
  EXPECT_EQ(v.forward, "");
  Fixture g("a.example");
  v = g.gate.Feed("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(v.denied);
  Fixture h("a.example");
  v = h.gate.Feed("\x16\x03\x01 not http\r\n\r\n");
  ASSERT_TRUE(v.denied);
  EXPECT_NE(v.denied->find("not an HTTP/1.x request"), std::string::npos);
  // Conflicting lengths (a smuggling classic) are the parser's to refuse.
  Fixture k("a.example");
  v = k.gate.Feed(
      "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n");
  EXPECT_TRUE(v.denied);
}

TEST(HttpGate, ConnectEndsTheHttpPartAndSaysWhereTheTunnelStarts) {
  Fixture f("a.example:443");
  const std::string head = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
  HttpGate::Verdict v = f.gate.Feed(head + "\x16\x03\x01tls bytes");
  ASSERT_FALSE(v.denied) << *v.denied;
  EXPECT_TRUE(v.tunnel);
  EXPECT_EQ(v.forward.substr(0, v.tunnel_at), head);
  EXPECT_EQ(v.forward.substr(v.tunnel_at), "\x16\x03\x01tls bytes");
  EXPECT_EQ(f.heads[0].method, "CONNECT");
  EXPECT_EQ(f.heads[0].target, "a.example:443");
}

}  // namespace
