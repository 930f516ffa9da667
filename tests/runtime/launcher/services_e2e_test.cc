// Services and ports end to end on the container backend (docs/services.md): `up` starts every
// `@service` and publishes its ports on the host's 127.0.0.1, a killed service comes back, `logs
// --service` shows one service's output, `ps` shows the ports, a chosen port someone holds stops
// `up` before anything starts, and `stop` ends services and ports, every step audited.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"
#include "tests/support/mvmctl.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::HttpGet;
using mvm::testing::Mvmctl;
using mvm::testing::Result;
using mvm::testing::SharedState;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "services.py";

/// Polls until `condition` holds or `limit` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

/// A port nothing listens on right now (the kernel's pick, released).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string AuditLog() {
  std::ifstream in(SharedState() / "audit.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The audit records of `event` about sandbox `name` from byte `from` of the log on (the tests of
/// one run reuse the name).
std::vector<nlohmann::json> AuditRecords(const std::string& event, const std::string& name,
                                         size_t from) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(AuditLog().substr(from));
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_object() && record.value("event", "") == event &&
        record.value("sandbox", "") == name) {
      out.push_back(record);
    }
  }
  return out;
}

class ServicesE2E : public ::testing::Test {
 protected:
  void TearDown() override {
    (void)Mvmctl({"destroy", name_ + "-r"});
    (void)Mvmctl({"destroy", name_});
  }

  nlohmann::json Ps() {
    Result ps = Mvmctl({"ps", "--format", "json"});
    EXPECT_EQ(ps.status, 0) << Describe(ps);
    const nlohmann::json list = nlohmann::json::parse(ps.out);
    for (const nlohmann::json& s : list["sandboxes"]) {
      if (s["name"] == name_) {
        return s;
      }
    }
    return nullptr;
  }

  const std::string name_ = "svc-" + std::to_string(::getpid());
};

TEST_F(ServicesE2E, UpServesRestartsLogsAndStops) {
  const int chosen = FreePort();
  Result up = Mvmctl({"up", kFixture.string(), "--workload", "web", "--name", name_, "--detach",
                      "--publish", "8080:" + std::to_string(chosen), "--format", "json"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  const nlohmann::json started = nlohmann::json::parse(up.out);
  ASSERT_EQ(started["ports"].size(), 2u) << up.out;
  EXPECT_EQ(started["ports"][0]["guest"], 8080);
  EXPECT_EQ(started["ports"][0]["host"], chosen);
  EXPECT_EQ(started["ports"][0]["address"], "127.0.0.1");
  EXPECT_EQ(started["ports"][1]["guest"], 9000);
  const int ephemeral = started["ports"][1]["host"];
  EXPECT_GT(ephemeral, 0);
  EXPECT_NE(ephemeral, 9000);
  EXPECT_EQ(started["services"].size(), 2u);

  // The service answers from inside the sandbox: the page is the sandbox's own hostname.
  std::string page;
  ASSERT_TRUE(WaitFor([&] {
    page = HttpGet(chosen, "/");
    return page.find("200 OK") != std::string::npos;
  })) << page;
  EXPECT_THAT(page, HasSubstr(name_));

  // ps shows where, in both forms.
  const nlohmann::json listed = Ps();
  ASSERT_FALSE(listed.is_null());
  EXPECT_EQ(listed["ports"], started["ports"]);
  Result table = Mvmctl({"ps", "-v"});
  EXPECT_THAT(table.out, HasSubstr("127.0.0.1:" + std::to_string(chosen) + "->8080"));
  EXPECT_THAT(table.out, HasSubstr("service: http (restart=on-failure"));

  // Killed, it is started again, and serves again.
  Result kill = Mvmctl({"exec", name_, "--", "sh", "-c", "kill -9 $(pidof httpd)"});
  ASSERT_EQ(kill.status, 0) << Describe(kill);
  std::string logs;
  ASSERT_TRUE(WaitFor([&] {
    logs = Mvmctl({"logs", name_, "--service", "http"}).out;
    return logs.find("restarted (pid") != std::string::npos;
  })) << logs;
  EXPECT_THAT(logs, HasSubstr("exited: signal 9"));
  EXPECT_THAT(logs, HasSubstr("restarting in 250 ms (restart 1 of at most 10)"));
  ASSERT_TRUE(WaitFor([&] { return HttpGet(chosen, "/").find("200 OK") != std::string::npos; }));
  // ps --format json asks the agent how each service is doing (what the SDKs read).
  const nlohmann::json after_kill = Ps();
  ASSERT_EQ(after_kill["services"].size(), 2u) << after_kill.dump();
  EXPECT_EQ(after_kill["services"][0]["name"], "http");
  EXPECT_EQ(after_kill["services"][0]["phase"], "running");
  EXPECT_EQ(after_kill["services"][0]["restarts"], 1);
  EXPECT_GT(after_kill["services"][0]["pid"].get<int>(), 0);
  EXPECT_EQ(after_kill["services"][1]["restarts"], 0);

  // One service's log holds its output only.
  Result ticker = Mvmctl({"logs", name_, "--service", "ticker"});
  EXPECT_EQ(ticker.status, 0) << Describe(ticker);
  EXPECT_THAT(ticker.out, HasSubstr("ticking"));
  EXPECT_EQ(ticker.out.find("restarting"), std::string::npos) << ticker.out;
  Result unknown = Mvmctl({"logs", name_, "--service", "nope"});
  EXPECT_NE(unknown.status, 0);
  EXPECT_THAT(unknown.err, HasSubstr("no service `nope` in this sandbox (it has: http, ticker)"));

  // A declared port with nothing behind it: the connection is closed, nothing else breaks.
  EXPECT_EQ(HttpGet(ephemeral, "/"), "");

  // Stop: services and ports end, and the audit log has the whole story.
  Result stop = Mvmctl({"stop", name_});
  ASSERT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_EQ(HttpGet(chosen, "/"), "");
  const nlohmann::json stopped = Ps();
  EXPECT_EQ(stopped["status"], "stopped");
  EXPECT_TRUE(stopped["ports"].empty());
  const std::string audit = AuditLog();
  for (const char* event : {"\"port-publish\"", "\"service-start\"", "\"service-stop\""}) {
    EXPECT_THAT(audit, HasSubstr(event));
  }
  EXPECT_THAT(audit, HasSubstr("\"host_port\":" + std::to_string(chosen)));
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

// A snapshot of a served sandbox restores served: the services start again after the files are
// back, and the ports are published anew (the chosen one where chosen, the other on a new
// ephemeral port), with the same audit records as `up`.
TEST_F(ServicesE2E, RestoreServesAgainOnNewPorts) {
  const std::string copy = name_ + "-r";
  Result up = Mvmctl({"up", kFixture.string(), "--workload", "web", "--name", name_, "--detach",
                      "--format", "json"});
  ASSERT_EQ(up.status, 0) << Describe(up);
  const nlohmann::json started = nlohmann::json::parse(up.out);
  const int first = started["ports"][0]["host"];
  ASSERT_TRUE(WaitFor([&] { return HttpGet(first, "/").find("200 OK") != std::string::npos; }));
  Result write = Mvmctl({"exec", name_, "--", "sh", "-c", "echo kept > /tmp/www/kept.html"});
  ASSERT_EQ(write.status, 0) << Describe(write);
  Result snap = Mvmctl({"snapshot", name_, "--label", "served"});
  ASSERT_EQ(snap.status, 0) << Describe(snap);

  const size_t audit_from = AuditLog().size();
  const int chosen = FreePort();
  Result restored = Mvmctl({"restore", name_, "served", "--as", copy, "--publish",
                            "8080:" + std::to_string(chosen), "--format", "json"});
  ASSERT_EQ(restored.status, 0) << Describe(restored);
  const nlohmann::json out = nlohmann::json::parse(restored.out);
  ASSERT_EQ(out["ports"].size(), 2u) << restored.out;
  EXPECT_EQ(out["ports"][0]["host"], chosen);
  EXPECT_NE(out["ports"][1]["host"], started["ports"][1]["host"]);
  EXPECT_EQ(out["services"].size(), 2u);
  // The restored files are there for the service, which runs in the copy (its hostname).
  std::string page;
  ASSERT_TRUE(WaitFor([&] {
    page = HttpGet(chosen, "/kept.html");
    return page.find("200 OK") != std::string::npos;
  })) << page;
  EXPECT_THAT(page, HasSubstr("kept"));
  EXPECT_THAT(HttpGet(chosen, "/"), HasSubstr(copy));
  // The original still serves on its own port.
  EXPECT_THAT(HttpGet(first, "/"), HasSubstr("200 OK"));
  EXPECT_EQ(AuditRecords("port-publish", copy, audit_from).size(), 2u);
  EXPECT_EQ(AuditRecords("service-start", copy, audit_from).size(), 2u);

  (void)Mvmctl({"destroy", copy});
  (void)Mvmctl({"snapshot", "rm", name_, "served"});
  (void)Mvmctl({"destroy", name_});
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

// An attached `up` audits what the agent reports of its services while it waits: a restart as it
// happens, and each service's last state when a signal ends it.
TEST_F(ServicesE2E, AnAttachedUpAuditsRestartsAndTheStop) {
  const size_t from = AuditLog().size();
  mvm::testing::BackgroundMvmctl up({"up", kFixture.string(), "--workload", "web", "--name", name_},
                                    SharedState());
  const std::string said = up.WaitFor("published on 127.0.0.1:", 60s);
  ASSERT_THAT(said, HasSubstr("service http started")) << said;
  Result kill = Mvmctl({"exec", name_, "--", "sh", "-c", "kill -9 $(pidof httpd)"});
  ASSERT_EQ(kill.status, 0) << Describe(kill);
  ASSERT_TRUE(WaitFor([&] { return !AuditRecords("service-restart", name_, from).empty(); }));
  const nlohmann::json restart = AuditRecords("service-restart", name_, from).front();
  EXPECT_EQ(restart["service"], "http");
  EXPECT_EQ(restart["restarts"], 1);
  EXPECT_EQ(restart["signal"], 9);
  EXPECT_EQ(restart["reported_by"], "guest");
  ASSERT_EQ(::kill(up.pid(), SIGTERM), 0);
  (void)up.WaitFor("never printed", 30s);  // until `up` closes its output: it has destroyed it
  const std::vector<nlohmann::json> stops = AuditRecords("service-stop", name_, from);
  ASSERT_EQ(stops.size(), 2u);
  EXPECT_EQ(stops[0]["service"], "http");
  EXPECT_EQ(stops[0]["phase"], "running");
  EXPECT_EQ(stops[0]["restarts"], 1);
  EXPECT_EQ(stops[1]["service"], "ticker");
  EXPECT_FALSE(AuditRecords("destroy", name_, from).empty());
}

TEST_F(ServicesE2E, AChosenPortInUseStopsUpBeforeAnythingStarts) {
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &size);
  const std::string held = std::to_string(ntohs(address.sin_port));
  Result up = Mvmctl({"up", kFixture.string(), "--workload", "web", "--name", name_, "--detach",
                      "--publish", "8080:" + held});
  ::close(holder);
  EXPECT_EQ(up.status, 125) << Describe(up);
  EXPECT_THAT(up.err, HasSubstr("cannot publish guest port 8080 on 127.0.0.1:" + held +
                                ": Address already in use; another process listens there"));
  EXPECT_TRUE(Ps().is_null()) << "no sandbox was started";

  Result undeclared = Mvmctl({"up", kFixture.string(), "--workload", "web", "--name", name_,
                              "--detach", "--publish", "7000:17000"});
  EXPECT_EQ(undeclared.status, 2) << Describe(undeclared);
  EXPECT_THAT(undeclared.err,
              HasSubstr("does not declare guest port 7000 (it declares 8080, 9000)"));
  Result malformed = Mvmctl({"up", kFixture.string(), "--workload", "web", "--name", name_,
                             "--detach", "--publish", "http"});
  EXPECT_EQ(malformed.status, 2) << Describe(malformed);
  EXPECT_THAT(malformed.err, HasSubstr("is not `GUEST:HOST`"));
}

}  // namespace
