#ifndef MVM_RUNTIME_LAUNCHER_STATE_H_
#define MVM_RUNTIME_LAUNCHER_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/backends/helper.h"

namespace mvm::runtime {

/// Where the launcher keeps everything: `--state-dir`, else `$XDG_STATE_HOME/mvm`, else
/// `~/.local/state/mvm`. One directory so that `rm -rf` of it is a complete reset, and so that
/// tests run side by side in temporary ones.
struct StateDir {
  std::filesystem::path root;

  std::filesystem::path AuditLog() const { return root / "audit.jsonl"; }
  std::filesystem::path Keys() const { return root / "keys"; }
  std::filesystem::path Replay() const { return root / "replay"; }
  std::filesystem::path RootfsCache() const { return root / "rootfs"; }
  /// Guest kernels, initramfs and root images of the qemu-microvm backend (runtime/guest).
  std::filesystem::path GuestCache() const { return root / "guest"; }
  std::filesystem::path Sandboxes() const { return root / "sandboxes"; }
  /// Warm pools (pool.h): `<pool>.json`, `.sock` and `.lock` of each.
  std::filesystem::path Pools() const { return root / "pools"; }
  /// The secret store (runtime/secrets/secrets.h).
  std::filesystem::path Secrets() const { return root / "secrets"; }
  /// The OCI image cache (runtime/oci/store.h).
  std::filesystem::path Images() const { return root / "images"; }
  /// `sandboxes/<name>`. Aborts on a name that is not a sandbox name (IsSandboxName): a name is a
  /// path component here, and `..`, `/` or an empty name would reach outside `sandboxes/`; every
  /// command checks the names it is given before it builds a path from one.
  std::filesystem::path Sandbox(std::string_view name) const;
  /// The agent's socket. Nothing of the sandbox's directory is mounted into the sandbox, so the
  /// workload can neither replace the socket nor grow files there.
  std::filesystem::path AgentSocket(std::string_view name) const {
    return Sandbox(name) / "agent.sock";
  }
};

/// The state directory: `flag` (`--state-dir`, made absolute) when not empty, else
/// `$XDG_STATE_HOME/mvm` when that is absolute (the XDG spec says to ignore a relative one), else
/// `$HOME/.local/state/mvm`, else the same below the home directory the password database names.
/// Nothing is created.
StateDir ResolveStateDir(const std::string& flag);

/// True for a valid sandbox name: the workload id grammar, `[a-z0-9][a-z0-9-]{0,62}`.
bool IsSandboxName(std::string_view name);

/// Ok for a valid sandbox name, else an Error that names the rule.
ErrorOr<Ok> CheckSandboxName(std::string_view name);

/// What `ps`, `exec`, `stop` and the watchdog need to find a sandbox again. Stored as
/// `sandboxes/<name>/sandbox.json`, written atomically.
struct SandboxRecord {
  std::string name;
  std::string workload_id;
  std::string payload_digest;   ///< of the admitted plan
  std::string backend;          ///< "container" or "qemu-microvm"
  pid_t pid = 0;                ///< host pid of the sandbox's PID 1, or of its qemu
  uint64_t pid_start_time = 0;  ///< /proc/<pid>/stat field 22, so a reused pid is never mistaken
  bool detached = false;
  pid_t owner_pid = 0;  ///< the mvmctl that started it (and whose death ends it unless detached)
  uid_t owner_uid = 0;
  std::string created_at;  ///< RFC 3339 UTC
  uint32_t memory_mb = 0;  ///< for the OOM message of a later `exec`
  std::string root_fs;     ///< the rootfs digest it runs on
  /// qemu-microvm: "kvm" or "tcg", which a full snapshot of it must be restored under; else empty.
  std::string acceleration;
  /// The name the backend knows it by (container: hostname and cgroup leaf; microVM: hostname).
  /// Differs from `name` only for a sandbox claimed from a warm pool, which keeps the name it was
  /// booted under; empty in records written before pools existed, meaning `name`.
  std::string instance;
  /// The warm pool holding it ready, unclaimed; empty once claimed and for every other sandbox.
  std::string pool;
  /// Host-side helper processes of this sandbox (runtime/backends/helper.h), ended with it by
  /// whoever ends it.
  std::vector<backends::HelperRecord> helpers;
  /// The network policy in force ("https api.example.com, dns"), empty for none, and the proxy
  /// URL every command in the sandbox is given as HTTP_PROXY and HTTPS_PROXY.
  std::string egress_policy;
  std::string egress_proxy;
  /// The secrets the sandbox may use, as the tokens it holds for them (never a value): fresh for
  /// every sandbox, given to every command as the variable `env`.
  struct SecretToken {
    std::string env;
    std::string name;
    std::string token;
  };
  std::vector<SecretToken> secret_tokens;
  /// For a sandbox of an `oci:` image: its manifest digest and the parts of its configuration
  /// every command gets (environment below the plan's, working directory, user), and what runs
  /// when the workload declares no entrypoint.
  struct Image {
    std::string digest;
    std::vector<std::string> env;  ///< "KEY=value"
    std::string working_dir;
    std::string user;
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    /// `user` as ids, looked up in the image (runtime/oci/user.h); unset for root.
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
  };
  std::optional<Image> image;
  /// A guest port published on the host (`mvmctl up`, docs/services.md): connections to
  /// `host_address`:`host_port` reach `guest_port` on the sandbox's loopback, through its ports
  /// helper.
  struct PublishedPort {
    int guest_port = 0;
    int host_port = 0;
    std::string host_address = "127.0.0.1";
  };
  std::vector<PublishedPort> ports;
  /// The services `up` started (names and restart policies; their state is the agent's).
  struct ServiceEntry {
    std::string name;
    std::string restart;
  };
  std::vector<ServiceEntry> services;
  /// Paused by `mvmctl pause` (Backend::Pause) and not resumed since: its processes, the agent's
  /// included, are stopped, so a command that needs the agent is refused instead of waiting.
  bool paused = false;

  const std::string& InstanceName() const { return instance.empty() ? name : instance; }
};

ErrorOr<Ok> WriteRecord(const StateDir& state, const SandboxRecord& record);
ErrorOr<SandboxRecord> ReadRecord(const StateDir& state, std::string_view name);

/// The egress decisions the audit log holds about sandbox `name` that a user acts on (denials,
/// refused names, failed upstream connections), one line each, oldest first: "egress: <time>
/// denied `other.test` port 443: no https rule allows `other.test`". Reads from byte `*from` of the
/// log and leaves `*from` after the last whole line read, so that a follower reads each record
/// once.
/// Where a sandbox with secrets finds its egress CA: the guest's trust store (the rootfs's own
/// bundle with the CA appended, over the rootfs's file), and the CA alone. Commands get
/// SSL_CERT_FILE and REQUESTS_CA_BUNDLE = kGuestCaBundle and NODE_EXTRA_CA_CERTS = kGuestCa unless
/// the plan sets them.
inline constexpr std::string_view kGuestCaBundle = "/etc/ssl/certs/ca-certificates.crt";
inline constexpr std::string_view kGuestCa = "/etc/ssl/certs/mvm-egress-ca.pem";

/// Replaces every secret token in a stream with its prefix and `…` (what `logs` shows by
/// default), a token split across two pieces included: the end of a piece that may be the start of
/// a token is held until the next piece or Finish.
class TokenRedactor {
 public:
  std::string Feed(std::string_view piece);
  std::string Finish();

 private:
  std::string held_;
};

std::vector<std::string> EgressRefusals(const StateDir& state, std::string_view name,
                                        uint64_t* from);

/// Adds to `env` what every command in the sandbox gets besides the plan's and the caller's
/// variables, unless `env` names it already: for a sandbox with egress, its proxy as HTTP_PROXY /
/// HTTPS_PROXY (both spellings) and NO_PROXY for its own loopback; for a sandbox of an OCI image,
/// the image's environment.
void AddSandboxEnvironment(const SandboxRecord& record,
                           std::vector<std::pair<std::string, std::string>>& env);
/// Every sandbox with a record, sorted by name; unreadable records are skipped with a note in
/// `problems`.
std::vector<SandboxRecord> ListRecords(const StateDir& state, std::vector<std::string>& problems);

using backends::ProcessStartTime;
/// True while the record's PID 1 is the very process it recorded.
bool IsRunning(const SandboxRecord& record);

/// What `ps` and the SDKs show: "running", "paused" (running, its processes stopped by `pause`)
/// or "stopped".
std::string_view StatusOf(const SandboxRecord& record);

/// An exclusive flock on `sandboxes/<name>.lock`, held for the object's lifetime: one lifecycle
/// change (up, stop, destroy) per sandbox at a time. Lock files live beside the sandbox directories
/// so that removing a sandbox's directory never races with someone waiting on its lock.
class SandboxLock {
 public:
  /// Refuses an invalid name before any file is touched. A lock file that was removed while this
  /// process waited for it (RemoveFile) is not a lock any more: Acquire then locks the new one.
  static ErrorOr<SandboxLock> Acquire(const StateDir& state, std::string_view name);
  /// Removes the lock file while still holding the lock (a destroyed sandbox leaves none behind);
  /// the lock itself is released when the object goes.
  void RemoveFile();
  /// The locked file's descriptor, owned by this object: a claim passes it to a warm pool.
  int fd() const { return fd_; }
  SandboxLock(SandboxLock&& other) noexcept;
  SandboxLock& operator=(SandboxLock&& other) noexcept;
  SandboxLock(const SandboxLock&) = delete;
  SandboxLock& operator=(const SandboxLock&) = delete;
  ~SandboxLock();

 private:
  SandboxLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace mvm::runtime

#endif  // MVM_RUNTIME_LAUNCHER_STATE_H_
