#ifndef MVM_RUNTIME_AGENT_CLIENT_H_
#define MVM_RUNTIME_AGENT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"

namespace mvm::agent::v1 {
class Request;
class Response;
class FileListing;
}  // namespace mvm::agent::v1

namespace mvm::runtime::agent {

/// Which output stream of a workload a chunk came from.
enum class Stream { kStdout, kStderr };
/// Receives a workload's output as it arrives, at most the request's output_limit_bytes per
/// stream. Called on the thread that called Client::Exec; the view is valid during the call only.
using OutputSink = std::function<void(Stream, std::string_view)>;

/// A terminal's size in character cells.
struct WindowSize {
  uint16_t rows = 0;
  uint16_t cols = 0;
};

/// A command to run in the sandbox.
struct ExecRequest {
  std::vector<std::string> argv;  ///< argv[0] is searched in the PATH of `env` when it has no '/'
  /// Exactly the environment the command gets; PATH defaults to
  /// /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin when not given.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd = "/";  ///< absolute, as the sandbox sees it
  std::string stdin_data;
  /// When >= 0, a descriptor whose bytes, after `stdin_data`, are streamed to the command's stdin
  /// as they arrive, and its end of file closes that stdin. Not taken over; only read, never made
  /// non-blocking. At most kStdinWindow bytes of it are held at a time.
  int stdin_fd = -1;
  uint32_t timeout_ms = 0;  ///< 0: none; on expiry the command's process group is killed
  uint64_t output_limit_bytes = 16u << 20;  ///< per stream; the rest is counted, not forwarded
  /// Run as this uid and gid (both or neither); unset: the sandbox's root.
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  /// Run on a pseudo-terminal in the sandbox (agent.proto, Exec.tty): `stdin_data` and `stdin_fd`
  /// are typed into it, its end of file is the terminal's (VEOF), and all output, stdout and
  /// stderr merged as a terminal merges them, arrives as Stream::kStdout.
  bool tty = false;
  WindowSize window;  ///< tty: its first size
  /// tty: a descriptor that turns readable when the size changed (a SIGWINCH self-pipe), or -1.
  /// Exec reads what is there and sends `window_size()` to the agent. Not taken over.
  int resize_fd = -1;
  std::function<WindowSize()> window_size;
  /// The client's last request to a sandbox that ends with its PID 1 (agent.proto,
  /// Exec.end_when_idle): when nothing else runs once the command ended, the agent exits after
  /// its answer (ExecResult::agent_exits).
  bool end_when_idle = false;
};

/// How a command ended.
struct ExecResult {
  int exit_code = 0;  ///< valid when signal == 0 (else 128 + signal)
  int signal = 0;     ///< terminating signal, 0 when it exited
  bool timed_out = false;
  uint64_t stdout_bytes = 0, stderr_bytes = 0;      ///< produced
  uint64_t stdout_dropped = 0, stderr_dropped = 0;  ///< beyond output_limit_bytes
  std::string error;  ///< set for 126/127: why the command could not start
  uint32_t duration_ms = 0;
  /// ExecRequest::end_when_idle was set and the agent said nothing else runs and it exits now.
  /// The agent's word: worth trusting only for what it can cost the workload itself.
  bool agent_exits = false;
};

/// One directory entry as File listing reports it (symlinks are not followed).
struct FileEntry {
  std::string name;
  enum class Type { kFile, kDir, kSymlink, kOther } type;
  uint64_t size;
  uint32_t mode;            ///< permission bits (07777)
  std::string link_target;  ///< kSymlink: the link's contents, never resolved
};

/// The entries of a FileListing as the agent sent them: nothing is checked (names may hold `/`,
/// `..` or NUL bytes, modes any bits); callers that build paths from them validate first.
std::vector<FileEntry> ToFileEntries(const ::mvm::agent::v1::FileListing& listing);

/// A service to start (ServiceStart in agent.proto): `exec` without timeout or stdin.
struct ServiceSpec {
  std::string name;
  ExecRequest exec;
  std::string restart = "on-failure";  ///< "never", "on-failure" or "always"
  uint32_t max_restarts = 10;
};

/// A service as the agent reports it: guest-reported, shown, never trusted for anything else.
struct ServiceStatus {
  std::string name;
  std::string phase;  ///< "running", "backoff", "exited", "failed" (or "unknown")
  int32_t pid = 0;    ///< in the sandbox's pid namespace; 0 when not running
  uint32_t restarts = 0;
  bool exited = false;
  int32_t exit_code = 0;
  int32_t signal = 0;
  std::string command;
};

/// A volume's operations as the agent counted them since the last VolumeOps (agent.proto):
/// guest-reported, so recorded as the agent's word (`"reported_by": "guest-agent"`) and never
/// trusted for anything else.
struct GuestVolumeOps {
  struct Count {
    std::string op;  ///< "read", "write", "create", "delete", "rename"
    uint64_t count = 0, failed = 0, bytes = 0;
    bool at_least = false;
  };
  std::string target;
  bool watched = false;
  std::string detail;
  std::vector<Count> ops;
};

/// What Hello reports about the agent.
struct AgentInfo {
  std::string version;
  int32_t pid;  ///< 1 when the agent is the sandbox's init
  uint64_t uptime_ms;
};

/// A connection to an `mvm-agent` (runtime/agent/agent.proto). Requests are synchronous and one at
/// a time; a Client is used from one thread at a time (open another for concurrent requests).
/// What the agent sends is treated as untrusted: sizes are bounded here too. Errors the agent
/// reports become mvm::Error with its message; a lost connection is an Error saying the agent
/// went away, and every later call fails the same way.
class Client {
 public:
  /// Connects, retrying while the socket does not exist yet or refuses, until `wait` has passed;
  /// then sends Hello, which must be answered within kHelloLimit or what is left of `wait`,
  /// whichever is longer. The socket is never reached
  /// through a symbolic link and must belong to this process's effective uid. Every later
  /// request fails once the agent goes kReplyLimit without sending a byte of its answer.
  static ErrorOr<Client> Connect(const std::filesystem::path& socket,
                                 std::chrono::milliseconds wait);
  /// When Connect waits for Hello's answer.
  enum class HelloAnswer {
    kNow,
    /// Sends Hello and returns at once: its answer is read, and checked as Connect checks it,
    /// right before the answer to the first request that follows, which is sent meanwhile
    /// (agent.proto: pipelining). So the agent's start overlaps the caller's work and the
    /// handshake costs no round trip of its own. A failed Hello is that request's Error, with
    /// `explain()` (when set) appended: what the caller knows of why, such as the agent's output.
    kWithFirstRequest,
  };
  static ErrorOr<Client> Connect(const std::filesystem::path& socket,
                                 std::chrono::milliseconds wait, HelloAnswer answer,
                                 std::function<std::string()> explain = {});

  /// A client on a stream that is already connected (tests and the fuzz target); takes `fd` over.
  /// Sends nothing: call Hello to check the peer.
  static Client Adopt(int fd, std::string name) { return Client(fd, std::move(name)); }

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  /// The agent's version, pid and uptime.
  ErrorOr<AgentInfo> Hello();
  /// What Exec reads ahead of `stdin_fd` while the agent is not taking it.
  static constexpr size_t kStdinWindow = 256u << 10;
  /// Runs a command to completion, passing its output to `sink` as it arrives (and streaming
  /// `stdin_fd` to it, when set, while it runs). A command that
  /// cannot be found or run is a result (exit 127 or 126, `error` set), not an Error; a request the
  /// agent refuses (empty argv, missing cwd) is an Error.
  ErrorOr<ExecResult> Exec(const ExecRequest& request, const OutputSink& sink);
  /// The contents of a regular file; an Error when it is larger than `max_bytes`.
  ErrorOr<std::string> ReadFile(const std::string& path, uint64_t max_bytes = 64u << 20);
  /// Creates or replaces a regular file with `data` and sets its permission bits to `mode`.
  ErrorOr<Ok> WriteFile(const std::string& path, std::string_view data, uint32_t mode = 0644,
                        bool make_parents = false);
  /// Creates a directory with permission bits `mode` (an existing one is kept and given `mode`).
  ErrorOr<Ok> MakeDirectory(const std::string& path, uint32_t mode);
  /// Creates a symlink holding `target` (stored as given, never followed by the agent).
  ErrorOr<Ok> MakeSymlink(const std::string& path, const std::string& target);
  /// The entries of a directory, sorted by name.
  ErrorOr<std::vector<FileEntry>> List(const std::string& path);
  /// Removes a file, symlink or empty directory; with `recursive`, a tree (symlinks are removed,
  /// never followed).
  ErrorOr<Ok> Remove(const std::string& path, bool recursive);
  /// The newest `max_bytes` of the agent's log: workload output and `[mvm-agent]` marker lines.
  ErrorOr<std::string> Logs(uint64_t max_bytes = 1u << 20);
  /// Starts a service detached from this connection; the agent restarts it by `spec.restart`.
  ErrorOr<Ok> StartService(const ServiceSpec& spec);
  /// Every service the agent was asked to start, sorted by name.
  ErrorOr<std::vector<ServiceStatus>> ListServices();
  /// The counts of the volumes the agent watches, handed over (VolumeOps). `last`, when given, is
  /// set to whether the agent said this is its last answer (its workloads are gone).
  ErrorOr<std::vector<GuestVolumeOps>> VolumeOps(bool* last = nullptr);
  /// The newest `max_bytes` of service `name`'s own log ring; an Error naming the services there
  /// are when the agent has no such service.
  ErrorOr<std::string> ServiceLogs(const std::string& name, uint64_t max_bytes = 1u << 20);
  /// Turns this connection into a byte pipe to TCP `port` on the sandbox's loopback and gives it
  /// up: the returned descriptor relays raw bytes, and this Client is closed.
  ErrorOr<int> Tunnel(uint32_t port);
  /// Sends `signal` to every workload process group the agent started.
  ErrorOr<Ok> Signal(int signal);
  /// Gives a VM restored from a snapshot its own identity (identity.h): `hostname` (empty: kept),
  /// `entropy` for the kernel's random pool, CLOCK_REALTIME set to `realtime_ns` (0: kept).
  ErrorOr<Ok> Refresh(const std::string& hostname, const std::string& entropy, int64_t realtime_ns);
  /// From now on every request must be answered in full by `deadline`, however the agent spaces
  /// its bytes (std::nullopt: no deadline, only the limits on silence). A request started past it
  /// fails without being sent; one whose answer is not complete by then fails and closes the
  /// connection, as what arrived of the answer cannot be told from the next one.
  void SetDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
    deadline_ = deadline;
  }
  /// Stops the agent: SIGTERM to workloads, SIGKILL after 2 s, then the agent exits. Returns once
  /// the agent has answered, or an Error after kShutdownLimit without an answer (the caller then
  /// kills the sandbox); the connection is closed after.
  ErrorOr<Ok> Shutdown();

 private:
  /// How long Hello may take; an agent that accepted but says nothing is not an agent.
  static constexpr std::chrono::milliseconds kHelloLimit{5000};
  /// How long any other request may go without a byte of its answer (Exec: see there).
  static constexpr std::chrono::milliseconds kReplyLimit{10000};
  /// How long Shutdown may take: the agent answers once its workloads are gone, which takes at most
  /// its 2 s grace before SIGKILL.
  static constexpr std::chrono::milliseconds kShutdownLimit{5000};
  /// How long past an Exec's own timeout the agent may be silent before it is taken for lost.
  static constexpr std::chrono::milliseconds kExecGrace{10000};

  Client(int fd, std::string socket) : fd_(fd), socket_(std::move(socket)) {}

  /// Sends `request`; its answer may then go `limit` without a byte before ReadResponse gives up
  /// (0: no limit).
  ErrorOr<Ok> SendRequest(const ::mvm::agent::v1::Request& request,
                          std::chrono::milliseconds limit = kReplyLimit);
  ErrorOr<AgentInfo> HelloWithin(std::chrono::milliseconds limit);
  /// Hello's answer as Hello and Connect take it: an AgentInfo of protocol version 1.
  ErrorOr<AgentInfo> CheckHello(const ErrorOr<::mvm::agent::v1::Response>& response);
  /// Reads and checks the answer to a Hello sent without waiting (HelloAnswer::kWithFirstRequest),
  /// allowing until `hello_by_`; nothing when there is none pending.
  ErrorOr<Ok> AwaitPendingHello();
  /// Reads an Exec's answer while it streams `request.stdin_fd` and, for a terminal, its resizes
  /// to the agent (ExecStdin frames), in one poll loop so that neither direction waits on the
  /// other. `handle` takes each Response and
  /// returns a result once one ends the Exec.
  ErrorOr<ExecResult> StreamExec(
      const ExecRequest& request,
      const std::function<std::optional<ErrorOr<ExecResult>>(const ::mvm::agent::v1::Response&)>&
          handle);
  ErrorOr<::mvm::agent::v1::Response> ReadResponse();
  /// Sends `request`, reads one Response and checks it is an Error (returned as such) or a Done.
  ErrorOr<Ok> RoundTripDone(const ::mvm::agent::v1::Request& request,
                            std::chrono::milliseconds limit = kReplyLimit);
  /// Sends `request` and reads one Response; an Error it carries is returned as such.
  ErrorOr<::mvm::agent::v1::Response> Exchange(const ::mvm::agent::v1::Request& request,
                                               std::chrono::milliseconds limit);
  /// Exchange, and a Response that is not of the kind `expected` tests for breaks the connection.
  ErrorOr<::mvm::agent::v1::Response> RoundTrip(const ::mvm::agent::v1::Request& request,
                                                bool (::mvm::agent::v1::Response::*expected)()
                                                    const,
                                                std::chrono::milliseconds limit = kReplyLimit);
  /// Closes the connection after a failure, so that later calls fail instead of reading the
  /// remains of an interrupted reply; returns `error` for the caller to pass on.
  Error Broken(Error error);

  int fd_ = -1;
  std::string socket_;
  /// The limit of the request in flight (SendRequest), for ReadResponse's message.
  std::chrono::milliseconds reply_limit_ = kReplyLimit;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  /// Set while Hello's answer is still to be read (HelloAnswer::kWithFirstRequest): by when.
  std::optional<std::chrono::steady_clock::time_point> hello_by_;
  std::function<std::string()> explain_hello_;
};

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_CLIENT_H_
