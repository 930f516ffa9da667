// What the host's agent client does when the agent it talks to is not the real one: a microVM
// guest's root can replace the agent and answer in its place (docs/security-model.md, "What the
// host trusts from a guest"). The fake agent here plays that guest.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "runtime/agent/client.h"
#include "tests/runtime/support/fake_agent.h"

namespace {

using mvm::testing::FakeAgent;
using mvm::testing::FakeReply;
namespace v1 = mvm::agent::v1;
using namespace std::chrono_literals;

v1::Response Output(v1::Stream stream, std::string data) {
  v1::Response response;
  response.mutable_exec_output()->set_stream(stream);
  response.mutable_exec_output()->set_data(std::move(data));
  return response;
}

// Runs an exec without a timeout against a fake that answers it with `reply` and then stays
// silent, and returns what the exec returned, or nothing when it was still waiting after 10 s.
std::optional<mvm::ErrorOr<mvm::runtime::agent::ExecResult>> ExecWithoutTimeout(
    FakeReply reply, uint64_t output_limit, std::string* forwarded) {
  auto fake = std::make_unique<FakeAgent>([&](const v1::Request& request) {
    return request.has_exec() ? reply : FakeAgent::Standard(request);
  });
  mvm::runtime::agent::Client client = fake->Connect();
  EXPECT_TRUE(client.Hello());
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"yes"};
  request.output_limit_bytes = output_limit;
  auto pending = std::async(std::launch::async, [&] {
    return client.Exec(request, [&](mvm::runtime::agent::Stream, std::string_view data) {
      forwarded->append(data);
    });
  });
  if (pending.wait_for(10s) != std::future_status::ready) {
    fake.reset();  // ends the connection, and with it the exec, so `pending` can be destroyed
    return std::nullopt;
  }
  return pending.get();
}

TEST(ClientTrust, AnAgentSendingMoreOutputThanTheLimitEndsAnExecWithoutTimeout) {
  // The attack: a guest that keeps sending output holds `mvmctl exec` (no --timeout) forever,
  // the host dropping what is beyond the limit but reading on.
  FakeReply flood;
  for (int i = 0; i < 64; ++i) {
    flood.responses.push_back(Output(v1::STREAM_STDOUT, std::string(64, 'y')));
  }
  std::string forwarded;
  auto result = ExecWithoutTimeout(flood, 1024, &forwarded);
  ASSERT_TRUE(result.has_value()) << "the exec was still reading output after 10 s";
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message.find("more stdout than the output limit of 1024 bytes"),
            std::string::npos)
      << result->error().message;
  EXPECT_EQ(forwarded, std::string(1024, 'y'));
}

TEST(ClientTrust, AFrameLargerThanTheLimitEndsAStreamedExecSayingWhatItsBytesWere) {
  // Unframed text where a frame should start reads as a huge length. An exec with stdin (or a
  // terminal) reads its answer beside its input; the message shows the bytes, so that a stream that
  // lost its framing says whose bytes these were.
  FakeReply text;
  text.responses.push_back(Output(v1::STREAM_STDOUT, "ok"));
  text.raw = "winch 50 132\r\nmore text after it";
  FakeAgent fake([&](const v1::Request& request) {
    return request.has_exec() ? text : FakeAgent::Standard(request);
  });
  mvm::runtime::agent::Client client = fake.Connect();
  ASSERT_TRUE(client.Hello());
  int input[2];
  ASSERT_EQ(::pipe2(input, O_CLOEXEC), 0);
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"cat"};
  request.stdin_fd = input[0];
  std::string forwarded;
  auto result = client.Exec(
      request, [&](mvm::runtime::agent::Stream, std::string_view data) { forwarded.append(data); });
  ::close(input[0]);
  ::close(input[1]);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("it sent a frame of 2003398243 bytes, larger than the "
                                        "limit (its first 24 bytes, in hex: "
                                        "77696e63682035302031333"),
            std::string::npos)
      << result.error().message;
  EXPECT_EQ(forwarded, "ok");
}

TEST(ClientTrust, AnAgentSendingEmptyOutputChunksEndsTheExec) {
  // Empty chunks count for nothing against the limit, so they are the endless variant.
  FakeReply flood;
  for (int i = 0; i < 1000; ++i) {
    flood.responses.push_back(Output(v1::STREAM_STDERR, ""));
  }
  std::string forwarded;
  auto result = ExecWithoutTimeout(flood, 1024, &forwarded);
  ASSERT_TRUE(result.has_value()) << "the exec was still reading output after 10 s";
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message.find("an empty output chunk"), std::string::npos)
      << result->error().message;
  EXPECT_TRUE(forwarded.empty());
}

TEST(ClientTrust, OutputUpToTheLimitOnBothStreamsIsForwarded) {
  FakeReply reply;
  reply.responses = {Output(v1::STREAM_STDOUT, std::string(1024, 'o')),
                     Output(v1::STREAM_STDERR, std::string(1024, 'e'))};
  v1::Response exit;
  exit.mutable_exec_exit()->set_exit_code(3);
  exit.mutable_exec_exit()->set_stdout_bytes(5000);
  exit.mutable_exec_exit()->set_stdout_dropped(5000 - 1024);
  reply.responses.push_back(exit);
  std::string forwarded;
  auto result = ExecWithoutTimeout(reply, 1024, &forwarded);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(*result) << (*result).error().message;
  EXPECT_EQ((*result)->exit_code, 3);
  EXPECT_EQ(forwarded.size(), 2048u);
}

// A client that sends its first request right behind Hello (HelloAnswer::kWithFirstRequest), as
// `mvmctl run` does with its exec: Connect returns before Hello is answered, and the answer is
// still read and checked before the request's own.
class PipelinedHello : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/mvm-pipelined-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ / "agent.sock";
  }
  void TearDown() override {
    fake_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A fake whose Hello is answered with `hello` after `delay`, and whose Exec exits 7.
  void Serve(v1::Response hello, std::chrono::milliseconds delay) {
    fake_ = std::make_unique<FakeAgent>([hello, delay](const v1::Request& request) {
      if (request.has_hello()) {
        FakeReply reply = FakeReply::Of({hello});
        reply.delay = delay;
        return reply;
      }
      if (request.has_exec()) {
        v1::Response exit;
        exit.mutable_exec_exit()->set_exit_code(7);
        return FakeReply::Of({exit});
      }
      return FakeAgent::Standard(request);
    });
    ASSERT_TRUE(fake_->Listen(socket_));
  }
  static v1::Response Info(uint32_t version) {
    v1::Response info;
    info.mutable_info()->set_version("0.1.0");
    info.mutable_info()->set_pid(1);
    info.mutable_info()->set_protocol_version(version);
    return info;
  }

  std::filesystem::path dir_, socket_;
  std::unique_ptr<FakeAgent> fake_;
};

TEST_F(PipelinedHello, ConnectReturnsBeforeHelloIsAnsweredAndTheAnswerIsReadFirst) {
  Serve(Info(1), 500ms);
  const auto start = std::chrono::steady_clock::now();
  auto client = mvm::runtime::agent::Client::Connect(
      socket_, 5s, mvm::runtime::agent::Client::HelloAnswer::kWithFirstRequest);
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 400ms) << "Connect waited for Hello's answer";
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"true"};
  auto result = client->Exec(request, nullptr);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 500ms);
  const std::vector<v1::Request> seen = fake_->requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].has_hello());
  EXPECT_EQ(seen[0].hello().protocol_version(), 1u);
  EXPECT_TRUE(seen[1].has_exec());
  // The connection serves on: the Hello is not read twice.
  auto again = client->Exec(request, nullptr);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->exit_code, 7);
}

TEST_F(PipelinedHello, AWrongHelloAnswerIsTheFirstRequestsErrorWithTheCallersExplanation) {
  Serve(Info(2), 0ms);
  auto client = mvm::runtime::agent::Client::Connect(
      socket_, 5s, mvm::runtime::agent::Client::HelloAnswer::kWithFirstRequest,
      [] { return std::string("\nagent output:\nthe reason"); });
  ASSERT_TRUE(client) << client.error().message;
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"true"};
  auto result = client->Exec(request, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("the guest agent did not come up: "), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("does not speak protocol version 1"), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("agent output:\nthe reason"), std::string::npos)
      << result.error().message;
  // The exec's own answer (exit 7) is never taken for anything: the connection is closed.
  EXPECT_FALSE(client->Exec(request, nullptr));
}

TEST_F(PipelinedHello, AHelloRefusedAndClosedBeforeTheRequestIsWrittenStillSaysWhy) {
  // An agent of another protocol answers the Hello with an error and closes the connection
  // (ProtocolTest.UnsupportedProtocolVersionClosesTheConnectionSoNothingPipelinedRuns), here
  // before the exec is written: the write fails, and the Hello's answer is the error.
  fake_ = std::make_unique<FakeAgent>([](const v1::Request& request) {
    if (request.has_hello()) {
      FakeReply reply = FakeReply::Fail("protocol version 1 is not supported; this agent speaks 2");
      reply.close = true;
      return reply;
    }
    return FakeAgent::Standard(request);
  });
  ASSERT_TRUE(fake_->Listen(socket_));
  auto client = mvm::runtime::agent::Client::Connect(
      socket_, 5s, mvm::runtime::agent::Client::HelloAnswer::kWithFirstRequest);
  ASSERT_TRUE(client) << client.error().message;
  for (int i = 0; i < 200 && fake_->requests().empty(); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(fake_->requests().size(), 1u);
  std::this_thread::sleep_for(100ms);  // the fake closes right after its answer
  mvm::runtime::agent::ExecRequest request;
  request.argv = {"true"};
  auto result = client->Exec(request, nullptr);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("the guest agent did not come up: "), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("this agent speaks 2"), std::string::npos)
      << result.error().message;
}

}  // namespace
