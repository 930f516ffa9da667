// The proxy's decisions, over socket pairs: the sandbox's side is a test's end of a pair, the
// original destination and the upstream connect are hooks, and upstream is a local listener that
// records what reached it. The real redirect and upstream run in the end-to-end network tests.

#include "runtime/egress/proxy.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/runtime/egress/egress_test_util.h"

namespace {

namespace eg = mvm::runtime::egress;

using mvm::testing::RealClientHello;
using mvm::testing::V4;

/// Reads until EOF or 5 s.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  pollfd p = {fd, POLLIN, 0};
  while (::poll(&p, 1, 5000) == 1) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

/// The upstream: accepts one connection at a time, records what it read until the client's
/// first pause, answers `reply`, closes.
class Upstream {
 public:
  explicit Upstream(std::string reply) : reply_(std::move(reply)) {
    fd_ = mvm::testing::ListenOnLoopback(&port_);
    thread_ = std::thread([this] {
      while (true) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) {
          return;
        }
        std::string got;
        char buf[4096];
        pollfd p = {c, POLLIN, 0};
        while (::poll(&p, 1, 300) == 1) {
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) {
            break;
          }
          got.append(buf, static_cast<size_t>(n));
        }
        {
          std::lock_guard<std::mutex> lock(mu_);
          received_.push_back(got);
        }
        (void)!::write(c, reply_.data(), reply_.size());
        ::close(c);
      }
    });
  }
  ~Upstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  std::string reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> received_;
};

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest()
      : events_(
            [this](const std::string& e, const nlohmann::json& f) {
              std::lock_guard<std::mutex> lock(mu_);
              recorded_.emplace_back(e, f);
            },
            std::chrono::milliseconds(60000)),
        upstream_("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
    policy_.rules = {{"allowed.test", eg::Protocol::kHttps},
                     {"allowed.test", eg::Protocol::kHttp},
                     {"plain.test", eg::Protocol::kHttp}};
    policy_.dns = true;
    resolver_ = std::make_unique<eg::Resolver>(
        policy_,
        [](const std::string& name) {
          eg::UpstreamAnswer a;
          a.rcode = eg::Rcode::kNoError;
          a.v4 = {V4(name == "allowed.test" ? "203.0.113.10" : "203.0.113.40")};
          return a;
        },
        &events_, "box");
    hooks_.connect_upstream = [this](const std::vector<in_addr>& v4, const std::vector<in6_addr>&,
                                     uint16_t port, std::chrono::milliseconds) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const in_addr& a : v4) {
        dialled_.push_back(std::string(inet_ntoa(a)) + ":" + std::to_string(port));
      }
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(upstream_.port());
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      return fd;
    };
  }

  /// Serves one connection whose original destination is `dst` (nothing: made to the proxy
  /// itself); sends `bytes`, then returns what came back before the proxy closed.
  std::string Through(std::optional<std::pair<const char*, uint16_t>> dst,
                      const std::string& bytes) {
    eg::ProxyHooks hooks = hooks_;
    hooks.original_destination = [dst](int) -> std::optional<sockaddr_in> {
      if (!dst) {
        return std::nullopt;
      }
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_addr = V4(dst->first);
      sa.sin_port = htons(dst->second);
      return sa;
    };
    eg::ProxyLimits limits;
    limits.decide_timeout = std::chrono::milliseconds(2000);
    limits.idle_timeout = std::chrono::milliseconds(2000);
    eg::Proxy proxy(policy_, resolver_.get(), &events_, "box", limits, hooks);
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    std::thread serve([&] { proxy.Handle(pair[1]); });
    // The proxy may refuse and close before reading: no SIGPIPE for the test then.
    (void)!::send(pair[0], bytes.data(), bytes.size(), MSG_NOSIGNAL);
    std::string back = ReadAll(pair[0]);
    ::close(pair[0]);
    serve.join();
    return back;
  }

  std::string Resolve(const std::string& name) {
    return inet_ntoa(resolver_->Resolve(name).synthetic);
  }

  std::vector<std::string> Events(const std::string& event) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the log's writer thread
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [e, f] : recorded_) {
      if (e == event) {
        out.push_back(f.value("reason", f.value("rule", "")));
      }
    }
    return out;
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, nlohmann::json>> recorded_;
  std::vector<std::string> dialled_;
  eg::EventLog events_;
  Upstream upstream_;
  eg::Policy policy_;
  std::unique_ptr<eg::Resolver> resolver_;
  eg::ProxyHooks hooks_;
};

TEST_F(ProxyTest, AnAllowedServerNameGoesUpstreamUnchangedToThePinnedAddress) {
  const std::string address = Resolve("allowed.test");
  const std::string hello = RealClientHello("allowed.test");
  std::string back = Through({{address.c_str(), 443}}, hello);
  EXPECT_NE(back.find("200 OK"), std::string::npos);
  ASSERT_EQ(upstream_.received().size(), 1u);
  EXPECT_EQ(upstream_.received()[0], hello);
  EXPECT_EQ(dialled_, std::vector<std::string>{"203.0.113.10:443"});
  EXPECT_EQ(Events("allow"), std::vector<std::string>{"https allowed.test"});
}

TEST_F(ProxyTest, AWrongOrMissingServerNameIsRefusedBeforeAnyUpstreamConnection) {
  const std::string address = Resolve("allowed.test");
  for (const std::string sni : {"other.test", "", "203.0.113.10"}) {
    EXPECT_EQ(Through({{address.c_str(), 443}}, RealClientHello(sni)), "") << sni;
  }
  EXPECT_TRUE(upstream_.received().empty());
  EXPECT_TRUE(dialled_.empty());
  auto denied = Events("deny");
  ASSERT_EQ(denied.size(), 3u);
  EXPECT_NE(denied[0].find("`other.test` is not `allowed.test`"), std::string::npos);
  EXPECT_NE(denied[1].find("no SNI"), std::string::npos);
  EXPECT_NE(denied[2].find("not a DNS name"), std::string::npos);
}

TEST_F(ProxyTest, ARawAddressOrAnotherPortIsRefused) {
  EXPECT_EQ(Through({{"203.0.113.10", 443}}, RealClientHello("allowed.test")), "");
  std::string http =
      Through({{"203.0.113.10", 80}}, "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
  EXPECT_NE(http.find("403 Forbidden"), std::string::npos);
  const std::string address = Resolve("allowed.test");
  EXPECT_EQ(Through({{address.c_str(), 22}}, "SSH-2.0-x\r\n"), "");
  EXPECT_TRUE(dialled_.empty());
  auto denied = Events("deny");
  ASSERT_EQ(denied.size(), 3u);
  EXPECT_NE(denied[0].find("raw IP addresses are refused"), std::string::npos);
  EXPECT_NE(denied[2].find("only 80 (HTTP) and 443 (HTTPS)"), std::string::npos);
}

TEST_F(ProxyTest, PlainHttpChecksTheHostOfEveryRequest) {
  const std::string address = Resolve("plain.test");
  const std::string good = "GET /a HTTP/1.1\r\nHost: plain.test\r\n\r\n";
  std::string back = Through({{address.c_str(), 80}}, good);
  EXPECT_NE(back.find("200 OK"), std::string::npos);
  ASSERT_EQ(upstream_.received().size(), 1u);
  EXPECT_EQ(upstream_.received()[0], good);
  // Another Host on the same connection name, an IP literal, an absolute URL elsewhere.
  for (const std::string bad : {"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
                                "GET / HTTP/1.1\r\nHost: 203.0.113.40\r\n\r\n",
                                "GET http://allowed.test/ HTTP/1.1\r\nHost: plain.test\r\n\r\n",
                                "GET / HTTP/1.1\r\nHost: plain.test:8080\r\n\r\n"}) {
    back = Through({{address.c_str(), 80}}, bad);
    EXPECT_NE(back.find("403 Forbidden"), std::string::npos) << bad;
  }
  EXPECT_EQ(upstream_.received().size(), 1u);
  // A name with an https rule only is not plain-HTTP reachable.
  policy_.rules = {{"allowed.test", eg::Protocol::kHttps}};
  const std::string tls_only = Resolve("allowed.test");
  back = Through({{tls_only.c_str(), 80}}, "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
  EXPECT_NE(back.find("no http rule allows `allowed.test`"), std::string::npos);
}

TEST_F(ProxyTest, AnExplicitProxyClientConnectsToAllowedNamesOnly) {
  const std::string hello = RealClientHello("allowed.test");
  std::string back = Through(
      std::nullopt, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n" + hello);
  EXPECT_EQ(back.rfind("HTTP/1.1 200 Connection established\r\n\r\n", 0), 0u) << back;
  ASSERT_EQ(upstream_.received().size(), 1u);
  EXPECT_EQ(upstream_.received()[0], hello);
  EXPECT_EQ(dialled_, std::vector<std::string>{"203.0.113.10:443"});  // resolved and pinned here
  for (const std::string bad : {"CONNECT 203.0.113.10:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                                "CONNECT allowed.test:22 HTTP/1.1\r\nHost: x\r\n\r\n",
                                "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
                                "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"}) {
    back = Through(std::nullopt, bad);
    EXPECT_NE(back.find("403 Forbidden"), std::string::npos) << bad;
  }
  // CONNECT to an allowed name whose ClientHello names another.
  back = Through(std::nullopt, "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test\r\n\r\n" +
                                   RealClientHello("other.test"));
  EXPECT_EQ(upstream_.received().size(), 1u);
  // Absolute-form plain HTTP.
  back = Through(std::nullopt, "GET http://plain.test/x HTTP/1.1\r\nHost: plain.test\r\n\r\n");
  EXPECT_NE(back.find("200 OK"), std::string::npos) << back;
}

}  // namespace
