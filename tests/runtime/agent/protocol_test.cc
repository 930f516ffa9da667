// The agent against hostile or broken clients, and its lifecycle: oversized and malformed frames,
// garbage, pipelining, signals sent to the agent, Shutdown.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "runtime/agent/agent.pb.h"
#include "runtime/agent/framing.h"
#include "tests/runtime/agent/agent_process.h"

namespace mvm::runtime::agent::testing {
namespace {

namespace v1 = ::mvm::agent::v1;

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = agent_.Connect();
    ASSERT_TRUE(client) << client.error().message;
    client_.emplace(std::move(*client));
  }

  // Sends `bytes` on a fresh raw connection; returns the agent's error message and checks that it
  // then closed that connection.
  std::string ErrorAfterSending(const std::string& bytes) {
    int fd = RawConnect(agent_.socket());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    std::string message;
    auto frame = ReadFrame(fd);
    v1::Response response;
    if (frame && *frame && response.ParseFromString(**frame) && response.has_error()) {
      message = response.error().message();
    } else {
      ADD_FAILURE() << "no error frame";
    }
    auto after = ReadFrame(fd);
    EXPECT_TRUE(!after || !*after) << "the connection stayed open";
    close(fd);
    return message;
  }

  AgentProcess agent_;
  std::optional<Client> client_;
};

TEST_F(ProtocolTest, OversizedFrameIsRefusedAndTheAgentKeepsServing) {
  const uint32_t size = kMaxFrameBytes + 1;
  std::string header = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                        static_cast<char>(size >> 8), static_cast<char>(size)};
  std::string message = ErrorAfterSending(header + "some of the payload");
  EXPECT_NE(message.find("frame of 16777217 bytes is larger than the limit of 16777216 bytes"),
            std::string::npos)
      << message;
  EXPECT_TRUE(client_->Hello());
  auto other = agent_.Connect();
  EXPECT_TRUE(other);
}

TEST_F(ProtocolTest, GarbageClosesOnlyThatConnection) {
  // Read as a length, "GET " is about 1.2 GB.
  EXPECT_NE(ErrorAfterSending("GET / HTTP/1.1\r\nHost: x\r\n\r\n").find("larger than the limit"),
            std::string::npos);
  EXPECT_NE(ErrorAfterSending(EncodeFrame("\xff\xff\xff\xff\xff")).find("malformed request"),
            std::string::npos);
  EXPECT_NE(ErrorAfterSending(EncodeFrame("")).find("no request kind"), std::string::npos);
  v1::Request stray;
  stray.mutable_file_write_data()->set_data("x");
  EXPECT_NE(ErrorAfterSending(EncodeFrame(stray.SerializeAsString())).find("without a FileWrite"),
            std::string::npos);
  // A chunked FileWrite interrupted by another request.
  v1::Request write;
  write.mutable_file_write()->set_path("/f");
  write.mutable_file_write()->set_more(true);
  v1::Request ping;
  ping.mutable_ping();
  EXPECT_NE(ErrorAfterSending(EncodeFrame(write.SerializeAsString()) +
                              EncodeFrame(ping.SerializeAsString()))
                .find("followed by FileWriteData"),
            std::string::npos);
  // A frame cut short, then gone.
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  std::string partial = EncodeFrame(std::string(100, 'x')).substr(0, 50);
  ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), 50);
  close(fd);
  // Random bytes of every kind.
  std::string noise;
  for (int i = 0; i < 4096; ++i) {
    noise.push_back(static_cast<char>((i * 7919) ^ (i >> 3)));
  }
  fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  (void)send(fd, noise.data(), noise.size(), MSG_NOSIGNAL);
  close(fd);

  auto info = client_->Hello();
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->pid, agent_.pid());
  EXPECT_TRUE(agent_.Connect());
}

TEST_F(ProtocolTest, UnsupportedProtocolVersionClosesTheConnectionSoNothingPipelinedRuns) {
  // A client may pipeline its first request behind Hello (agent.proto): what it wrote for another
  // protocol must not be served.
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  v1::Request hello;
  hello.mutable_hello()->set_protocol_version(2);
  v1::Request exec;
  exec.mutable_exec()->add_argv("/bin/sh");
  exec.mutable_exec()->add_argv("-c");
  exec.mutable_exec()->add_argv("echo ran > " + agent_.root().string() + "/ran");
  exec.mutable_exec()->set_cwd("/");
  // One write, as a pipelining client's bytes may well arrive: two writes would race the agent's
  // close (the second failing with EPIPE) rather than test that it drops what it already holds.
  const std::string both =
      EncodeFrame(hello.SerializeAsString()) + EncodeFrame(exec.SerializeAsString());
  ASSERT_EQ(send(fd, both.data(), both.size(), MSG_NOSIGNAL), static_cast<ssize_t>(both.size()));
  v1::Response response;
  auto first = ReadFrame(fd);
  ASSERT_TRUE(first && *first && response.ParseFromString(**first));
  ASSERT_TRUE(response.has_error());
  EXPECT_NE(response.error().message().find("protocol version 2 is not supported"),
            std::string::npos)
      << response.error().message();
  auto second = ReadFrame(fd);
  EXPECT_TRUE(!second || !*second) << "the connection stayed open";
  close(fd);
  // The agent serves others, and never ran the pipelined command (which would have written its
  // file within milliseconds).
  ASSERT_TRUE(client_->Hello());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(std::filesystem::exists(agent_.root() / "ran"));
}

TEST_F(ProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  // Thousands of requests in one write: served one after the other, without recursion.
  int fd = RawConnect(agent_.socket());
  ASSERT_GE(fd, 0);
  v1::Request ping;
  ping.mutable_ping();
  v1::Request logs;
  logs.mutable_logs()->set_max_bytes(0);
  std::string batch;
  constexpr int kPairs = 5000;
  for (int i = 0; i < kPairs; ++i) {
    batch += EncodeFrame(ping.SerializeAsString());
    batch += EncodeFrame(logs.SerializeAsString());
  }
  std::thread writer([&] { (void)send(fd, batch.data(), batch.size(), MSG_NOSIGNAL); });
  int answered = 0;
  for (; answered < 2 * kPairs; ++answered) {
    auto frame = ReadFrame(fd);
    v1::Response response;
    if (!frame || !*frame || !response.ParseFromString(**frame)) {
      break;
    }
    if (answered % 2 == 0 ? !response.has_info() : !response.has_logs()) {
      break;
    }
  }
  writer.join();
  EXPECT_EQ(answered, 2 * kPairs);
  close(fd);
}

TEST_F(ProtocolTest, StraySignalsDoNotKillTheAgent) {
  for (int signal : {SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGQUIT, SIGWINCH, SIGRTMIN}) {
    ASSERT_EQ(kill(agent_.pid(), signal), 0);
  }
  auto info = client_->Hello();
  EXPECT_TRUE(info) << info.error().message;
  EXPECT_FALSE(agent_.WaitExit(200ms));
}

// Starts `script` on its own connection and waits until it printed "ready".
class Workload {
 public:
  Workload(AgentProcess& agent, const std::string& script) {
    thread_ = std::thread([this, &agent, script] {
      auto client = agent.Connect();
      if (!client) {
        result_.emplace(client.error());
        ready_ = true;
        return;
      }
      result_.emplace(client->Exec(Sh(script), [&](Stream, std::string_view data) {
        if (data.find("ready") != std::string_view::npos) {
          ready_ = true;
        }
      }));
    });
    EXPECT_TRUE(WaitFor([&] { return ready_.load(); }));
  }
  ErrorOr<ExecResult> Join() {
    thread_.join();
    return *result_;
  }

 private:
  std::thread thread_;
  std::atomic<bool> ready_ = false;
  std::optional<ErrorOr<ExecResult>> result_;
};

TEST_F(ProtocolTest, ShutdownStopsWorkloadsAndExits) {
  Workload workload(agent_, "echo ready; sleep 100");
  auto done = client_->Shutdown();
  EXPECT_TRUE(done) << done.error().message;
  auto result = workload.Join();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->signal, SIGTERM);
  auto status = agent_.WaitExit(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_FALSE(fs::exists(agent_.socket()));
  EXPECT_FALSE(client_->Hello());
}

TEST_F(ProtocolTest, ShutdownEscalatesToSigkill) {
  // The shell and its sleep ignore SIGTERM; two seconds later SIGKILL ends them.
  Workload workload(agent_, "trap '' TERM; echo ready; while :; do sleep 1; done");
  EXPECT_TRUE(client_->Shutdown());
  auto result = workload.Join();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->signal, SIGKILL);
  auto status = agent_.WaitExit(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(ProtocolTest, SigtermIsForwardedAndTheAgentExitsCleanly) {
  Workload workload(agent_, "echo ready; sleep 100");
  ASSERT_EQ(kill(agent_.pid(), SIGTERM), 0);
  auto result = workload.Join();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->signal, SIGTERM);
  auto status = agent_.WaitExit(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST_F(ProtocolTest, SighupIsForwardedAsSighup) {
  Workload workload(agent_, "echo ready; sleep 100");
  ASSERT_EQ(kill(agent_.pid(), SIGHUP), 0);
  auto result = workload.Join();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->signal, SIGHUP);
  EXPECT_TRUE(agent_.WaitExit(20s));
}

TEST(AgentCommandLineTest, StaleSocketIsReplacedAndOtherFilesAreNot) {
  AgentProcess first;
  ASSERT_TRUE(first.Connect());
  // SIGKILL leaves the socket file behind, as a crash would.
  kill(first.pid(), SIGKILL);
  ASSERT_TRUE(first.WaitExit(20s));
  ASSERT_TRUE(fs::exists(first.socket()));
  // A second agent on the same path takes it over.
  pid_t pid = fork();
  if (pid == 0) {
    execl(MVM_AGENT_PATH, MVM_AGENT_PATH, "--socket", first.socket().c_str(), "--files-root",
          first.root().c_str(), nullptr);
    _exit(127);
  }
  auto client = Client::Connect(first.socket(), 20s);
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_TRUE(client->Shutdown());
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);

  // A regular file at the socket path is not the agent's to delete.
  const fs::path file = first.dir() / "not-a-socket";
  WriteFile(file, "keep");
  pid = fork();
  if (pid == 0) {
    execl(MVM_AGENT_PATH, MVM_AGENT_PATH, "--socket", file.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_EQ(ReadFile(file), "keep");
}

}  // namespace
}  // namespace mvm::runtime::agent::testing

namespace mvm::runtime::agent {
namespace {

// A state directory deep in a build tree gave an agent socket path longer than sun_path's 108
// bytes, and the builder sandbox could not start there. Listening binds through the directory's
// descriptor and the client connects through the socket's, so depth does not matter.
TEST(ListenUnixTest, ASocketPathLongerThanSunPathListensAndConnects) {
  const std::filesystem::path base =
      std::filesystem::temp_directory_path() / ("mvm-long-socket-" + std::to_string(::getpid()));
  std::filesystem::path dir = base;
  while (dir.string().size() < 150) {
    dir /= "a-rather-long-directory-name";
  }
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "agent.sock").string();
  ASSERT_GT(path.size(), sizeof(sockaddr_un::sun_path));
  auto listening = ListenUnix(path);
  ASSERT_TRUE(listening.ok()) << listening.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0077, 0u) << "the socket is not owner-only";
  const int file = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(file, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string via = "/proc/self/fd/" + std::to_string(file);
  std::memcpy(address.sun_path, via.c_str(), via.size() + 1);
  const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
      << std::strerror(errno);
  ::close(client);
  ::close(file);
  // A file name that alone is too long is still refused, with the reason.
  auto refused = ListenUnix((dir / std::string(100, 'n')).string());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("file name is too long"), std::string::npos)
      << refused.error().message;
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace mvm::runtime::agent
