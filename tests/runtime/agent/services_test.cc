// Services and tunnels through the real agent: detached start, the restart policy as the event loop
// applies it (failures, clean exits, kills, the bound), per-service logs, a stop that restarts
// nothing, and a tunnel's bytes both ways.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ir/support/os/unique_fd.h"
#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  std::optional<ServiceStatus> Status(const std::string& name) {
    auto list = client_->ListServices();
    EXPECT_TRUE(list) << list.error().message;
    if (list) {
      for (const ServiceStatus& s : *list) {
        if (s.name == name) {
          return s;
        }
      }
    }
    return std::nullopt;
  }

  ServiceSpec Script(const std::string& name, const std::string& script, const std::string& restart,
                     uint32_t max_restarts = 10) {
    ServiceSpec spec;
    spec.name = name;
    spec.exec = Sh(script);
    spec.restart = restart;
    spec.max_restarts = max_restarts;
    return spec;
  }

  AgentProcess agent_;
  std::optional<Client> client_;
};

TEST_F(ServicesTest, RunsDetachedAndKeepsItsOwnLog) {
  ASSERT_TRUE(client_->StartService(Script("web", "echo listening; exec sleep 1000", "never")));
  ASSERT_TRUE(WaitFor([&] {
    auto logs = client_->ServiceLogs("web");
    return logs && logs->find("listening\n") != std::string::npos;
  }));
  auto status = Status("web");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->phase, "running");
  EXPECT_GT(status->pid, 0);
  EXPECT_TRUE(ProcessExists(status->pid));
  EXPECT_EQ(status->restarts, 0u);
  EXPECT_FALSE(status->exited);
  // The agent's own log has it too, and the connection serves other requests meanwhile.
  auto all = client_->Logs();
  ASSERT_TRUE(all);
  EXPECT_NE(all->find("service web: started"), std::string::npos) << *all;
  auto ran = RunCommand(*client_, Sh("echo other"));
  ASSERT_TRUE(ran);
  EXPECT_EQ(ran->out, "other\n");
  // The other command's output is not the service's.
  auto own = client_->ServiceLogs("web");
  ASSERT_TRUE(own);
  EXPECT_EQ(own->find("other"), std::string::npos) << *own;
}

TEST_F(ServicesTest, OnFailureRestartsUntilItsBoundThenFails) {
  ASSERT_TRUE(client_->StartService(Script("flaky", "echo run; exit 3", "on-failure", 2)));
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status("flaky");
    return s && s->phase == "failed";
  }));
  auto status = Status("flaky");
  EXPECT_EQ(status->restarts, 2u);
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->exit_code, 3);
  EXPECT_EQ(status->pid, 0);
  auto logs = client_->ServiceLogs("flaky");
  ASSERT_TRUE(logs);
  size_t runs = 0;
  for (size_t at = logs->find("run\n"); at != std::string::npos; at = logs->find("run\n", at + 1)) {
    ++runs;
  }
  EXPECT_EQ(runs, 3u) << *logs;
  EXPECT_NE(logs->find("not restarted: 2 restarts, the most its policy allows"), std::string::npos)
      << *logs;
}

TEST_F(ServicesTest, OnFailureLeavesACleanExitAlone) {
  ASSERT_TRUE(client_->StartService(Script("once", "exit 0", "on-failure")));
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status("once");
    return s && s->phase == "exited";
  }));
  // Past the first backoff: still not restarted.
  std::this_thread::sleep_for(500ms);
  auto status = Status("once");
  EXPECT_EQ(status->phase, "exited");
  EXPECT_EQ(status->restarts, 0u);
  EXPECT_EQ(status->exit_code, 0);
}

TEST_F(ServicesTest, AlwaysRestartsACleanExit) {
  ASSERT_TRUE(client_->StartService(Script("loop", "exit 0", "always", 2)));
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status("loop");
    return s && s->restarts == 2 && s->phase != "running" && s->phase != "backoff";
  }));
  EXPECT_EQ(Status("loop")->phase, "failed");
}

TEST_F(ServicesTest, NeverRestartsAFailure) {
  ASSERT_TRUE(client_->StartService(Script("fragile", "exit 5", "never")));
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status("fragile");
    return s && s->phase == "exited";
  }));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(Status("fragile")->restarts, 0u);
  EXPECT_EQ(Status("fragile")->exit_code, 5);
}

TEST_F(ServicesTest, AKilledServiceComesBackWithANewPid) {
  ASSERT_TRUE(client_->StartService(Script("api", "exec sleep 1000", "on-failure")));
  std::optional<ServiceStatus> first;
  ASSERT_TRUE(WaitFor([&] {
    first = Status("api");
    return first && first->phase == "running" && first->pid > 0;
  }));
  ASSERT_EQ(kill(first->pid, SIGKILL), 0);
  std::optional<ServiceStatus> second;
  ASSERT_TRUE(WaitFor([&] {
    second = Status("api");
    return second && second->phase == "running" && second->restarts == 1 && second->pid > 0;
  }));
  EXPECT_NE(second->pid, first->pid);
  EXPECT_TRUE(second->exited);
  EXPECT_EQ(second->signal, SIGKILL);
  auto logs = client_->ServiceLogs("api");
  ASSERT_TRUE(logs);
  EXPECT_NE(logs->find("exited: signal 9"), std::string::npos) << *logs;
  EXPECT_NE(logs->find("restarting in 250 ms (restart 1 of at most 10)"), std::string::npos)
      << *logs;
}

TEST_F(ServicesTest, ShutdownStopsServicesAndRestartsNone) {
  ASSERT_TRUE(client_->StartService(Script("api", "exec sleep 1000", "always")));
  std::optional<ServiceStatus> status;
  ASSERT_TRUE(WaitFor([&] {
    status = Status("api");
    return status && status->pid > 0;
  }));
  ASSERT_TRUE(client_->Shutdown());
  ASSERT_TRUE(agent_.WaitExit(10s));
  EXPECT_TRUE(WaitFor([&] { return !ProcessExists(status->pid); }, 5s));
}

TEST_F(ServicesTest, RefusesBadNamesDuplicatesAndTimeouts) {
  auto bad = client_->StartService(Script("Web_1", "true", "never"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("is not `[a-z0-9][a-z0-9-]{0,62}`"), std::string::npos)
      << bad.error().message;
  ASSERT_TRUE(client_->StartService(Script("web", "exec sleep 1000", "never")));
  auto twice = client_->StartService(Script("web", "true", "never"));
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("started already"), std::string::npos);
  ServiceSpec timed = Script("timed", "true", "never");
  timed.exec.timeout_ms = 100;
  auto refused = client_->StartService(timed);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("runs until stopped"), std::string::npos);
  auto unknown = client_->ServiceLogs("nope");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("no service `nope` in this sandbox (it has: web)"),
            std::string::npos)
      << unknown.error().message;
  // The connection still serves after the refusals.
  EXPECT_TRUE(client_->Hello());
}

TEST_F(ServicesTest, ATunnelRelaysBytesBothWays) {
  os::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &size), 0);
  const uint32_t port = ntohs(address.sin_port);

  auto tunnel = client_->Tunnel(port);
  ASSERT_TRUE(tunnel) << tunnel.error().message;
  os::UniqueFd pipe(*tunnel);
  os::UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());
  ASSERT_EQ(::write(pipe.get(), "ping", 4), 4);
  char buffer[16] = {};
  ASSERT_EQ(::read(server.get(), buffer, sizeof buffer), 4);
  EXPECT_EQ(std::string(buffer, 4), "ping");
  ASSERT_EQ(::write(server.get(), "pong!", 5), 5);
  ASSERT_EQ(::read(pipe.get(), buffer, sizeof buffer), 5);
  EXPECT_EQ(std::string(buffer, 5), "pong!");
  // The service's close ends the tunnel.
  server.Reset();
  EXPECT_EQ(::read(pipe.get(), buffer, sizeof buffer), 0);

  // A client's half-close reaches the service as end of file, and its answer still comes back.
  auto second = agent_.Connect();
  ASSERT_TRUE(second);
  auto half = second->Tunnel(port);
  ASSERT_TRUE(half) << half.error().message;
  os::UniqueFd half_pipe(*half);
  os::UniqueFd half_server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(half_server.valid());
  ASSERT_EQ(::write(half_pipe.get(), "ask", 3), 3);
  ASSERT_EQ(::shutdown(half_pipe.get(), SHUT_WR), 0);
  std::string asked;
  for (ssize_t n; (n = ::read(half_server.get(), buffer, sizeof buffer)) > 0;) {
    asked.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(asked, "ask");  // and then end of file
  ASSERT_EQ(::write(half_server.get(), "late", 4), 4);
  half_server.Reset();
  std::string answer;
  for (ssize_t n; (n = ::read(half_pipe.get(), buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(answer, "late");

  // Nothing listening: an Error, and a fresh connection still works.
  listener.Reset();
  auto again = agent_.Connect();
  ASSERT_TRUE(again);
  auto refused = again->Tunnel(port);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cannot connect to port " + std::to_string(port)),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(again->Hello());
}

}  // namespace
}  // namespace mvm::runtime::agent::testing
