#include "tests/runtime/support/fake_agent.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "runtime/agent/framing.h"

namespace mvm::testing {

FakeReply FakeReply::Of(std::vector<agent_v1::Response> responses) {
  FakeReply reply;
  reply.responses = std::move(responses);
  return reply;
}

FakeReply FakeReply::Fail(std::string message) {
  FakeReply reply;
  reply.responses.emplace_back().mutable_error()->set_message(std::move(message));
  return reply;
}

FakeReply FakeReply::Done(uint64_t count) {
  FakeReply reply;
  reply.responses.emplace_back().mutable_done()->set_count(count);
  return reply;
}

FakeAgent::FakeAgent(FakeHandler handler) : handler_(std::move(handler)) {}

FakeAgent::~FakeAgent() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (int fd : connections_) {
      ::shutdown(fd, SHUT_RDWR);
    }
    if (listener_ >= 0) {
      ::shutdown(listener_, SHUT_RDWR);
    }
  }
  stopping_cv_.notify_all();
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  // No new threads once the acceptor has ended.
  for (std::thread& t : threads_) {
    t.join();
  }
  if (listener_ >= 0) {
    ::close(listener_);
  }
}

runtime::agent::Client FakeAgent::Connect() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    std::abort();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  connections_.push_back(sv[1]);
  threads_.emplace_back([this, fd = sv[1]] { Serve(fd); });
  return runtime::agent::Client::Adopt(sv[0], "fake-agent");
}

ErrorOr<Ok> FakeAgent::Listen(const std::filesystem::path& path) {
  auto listener = runtime::agent::ListenUnix(path.string());
  if (!listener) {
    return listener.error();
  }
  listener_ = listener->Release();
  acceptor_ = std::thread([this] {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) {
        if (fd >= 0) {
          ::close(fd);
        }
        return;
      }
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        return;
      }
      connections_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  });
  return Ok{};
}

std::vector<agent_v1::Request> FakeAgent::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

bool FakeAgent::Wait(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stopping_cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void FakeAgent::Serve(int fd) {
  for (;;) {
    auto frame = runtime::agent::ReadFrame(fd);
    if (!frame || !frame->has_value()) {
      break;
    }
    agent_v1::Request request;
    if (!request.ParseFromString(**frame)) {
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
    }
    FakeReply reply = handler_(request);
    if (reply.delay.count() > 0 && !Wait(reply.delay)) {
      break;
    }
    std::string bytes;
    for (const agent_v1::Response& response : reply.responses) {
      bytes += runtime::agent::EncodeFrame(response.SerializeAsString());
    }
    bytes += reply.raw;
    bool sent = true;
    const size_t step = reply.trickle.count() > 0 ? 1 : bytes.size();
    for (size_t at = 0; sent && at < bytes.size(); at += step) {
      if (at > 0 && !Wait(reply.trickle)) {
        sent = false;
        break;
      }
      const size_t n = std::min(step, bytes.size() - at);
      sent = ::send(fd, bytes.data() + at, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n);
    }
    if (!sent || reply.close) {
      break;
    }
  }
  // Closed here, under the lock, so the destructor never shuts down a reused descriptor number.
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase(connections_, fd);
  ::close(fd);
}

FakeReply FakeAgent::Standard(const agent_v1::Request& request) {
  FakeReply reply;
  switch (request.kind_case()) {
    case agent_v1::Request::kHello:
    case agent_v1::Request::kPing: {
      agent_v1::AgentInfo* info = reply.responses.emplace_back().mutable_info();
      info->set_version("fake");
      info->set_pid(1);
      info->set_protocol_version(agent_v1::PROTOCOL_VERSION_1);
      return reply;
    }
    case agent_v1::Request::kSignal:
      return FakeReply::Done(1);
    case agent_v1::Request::kFileWrite:
      return request.file_write().more() ? FakeReply::Silence() : FakeReply::Done();
    case agent_v1::Request::kFileWriteData:
      return request.file_write_data().more() ? FakeReply::Silence() : FakeReply::Done();
    default:
      return FakeReply::Fail("not scripted in this fake agent");
  }
}

agent_v1::Response FakeAgent::Listing(const std::vector<agent_v1::FileEntry>& entries) {
  agent_v1::Response response;
  for (const agent_v1::FileEntry& e : entries) {
    *response.mutable_file_listing()->add_entries() = e;
  }
  response.mutable_file_listing();  // set even when empty
  return response;
}

agent_v1::FileEntry FakeAgent::Entry(std::string name, agent_v1::FileEntry::Type type,
                                     uint32_t mode, std::string link_target, uint64_t size) {
  agent_v1::FileEntry e;
  e.set_name(std::move(name));
  e.set_type(type);
  e.set_mode(mode);
  e.set_link_target(std::move(link_target));
  e.set_size(size);
  return e;
}

FakeReply FakeAgent::FileContents(const std::string& data) {
  FakeReply reply;
  constexpr size_t kChunk = 1u << 20;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    reply.responses.emplace_back().mutable_file_data()->set_data(data.substr(at, kChunk));
  }
  reply.responses.emplace_back().mutable_file_read_done()->set_size(data.size());
  return reply;
}

}  // namespace mvm::testing
