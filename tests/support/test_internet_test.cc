// The test internet's own tests: what a test in the client namespace reaches, what the DNS server
// answers, what the servers log, that the host's namespace sees none of it and that Stop() leaves
// nothing behind.
#include "tests/support/test_internet.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/prerequisite.h"

namespace mvm::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Sends one DNS query (type A unless a second argument says "AAAA"; TCP when a third says "tcp")
// to the test DNS server and prints `rcode ttl address...`: the answer as a test of the fixture
// needs it, without relying on a resolver library's caching or retries.
constexpr char kDnsProbe[] = R"(
import socket, struct, sys
name = sys.argv[1]
qtype = 28 if len(sys.argv) > 2 and sys.argv[2] == "AAAA" else 1
tcp = len(sys.argv) > 3 and sys.argv[3] == "tcp"
q = struct.pack("!HHHHHH", 0x4d56, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack("!HH", qtype, 1)
if tcp:
    s = socket.create_connection(("198.51.100.53", 53), timeout=5)
    s.sendall(struct.pack("!H", len(q)) + q)
    r = s.recv(4096)[2:]
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(q, ("198.51.100.53", 53))
    r = s.recv(4096)
ancount = struct.unpack("!H", r[6:8])[0]
i = len(q)
out = [str(r[3] & 15)]
ttls = []
for _ in range(ancount):
    rtype, _, ttl, length = struct.unpack("!HHIH", r[i + 2:i + 12])
    data = r[i + 12:i + 12 + length]
    ttls.append(ttl)
    out.append(socket.inet_ntop(socket.AF_INET if rtype == 1 else socket.AF_INET6, data))
    i += 12 + length
print(" ".join(out[:1] + [str(min(ttls)) if ttls else "-"] + out[1:]))
)";

// Debian's python3 when there is one: a pyenv shim ahead of it on PATH takes most of a second to
// start.
std::string Python() {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

class TestInternetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = TestInternet::MissingPrerequisite()) {
      MVM_MISSING_PREREQUISITE() << *missing;
    }
    if (!os::FindProgram("curl")) {
      MVM_MISSING_PREREQUISITE() << "the test internet's tests need curl (Debian package curl)";
    }
    auto start = Clock::now();
    auto started = net_.Start();
    ASSERT_TRUE(started) << started.error().message;
    std::printf(
        "test internet started in %lld ms\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));
  }

  // curl in the client namespace, trusting the test CA, bounded.
  CommandResult Curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"curl", "-sS",      "--max-time",
                                     "10",   "--cacert", net_.ca_cert().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return net_.Run(argv);
  }

  // `rcode ttl address...` for one query (see kDnsProbe).
  std::string Dns(const std::string& name, const std::string& type = "A",
                  const std::string& proto = "udp") {
    CommandResult result = net_.Run({Python(), "-c", kDnsProbe, name, type, proto});
    EXPECT_EQ(result.status, 0) << result.Describe();
    std::string line = result.out;
    while (!line.empty() && line.back() == '\n') {
      line.pop_back();
    }
    return line;
  }

  static nlohmann::json Json(const CommandResult& result) {
    auto value = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(value.is_object()) << result.Describe();
    return value;
  }

  TestInternet net_;
};

TEST_F(TestInternetTest, HttpsToAllowedTestAnswersWhatArrivedAndWhere) {
  CommandResult result = Curl({"https://allowed.test/hello?x=1"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  nlohmann::json answer = Json(result);
  EXPECT_EQ(answer["server"], "203.0.113.10");
  EXPECT_EQ(answer["port"], 443);
  EXPECT_EQ(answer["tls"], true);
  EXPECT_EQ(answer["sni"], "allowed.test");
  EXPECT_EQ(answer["host"], "allowed.test");
  EXPECT_EQ(answer["method"], "GET");
  EXPECT_EQ(answer["path"], "/hello?x=1");
  EXPECT_EQ(answer["peer"], "192.0.2.2");
  EXPECT_EQ(answer["marker"], "mvm-test-internet");

  // The wildcard certificate, and a POST's body counted.
  result = Curl({"-X", "POST", "--data-binary", "12345", "https://api.allowed.test/v1"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  answer = Json(result);
  EXPECT_EQ(answer["sni"], "api.allowed.test");
  EXPECT_EQ(answer["method"], "POST");
  EXPECT_EQ(answer["body_bytes"], 5);
}

TEST_F(TestInternetTest, HttpToOtherTestReachesItsOwnAddress) {
  CommandResult result = Curl({"http://other.test/path"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  nlohmann::json answer = Json(result);
  EXPECT_EQ(answer["server"], "203.0.113.20");
  EXPECT_EQ(answer["port"], 80);
  EXPECT_EQ(answer["host"], "other.test");
  EXPECT_EQ(answer["path"], "/path");
}

TEST_F(TestInternetTest, MetadataServerAnswersFromTheClientNamespace) {
  EXPECT_TRUE(net_.ServerLog(TestInternet::kMetadataAddress).empty());
  CommandResult result = Curl({"http://169.254.169.254/latest/meta-data/"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  EXPECT_EQ(Json(result)["server"], "169.254.169.254");
  std::vector<ServerEvent> log = net_.ServerLog(TestInternet::kMetadataAddress);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].event, "connect");
  EXPECT_EQ(log[0].peer, "192.0.2.2");
  EXPECT_EQ(log[1].event, "request");
  EXPECT_EQ(log[1].host, "169.254.169.254");
  EXPECT_EQ(log[1].path, "/latest/meta-data/");
  // And by name, over TLS.
  result = Curl({"https://meta.test/"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  EXPECT_EQ(Json(result)["sni"], "meta.test");
}

TEST_F(TestInternetTest, ServerLogsRecordConnectionsHandshakesAndRequests) {
  ASSERT_EQ(Curl({"https://allowed.test/a"}).status, 0);
  std::vector<ServerEvent> log = net_.ServerLog(TestInternet::kAllowedAddress);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].event, "connect");
  EXPECT_EQ(log[0].port, 443);
  EXPECT_EQ(log[1].event, "tls");
  EXPECT_EQ(log[1].sni, "allowed.test");
  EXPECT_EQ(log[2].event, "request");
  EXPECT_EQ(log[2].path, "/a");

  // A name whose server's certificate names only wrong.test: the handshake arrives, curl refuses
  // the certificate (60), no request follows.
  CommandResult wrong = Curl({"https://mismatch.allowed.test/"});
  EXPECT_EQ(wrong.status, 60) << wrong.Describe();
  log = net_.ServerLog(TestInternet::kWrongCertAddress);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0].event, "connect");
  for (const ServerEvent& event : log) {
    EXPECT_NE(event.event, "request");
  }

  // Nothing else was reached, and ClearLogs empties the logs.
  EXPECT_TRUE(net_.ServerLog(TestInternet::kMetadataAddress).empty());
  EXPECT_TRUE(net_.ServerLog(TestInternet::kOtherAddress).empty());
  net_.ClearLogs();
  EXPECT_TRUE(net_.ServerLog(TestInternet::kAllowedAddress).empty());
  EXPECT_TRUE(net_.DnsLog().empty());
}

TEST_F(TestInternetTest, DnsAnswersTheZoneAsSpecified) {
  EXPECT_EQ(Dns("allowed.test"), "0 60 203.0.113.10");
  EXPECT_EQ(Dns("WWW.Allowed.Test"), "0 60 203.0.113.10");
  EXPECT_EQ(Dns("other.test", "A", "tcp"), "0 60 203.0.113.20");
  EXPECT_EQ(Dns("meta.test"), "0 60 169.254.169.254");
  EXPECT_EQ(Dns("private.test"), "0 60 10.1.2.3");
  EXPECT_EQ(Dns("mixed.test"), "0 60 203.0.113.10 10.1.2.3");
  EXPECT_EQ(Dns("meta6.test", "AAAA"), "0 60 fd00:ec2::254");
  EXPECT_EQ(Dns("allowed.test", "AAAA"), "0 -");  // the name exists, without that type
  EXPECT_EQ(Dns("nosuch.test"), "3 -");
  EXPECT_EQ(Dns("example.com"), "5 -");
  EXPECT_EQ(net_.DnsQueries("allowed.test"), 1);
  EXPECT_EQ(net_.DnsQueries("allowed.test.", ""), 2);
  EXPECT_EQ(net_.DnsQueries("www.allowed.test"), 1);
  EXPECT_EQ(net_.DnsQueries("nosuch.test"), 1);
  std::vector<DnsQuery> log = net_.DnsLog();
  ASSERT_EQ(log.size(), 10u);
  EXPECT_EQ(log[2].proto, "tcp");
  EXPECT_EQ(log[2].answers, std::vector<std::string>{"203.0.113.20"});

  // The system resolver of the client namespace asks the test server.
  CommandResult hosts = net_.Run({"getent", "ahostsv4", "other.test"});
  ASSERT_EQ(hosts.status, 0) << hosts.Describe();
  EXPECT_EQ(hosts.out.substr(0, hosts.out.find(' ')), "203.0.113.20");
  EXPECT_EQ(net_.DnsQueries("other.test"), 2);
}

TEST_F(TestInternetTest, RebindingNamesAnswerPublicFirstThenMetadata) {
  EXPECT_EQ(Dns("rebind.test"), "0 0 203.0.113.30");
  EXPECT_EQ(Dns("rebind.test"), "0 0 169.254.169.254");
  EXPECT_EQ(Dns("rebind.test", "A", "tcp"), "0 0 169.254.169.254");
  // Each <label>.rebind.test counts on its own.
  EXPECT_EQ(Dns("t1.rebind.test"), "0 0 203.0.113.30");
  EXPECT_EQ(Dns("t2.rebind.test"), "0 0 203.0.113.30");
  EXPECT_EQ(Dns("t1.rebind.test"), "0 0 169.254.169.254");
  EXPECT_EQ(net_.DnsQueries("rebind.test"), 3);
  EXPECT_EQ(net_.DnsQueries("t1.rebind.test"), 2);
  // The public answer's server answers for the name.
  CommandResult result = Curl({"https://t3.rebind.test/"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  EXPECT_EQ(Json(result)["server"], "203.0.113.30");
}

TEST_F(TestInternetTest, AllowedAddressAlsoServesPort8080AndEchoesUdp) {
  CommandResult result = Curl({"http://allowed.test:8080/alt"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  EXPECT_EQ(Json(result)["port"], 8080);
  CommandResult echo = net_.Run(
      {Python(), "-c",
       "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); "
       "s.sendto(b'ping', ('203.0.113.10', 9999)); print(s.recv(100).decode())"});
  EXPECT_EQ(echo.out, "ping\n") << echo.Describe();
  std::vector<ServerEvent> log = net_.ServerLog(TestInternet::kAllowedAddress);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().event, "udp");
  EXPECT_EQ(log.back().port, 9999);
  EXPECT_EQ(log.back().body_bytes, 4);
}

TEST_F(TestInternetTest, BytesEndpointAnswersThatManyBytes) {
  CommandResult result =
      Curl({"-o", "/dev/null", "-w", "%{size_download}", "http://allowed.test/bytes/3000000"});
  ASSERT_EQ(result.status, 0) << result.Describe();
  EXPECT_EQ(result.out, "3000000");
}

TEST_F(TestInternetTest, PackageIndexLinksAWheelWithItsHash) {
  CommandResult page = Curl({"-i", "https://allowed.test/simple/mvm-test-pkg/"});
  ASSERT_EQ(page.status, 0) << page.Describe();
  EXPECT_NE(page.out.find("Content-Type: text/html"), std::string::npos) << page.Describe();
  const std::string link = "/packages/mvm_test_pkg-1.0-py3-none-any.whl#sha256=";
  const size_t at = page.out.find(link);
  ASSERT_NE(at, std::string::npos) << page.Describe();
  const std::string sha256 = page.out.substr(at + link.size(), 64);
  // The wheel the link names hashes to what the link says, and holds the module and the
  // dist-info files pip reads.
  const std::string wheel = (net_.dir() / "fetched.whl").string();
  CommandResult get =
      Curl({"-o", wheel, "https://allowed.test/packages/mvm_test_pkg-1.0-py3-none-any.whl"});
  ASSERT_EQ(get.status, 0) << get.Describe();
  CommandResult check = RunCommand(
      {Python(), "-c",
       "import hashlib, sys, zipfile; print(hashlib.sha256(open(sys.argv[1], 'rb').read())"
       ".hexdigest()); print(' '.join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))",
       wheel});
  ASSERT_EQ(check.status, 0) << check.Describe();
  EXPECT_EQ(check.out,
            sha256 +
                "\nmvm_test_pkg-1.0.dist-info/METADATA mvm_test_pkg-1.0.dist-info/RECORD "
                "mvm_test_pkg-1.0.dist-info/WHEEL mvm_test_pkg/__init__.py\n");
  CommandResult root = Curl({"https://allowed.test/simple/"});
  EXPECT_NE(root.out.find("href=\"/simple/mvm-test-pkg/\""), std::string::npos) << root.Describe();
}

TEST_F(TestInternetTest, RunPassesStdinAndEndsAtItsTimeout) {
  CommandResult cat = net_.Run({"cat"}, "through stdin");
  EXPECT_EQ(cat.status, 0) << cat.Describe();
  EXPECT_EQ(cat.out, "through stdin");
  CommandResult resolv = net_.Run({"cat", "/etc/resolv.conf"});
  EXPECT_NE(resolv.out.find("nameserver 198.51.100.53"), std::string::npos) << resolv.Describe();

  auto start = Clock::now();
  CommandResult slow = net_.Run({"sleep", "30"}, std::nullopt, std::chrono::seconds(1));
  EXPECT_EQ(slow.status, 124) << slow.Describe();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(TestInternetTest, HostNamespaceSeesNoneOfIt) {
  std::ifstream resolv_in("/etc/resolv.conf");
  std::stringstream host_resolv;
  host_resolv << resolv_in.rdbuf();
  ASSERT_EQ(Curl({"http://allowed.test/"}).status, 0);

  // No address, interface or route of the test internet in the host's namespace.
  CommandResult addresses = RunCommand({"ip", "-o", "address"});
  ASSERT_EQ(addresses.status, 0) << addresses.Describe();
  for (std::string_view address :
       {TestInternet::kDnsAddress, TestInternet::kAllowedAddress, TestInternet::kOtherAddress,
        TestInternet::kRebindAddress, TestInternet::kWrongCertAddress,
        TestInternet::kMetadataAddress}) {
    EXPECT_EQ(addresses.out.find(std::string(address)), std::string::npos) << address;
  }
  CommandResult links = RunCommand({"ip", "-o", "link"});
  EXPECT_EQ(links.out.find(net_.client_netns()), std::string::npos) << links.out;
  EXPECT_EQ(links.out.find(net_.internet_netns()), std::string::npos) << links.out;
  // The host's resolv.conf is its own: the bind mount stayed in Run's mount namespace.
  std::ifstream resolv_after("/etc/resolv.conf");
  std::stringstream host_resolv_after;
  host_resolv_after << resolv_after.rdbuf();
  EXPECT_EQ(host_resolv_after.str(), host_resolv.str());
  // Nothing is sent from the host's namespace to find out more: its routes lead off this machine,
  // and tests never target an address outside their own namespaces.
}

TEST_F(TestInternetTest, StopLeavesNoNamespaceProcessOrFileBehind) {
  // A process the test left running in the client namespace is ended too.
  std::vector<std::string> sleeper = net_.Wrap({"sleep", "60"});
  os::SpawnOptions spawn;
  spawn.argv = sleeper;
  auto left = os::Spawn(spawn);
  ASSERT_TRUE(left) << left.error().message;
  const pid_t server = net_.server_pid();
  const std::filesystem::path dir = net_.dir();
  ASSERT_GT(server, 0);
  // Let the sleeper reach the namespace (nsenter's exec), bounded.
  for (int i = 0; i < 200; ++i) {
    CommandResult pids = RunCommand({"ip", "netns", "pids", net_.client_netns()});
    if (pids.out.find(std::to_string(*left)) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  auto start = Clock::now();
  net_.Stop();
  std::printf(
      "test internet stopped in %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));
  EXPECT_FALSE(net_.running());
  EXPECT_FALSE(std::filesystem::exists(net_.client_netns_path()));
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + net_.internet_netns()));
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(kill(server, 0) == 0) << "the server process is still there";
  auto sleeper_status = os::WaitForExit(*left);
  ASSERT_TRUE(sleeper_status);
  EXPECT_EQ(sleeper_status->signal, SIGKILL);
  net_.Stop();  // twice is harmless

  // A crashed run's leftovers under the same names do not stop the next Start().
  ASSERT_EQ(RunCommand({"ip", "netns", "add", net_.client_netns()}).status, 0);
  const std::filesystem::path stale_dir =
      std::filesystem::temp_directory_path() /
      ("mvm-test-internet-" + std::to_string(getpid()) + "-old");
  std::filesystem::create_directories(stale_dir / "servers");
  auto again = net_.Start();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(std::filesystem::exists(stale_dir));
  EXPECT_EQ(Curl({"http://other.test/"}).status, 0);
}

}  // namespace
}  // namespace mvm::testing
