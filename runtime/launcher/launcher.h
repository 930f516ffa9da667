#ifndef MVM_RUNTIME_LAUNCHER_LAUNCHER_H_
#define MVM_RUNTIME_LAUNCHER_LAUNCHER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend-emit/plan/project_files.h"
#include "backend-emit/plan/trust_store.h"
#include "backend-emit/plan/verify.h"
#include "ir/support/error_or.h"
#include "runtime/agent/client.h"
#include "runtime/audit/audit.h"
#include "runtime/backends/backend.h"
#include "runtime/egress/settings.h"
#include "runtime/launcher/state.h"
#include "runtime/oci/pull.h"
#include "runtime/oci/registry.h"

namespace mvm::runtime {

/// Exit statuses of `run` and `exec` besides the workload's own (docs/cli.md), as other
/// container runtimes use them.
inline constexpr int kExitTimeout = 124;
inline constexpr int kExitLauncherFailed = 125;  ///< refused or failed; the reason is printed
inline constexpr int kExitNotExecutable = 126;
inline constexpr int kExitNotFound = 127;

/// A line for the user's terminal (stderr): warnings, progress of long steps, -v timings.
using Note = std::function<void(std::string_view)>;

/// How a launcher is set up. The caller (mvmctl or mvm-launcher) resolves flags into this.
struct LauncherOptions {
  StateDir state;
  /// Keys whose plans may run: the trust store, plus the local dev key (which may sign dev-profile
  /// plans only).
  std::vector<plan::TrustedKey> trusted;
  std::string dev_key_id;              ///< the local dev key's id, or empty
  std::filesystem::path agent_binary;  ///< the static guest agent
  /// The egress helper (runtime/launcher/egress_main.cc), a binary of its own so that only
  /// sandboxes with a network load OpenSSL and ldns.
  std::filesystem::path egress_binary;
  std::filesystem::path python_sdk;   ///< sdks/python, mounted for function-form workloads
  std::string backend = "container";  ///< a backend's name (runtime/backends/registry.cc)
  bool verbose = false;
  Note note;
  /// For a person watching a terminal, unset when nobody is (stderr is not a terminal, or the
  /// output is --format=json). `progress` names the step now under way that may take seconds
  /// ("booting the microVM"; an empty line ends it); `terminal_note` says what only that person
  /// needs to hear (that the microVM is emulated, so boots take seconds).
  Note progress;
  Note terminal_note;
};

/// Names a step to LauncherOptions::progress for as long as it lives.
class ProgressStep {
 public:
  ProgressStep(const Note& progress, std::string_view what) : progress_(progress) {
    if (progress_) {
      progress_(what);
    }
  }
  ProgressStep(const ProgressStep&) = delete;
  ProgressStep& operator=(const ProgressStep&) = delete;
  ~ProgressStep() {
    if (progress_) {
      progress_({});
    }
  }

 private:
  const Note& progress_;
};

/// Finds the guest agent and the Python SDK relative to the running executable, so a build tree
/// and an install prefix (however it was moved) both work: the agent beside it (build tree) or in
/// `../libexec/mvm/` (installed), the SDK in `../share/mvm/sdks/python` (installed) or the source
/// tree. MVM_AGENT and MVM_PYTHON_SDK override them; an agent that is nowhere is an Error saying
/// where it was looked for.
ErrorOr<Ok> LocateRuntimeFiles(LauncherOptions& options);

/// Fills `options.trusted`: the keys in `trust_dir` (empty: the default trust store; a missing
/// store is empty), the `extra` public key files, and the local dev key (`<state>/keys/dev.pub`)
/// when it exists, remembered in `dev_key_id` because it may sign dev-profile plans only.
ErrorOr<Ok> LoadTrust(LauncherOptions& options, const std::filesystem::path& trust_dir,
                      const std::vector<std::filesystem::path>& extra);

/// A secret admission found the plan may have: its names, never its value.
struct SecretRelease {
  std::string env;
  std::string name;
  std::vector<std::string> hosts;
  std::string basis;  ///< "dev-profile" or "grant": why it is released
};

/// A plan the launcher accepted: verified, admitted against replay, within this backend's policy.
struct AdmittedPlan {
  plan::VerifiedPlan verified;
  std::string audit_id;  ///< of the "admit" record
  /// The plan file as admitted: a claim from a warm pool carries it, as the pool checks the
  /// claimer's plan itself.
  std::string bytes;
  std::vector<SecretRelease> secrets;
};

/// Per-phase wall-clock timings of one launch, for -v and the benchmark.
struct PhaseTimings {
  double verify_ms = 0;
  double materialize_ms = 0;  ///< the rootfs tree (and, for a microVM, kernel, initramfs, images)
  /// container: container::Start, clone to PID 1 exec'd; qemu-microvm: fork to qemu exec'd.
  double namespaces_ms = 0;
  /// container: connect to the agent; qemu-microvm: from the start of the boot to the agent's
  /// Hello answered through the virtio-serial port (the readiness boundary).
  double agent_ready_ms = 0;
  double exec_ms = 0;
  double teardown_ms = 0;
  /// How a run's sandbox ended: "agent exited" (its last exec left nothing running, Sandbox::
  /// AgentExits) or "shutdown" (the agent asked to stop what runs: SIGTERM, then a grace).
  std::string teardown;
  /// qemu-microvm only, in ms from the start of the (last) boot: qemu exec'd, the guest kernel
  /// started (derived from the guest's CLOCK_BOOTTIME at agent start), the agent ready, the first
  /// command's result back (run only).
  double process_spawned_ms = 0;
  double kernel_entered_ms = 0;
  double first_exec_result_ms = 0;
  int boot_attempts = 0;
  std::string acceleration;  ///< "kvm" or "tcg" (qemu-microvm), empty for containers
  /// Claimed from a warm pool instead of started: which pool, and the claim's wall time, from
  /// looking for a pool to the claimed sandbox's agent answering (the readiness boundary).
  std::string pool;
  double claim_ms = 0;
  /// What a start spent outside the phases above, step by step, in ms and in the order first
  /// taken ("name lock", "watchdog", "record files", ...): `run -v`'s "start other" line.
  std::vector<std::pair<std::string, double>> start_steps;
};

/// Verifies `plan_bytes` against the trusted keys and the clock, admits it against the replay
/// state, and checks it against what this backend can enforce. Every outcome is audited; a refusal
/// is an Error whose message starts with "refused: ".
ErrorOr<AdmittedPlan> Admit(const LauncherOptions& options, std::string_view plan_bytes,
                            audit::Log& audit, PhaseTimings* timings);

/// How to start a sandbox.
struct StartOptions {
  std::string name;  ///< empty: "<workload id>-<6 random hex digits>"
  bool detached = false;
  /// Host files copied read-only into the sandbox: the declaring file of a function-form workload
  /// goes to /app/<file name>.
  std::vector<std::pair<std::string, std::filesystem::path>> app_files;
  /// Local volume sources are relative to this directory (the declaring file's, for a source file).
  std::filesystem::path project_root;
  /// Where the contents of the plan's project files are (its bundle, or the project's files); each
  /// is checked against the plan's signed digest before it is staged at /app.
  plan::BlobSource blobs;
  /// Take a ready sandbox from a running warm pool for the same plan (pool.h) when there is one.
  bool use_pool = true;
  /// Set by a warm pool for the sandboxes it keeps: they do not die with this process by the
  /// kernel's hand (PR_SET_PDEATHSIG), as they are handed over to others, but the watchdog still
  /// removes them if this process dies while they are unclaimed.
  std::string pool;
  /// Start from a full snapshot instead of booting (full_snapshot.h): what the backend loads, and
  /// the root file system digest its VM ran on, which the plan must still resolve to.
  struct Restore {
    backends::IncomingSnapshot incoming;
    std::string rootfs_digest;
    /// The snapshotted sandbox's egress CA when it had secrets (its guest trusts that CA only),
    /// opened and as sealed; the restored sandbox's own tokens are minted fresh all the same.
    std::optional<egress::SandboxCa> egress_ca;
    std::string egress_ca_sealed;
  };
  std::optional<Restore> restore;
  /// Names the egress helper answers with these IPv4 addresses instead of asking the host's
  /// resolvers (egress::Settings::fixed_hosts). Only the launcher's own plans set it: the
  /// builder's, whose archive host the host's /etc/hosts may name.
  std::map<std::string, std::vector<std::string>> egress_fixed_hosts;
  /// backends::StartRequest::setid_files; only the launcher's own plans set it: the builder's for a
  /// Debian build.
  bool setid_files = false;
  /// Targets of read-only local volumes the sandbox sees live rather than as of its start
  /// (backends::SandboxMount::live). Only the launcher's own plans set it: the builder's /src,
  /// where a warm builder finds each build's flake.
  std::vector<std::string> live_read_only;
  /// `mvmctl run`: the `launch` record waits for the first exec's audit step (RunToCompletion) and
  /// reaches the disk with the `exec` record, one sync for both, before the command starts. Until
  /// then only mvm's own agent has run in the sandbox, which dies with a launcher killed meanwhile:
  /// its watchdog records the `destroy` alone. Ignored for a detached start and for a plan with
  /// secrets, whose releases follow the launch.
  bool launch_record_with_first_exec = false;
  /// The caller sends its first agent request right after Start (RunToCompletion's exec):
  /// backends::StartRequest::first_request_follows.
  bool first_request_follows = false;
};

/// A started sandbox, owned by this process: destroyed by Destroy(), or, if this process dies
/// first, by its watchdog (unless detached).
/// What a warm pool keeps of a sandbox with secrets (internal.h).
struct PooledEgress;

class Sandbox {
 public:
  Sandbox(Sandbox&&) noexcept;
  Sandbox& operator=(Sandbox&&) noexcept;
  ~Sandbox();

  const SandboxRecord& record() const { return record_; }
  agent::Client& agent() { return *agent_; }
  /// Waits until the sandbox has ended (PID 1, or the VM's supervisor), reaping it when it is this
  /// process's child; an Error when it has not within `timeout`.
  ErrorOr<Ok> Wait(std::chrono::milliseconds timeout) { return process_.Wait(timeout); }
  /// Tells the watchdog its job is done and lets the sandbox outlive this process.
  void Release();
  /// The records StartOptions::launch_record_with_first_exec held back, for the caller's next
  /// audit step; Destroy appends any not taken.
  std::vector<audit::Log::Event> TakeDeferredAudit() { return std::exchange(deferred_audit_, {}); }
  /// The agent answered the last exec saying nothing else runs and it exits
  /// (agent::ExecResult::agent_exits): Destroy then ends PID 1 with SIGKILL instead of asking the
  /// agent to shut down. Only for a backend that ends with its agent (Capabilities::
  /// ends_with_agent), where PID 1's end takes every process of the sandbox along, so a lying
  /// agent can cost no more than the workload's own processes their grace.
  void AgentExits() { agent_exits_ = true; }

 private:
  friend ErrorOr<Sandbox> Start(const LauncherOptions&, const AdmittedPlan&, const StartOptions&,
                                audit::Log&, PhaseTimings*);
  friend ErrorOr<Ok> Destroy(const LauncherOptions&, Sandbox&, audit::Log&, std::string_view,
                             std::span<const audit::Log::Event>);
  friend struct SandboxAccess;  // the backends' start paths and warm pools (internal.h)
  Sandbox() = default;

  SandboxRecord record_;
  /// container: PID 1; qemu-microvm: the VM's supervisor process (qemu dies with it). Claimed
  /// from a warm pool, another process's child, which Wait watches instead of reaping.
  backends::OwnedProcess process_;
  std::optional<agent::Client> agent_;
  int watchdog_fd_ = -1;  ///< write end of the watchdog's pipe; -1 when there is none
  pid_t watchdog_pid_ = -1;
  /// A warm pool's sandbox with secrets: what a claim needs to restart its egress helper with fresh
  /// tokens (internal.h).
  std::shared_ptr<PooledEgress> pooled_egress_;
  std::vector<audit::Log::Event> deferred_audit_;
  bool agent_exits_ = false;
};

/// Materialises the root filesystem, starts the sandbox on the backend with the guest agent as PID
/// 1 and waits until the agent answers. Not detached: a watchdog process tears everything down
/// (processes, cgroups, state) if this process dies, and PID 1 gets SIGKILL from the kernel
/// (PR_SET_PDEATHSIG) at the same moment.
ErrorOr<Sandbox> Start(const LauncherOptions& options, const AdmittedPlan& plan,
                       const StartOptions& start, audit::Log& audit, PhaseTimings* timings);

/// The result of one command in a sandbox, as `run` and `exec` report it.
struct ExecOutcome {
  int exit_status = 0;  ///< what mvmctl exits with
  std::string message;  ///< why, when not the command's own status ("killed: memory limit …")
  agent::ExecResult result;
  std::string audit_id;
};

/// Maps an agent's result to mvmctl's exit status and message: the command's own status, 124 on
/// timeout (naming `timeout_option`, the setting the user gave the limit with), 126/127 when it
/// could not start, 128+N for signal N, with the memory-limit reason for an OOM kill. Output
/// truncation is reported in the message, never silently. `on_terminal` (the command ran on a
/// terminal, `-t`): a SIGINT death has no message, as the user's own ^C that the terminal already
/// echoed; the status stays 130.
ExecOutcome DescribeExec(const agent::ExecResult& result, bool oom_killed, uint32_t memory_mb,
                         uint32_t timeout_seconds,
                         std::string_view timeout_option = "timeout_seconds",
                         bool on_terminal = false);

/// The user's terminal, for a command run on a terminal in the sandbox (`-t`;
/// cli/host_terminal.h): what the launcher needs of it, so that the raw mode covers exactly the
/// command's run and never an audit append, where a signal would leave the log unfinished.
class ExecTerminal {
 public:
  virtual ~ExecTerminal() = default;
  /// Fills the terminal fields of `request` (agent::ExecRequest::tty and the rest).
  virtual void Prepare(agent::ExecRequest& request) const = 0;
  /// Makes the user's terminal raw, right before the request is sent.
  virtual ErrorOr<Ok> Enter() = 0;
  /// Puts it back, right after the command's result (or the agent's loss) is known.
  virtual void Restore() = 0;
};

/// Runs `request` in the sandbox `record` names, streaming output to `sink`; audited. A timeout is
/// reported as DescribeExec says, naming `timeout_option` (`--timeout` for `mvmctl exec`). With
/// `terminal` the command runs on a terminal in the sandbox, the user's raw meanwhile. With
/// `exit_record`, the `exec-exit` record is left there for the caller to append with its next step
/// (RunToCompletion: with the sandbox's `destroy`, one sync for both) and the outcome has no
/// audit id. `before`: records appended in the same step as the `exec` record, ahead of it (a run's
/// held-back `launch`, Sandbox::TakeDeferredAudit).
ErrorOr<ExecOutcome> Exec(const LauncherOptions& options, const SandboxRecord& record,
                          agent::Client& agent, agent::ExecRequest request,
                          const agent::OutputSink& sink, uint32_t timeout_seconds,
                          audit::Log& audit, std::string_view timeout_option = "timeout_seconds",
                          ExecTerminal* terminal = nullptr,
                          std::optional<audit::Log::Event>* exit_record = nullptr,
                          std::span<const audit::Log::Event> before = {});

/// Shuts the sandbox down and removes every trace: processes, cgroups, state. Audited with
/// `reason`, after `before` (records of the same step, e.g. the last exec's `exec-exit`), in one
/// sync with the closing checkpoint.
ErrorOr<Ok> Destroy(const LauncherOptions& options, Sandbox& sandbox, audit::Log& audit,
                    std::string_view reason, std::span<const audit::Log::Event> before = {});

/// Stops a sandbox by name from any process (`mvmctl stop`/`destroy`, `gc`): the agent's shutdown,
/// then SIGKILL if it does not go within the grace period; removes its cgroups. `remove_state`
/// also deletes its directory.
ErrorOr<Ok> StopByName(const LauncherOptions& options, std::string_view name, bool remove_state,
                       audit::Log& audit, std::string_view reason);

/// Pauses sandbox `name` from any process (`mvmctl pause`): Backend::Pause stops its processes,
/// then its record says so, and commands that need its agent (exec, fs, snapshot, logs) are
/// refused with PausedError until ResumeByName. Pausing a paused sandbox is fine. Audited as
/// `pause`, with the reason when the backend failed.
ErrorOr<Ok> PauseByName(const LauncherOptions& options, std::string_view name, audit::Log& audit);

/// Lets a paused sandbox run on (`mvmctl resume`); the inverse of PauseByName, audited as `resume`.
ErrorOr<Ok> ResumeByName(const LauncherOptions& options, std::string_view name, audit::Log& audit);

/// The refusal of a command that needs the agent of paused sandbox `name` (kind sandbox-paused):
/// its agent is stopped too, and would never answer.
Error PausedError(std::string_view name);

/// A running sandbox reached by name from any process: its record and a connection to its agent.
/// A paused sandbox is refused (PausedError).
struct Attached {
  SandboxRecord record;
  agent::Client agent;
};
ErrorOr<Attached> Attach(const LauncherOptions& options, std::string_view name);

/// The file operations of `mvmctl fs`, confined by the agent to the sandbox and audited.
enum class FileOp { kRead, kWrite, kList, kRemove };
struct FileRequest {
  FileOp op = FileOp::kRead;
  std::string path;
  std::string data;        ///< kWrite
  bool recursive = false;  ///< kRemove
};
struct FileResult {
  std::string data;                       ///< kRead
  std::vector<agent::FileEntry> entries;  ///< kList
};
ErrorOr<FileResult> RunFileOp(Attached& sandbox, const FileRequest& request, audit::Log& audit);

/// What `mvmctl run` does with an admitted plan: start, run the entrypoint with `args` appended,
/// stream its output to stdout/stderr, destroy, and return the exit status.
struct RunOptions {
  std::string entrypoint;  ///< empty: the first entrypoint
  std::vector<std::string> args;
  StartOptions start;
  /// Write the workload's output unchanged even to a terminal (`--raw`); otherwise a terminal gets
  /// it through a TerminalEscaper (ir/support/terminal_text.h).
  bool raw_output = false;
  /// When >= 0, streamed to the entrypoint's stdin (`-i`; agent::ExecRequest::stdin_fd); else it
  /// has none.
  int stdin_fd = -1;
  /// Set: the entrypoint runs on a terminal (`-t`; Exec), and its output goes out unescaped: it is
  /// a terminal's. Not owned.
  ExecTerminal* terminal = nullptr;
};
/// What every command in a sandbox gets beyond what its caller asked for: AddSandboxEnvironment's
/// variables and, for a sandbox of an OCI image, the image's User and, unless the caller gave a
/// working directory, its WorkingDir.
void PrepareSandboxExec(const SandboxRecord& record, agent::ExecRequest& request, bool cwd_given);

/// An oci::EventFn that appends each image event (image-resolve, image-fetch, image-cache-hit,
/// image-materialize) to `log` as a record of its fields.
oci::EventFn ImageAuditEvents(audit::Log& log);

/// Pulls `ref` into `state`'s image cache (runtime/oci/pull.h; a pinned image the cache holds is a
/// hit that asks no registry), auditing its steps to `log`, with progress lines to `progress` (may
/// be empty). Besides the system trust store the registry is trusted with
/// `registry_options.ca_file`, else $SSL_CERT_FILE.
ErrorOr<oci::Pulled> PullImage(const StateDir& state, const oci::Reference& ref, audit::Log& log,
                               const oci::ProgressFn& progress,
                               oci::RegistryOptions registry_options = {});

ErrorOr<int> RunToCompletion(const LauncherOptions& options, const AdmittedPlan& plan,
                             const RunOptions& run, audit::Log& audit, PhaseTimings* timings);

/// A host port chosen for a guest port (`mvmctl up --publish GUEST:HOST`); host 0: ephemeral.
struct PublishRequest {
  int guest_port = 0;
  int host_port = 0;
};
/// `--publish` values as given; a usage Error for one that is not `GUEST[:HOST]`.
ErrorOr<std::vector<PublishRequest>> ParsePublish(const std::vector<std::string>& flags);

/// Listening sockets on the host's 127.0.0.1 for every port the plan's workload declares (`ports=`
/// and each service's `port`), at the host port `publish` chooses for it or an ephemeral one.
/// Bound before the sandbox starts, so that a chosen port another process holds is an Error that
/// names it and nothing has started.
struct BoundPorts {
  std::vector<SandboxRecord::PublishedPort> ports;
  std::vector<os::UniqueFd> fds;  ///< one per port, in the same order
};
ErrorOr<BoundPorts> BindPorts(const plan::v1::ExecutionPlan& plan,
                              const std::vector<PublishRequest>& publish);

/// What `up` does once the sandbox runs (docs/services.md): hands `ports` to a ports helper (which
/// relays each connection to the guest port through an agent Tunnel, on every backend, and ends
/// with the sandbox), starts every service of the plan through the agent with its restart policy,
/// records both in the sandbox's record and audits them (`port-publish`, `service-start`).
/// `resumed` (a microVM restored from a full snapshot, whose agent came back with its memory): a
/// service the agent already runs is recorded and audited as `service-resume` with the phase the
/// agent reports, not started twice; one it does not run is started.
ErrorOr<Ok> Serve(const LauncherOptions& options, Sandbox& sandbox, const AdmittedPlan& admitted,
                  BoundPorts ports, audit::Log& audit, bool resumed = false);

/// Audits what changed between two of the agent's service listings: `service-restart` when a
/// service was started again, `service-exit` when it ended for good. The facts are the guest's.
void AuditServiceChanges(const std::string& sandbox,
                         const std::vector<agent::ServiceStatus>& before,
                         const std::vector<agent::ServiceStatus>& now, audit::Log& audit);

/// The audit log and the launcher's checkpoint key that signs it (`<state>/keys/launcher.key`,
/// made on first use). The key is declared first so that it outlives the log that signs with it.
struct AuditSession {
  std::unique_ptr<plan::SecretKey> key;
  std::optional<audit::Log> log;
};
ErrorOr<std::unique_ptr<AuditSession>> OpenAudit(const StateDir& state);

/// The first argument of this program run as one of the launcher's helper processes (the
/// parent-death watchdog, a detached warm pool's daemon): the launcher execs its own executable
/// with it.
inline constexpr std::string_view kHelperFlag = "--mvm-helper";

/// Runs the helper `argv` asks for and returns its exit status, or nothing when argv[1] is not
/// kHelperFlag. Every program that starts sandboxes through this library calls it first in main.
std::optional<int> RunHelperIfAsked(int argc, char** argv);

/// The secret key `<dir>/<name>.key`, generated (with `<name>.pub`) on first use.
ErrorOr<plan::SecretKey> EnsureKey(const std::filesystem::path& dir, std::string_view name);

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_LAUNCHER_H_
