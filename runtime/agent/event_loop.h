// Internal to mvm-agent: the state of its event loop, shared by server.cc (the loop, connections,
// requests) and workloads.cc (processes: start, output, reaping, timeouts, stopping).

#ifndef MVM_RUNTIME_AGENT_EVENT_LOOP_H_
#define MVM_RUNTIME_AGENT_EVENT_LOOP_H_

#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/os/unique_fd.h"
#include "runtime/agent/agent.pb.h"
#include "runtime/agent/exec.h"
#include "runtime/agent/files.h"
#include "runtime/agent/framing.h"
#include "runtime/agent/log_ring.h"
#include "runtime/agent/process_tree.h"
#include "runtime/agent/request.h"
#include "runtime/agent/restart_policy.h"
#include "runtime/agent/server.h"
#include "runtime/agent/volume_ops.h"

namespace mvm::runtime::agent::internal {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr size_t kMaxConnections = 32;
inline constexpr size_t kReadChunk = 64u << 10;
inline constexpr size_t kFileChunk = 1u << 20;
// Output waiting for a slow client; past this the agent stops reading the workload's pipes (and
// the workload blocks) or the file being sent, until the client catches up.
inline constexpr size_t kMaxPending = 1u << 20;
// What is still read from an exec's pipes once its main process is gone, before its result goes
// out.
inline constexpr size_t kDrainLimit = 4u << 20;
// A Logs reply must fit in one frame with room for its envelope.
inline constexpr uint64_t kMaxLogReply = 15u << 20;
inline constexpr milliseconds kStopGrace{2000};
inline constexpr milliseconds kKillGrace{1000};
inline constexpr milliseconds kFlushGrace{1000};
// After a Shutdown answer: how long an agent that watches volumes waits for the last VolumeOps
// (the host's volume-audit helper asks at once; event_loop.h, StopPhase::kLastAsk).
inline constexpr milliseconds kLastAskWait{2000};
inline constexpr milliseconds kStopPoll{50};
// How long the listener rests after accept() ran out of descriptors or memory: it stays readable
// meanwhile, and polling it at once would spin.
inline constexpr milliseconds kAcceptPause{100};
// Services one agent keeps, and the output each keeps of its own (besides the agent's log).
inline constexpr size_t kMaxServices = 16;
inline constexpr size_t kServiceLogBytes = 256u << 10;

/// Writes one line to the agent's stderr (the sandbox console).
void Say(const std::string& message);

/// The processes below this one right now.
std::set<pid_t> ChildrenAtStart();

inline uint64_t MillisBetween(Clock::time_point from, Clock::time_point to) {
  return static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(to - from).count());
}

/// One client connection and the request it is serving; requests on a connection run one at a time.
struct Connection {
  enum class State { kIdle, kExec, kRead, kWrite, kShutdown, kTunnel };

  uint64_t id = 0;
  os::UniqueFd fd;
  FrameDecoder decoder;
  std::string out;
  size_t out_sent = 0;
  State state = State::kIdle;
  bool dead = false;
  uint64_t exec_id = 0;  // kExec
  // kRead and kWrite: the open file, the client's path for messages, bytes so far, the limit.
  os::UniqueFd file;
  std::string path;
  uint64_t file_bytes = 0;
  uint64_t file_limit = 0;
  std::string write_error;  // kWrite: the first failure; later chunks are read and dropped
  // kTunnel: the TCP connection in the sandbox, what the client sent that it has not taken yet,
  // and which side has finished sending. `out` carries the peer's bytes unframed.
  os::UniqueFd peer;
  uint32_t tunnel_port = 0;
  bool peer_connecting = false;
  std::string to_peer;
  size_t to_peer_sent = 0;
  bool client_eof = false;
  bool peer_eof = false;

  size_t pending() const { return out.size() - out_sent; }
};

/// A service (ServiceStart): its command, run again by its restart policy until the agent stops.
struct Service {
  std::string name;
  ExecSpec spec;
  RestartPolicy policy;
  uint64_t exec_id = 0;  // of the running command; 0 while none runs
  uint32_t restarts = 0;
  std::optional<Clock::time_point> restart_at;  // in backoff
  bool failed = false;                          // out of restarts
  bool exited = false;
  int exit_code = 0;
  int signal = 0;
  LogRing log{kServiceLogBytes};
};

/// One workload started by Exec, from fork until its result is sent and its pipes are closed (which
/// can be later: background processes may hold them).
struct Exec {
  struct Counts {
    uint64_t produced = 0;
    uint64_t forwarded = 0;
  };

  uint64_t id = 0;
  pid_t pid = -1;              // the command; -1 until the shim reports it
  pid_t shim = -1;             // the command's parent and subreaper (exec.h)
  bool pid_in_result = false;  // Spawn timed out waiting for the pid: the result pipe has it
  uint64_t conn_id = 0;        // 0 once the client is gone: output then only goes to the log
  std::string service;         // the service it runs, if any: output goes to its ring too
  ExecSpec spec;
  os::UniqueFd in, out, err, status, result;
  std::string result_bytes;    // from the shim: the command's pid (unless Spawn had it), its report
  size_t stdin_sent = 0;       // of spec.stdin_data
  bool stdin_eof = false;      // stdin_stream: the client sent `eof` or left
  bool tty_line_open = false;  // tty: the last byte typed did not end a line (see TypeEof)
  Counts counts[2];            // stdout, stderr
  std::optional<Clock::time_point> deadline;
  bool timed_out = false;
  bool reaped = false;  // the command's wait status is known
  bool status_eof = false;
  bool finished = false;  // the result was sent (or logged)
  int wait_status = 0;
  // As the shim reported with the wait status: processes of the command's tree outlived it. True
  // until known otherwise (a killed shim reports nothing).
  bool tree_left = true;
  bool end_when_idle = false;  // agent.proto, Exec.end_when_idle
  std::string status_bytes;
  Clock::time_point start, end;

  bool open() const {
    return in.valid() || out.valid() || err.valid() || status.valid() || result.valid();
  }
};

/// The event loop and everything it owns (server.cc says why it is one thread).
class Server {
 public:
  Server(const AgentOptions& options, SandboxFiles files, os::UniqueFd listener,
         os::UniqueFd signals, std::unique_ptr<GuestVolumes> volumes)
      : options_(options),
        files_(std::move(files)),
        listener_(std::move(listener)),
        signals_(std::move(signals)),
        volumes_(std::move(volumes)),
        log_(options.log_bytes),
        started_(Clock::now()) {}

  /// Serves until a stop completes; returns the exit status.
  int Run();

 private:
  enum class Kind {
    kSignals,
    kListener,
    kConnection,
    kStdin,
    kStdout,
    kStderr,
    kStatus,
    kResult,
    kPeer,
    kVolumes
  };
  struct Watch {
    Kind kind;
    uint64_t id;
  };
  // kLastAsk: the workloads are gone and a Shutdown answered; an agent that watches volumes waits
  // (kLastAskWait) for the host's last VolumeOps, so that what the workloads did while they were
  // stopped (a SIGTERM handler's writes) is counted, and answers nothing else.
  enum class StopPhase { kRunning, kTerm, kKill, kLastAsk };

  void BuildPoll(std::vector<pollfd>& fds, std::vector<Watch>& watches);
  int PollTimeout() const;
  void Handle(const Watch& watch, short revents);

  // Connections and requests.
  void Accept();
  void OnConnection(Connection& conn, short revents);
  // True while `conn` is read: idle, in a chunked FileWrite, or in a streaming or terminal Exec
  // whose command has room for more stdin (kMaxPending unread bytes at most).
  bool Reading(const Connection& conn) const;
  // True while requests are read: until a stop begins, and in its kLastAsk phase.
  bool AcceptsRequests() const {
    return stop_ == StopPhase::kRunning || stop_ == StopPhase::kLastAsk;
  }
  void HandleFrames(Connection& conn);
  void Dispatch(Connection& conn, const std::string& payload);
  void StartExec(Connection& conn, const v1::Exec& request);
  void ContinueStdin(Connection& conn, const v1::ExecStdin& request);
  // tty: what the terminal's end of file takes, queued as typed input (agent.proto, ExecStdin).
  void TypeEof(Exec& exec);
  void StartRead(Connection& conn, const v1::FileRead& request);
  void PumpRead(Connection& conn);
  void StartWrite(Connection& conn, const v1::FileWrite& request);
  void ContinueWrite(Connection& conn, std::string_view data, bool more);
  void Send(Connection& conn, const v1::Response& response);
  void SendError(Connection& conn, std::string message);
  void SendDone(Connection& conn, uint64_t count);
  void Flush(Connection& conn);
  void ProtocolError(Connection& conn, const std::string& message);
  void Close(Connection& conn);
  // Ends the running request. Callers outside HandleFrames then call it for buffered requests;
  // inside, its loop picks them up (no recursion, however many requests a client pipelines).
  void BecomeIdle(Connection& conn);
  Connection* FindConnection(uint64_t id);

  // Workloads.
  void ReadOutput(Exec& exec, int stream, bool drain);
  void WriteStdin(Exec& exec);
  void ReadStatus(Exec& exec);
  void ReadResult(Exec& exec);
  void Reap();
  void CheckTimeouts();
  void MaybeFinish(Exec& exec);
  // Exec.end_when_idle: as `exec`'s result is sent, whether the agent is PID 1 and nothing but
  // `exec`'s shim, itself about to exit, is left in the sandbox.
  bool NothingElseRuns(const Exec& exec) const;
  // Starts `spec` as a workload no client waits for; the exec's id, or an Error when it cannot.
  ErrorOr<uint64_t> SpawnDetached(const ExecSpec& spec, const std::string& service);

  // Services (services.cc).
  void StartService(Connection& conn, const v1::ServiceStart& request);
  void ListServices(Connection& conn);
  void SendServiceLog(Connection& conn, const v1::Logs& request);
  // The service's command ended (`failed`: not a clean exit 0): start it again later or not.
  void OnServiceExit(const std::string& name, int exit_code, int signal, bool failed);
  void RestartDueServices();
  std::optional<Clock::time_point> NextServiceRestart() const;
  void AppendServiceMarker(const std::string& name, const std::string& line);

  // Tunnels (services.cc).
  void StartTunnel(Connection& conn, const v1::Tunnel& request);
  // The connect ended, with `error` (0: see SO_ERROR while connecting).
  void TunnelConnected(Connection& conn, int error);
  void OnTunnelClient(Connection& conn, short revents);
  void OnTunnelPeer(Connection& conn, short revents);
  void FlushToPeer(Connection& conn);
  void MaybeEndTunnel(Connection& conn);
  // Every workload process: the descendants of the agent but its exec shims and helpers.
  TreeScope Workloads() const;
  uint64_t SignalWorkloads(int signal);

  // Stopping.
  void BeginStop(int signal);
  bool StopDone();
  void FinalFlush();

  const AgentOptions& options_;
  SandboxFiles files_;
  os::UniqueFd listener_;
  os::UniqueFd signals_;
  std::unique_ptr<GuestVolumes> volumes_;  // null: no volume to watch
  LogRing log_;
  const Clock::time_point started_;
  std::map<uint64_t, Connection> connections_;
  std::map<uint64_t, Exec> execs_;
  std::map<std::string, Service> services_;
  // Exec shims not yet reaped; each outlives its exec's result while background processes last.
  std::set<pid_t> shims_;
  // The agent's children from before it served (the microVM's stream multiplexer): never signalled
  // with the workloads, since the host reaches the agent through them.
  const std::set<pid_t> helpers_ = ChildrenAtStart();
  // Before the first workload is spawned: what each child's setup may then skip.
  const ProcessBaseline baseline_ = LearnProcessBaseline();
  uint64_t next_connection_ = 1;
  uint64_t next_exec_ = 1;
  StopPhase stop_ = StopPhase::kRunning;
  Clock::time_point stop_deadline_;
  // An exec with end_when_idle was answered with agent_exits: Run flushes and returns.
  bool exit_now_ = false;
  bool shutdown_asked_ = false;  // a client's Shutdown began the stop: it gets the last ask
  bool last_ask_answered_ = false;
  std::optional<Clock::time_point> accept_paused_until_;
};

}  // namespace mvm::runtime::agent::internal

#endif  // MVM_RUNTIME_AGENT_EVENT_LOOP_H_
