// Warm pools end to end on the container backend, with the real mvmctl: claims by `run` and `up`,
// refills, ownership after a claim, what does not match, the pool's own death and its plan's
// expiry. The microVM backend's pool test is in tests/runtime/qemu_microvm.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::SharedState;
using Clock = std::chrono::steady_clock;

fs::path Hello() { return fs::path(MVM_SOURCE_DIR) / "examples" / "hello.py"; }

/// A process started in the background, its output going to files; stopped (SIGTERM, which a pool
/// and `up` answer by cleaning up) if a failed test leaves it running.
struct Background {
  pid_t pid = -1;
  fs::path out;
  fs::path err;

  Background() = default;
  Background(Background&& other) noexcept
      : pid(std::exchange(other.pid, -1)), out(other.out), err(other.err) {}
  Background& operator=(Background&& other) noexcept {
    std::swap(pid, other.pid);
    out = other.out;
    err = other.err;
    return *this;
  }
  ~Background() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }

  std::string Err() const {
    std::ifstream in(err);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string Out() const {
    std::ifstream in(out);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  /// The exit status once it ends within `limit`, else -1.
  int Wait(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      int status = 0;
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
};

Background StartMvmctlLogged(std::vector<std::string> args, const std::string& tag) {
  args = mvm::testing::MvmctlArgv(std::move(args), SharedState());
  Background b;
  fs::path dir = fs::temp_directory_path();
  b.out = dir / ("mvm-pool-test-" + tag + "-" + std::to_string(::getpid()) + ".out");
  b.err = dir / ("mvm-pool-test-" + tag + "-" + std::to_string(::getpid()) + ".err");
  int out = ::open(b.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = ::open(b.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  b.pid = mvm::testing::Spawn(args, out, err, in);
  ::close(out);
  ::close(err);
  ::close(in);
  return b;
}

nlohmann::json PoolStatus(const std::string& pool) {
  Result ls = Mvmctl({"pool", "ls", "--format", "json"});
  EXPECT_EQ(ls.status, 0) << Describe(ls);
  nlohmann::json list = nlohmann::json::parse(ls.out);
  for (const nlohmann::json& p : list["pools"]) {
    if (p["name"] == pool) {
      return p;
    }
  }
  return nlohmann::json::object();
}

/// Waits until pool `pool` reports `ready` ready sandboxes (and, when given, `claimed` claims);
/// gives up early when the pool's process `process` (if given) has ended.
::testing::AssertionResult WaitReady(const std::string& pool, int ready, int claimed = -1,
                                     std::chrono::seconds limit = std::chrono::seconds(300),
                                     Background* process = nullptr) {
  auto deadline = Clock::now() + limit;
  nlohmann::json s;
  while (Clock::now() < deadline) {
    s = PoolStatus(pool);
    if (s.value("running", false) && s.value("ready", -1) == ready &&
        (claimed < 0 || s.value("claimed", -1) == claimed)) {
      return ::testing::AssertionSuccess();
    }
    if (process != nullptr && process->pid > 0) {
      int status = 0;
      if (::waitpid(process->pid, &status, WNOHANG) == process->pid) {
        process->pid = -1;
        return ::testing::AssertionFailure()
               << "pool " << pool << " ended (status " << status << "): " << process->Err();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ::testing::AssertionFailure()
         << "pool " << pool << " did not reach " << ready << " ready / " << claimed
         << " claimed; last status " << s.dump();
}

std::vector<std::string> RunningSandboxes() {
  Result ps = Mvmctl({"ps", "--format", "json"});
  EXPECT_EQ(ps.status, 0) << Describe(ps);
  std::vector<std::string> names;
  nlohmann::json list = nlohmann::json::parse(ps.out);
  for (const nlohmann::json& s : list["sandboxes"]) {
    if (s["status"] == "running") {
      names.push_back(s["name"]);
    }
  }
  return names;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// Waits until no running sandbox is named `name`.
bool WaitGone(const std::string& name, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (!Contains(RunningSandboxes(), name)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

/// The records of `event` in the shared audit log from byte `from` on. Every test of the shared
/// state appends to that one log, which grows through a run (and across runs of a kept build
/// directory): parsed whole, 6.8 MB of it took 2 s under ASan, and the direct-claim test reads it
/// 24 times. The log only grows, so a test's own records are all after its start.
std::vector<nlohmann::json> AuditEventsFrom(const std::string& event, std::uintmax_t from) {
  std::ifstream in(SharedState() / "audit.jsonl");
  std::vector<nlohmann::json> out;
  if (from > 0) {
    // A record being appended at the test's start may have been cut there: start at the next line.
    in.seekg(static_cast<std::streamoff>(from - 1));
    if (in.get() != '\n') {
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
  }
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["event"] == event) {
      out.push_back(j);
    }
  }
  return out;
}

/// What a process of the same user can do without mvmctl: send `request` to pool `pool`'s socket
/// and read the answer.
nlohmann::json RawRequest(const std::string& pool, const nlohmann::json& request) {
  fs::path path = SharedState() / "pools" / (pool + ".sock");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    ADD_FAILURE() << "cannot connect to " << path;
    return nlohmann::json::object();
  }
  std::string line = request.dump() + "\n";
  EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  std::string answer;
  char buf[4096];
  ssize_t n;
  while (answer.find('\n') == std::string::npos && (n = ::read(fd, buf, sizeof buf)) > 0) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return nlohmann::json::parse(answer, nullptr, false);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class PoolE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    audit_from_ = fs::file_size(SharedState() / "audit.jsonl", ec);
    if (ec) {
      audit_from_ = 0;
    }
    pool_ = "pool-" + std::to_string(::getpid());
    process_ = StartMvmctlLogged(
        {"pool", "start", Hello().string(), "--name", pool_, "--size", "1"}, "pool");
    ASSERT_TRUE(WaitReady(pool_, 1, -1, std::chrono::seconds(300), &process_)) << process_.Err();
  }
  void TearDown() override {
    if (process_.pid > 0) {
      Result stop = Mvmctl({"pool", "stop", pool_});
      EXPECT_EQ(stop.status, 0) << Describe(stop);
      EXPECT_EQ(process_.Wait(std::chrono::seconds(60)), 0) << process_.Err();
    }
    // Nothing of the pool is left: no record, no unclaimed sandbox.
    EXPECT_FALSE(fs::exists(SharedState() / "pools" / (pool_ + ".json")));
    Result ps = Mvmctl({"ps", "--format", "json"});
    nlohmann::json list = nlohmann::json::parse(ps.out);
    for (const nlohmann::json& sandbox : list["sandboxes"]) {
      EXPECT_NE(sandbox.value("pool", ""), pool_) << sandbox.dump() << " outlived the pool";
    }
    fs::remove(process_.out);
    fs::remove(process_.err);
  }

  std::string ReadyName() {
    nlohmann::json s = PoolStatus(pool_);
    return s["sandboxes"].empty() ? "" : s["sandboxes"][0].get<std::string>();
  }

  /// The records of `event` this test's pool and claims wrote (and any a test beside it did).
  std::vector<nlohmann::json> AuditEvents(const std::string& event) const {
    return AuditEventsFrom(event, audit_from_);
  }

  std::string pool_;
  Background process_;
  std::uintmax_t audit_from_ = 0;
};

TEST_F(PoolE2E, RunClaimsAReadySandboxAndThePoolRefills) {
  std::string pooled = ReadyName();
  ASSERT_FALSE(pooled.empty());
  Result run = Mvmctl({"run", "-v", Hello().string()});
  ASSERT_EQ(run.status, 0) << Describe(run);
  // The workload ran in the sandbox the pool had booted: it reports that sandbox's hostname.
  EXPECT_NE(run.out.find("hello from mvm"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("on " + pooled), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("claimed a ready sandbox from pool `" + pool_ + "`"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("\"pool\":\"" + pool_ + "\""), std::string::npos) << run.err;
  EXPECT_FALSE(Contains(RunningSandboxes(), pooled)) << "run destroys what it claimed";
  ASSERT_TRUE(WaitReady(pool_, 1, 1)) << process_.Err();
  EXPECT_NE(ReadyName(), pooled);

  // Exactly one record of the claim, the pool's, naming the claimer and its plan.
  auto claims = AuditEvents("claim");
  ASSERT_EQ(std::count_if(claims.begin(), claims.end(),
                          [&](const nlohmann::json& c) { return c["pooled_as"] == pooled; }),
            1);
  EXPECT_EQ(claims.back()["pool"], pool_);
  EXPECT_EQ(claims.back()["pooled_as"], pooled);
  EXPECT_EQ(claims.back()["workload"], "hello");
  EXPECT_GT(claims.back().value("claimer_pid", 0), 0);
  EXPECT_EQ(claims.back()["payload_digest"], AuditEvents("admit").back()["payload_digest"])
      << "the plan the claimer's run admitted";
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);

  // --no-pool boots a new one and leaves the pool alone.
  Result cold = Mvmctl({"run", "-v", "--no-pool", Hello().string()});
  ASSERT_EQ(cold.status, 0) << Describe(cold);
  EXPECT_EQ(cold.err.find("claimed"), std::string::npos) << cold.err;
  EXPECT_TRUE(WaitReady(pool_, 1, 1, std::chrono::seconds(5)));
}

TEST_F(PoolE2E, UpRenamesTheClaimedSandboxAndItsClaimerOwnsIt) {
  std::string pooled = ReadyName();
  std::string name = "claimed-" + std::to_string(::getpid());
  Background up = StartMvmctlLogged({"up", Hello().string(), "--name", name}, "up");
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (up.Out().find("is up") == std::string::npos && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(up.Out().find("sandbox " + name + " is up"), std::string::npos) << up.Err();
  auto running = RunningSandboxes();
  EXPECT_TRUE(Contains(running, name));
  EXPECT_FALSE(Contains(running, pooled)) << "the pooled name was given up";
  Result host = Mvmctl({"exec", name, "--", "hostname"});
  ASSERT_EQ(host.status, 0) << Describe(host);
  EXPECT_EQ(host.out, pooled + "\n") << "a claimed sandbox keeps the hostname it booted with";
  Result record = Mvmctl({"ps", "--format", "json"});
  EXPECT_NE(record.out.find("\"" + name + "\""), std::string::npos);

  // A snapshot of a claimed sandbox restores: it kept the claimer's plan, the one admitted last for
  // its workload (the pool's, of an older epoch, would be refused as replayed), and the project
  // files (the declaring file among them) a function-form workload needs.
  Result wrote = Mvmctl({"exec", name, "--", "sh", "-c", "echo claimed > /tmp/c"});
  ASSERT_EQ(wrote.status, 0) << Describe(wrote);
  Result snapshot = Mvmctl({"snapshot", name, "--label", "claimed"});
  ASSERT_EQ(snapshot.status, 0) << Describe(snapshot);
  const std::string copy = name + "-copy";
  Result restored = Mvmctl({"restore", name, "claimed", "--as", copy, "--no-pool"});
  EXPECT_EQ(restored.status, 0) << Describe(restored);
  Result seen = Mvmctl({"exec", copy, "--", "sh", "-c", "cat /tmp/c; ls /app"});
  EXPECT_EQ(seen.out.rfind("claimed\n", 0), 0u) << Describe(seen);
  EXPECT_NE(seen.out.find("\nhello.py\n"), std::string::npos) << Describe(seen);
  (void)Mvmctl({"destroy", copy});
  fs::remove_all(SharedState() / "snapshots" / name);

  // The claimer's death ends the sandbox (its watchdog), and the pool is unaffected.
  ASSERT_EQ(::kill(up.pid, SIGKILL), 0);
  EXPECT_EQ(up.Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  EXPECT_TRUE(WaitGone(name, std::chrono::seconds(15)));
  EXPECT_TRUE(WaitReady(pool_, 1, 1));
  fs::remove(up.out);
  fs::remove(up.err);
}

// A process of the same user reaching the pool's socket directly, without admission: each claim is
// refused and audited as such by the pool, and the pooled sandbox stays where it was.
TEST_F(PoolE2E, ADirectClaimWithoutAnAdmittedPlanIsRefusedAndAudited) {
  std::string pooled = ReadyName();
  ASSERT_FALSE(pooled.empty());
  fs::path dir = fs::temp_directory_path() / ("mvm-pool-attack-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Plans signed with the key the pool trusts (the local dev key). Epochs only grow: the valid
  // plan must be newer than anything admitted for `hello` so far, so that admitting it works.
  std::string mvmctl = MVM_MVMCTL_PATH;
  std::string sign = " --profile dev --sign " + (SharedState() / "keys" / "dev.key").string();
  nlohmann::json last = nlohmann::json::parse(ReadFile(SharedState() / "replay" / "hello.json"));
  uint32_t epoch =
      std::max<uint32_t>(last["epoch"].get<uint32_t>() + 1, static_cast<uint32_t>(::time(nullptr)));
  auto compile = [&](const fs::path& source, const std::string& extra, const std::string& out) {
    std::string command = mvmctl + " compile " + source.string() + sign + extra + " -o " +
                          (dir / out).string() + " >/dev/null 2>&1";
    return std::system(command.c_str());
  };
  ASSERT_EQ(compile(Hello(), " --epoch " + std::to_string(epoch), "valid"), 0);
  ASSERT_EQ(compile(Hello(), " --expires-in 1s", "expiring"), 0);
  auto compiled = Clock::now();
  ASSERT_EQ(compile(Hello().parent_path() / "timeout.py", "", "other"), 0);
  std::string valid = ReadFile(dir / "valid" / "hello.plan.json");
  std::string other = ReadFile(dir / "other" / "sleepy.plan.json");
  ASSERT_FALSE(valid.empty());
  ASSERT_FALSE(other.empty());
  std::string tampered = valid;
  size_t payload = tampered.find("\"payload\":\"") + 12;
  tampered[payload + 40] = tampered[payload + 40] == 'A' ? 'B' : 'A';
  // The plan carries the project files; a claim names no host files besides.
  nlohmann::json app_files = nlohmann::json::array();

  int attacks = 0;
  auto attack = [&](const std::string& what, nlohmann::json request, const std::string& reason) {
    // Each attack on its own: a full pool and a fresh name.
    ASSERT_TRUE(WaitReady(pool_, 1, -1, std::chrono::seconds(60))) << what;
    std::string stolen = "stolen-" + std::to_string(++attacks) + "-" + std::to_string(::getpid());
    request["op"] = "claim";
    request["name"] = stolen;
    size_t refusals = AuditEvents("refuse").size();
    size_t claims = AuditEvents("claim").size();
    nlohmann::json reply = RawRequest(pool_, request);
    if (Contains(RunningSandboxes(), stolen)) {
      ADD_FAILURE() << what << ": claimed as " << stolen;
      Mvmctl({"destroy", stolen});
    }
    EXPECT_EQ(reply.value("ok", true), false) << what << ": " << reply.dump();
    EXPECT_EQ(reply.value("refused", false), true) << what << ": " << reply.dump();
    auto refused = AuditEvents("refuse");
    EXPECT_EQ(refused.size(), refusals + 1) << what << ": the refusal is audited";
    if (refused.size() == refusals + 1) {
      EXPECT_EQ(refused.back()["stage"], "claim") << what;
      EXPECT_EQ(refused.back()["reason"], reason) << what << ": " << refused.back().dump();
      // This process wrote no audit record, so the pool did, from the socket's peer credentials.
      EXPECT_EQ(refused.back()["claimer_pid"], ::getpid()) << what;
    }
    EXPECT_EQ(AuditEvents("claim").size(), claims) << what;
    EXPECT_EQ(ReadyName(), pooled) << what << ": the pooled sandbox stays in the pool";
  };
  attack("no plan", {{"detached", true}}, "no-plan");
  attack("another workload's plan", {{"plan", other}, {"app_files", app_files}}, "key-mismatch");
  attack("a tampered plan", {{"plan", tampered}, {"app_files", app_files}}, "bad-signature");
  attack("a plan never admitted", {{"plan", valid}, {"app_files", app_files}}, "not-admitted");
  // Admitted now (the run itself may fail: a plan file does not bring hello.py along), but the
  // attacker does not hold the lock of the name it wants.
  Result admit = Mvmctl({"run", "--no-pool", (dir / "valid" / "hello.plan.json").string()});
  ASSERT_EQ(admit.err.find("refused"), std::string::npos) << Describe(admit);
  attack("a claim without the name's lock", {{"plan", valid}, {"app_files", app_files}},
         "lock-not-held");
  std::this_thread::sleep_until(compiled + std::chrono::seconds(2));
  attack("an expired plan",
         {{"plan", ReadFile(dir / "expiring" / "hello.plan.json")}, {"app_files", app_files}},
         "expired");
  EXPECT_TRUE(WaitReady(pool_, 1, 0, std::chrono::seconds(5)));
  fs::remove_all(dir);
}

TEST_F(PoolE2E, AChangedFileIsNotClaimed) {
  // Same workload id and options, different declaring file: the pooled sandbox holds the old one.
  fs::path dir = fs::temp_directory_path() / ("mvm-pool-changed-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(Hello(), dir / "hello.py", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "hello.py", std::ios::app) << "\n# changed\n";
  Result run = Mvmctl({"run", "-v", (dir / "hello.py").string()});
  ASSERT_EQ(run.status, 0) << Describe(run);
  EXPECT_EQ(run.err.find("claimed a ready sandbox"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("a pool holds workload `hello` but for another plan, files or volumes"),
            std::string::npos)
      << run.err;
  EXPECT_TRUE(WaitReady(pool_, 1, 0, std::chrono::seconds(5)));
  fs::remove_all(dir);
}

TEST(PoolLifetimeE2E, KillingThePoolRemovesUnclaimedSandboxesButNotClaimedOnes) {
  std::string pool = "pool-kill-" + std::to_string(::getpid());
  Background process =
      StartMvmctlLogged({"pool", "start", Hello().string(), "--name", pool, "--size", "2"}, "kill");
  ASSERT_TRUE(WaitReady(pool, 2, -1, std::chrono::seconds(300), &process)) << process.Err();
  std::string kept = "kept-" + std::to_string(::getpid());
  Result up = Mvmctl({"up", Hello().string(), "--name", kept, "--detach"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  ASSERT_TRUE(WaitReady(pool, 2, 1)) << process.Err();
  std::vector<std::string> pooled = PoolStatus(pool)["sandboxes"];
  ASSERT_EQ(pooled.size(), 2u);

  ASSERT_EQ(::kill(process.pid, SIGKILL), 0);
  EXPECT_EQ(process.Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  for (const std::string& name : pooled) {
    EXPECT_TRUE(WaitGone(name, std::chrono::seconds(15))) << name;
  }
  Result exec = Mvmctl({"exec", kept, "--", "true"});
  EXPECT_EQ(exec.status, 0) << "a detached claim outlives the pool: " << Describe(exec);
  EXPECT_FALSE(PoolStatus(pool).value("running", true));
  Result stop = Mvmctl({"pool", "stop", pool});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_FALSE(fs::exists(SharedState() / "pools" / (pool + ".json")));
  Result destroy = Mvmctl({"destroy", kept});
  EXPECT_EQ(destroy.status, 0) << Describe(destroy);
  fs::remove(process.out);
  fs::remove(process.err);
}

TEST(PoolLifetimeE2E, ThePoolEndsWhenItsPlanExpires) {
  fs::path dir = fs::temp_directory_path() / ("mvm-pool-expiry-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // key and compile take no --state-dir, which Mvmctl() adds. The plan must stay valid while the
  // pool starts (slow on a loaded machine) and expire soon after.
  // A workload of its own (plans' epochs are their signing times, and another plan of a shared
  // workload signed in the same second would make this one a replay), on the busybox template so
  // that the pool boots long before the plan expires even when no template is built yet.
  fs::path source = dir / "expiring.py";
  std::ofstream(source) << "from mvm import entrypoint, workload\n\n\n"
                           "@workload(\"pool-expiry\", image=\"template:busybox\", "
                           "isolation=\"container\", timeout_seconds=20)\n"
                           "class Expiring:\n"
                           "    @entrypoint(command=[\"true\"])\n"
                           "    def main(self): ...\n";
  std::string mvmctl = MVM_MVMCTL_PATH;
  ASSERT_EQ(std::system((mvmctl + " key gen --out " + dir.string() + " >/dev/null 2>&1").c_str()),
            0);
  ASSERT_EQ(std::system((mvmctl + " compile " + source.string() + " --profile dev --sign " +
                         (dir / "mvm.key").string() + " --expires-in 10s -o " +
                         (dir / "out").string() + " >/dev/null 2>&1")
                            .c_str()),
            0);
  // The plan expires at most 10 s after the compile returned (expiry counts whole seconds).
  auto compiled = Clock::now();
  fs::path plan = dir / "out" / "pool-expiry.plan.json";
  std::string pool = "pool-exp-" + std::to_string(::getpid());
  Background process = StartMvmctlLogged(
      {"pool", "start", plan.string(), "--trust", (dir / "mvm.pub").string(), "--name", pool},
      "expiry");
  ASSERT_TRUE(WaitReady(pool, 1, -1, std::chrono::seconds(300), &process)) << process.Err();
  std::string pooled = PoolStatus(pool)["sandboxes"][0];
  std::this_thread::sleep_until(compiled + std::chrono::seconds(12));
  // The pool replaces a sandbox that ended, re-verifying the plan first, which has now expired.
  Result destroy = Mvmctl({"destroy", pooled});
  ASSERT_EQ(destroy.status, 0) << Describe(destroy);
  EXPECT_EQ(process.Wait(std::chrono::seconds(30)), 1) << process.Err();
  EXPECT_NE(process.Err().find("the plan no longer verifies"), std::string::npos) << process.Err();
  EXPECT_FALSE(fs::exists(SharedState() / "pools" / (pool + ".json")));
  fs::remove_all(dir);
  fs::remove(process.out);
  fs::remove(process.err);
}

}  // namespace

// `pool start --detach` returns once the pool listens; the pool runs on as a supervised helper
// (this executable again, in a session of its own, logging to a file) until `pool stop`.
TEST(PoolLifetimeE2E, ADetachedPoolRunsAsAHelperUntilStopped) {
  std::string pool = "pool-bg-" + std::to_string(::getpid());
  Result start =
      Mvmctl({"pool", "start", Hello().string(), "--name", pool, "--detach", "--format", "json"});
  ASSERT_EQ(start.status, 0) << Describe(start);
  nlohmann::json started = nlohmann::json::parse(start.out, nullptr, false);
  ASSERT_TRUE(started.is_object()) << start.out;
  EXPECT_EQ(started.value("name", ""), pool);
  const pid_t pid = started.value("pid", 0);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::getsid(pid), pid) << "the daemon leads a session of its own";
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string argv((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  EXPECT_NE(argv.find(std::string("--mvm-helper\0pool", 17)), std::string::npos) << argv;
  EXPECT_TRUE(WaitReady(pool, 1));

  Result stop = Mvmctl({"pool", "stop", pool});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_FALSE(fs::exists(SharedState() / "pools" / (pool + ".json")));
  // Gone once init has reaped it (it is not this process's child).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (::kill(pid, 0) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(::kill(pid, 0), 0) << "the daemon is gone";
  fs::path log = SharedState() / "pools" / (pool + ".log");
  EXPECT_NE(ReadFile(log).find("stopped"), std::string::npos) << ReadFile(log);
  fs::remove(log);
}
