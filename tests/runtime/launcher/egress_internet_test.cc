// End to end against the tests' own internet (tests/support/test_internet.h): mvmctl runs in the
// test internet's client namespace, so the sandbox's egress helper resolves through the test DNS
// server and connects to the test servers, and these tests see on the servers' side exactly what
// arrived. No address outside the test namespaces is ever a target.
//
// Both backends run the allowed-HTTPS, denial, rebinding/metadata and UDP/DNS/ICMP cases
// (EgressInternet, parameterised: on qemu-microvm the guest's NIC leads to a tap in a namespace
// of its own where only the proxy and resolver answer). The audit-chain case and the cases of
// ordinary clients (curl, git and Node; pip and Python's requests, which the templates lack, so
// the host's are mounted in) run on the container only (EgressInternetContainer): the records and
// the proxy are the egress helper's, the same code on both backends, and each microVM case costs
// a boot of TCG emulation.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/audit_records.h"
#include "tests/support/backend_state.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/test_internet.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::CommandResult;
using mvm::testing::TestInternet;
using ::testing::HasSubstr;
using ::testing::Not;

// The workloads, written next to the test CA so that a volume can carry it into the sandbox.
constexpr const char* kWorkloads = R"py(from mvm import workload, entrypoint, NetworkPolicy, Volume

POLICY = (NetworkPolicy.deny_by_default()
          .allow_https("allowed.test", "*.allowed.test", "*.rebind.test", "meta.test")
          .allow_http("allowed.test", "meta.test")
          .allow_dns())
CA = [Volume.local("./ca", "/ca", mode="ro")]
ENV = {"SSL_CERT_FILE": "/ca/ca.pem"}


@workload("py", image="template:python-3.11", isolation="container", timeout_seconds=60,
          network=POLICY, volumes=CA, env=ENV)
class Py:
    @entrypoint(command=["python3", "-c", "import sys; exec(sys.argv[1])"])
    def script(self): ...


@workload("sh", image="template:busybox", isolation="container", timeout_seconds=60,
          network=POLICY, volumes=CA, env=ENV)
class Sh:
    @entrypoint(command=["sh", "-c", 'eval "$1"', "sh"])
    def script(self): ...


# The host's own curl, git and node (Debian 12 like the template), with their libraries: clients the
# templates do not carry, run unchanged.
@workload("tools", image="template:python-3.11", isolation="container", timeout_seconds=60,
          network=POLICY,
          volumes=[Volume.local("./ca", "/ca", mode="ro"),
                   Volume.local("/usr/bin", "/host/bin", mode="ro"),
                   Volume.local("/usr/lib/x86_64-linux-gnu", "/host/lib", mode="ro"),
                   Volume.local("/usr/lib/git-core", "/host/git-core", mode="ro")],
          env={"SSL_CERT_FILE": "/ca/ca.pem", "LD_LIBRARY_PATH": "/host/lib",
               "GIT_EXEC_PATH": "/host/git-core", "NODE_EXTRA_CA_CERTS": "/ca/ca.pem"})
class Tools:
    @entrypoint(command=["sh", "-c", 'eval "$1"', "sh"])
    def script(self): ...


# The host's Debian pip and the requests it vendors (`pip._vendor.requests`) on the template's
# Debian python3.11, which carries neither. PIP_CONFIG_FILE: no pip configuration of the template's
# decides where pip looks.
@workload("pip", image="template:python-3.11", isolation="container", timeout_seconds=60,
          network=POLICY,
          volumes=[Volume.local("./ca", "/ca", mode="ro"),
                   Volume.local("/usr/lib/python3/dist-packages", "/host/dist-packages",
                                mode="ro")],
          env={"PYTHONPATH": "/host/dist-packages", "PIP_CONFIG_FILE": "/dev/null"})
class Pip:
    @entrypoint(command=["sh", "-c", 'eval "$1"', "sh"])
    def script(self): ...
)py";

// The requests part of the pip test: the same GET through the proxy variables and, with a session
// that ignores the environment, through the redirect. Double quotes only: the shell passes it in
// single quotes.
constexpr const char* kRequests = R"py(
from pip._vendor import requests
print("PROXY", bool(requests.utils.get_environ_proxies("https://allowed.test/").get("https")))
for label, trust_env in (("proxied", True), ("direct", False)):
    session = requests.Session()
    session.trust_env = trust_env
    try:
        r = session.get("https://allowed.test/requests-" + label, verify="/ca/ca.pem", timeout=10)
        print("REQUESTS", label, r.status_code, r.json()["path"])
    except Exception as e:
        print("FAIL", label, type(e).__name__, e)
)py";

// Python helpers every script starts with: fetch(url) prints the answer's JSON or the error's
// class; direct() drops the proxy variables so connections go where they are dialled.
constexpr const char* kPrelude = R"py(import json, os, socket, ssl, sys, urllib.request
def fetch(url, headers=None):
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as r:
            print("OK", r.read().decode())
    except Exception as e:
        print("FAIL", type(e).__name__, e)
def direct():
    for k in list(os.environ):
        if k.lower().endswith("_proxy"):
            del os.environ[k]
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({})))
)py";

/// The backends these tests run on, as `--backend` names them.
constexpr const char* kContainer = "container";
constexpr const char* kMicrovm = "qemu-microvm";

class EgressInternetBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto missing = TestInternet::MissingPrerequisite()) {
      missing_ = *missing;
      return;
    }
    net_ = new TestInternet();
    auto started = net_->Start();
    if (!started) {
      missing_ = "the test internet did not start: " + started.error().message;
      return;
    }
    dir_ = fs::temp_directory_path() / ("mvm-egress-internet-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "ca");
    fs::copy_file(net_->ca_cert(), dir_ / "ca" / "ca.pem");
    fs::permissions(dir_ / "ca" / "ca.pem",
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    std::ofstream(dir_ / "egress_internet.py") << kWorkloads;
  }

  static void TearDownTestSuite() {
    delete net_;
    net_ = nullptr;
    fs::remove_all(dir_);
  }

  /// `backend`: which backend the test's sandboxes run on.
  void SetUpOn(const std::string& backend) {
    if (!missing_.empty()) {
      MVM_MISSING_PREREQUISITE() << missing_;
    }
    backend_ = backend;
    auto state = mvm::testing::BackendTestState(backend_);
    ASSERT_TRUE(state) << state.error().message;
    state_ = *state;
    net_->ClearLogs();
  }

  /// mvmctl ARGS in the client namespace, with the backend's state directory.
  static CommandResult Mvmctl(std::vector<std::string> args) {
    return net_->Run(mvm::testing::MvmctlArgv(std::move(args), state_), std::nullopt,
                     std::chrono::seconds(backend_ == kMicrovm ? 300 : 120));
  }

  /// Runs `script` in workload `workload` ("py": Python after kPrelude; "sh": busybox sh) in a
  /// sandbox named `name`, on the test's backend.
  static CommandResult Script(const std::string& workload, const std::string& name,
                              const std::string& script) {
    return Mvmctl({"run", (dir_ / "egress_internet.py").string(), "--workload", workload, "--name",
                   name, "--backend", backend_, "--",
                   workload == "py" ? std::string(kPrelude) + script : script});
  }

  static std::string Name(const std::string& prefix) {
    return prefix + "-" + std::to_string(::getpid());
  }

  static std::vector<nlohmann::json> Audit(const std::string& name, const std::string& event) {
    return mvm::testing::AuditRecords(state_, name, event);
  }

  static std::string Reasons(const std::string& name, const std::string& event) {
    std::string out;
    for (const nlohmann::json& r : Audit(name, event)) {
      out += r.value("reason", "") + "\n";
    }
    return out;
  }

  static inline TestInternet* net_ = nullptr;
  static inline std::string missing_;
  static inline fs::path dir_;
  static inline std::string backend_ = kContainer;
  static inline fs::path state_;
};

/// The cases both backends run; the parameter is the backend.
class EgressInternet : public EgressInternetBase,
                       public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override { SetUpOn(GetParam()); }
};

/// The cases only the container runs (see the top of this file).
class EgressInternetContainer : public EgressInternetBase {
 protected:
  void SetUp() override { SetUpOn(kContainer); }
};

/// The cases only a microVM has.
class EgressInternetMicrovm : public EgressInternetBase {
 protected:
  void SetUp() override { SetUpOn(kMicrovm); }
};

TEST_P(EgressInternet, AnAllowedHttpsHostAnswersThroughTheRedirectAndThroughTheProxyVariables) {
  const std::string name = Name("egress-https");
  CommandResult r = Script("py", name,
                           "fetch('https://allowed.test/via-proxy-env')\n"
                           "direct()\n"
                           "fetch('https://api.allowed.test/via-redirect')\n");
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\"path\": \"/via-proxy-env\"")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\"path\": \"/via-redirect\"")) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("FAIL"))) << r.Describe();
  // Both arrived at allowed.test's server, by TLS with the name as SNI, end to end (the proxy did
  // not terminate TLS: the sandbox verified the server's certificate against the test CA).
  std::vector<std::string> snis;
  for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
    if (e.event == "tls") {
      snis.push_back(e.sni);
    }
  }
  EXPECT_EQ(snis, (std::vector<std::string>{"allowed.test", "api.allowed.test"})) << r.Describe();
  EXPECT_THAT(Reasons(name, "allow"), HasSubstr("")) << r.Describe();
  EXPECT_FALSE(Audit(name, "allow").empty());
  EXPECT_FALSE(Audit(name, "dns-pin").empty());
  // The upstream resolver was asked: the pins are the test DNS server's answers.
  EXPECT_GE(net_->DnsQueries("api.allowed.test"), 1);
}

TEST_P(EgressInternet, OtherHostsWrongServerNamesAndRawAddressesReachNothing) {
  const std::string name = Name("egress-deny");
  CommandResult r =
      Script("py", name,
             "fetch('https://other.test/')\n"
             "direct()\n"
             "fetch('https://other.test/')\n"
             // allowed.test's address, with another server name in the ClientHello.
             "ip = socket.gethostbyname('allowed.test')\n"
             "ctx = ssl.create_default_context()\n"
             "for sni in ['other.test', None]:\n"
             "    try:\n"
             "        with socket.create_connection((ip, 443), timeout=5) as s:\n"
             "            ctx.check_hostname = sni is not None\n"
             "            ctx.verify_mode = ssl.CERT_REQUIRED if sni else ssl.CERT_NONE\n"
             "            with ctx.wrap_socket(s, server_hostname=sni) as t:\n"
             "                print('TLS UP', sni)\n"
             "    except Exception as e:\n"
             "        print('SNI REFUSED', sni, type(e).__name__)\n"
             // The allowed host by its address, and the address as the server name.
             "fetch('https://203.0.113.10/')\n"
             "fetch('http://allowed.test/', {'Host': 'other.test'})\n");
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("OK "))) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("TLS UP"))) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("SNI REFUSED other.test")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("SNI REFUSED None")) << r.Describe();
  EXPECT_TRUE(net_->ServerLog(TestInternet::kOtherAddress).empty());
  for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
    ADD_FAILURE() << "allowed.test's server saw a " << e.event << " from " << e.peer;
  }
  const std::string denied = Reasons(name, "deny");
  EXPECT_THAT(denied, HasSubstr("`other.test` is not `allowed.test`")) << denied;
  EXPECT_THAT(denied, HasSubstr("no SNI")) << denied;
  EXPECT_THAT(denied, HasSubstr("203.0.113.10:443, an address the sandbox's resolver did not"))
      << denied;
  EXPECT_THAT(denied, HasSubstr("the Host `other.test` is not `allowed.test`")) << denied;
  EXPECT_THAT(Reasons(name, "dns-reject"), HasSubstr("no rule of the policy allows this name"));
}

TEST_P(EgressInternet, RebindingAndTheMetadataServiceAreRefusedWhateverTheNameSays) {
  const std::string name = Name("egress-rebind");
  const std::string rebind = "r" + std::to_string(::getpid()) + ".rebind.test";
  CommandResult r = Script("py", name,
                           "direct()\n"
                           "fetch('https://" +
                               rebind +
                               "/first')\n"
                               "fetch('https://" +
                               rebind +
                               "/second')\n"
                               "fetch('https://meta.test/')\n"
                               "fetch('http://meta.test/latest/meta-data/')\n"
                               "fetch('http://169.254.169.254/latest/meta-data/')\n");
  EXPECT_EQ(r.status, 0) << r.Describe();
  // The first answer is public and pinned; the second (the metadata address) is refused, and the
  // sandbox's second request fails to resolve rather than reach it.
  EXPECT_THAT(r.out, HasSubstr("\"path\": \"/first\"")) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("/second\""))) << r.Describe();
  EXPECT_TRUE(net_->ServerLog(TestInternet::kMetadataAddress).empty())
      << "the metadata server was reached";
  const std::string rejected = Reasons(name, "dns-reject");
  EXPECT_THAT(rejected, HasSubstr("169.254.169.254, which is link-local")) << rejected;
  // Asked through the proxy variables too: the proxy resolves meta.test itself and refuses it.
  const std::string via_proxy = Name("egress-meta-proxy");
  r = Script("py", via_proxy, "fetch('https://meta.test/')\nfetch('http://meta.test/')\n");
  EXPECT_THAT(r.out, Not(HasSubstr("OK "))) << r.Describe();
  EXPECT_TRUE(net_->ServerLog(TestInternet::kMetadataAddress).empty());
  EXPECT_THAT(Reasons(via_proxy, "dns-reject"), HasSubstr("link-local"));
}

// Ordinary programs need no flags: curl through HTTPS_PROXY and without it, Node's fetch (which
// ignores the proxy variables, so only the redirect carries it), and git over HTTPS.
TEST_F(EgressInternetContainer, CurlGitAndNodeFetchReachAnAllowedHostWithoutFlags) {
  for (const char* tool : {"/usr/bin/curl", "/usr/bin/git", "/usr/bin/node"}) {
    if (::access(tool, X_OK) != 0) {
      MVM_MISSING_PREREQUISITE() << tool << " is not installed (bootstrap installs curl and git; "
                                 << "Node 20 is part of the machine)";
    }
  }
  const std::string name = Name("egress-tools");
  CommandResult r = Script(
      "tools", name,
      "/host/bin/curl -sS -m 10 --cacert /ca/ca.pem https://allowed.test/curl-proxied; echo; "
      "env -u HTTPS_PROXY -u https_proxy /host/bin/curl -sS -m 10 --cacert /ca/ca.pem "
      "https://allowed.test/curl-direct; echo; "
      "/host/bin/node -e 'fetch(\"https://allowed.test/node\").then(r => r.text())"
      ".then(t => console.log(t), e => console.log(\"FAIL\", e.cause || e))'; "
      "/host/bin/git -c http.sslCAInfo=/ca/ca.pem ls-remote https://allowed.test/repo.git 2>&1; "
      "true");
  EXPECT_EQ(r.status, 0) << r.Describe();
  std::vector<std::string> paths;
  for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
    if (e.event == "request") {
      EXPECT_TRUE(e.tls) << e.path;
      EXPECT_EQ(e.host, "allowed.test") << e.path;
      paths.push_back(e.path.substr(0, e.path.find('?')));
    }
  }
  EXPECT_THAT(paths, ::testing::Contains("/curl-proxied")) << r.Describe();
  EXPECT_THAT(paths, ::testing::Contains("/curl-direct")) << r.Describe();
  EXPECT_THAT(paths, ::testing::Contains("/node")) << r.Describe();
  // git asks for the refs first; the test server answers JSON, so git stops there, but the request
  // went through.
  EXPECT_THAT(paths, ::testing::Contains("/repo.git/info/refs")) << r.Describe();
}

// pip and Python's requests need no flags either (only the test CA, which a real index would not
// need): requests through HTTPS_PROXY and, ignoring it, through the redirect; pip downloads and
// installs from a package index on an allowed host, and fails against one on a host the policy
// does not allow.
TEST_F(EgressInternetContainer, PipInstallsFromAnAllowedIndexAndRequestsReachesAnAllowedHost) {
  if (::access("/usr/lib/python3/dist-packages/pip/__init__.py", R_OK) != 0) {
    MVM_MISSING_PREREQUISITE() << "Debian's pip is not installed (Debian package python3-pip)";
  }
  // Every pip call bounded and keeping nothing between calls; the index's certificate is the test
  // CA's.
  const std::string pip =
      "python3 -m pip --disable-pip-version-check --no-cache-dir --timeout 10 --retries 0 ";
  const std::string index = " --no-deps --cert /ca/ca.pem --index-url ";
  const std::string name = Name("egress-pip");
  CommandResult r =
      Script("pip", name,
             "python3 -c '" + std::string(kRequests) + "'\n" + pip + "download" + index +
                 "https://allowed.test/simple/ -d /tmp/dl mvm-test-pkg\n"
                 "echo \"download $?\"; ls /tmp/dl\n" +
                 pip + "install --root-user-action=ignore --target /tmp/t" + index +
                 "https://allowed.test/simple/ mvm-test-pkg\n"
                 "echo \"install $?\"\n"
                 "PYTHONPATH=/tmp/t python3 -c 'import mvm_test_pkg; print(\"imported\", "
                 "mvm_test_pkg.VALUE)'\n" +
                 pip + "download" + index +
                 "https://other.test/simple/ -d /tmp/other mvm-test-pkg 2>&1\n"
                 "echo \"other $?\"\n");
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("PROXY True\n")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("REQUESTS proxied 200 /requests-proxied\n")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("REQUESTS direct 200 /requests-direct\n")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("download 0\nmvm_test_pkg-1.0-py3-none-any.whl\n")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("install 0\n")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("imported mvm-test-internet\n")) << r.Describe();
  EXPECT_THAT(r.out, ::testing::ContainsRegex("other [1-9][0-9]*\n")) << r.Describe();
  std::vector<std::string> paths;
  for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
    if (e.event == "tls") {
      EXPECT_EQ(e.sni, "allowed.test");
    } else if (e.event == "request") {
      EXPECT_TRUE(e.tls) << e.path;
      EXPECT_EQ(e.host, "allowed.test") << e.path;
      paths.push_back(e.path);
    }
  }
  EXPECT_THAT(paths, ::testing::Contains("/requests-proxied")) << r.Describe();
  EXPECT_THAT(paths, ::testing::Contains("/requests-direct")) << r.Describe();
  // Twice: pip download, then pip install.
  EXPECT_EQ(std::count(paths.begin(), paths.end(), "/simple/mvm-test-pkg/"), 2) << r.Describe();
  EXPECT_EQ(std::count(paths.begin(), paths.end(), "/packages/mvm_test_pkg-1.0-py3-none-any.whl"),
            2)
      << r.Describe();
  EXPECT_TRUE(net_->ServerLog(TestInternet::kOtherAddress).empty()) << r.Describe();
  EXPECT_THAT(Reasons(name, "deny") + Reasons(name, "dns-reject"), HasSubstr("other.test"));
}

TEST_P(EgressInternet, UdpAndDnsToAnyOtherServerReachNothing) {
  const std::string name = Name("egress-udp");
  CommandResult r =
      Script("sh", name,
             // busybox nc has no -u: a DNS query to the UDP echo port is the datagram.
             "timeout 2 nslookup udp-probe.test 203.0.113.10:9999; echo \"udp $?\"; "
             "timeout 2 nslookup direct-probe.test 198.51.100.53; echo \"dns $?\"; "
             "ping -c 1 -W 2 203.0.113.10; echo \"ping $?\"");
  EXPECT_EQ(r.status, 0) << r.Describe();
  // Each probe ran (127 would be "not found") and got nothing back.
  for (const char* probe : {"udp", "dns", "ping"}) {
    EXPECT_THAT(r.out, ::testing::ContainsRegex(std::string(probe) + " [1-9][0-9]*\n"))
        << r.Describe();
    EXPECT_THAT(r.out, Not(HasSubstr(std::string(probe) + " 127"))) << r.Describe();
  }
  for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
    ADD_FAILURE() << "allowed.test's address got a " << e.event << " from " << e.peer;
  }
  EXPECT_EQ(net_->DnsQueries("direct-probe.test", ""), 0);
}

// A copy restored from a full snapshot of a VM that may reach the network gets a way out of its
// own (a fresh tap, resolver and proxy) holding the same policy: the allowed host answers the copy,
// anything else stays unreachable, and the copy's decisions are audited under its own name.
TEST_F(EgressInternetMicrovm, ARestoredCopyReachesOnlyWhatItsPlanAllowsThroughItsOwnHelper) {
  const std::string source = Name("egress-snap");
  const std::string copy = Name("egress-copy");
  CommandResult up = Mvmctl({"up", (dir_ / "egress_internet.py").string(), "--workload", "py",
                             "--name", source, "--backend", backend_, "--detach"});
  ASSERT_EQ(up.status, 0) << up.Describe();
  CommandResult snap = Mvmctl({"snapshot", source, "--full", "--label", "s1"});
  ASSERT_EQ(snap.status, 0) << snap.Describe();
  CommandResult restored = Mvmctl({"restore", source, "s1", "--as", copy});
  ASSERT_EQ(restored.status, 0) << restored.Describe();
  // The CA comes from the snapshot's copy of the read-only volume (`exec` gets no plan variables).
  CommandResult fetch =
      Mvmctl({"exec", copy, "-e", "SSL_CERT_FILE=/ca/ca.pem", "--", "python3", "-c",
              std::string(kPrelude) + "fetch('https://allowed.test/after-restore')\n"
                                      "fetch('https://other.test/')\n"});
  EXPECT_THAT(fetch.out, HasSubstr("OK ")) << fetch.Describe();
  EXPECT_THAT(fetch.out, HasSubstr("\"path\": \"/after-restore\"")) << fetch.Describe();
  EXPECT_THAT(fetch.out, HasSubstr("FAIL")) << "other.test answered the copy: " << fetch.Describe();
  EXPECT_FALSE(Audit(copy, "allow").empty()) << "the copy's own helper decided";
  (void)Mvmctl({"destroy", copy});
  (void)Mvmctl({"destroy", source});
  (void)Mvmctl({"snapshot", "rm", source, "s1"});
}

TEST_F(EgressInternetContainer, EveryDecisionIsInTheHashChainAndItVerifies) {
  const std::string name = Name("egress-audit");
  CommandResult r = Script("sh", name,
                           "wget -q -O- http://allowed.test/a; "
                           "wget -q -O- http://other.test/b 2>&1; true");
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_FALSE(Audit(name, "allow").empty());
  EXPECT_FALSE(Audit(name, "deny").empty() && Audit(name, "dns-reject").empty());
  CommandResult verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << verify.Describe();
}

// ctest runs the qemu_microvm cases under the label microvm_boot (runtime/launcher/CMakeLists.txt).
INSTANTIATE_TEST_SUITE_P(Backends, EgressInternet, ::testing::Values(kContainer, kMicrovm),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
