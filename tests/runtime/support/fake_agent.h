// A scripted guest agent for guest-trust attack tests: it speaks the agent protocol
// (runtime/agent/agent.proto, framed as runtime/agent/framing.h says) from a thread of the test
// process and answers each request with whatever the test's handler returns: lies, garbage,
// silence, a closed connection. A microVM guest's root can do all of that in place of the real
// agent, so host code that talks to an agent must survive it.
//
// Either connected to an agent::Client directly (Connect, for in-process tests: Client::Adopt) or
// listening on a unix socket (Listen, for `mvmctl` run against it, e.g. in place of a sandbox's
// agent.sock). Each connection is served on its own thread, one request at a time, like the real
// agent; everything stops in the destructor.
#ifndef MVM_TESTS_RUNTIME_SUPPORT_FAKE_AGENT_H_
#define MVM_TESTS_RUNTIME_SUPPORT_FAKE_AGENT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/agent/agent.pb.h"
#include "runtime/agent/client.h"

namespace mvm::testing {

namespace agent_v1 = ::mvm::agent::v1;

/// What the fake sends for one request.
struct FakeReply {
  std::chrono::milliseconds delay{0};         ///< waited before anything is sent
  std::vector<agent_v1::Response> responses;  ///< framed and sent in order
  std::string raw;  ///< sent after them as it is, unframed (garbage, a cut frame)
  /// Not zero: everything is sent one byte at a time, this long apart (an agent that keeps every
  /// silence shorter than the host's limit on silence, yet never finishes).
  std::chrono::milliseconds trickle{0};
  bool close = false;  ///< close the connection after sending

  /// No answer at all (the request waits for its time limit).
  static FakeReply Silence() { return {}; }
  /// These responses, at once.
  static FakeReply Of(std::vector<agent_v1::Response> responses);
  /// One Error response.
  static FakeReply Fail(std::string message);
  /// One Done response.
  static FakeReply Done(uint64_t count = 0);
};

/// Decides the reply to each request; called on the connection's thread, one request at a time.
using FakeHandler = std::function<FakeReply(const agent_v1::Request&)>;

class FakeAgent {
 public:
  /// A fake whose requests go to `handler`.
  explicit FakeAgent(FakeHandler handler);
  /// Stops every connection thread (closing their sockets) and the listener.
  ~FakeAgent();
  FakeAgent(const FakeAgent&) = delete;
  FakeAgent& operator=(const FakeAgent&) = delete;

  /// A client connected to the fake over a socket pair, Hello not yet sent.
  runtime::agent::Client Connect();
  /// Listens at `path` (a stale socket there is replaced, as the real agent does) and serves every
  /// connection made to it.
  ErrorOr<Ok> Listen(const std::filesystem::path& path);

  /// Every request received so far, in order (all connections).
  std::vector<agent_v1::Request> requests() const;

  /// What the real agent answers to Hello (protocol version 1), Signal and Ping, and what a write
  /// in progress gets (nothing until its last chunk); the Error "not scripted" for the rest.
  /// Handlers fall back to it for requests they do not script.
  static FakeReply Standard(const agent_v1::Request& request);

  /// A FileListing response of `entries`.
  static agent_v1::Response Listing(const std::vector<agent_v1::FileEntry>& entries);
  /// A directory entry.
  static agent_v1::FileEntry Entry(std::string name, agent_v1::FileEntry::Type type,
                                   uint32_t mode = 0644, std::string link_target = {},
                                   uint64_t size = 0);
  /// The FileData and FileReadDone responses of a file holding `data`.
  static FakeReply FileContents(const std::string& data);

 private:
  void Serve(int fd);
  // Sleeps for `delay` unless the fake is stopping; false when it is.
  bool Wait(std::chrono::milliseconds delay);

  FakeHandler handler_;
  mutable std::mutex mutex_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::vector<agent_v1::Request> requests_;
  std::vector<int> connections_;  // open sockets, shut down on destruction
  std::vector<std::thread> threads_;
  int listener_ = -1;
  std::thread acceptor_;
};

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_SUPPORT_FAKE_AGENT_H_
