// End to end: a sandbox whose plan allows egress, against what must stay unreachable. The real
// mvmctl, the real egress helper and the sandbox's real network namespace (its route, its
// redirect, the proxy's and resolver's sockets). These need no internet: every decision here is a
// refusal made before anything leaves the host. What an allowed name reaches is proven against the
// tests' own internet (egress_internet_test.cc).

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/audit_records.h"
#include "tests/support/host_listener.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using mvm::testing::SharedState;
using ::testing::HasSubstr;
using ::testing::Not;

const fs::path kFixture = fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "egress.py";

/// Runs `script` in the egress workload, in a sandbox named `name`.
Result Script(const std::string& name, const std::string& script,
              const std::string& workload = "egress") {
  return mvm::testing::Mvmctl(
      {"run", kFixture.string(), "--workload", workload, "--name", name, "--", script}, "",
      SharedState());
}

std::vector<nlohmann::json> Audit(const std::string& name, const std::string& event) {
  return mvm::testing::AuditRecords(SharedState(), name, event);
}

std::string Name(const std::string& prefix) { return prefix + "-" + std::to_string(::getpid()); }

// Unset proxies: the connection goes where the program dials, and the redirect takes it.
// $P keeps the proxy's address for a later `export http_proxy=$P`.
constexpr const char* kDirect =
    "P=$HTTP_PROXY; unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY; ";

TEST(EgressE2E, ARawAddressIsRefusedWhetherDialledOrAskedOfTheProxyAndEachRefusalIsAudited) {
  const std::string name = Name("egress-raw");
  Result r = Script(name, std::string(kDirect) +
                              "wget -q -O- http://203.0.113.9/ 2>&1; echo \"direct $?\"; "
                              "export http_proxy=$P; "
                              "wget -q -O- http://203.0.113.9/ 2>&1; echo \"proxied $?\"; "
                              "nc 203.0.113.9 22 </dev/null; echo \"port22 $?\"");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("403 Forbidden")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("direct 1")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("proxied 1")) << Describe(r);
  std::vector<nlohmann::json> denied = Audit(name, "deny");
  ASSERT_GE(denied.size(), 2u) << Describe(r);
  std::string reasons;
  for (const nlohmann::json& d : denied) {
    reasons += d.value("reason", "") + "\n";
  }
  EXPECT_THAT(reasons, HasSubstr("203.0.113.9:80, an address the sandbox's resolver did not"));
  EXPECT_THAT(reasons, HasSubstr("`203.0.113.9` is not a DNS name"));
  EXPECT_THAT(reasons, HasSubstr("203.0.113.9:22"));
}

TEST(EgressE2E, OnlyAllowedNamesResolveAndNoOtherResolverIsReachable) {
  const std::string name = Name("egress-dns");
  Result r = Script(name,
                    "nslookup other.test 2>&1; echo \"other $?\"; "
                    "timeout 2 nslookup allowed.test 203.0.113.53 2>&1; echo \"elsewhere $?\"; "
                    "grep nameserver /etc/resolv.conf");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("NXDOMAIN")) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("elsewhere 0"))) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("nameserver 127.0.0.53")) << Describe(r);
  std::vector<nlohmann::json> rejected = Audit(name, "dns-reject");
  ASSERT_FALSE(rejected.empty()) << Describe(r);
  EXPECT_EQ(rejected[0].value("name", ""), "other.test");
}

TEST(EgressE2E, WithoutAllowDnsTheSandboxHasNoResolverButItsProxyStillChecksNames) {
  const std::string name = Name("egress-nodns");
  Result r = Script(name,
                    "timeout 2 nslookup allowed.test 2>&1; echo \"lookup $?\"; "
                    "export http_proxy=$HTTP_PROXY; wget -q -O- http://other.test/ 2>&1; echo x",
                    "egress-no-dns");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("lookup 0"))) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("403 Forbidden")) << Describe(r);
  EXPECT_TRUE(Audit(name, "dns-reject").empty());
}

TEST(EgressE2E, Ipv6AndTheHostsLoopbackStayUnreachable) {
  mvm::testing::HostLoopbackListener listener;
  ASSERT_NE(listener.port(), 0);
  const std::string port = std::to_string(listener.port());
  const std::string name = Name("egress-local");
  Result r = Script(name, std::string(kDirect) + "nc 127.0.0.1 " + port +
                              " </dev/null 2>&1; echo \"loopback $?\"; "
                              "wget -q -O- 'http://[2001:db8::1]/' 2>&1; echo \"v6 $?\"; "
                              "ip -6 route 2>&1 | grep -c default; "
                              "ip route | grep default");
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("loopback 1")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("v6 1")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("default dev lo")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("\n0\n")) << Describe(r);  // no IPv6 default route
  EXPECT_FALSE(listener.Reached()) << "the host's listener saw a connection";
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The helper parses what the sandbox sends: it runs with no capabilities, no_new_privs, in a pid
// namespace of its own and with every mount read-only but the state directory.
TEST(EgressE2E, TheEgressHelperIsConfinedAndItsPolicyAndRefusalsAreShown) {
  const std::string name = Name("egress-confined");
  (void)mvm::testing::Mvmctl({"destroy", name}, "", SharedState());
  Result up = mvm::testing::Mvmctl(
      {"up", kFixture.string(), "--workload", "egress", "--name", name, "--detach"}, "",
      SharedState());
  ASSERT_EQ(up.status, 0) << Describe(up);
  nlohmann::json record =
      nlohmann::json::parse(ReadText(SharedState() / "sandboxes" / name / "sandbox.json"));
  pid_t helper = 0;
  for (const nlohmann::json& h : record["helpers"]) {
    if (h["role"] == "egress") {
      helper = h["pid"].get<pid_t>();
    }
  }
  ASSERT_GT(helper, 0) << record.dump();
  const fs::path proc = fs::path("/proc") / std::to_string(helper);
  const std::string status = ReadText(proc / "status");
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000")) << status;
  EXPECT_THAT(status, HasSubstr("CapBnd:\t0000000000000000")) << status;
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1")) << status;
  EXPECT_THAT(status, ::testing::ContainsRegex("NSpid:\t[0-9]+\t1\n")) << status;
  const std::string mounts = ReadText(proc / "mountinfo");
  EXPECT_THAT(mounts, ::testing::ContainsRegex("^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ro,")) << mounts;
  EXPECT_NE(fs::read_symlink(proc / "ns" / "mnt"), fs::read_symlink("/proc/self/ns/mnt"));
  // What the user sees of it: the policy in force (`ps -v`, `ps --format json`) and, after the
  // sandbox's output, what the policy refused it (`logs`, on stderr).
  Result refused = mvm::testing::Mvmctl(
      {"exec", name, "--", "sh", "-c", "wget -q -O- http://203.0.113.9/ 2>&1; true"}, "",
      SharedState());
  EXPECT_THAT(refused.out, HasSubstr("403 Forbidden")) << Describe(refused);
  Result ps = mvm::testing::Mvmctl({"ps", "-v"}, "", SharedState());
  EXPECT_THAT(ps.out, HasSubstr("network: https *.allowed.test")) << Describe(ps);
  EXPECT_THAT(ps.out, HasSubstr("helper: egress (pid " + std::to_string(helper) + ")"))
      << Describe(ps);
  Result json = mvm::testing::Mvmctl({"ps", "--format", "json"}, "", SharedState());
  EXPECT_THAT(json.out, HasSubstr("\"proxy\":\"http://127.0.0.1:15001\"")) << Describe(json);
  Result logs = mvm::testing::Mvmctl({"logs", name}, "", SharedState());
  EXPECT_EQ(logs.status, 0) << Describe(logs);
  EXPECT_THAT(logs.err, HasSubstr("egress: ")) << Describe(logs);
  EXPECT_THAT(logs.err, HasSubstr("denied port 80: `203.0.113.9` is not a DNS name"))
      << Describe(logs);
  Result destroy = mvm::testing::Mvmctl({"destroy", name}, "", SharedState());
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  // Gone, or a zombie its new parent has yet to reap (bounded wait).
  auto gone = [&] {
    const std::string stat = ReadText(proc / "stat");
    const size_t paren = stat.rfind(')');
    return stat.empty() || (paren != std::string::npos && paren + 2 < stat.size() &&
                            (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'));
  };
  for (int i = 0; i < 250 && !gone(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone()) << "the egress helper outlived its sandbox";
}

// The microVM: the guest's root owns its kernel, its routes and its NIC, so the boundary is the
// tap's namespace on the host side (docs/architecture/microvm-egress.md). From the guest, a
// listener on every address of the host's namespace (its loopback and its other addresses) is
// reached by nothing: TCP to the gateway's other ports and to the host's own address ends at the
// proxy, which refuses it as an address its resolver did not hand out; UDP and IPv6 go nowhere.
// One boot of TCG emulation: labelled microvm_boot (runtime/launcher/CMakeLists.txt).
TEST(EgressE2EMicrovm, TheGuestsRootReachesNoHostAddressAndNothingButTheProxyAndResolver) {
  const fs::path state = fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state";
  mvm::testing::UseSharedRootfsCache(state);
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_GE(udp, 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  // The host namespace's own non-loopback IPv4 addresses (none on a host without a network).
  std::string host_addresses;
  ifaddrs* list = nullptr;
  ASSERT_EQ(::getifaddrs(&list), 0);
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) {
      continue;
    }
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) {
      host_addresses += std::string(" ") + text;
    }
  }
  ::freeifaddrs(list);
  const std::string name = Name("egress-vm-root");
  // busybox's nc has no UDP mode; its nslookup sends a UDP query to ADDRESS:PORT.
  const std::string script = std::string(kDirect) + "for a in 127.0.0.1 198.19.255.253" +
                             host_addresses + "; do nc -w 3 $a " + port +
                             " </dev/null 2>&1; echo \"tcp $a $?\"; "
                             "timeout 3 nslookup probe.test $a:" +
                             port +
                             " >/dev/null 2>&1; echo \"udp $a $?\"; done; "
                             "wget -q -T 5 -O- 'http://[2001:db8::1]/' 2>&1; echo \"v6 $?\"; "
                             "ip route del default 2>&1; echo \"route $?\"";
  Result r = mvm::testing::Mvmctl({"run", kFixture.string(), "--workload", "egress", "--name", name,
                                   "--backend", "qemu-microvm", "--", script},
                                  "", state);
  EXPECT_EQ(r.status, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("tcp 127.0.0.1 1")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("v6 1")) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("udp 198.19.255.253 0"))) << Describe(r);
  // The workload holds no CAP_NET_ADMIN, so it cannot even change its routes; a guest root that
  // could (a kernel exploit) would still find only this link, as the lines above show.
  EXPECT_THAT(r.out, Not(HasSubstr("route 0"))) << Describe(r);
  ::fcntl(listener, F_SETFL, ::fcntl(listener, F_GETFL) | O_NONBLOCK);
  EXPECT_LT(::accept(listener, nullptr, nullptr), 0) << "a host listener saw a connection";
  char byte = 0;
  EXPECT_LT(::recv(udp, &byte, 1, 0), 0) << "a host UDP socket got a datagram";
  ::close(listener);
  ::close(udp);
  // What got past the guest went to the proxy, and was refused there, each audited.
  std::string reasons;
  std::ifstream in(state / "audit.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("sandbox", "") == name && j.value("event", "") == "deny") {
      reasons += j.value("reason", "") + "\n";
    }
  }
  EXPECT_THAT(reasons, HasSubstr("198.19.255.253:" + port + ", an address the sandbox's resolver"))
      << reasons;
}

// The policy comes only from the signed plan: a plan whose payload was edited to allow one more
// host no longer verifies and runs nowhere.
TEST(EgressE2E, APlanEditedToWidenItsPolicyIsRefused) {
  const fs::path dir =
      fs::temp_directory_path() / ("mvm-egress-widen-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  // A run makes the state directory's dev key if no test has yet (and shows the workload runs).
  Result first = Script(Name("egress-widen"), "true");
  ASSERT_EQ(first.status, 0) << Describe(first);
  Result compiled =
      mvm::testing::Mvmctl({"compile", kFixture.string(), "--profile", "dev", "--sign",
                            (SharedState() / "keys" / "dev.key").string(), "-o", dir.string()},
                           "", SharedState());
  ASSERT_EQ(compiled.status, 0) << Describe(compiled);
  const fs::path plan = dir / "egress.plan.json";
  std::ifstream in(plan);
  nlohmann::json envelope = nlohmann::json::parse(in);
  auto payload = mvm::plan::Base64Decode(envelope.at("payload").get<std::string>());
  ASSERT_TRUE(payload);
  nlohmann::json p = nlohmann::json::parse(*payload);
  ASSERT_TRUE(p["network"]["rules"].is_array()) << p.dump();
  p["network"]["rules"].push_back({{"host", "other.test"}, {"protocol", "https"}});
  envelope["payload"] = mvm::plan::Base64Encode(p.dump());
  const fs::path widened = dir / "widened.plan.json";
  std::ofstream(widened) << envelope.dump();
  Result run = mvm::testing::Mvmctl({"run", widened.string(), "--", "true"}, "", SharedState());
  EXPECT_EQ(run.status, 125) << Describe(run);
  EXPECT_THAT(run.err, HasSubstr("signature")) << Describe(run);
  fs::remove_all(dir);
}

}  // namespace
