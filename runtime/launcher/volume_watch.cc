// The volume-audit helper: one per sandbox with volumes it can watch (mount_watch.h says which),
// counting what the workload does on them (runtime/volumes/mount_watch.h) into the aggregated
// volume records of the audit log. Host root (fanotify's filesystem marks need CAP_SYS_ADMIN); it
// reads events and fstat-s the descriptors they carry, nothing else. Ended with SIGTERM first
// (EndHelpers), so that it writes its last counts and the detach records.
//
// A microVM's memory and local volumes are counted in the guest, by its agent
// (runtime/agent/volume_ops.h): the helper asks it for them (VolumeOps) every kGuestAskEvery and
// once more when it is ended, which a stop does before it shuts the agent down
// (EndGuestVolumeAudit), and records them as the agent's word (`"reported_by": "guest-agent"`),
// never mixed with the host's own counts of the same volume.

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/agent/client.h"
#include "runtime/backends/backend.h"
#include "runtime/launcher/internal.h"
#include "runtime/volumes/mount_watch.h"

namespace mvm::runtime::internal {

namespace fs = std::filesystem;

namespace {

/// The access word of a volume its guest's agent counts, in the helper's arguments.
constexpr std::string_view kGuest = "guest";
/// How often the helper asks: what a VM that ends without a stop loses is what its agent counted
/// since (docs/volumes.md). The agent's counts go into the helper's aggregation, which writes them
/// out at most every 10 s (VolumeAudit's flush_every) all the same.
constexpr auto kGuestAskEvery = std::chrono::seconds(1);

/// The operation a guest's agent names, when it is one the host counts on a mounted volume.
std::optional<volumes::VolumeOp> GuestOp(std::string_view op) {
  using volumes::VolumeOp;
  for (VolumeOp o : {VolumeOp::kRead, VolumeOp::kWrite, VolumeOp::kCreate, VolumeOp::kDelete,
                     VolumeOp::kRename}) {
    if (volumes::OpName(o) == op) {
      return o;
    }
  }
  return std::nullopt;
}
/// The guest's text, as much of it as a record shows: printable ASCII, at most 200 bytes.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

/// The guest agent's counts of the volumes it watches, asked for and recorded as its word.
class GuestReport {
 public:
  GuestReport(const StateDir& state, std::string name, audit::Log* log)
      : socket_(state.AgentSocket(name)),
        name_(std::move(name)),
        audit_([log](std::string_view event,
                     const nlohmann::json& fields) { (void)log->Append(event, fields); },
               AuditOptions()) {}

  void Add(std::string label, std::string target) {
    volumes_.push_back({std::move(label), std::move(target)});
  }
  bool empty() const { return volumes_.empty(); }

  /// Asks now; the first answer records each volume's attach (how the guest watches it) and
  /// nothing else: it comes before the workload's first command, so what it counts is not the
  /// workload's (a VM restored from a full snapshot counted it before the snapshot, for the
  /// sandbox it was taken of).
  void Ask() {
    if (ended_) {
      return;  // the agent's last answer came: nothing is counted after it
    }
    bool last = false;
    auto counts = AskAgent(&last);
    if (!counts) {
      last_error_ = counts.error().message;
      return;
    }
    last_error_.clear();
    asked_ = std::chrono::steady_clock::now();
    RecordGuestAnswer(audit_, name_, volumes_, *counts, /*first=*/!attached_);
    attached_ = true;
    ended_ = last;
  }
  /// Asks when kGuestAskEvery has passed since the last answer, give or take the wake-up's slack.
  void AskIfDue() {
    if (std::chrono::steady_clock::now() - asked_ >= kGuestAskEvery * 9 / 10) {
      Ask();
    }
  }
  /// Asks a last time (unless the agent's last answer came already: a stop's, after its workloads
  /// were gone), then records every volume's detach: not ok, saying why, when the agent did not
  /// answer (its counts since the last answer are lost then).
  void Finish() {
    Ask();
    for (const GuestVolume& v : volumes_) {
      audit_.Record(
          name_, v.label, volumes::VolumeOp::kDetach, 0, last_error_.empty(),
          last_error_.empty()
              ? std::string()
              : "the guest agent's counts since its last answer are lost: " + last_error_);
    }
  }

 private:
  static volumes::VolumeAudit::Options AuditOptions() {
    volumes::VolumeAudit::Options options;
    options.reported_by = "guest-agent";
    return options;
  }
  ErrorOr<std::vector<agent::GuestVolumeOps>> AskAgent(bool* last) {
    auto counts = AskAgentOnce(last);
    if (!counts && reused_) {
      counts = AskAgentOnce(last);  // the connection broke since (a full snapshot's pause): anew
    }
    return counts;
  }
  ErrorOr<std::vector<agent::GuestVolumeOps>> AskAgentOnce(bool* last) {
    reused_ = client_.has_value();
    if (!client_) {
      // Short: the agent answered before the helper started, and at the end EndHelpers waits a
      // second at most for the detach records.
      auto client = agent::Client::Connect(socket_, std::chrono::milliseconds(500));
      if (!client) {
        return client.error();
      }
      client_.emplace(std::move(*client));
    }
    auto counts = client_->VolumeOps(last);
    if (!counts) {
      client_.reset();  // a new connection next time
    }
    return counts;
  }

  fs::path socket_;
  std::string name_;
  volumes::VolumeAudit audit_;
  std::vector<GuestVolume> volumes_;
  bool attached_ = false;  // an answer came, which recorded the attaches
  bool ended_ = false;     // the agent's last answer came
  std::optional<agent::Client> client_;
  bool reused_ = false;  // the last question went over a connection made before it
  std::chrono::steady_clock::time_point asked_;
  std::string last_error_;
};

}  // namespace

void RecordGuestAnswer(volumes::VolumeAudit& audit, const std::string& sandbox,
                       const std::vector<GuestVolume>& volumes,
                       const std::vector<agent::GuestVolumeOps>& answer, bool first) {
  for (const GuestVolume& v : volumes) {
    const agent::GuestVolumeOps* reported = nullptr;
    for (const agent::GuestVolumeOps& r : answer) {
      if (r.target == v.target) {
        reported = &r;  // only the targets the host named; anything else is ignored
      }
    }
    if (first) {
      const bool watched = reported != nullptr && reported->watched;
      audit.Record(sandbox, v.label, volumes::VolumeOp::kAttach, 0, watched,
                   "mounted in the guest; " +
                       (watched ? "counted by the guest agent (" + Printable(reported->detail) + ")"
                                : "not watched by the guest agent: " +
                                      (reported != nullptr ? Printable(reported->detail)
                                                           : std::string("it does not say"))));
      continue;
    }
    if (reported == nullptr) {
      continue;
    }
    for (const agent::GuestVolumeOps::Count& c : reported->ops) {
      auto op = GuestOp(c.op);
      if (!op) {
        continue;  // an operation the host does not count on a mounted volume
      }
      if (c.at_least) {
        audit.CountsAreLowerBounds(sandbox, v.label, *op);
      }
      audit.RecordCounts(sandbox, v.label, *op, c.count, c.failed, c.bytes);
    }
  }
}

ErrorOr<std::optional<backends::HelperRecord>> StartVolumeWatch(
    const StateDir& state, const std::string& name, const std::vector<AttachedVolume>& attached,
    const backends::Capabilities& caps, pid_t sandbox_pid, bool dies_with_caller) {
  using Watch = volumes::MountedView::Watch;
  using volumes::WatchAccess;
  // Per volume: its label, how its reads and writes are seen, the root its path resolves in ("-"
  // for the host's), its path.
  std::vector<std::string> volumes;
  const std::string sandbox_root = "/proc/" + std::to_string(sandbox_pid) + "/root";
  for (const AttachedVolume& volume : attached) {
    const volumes::MountedView& view = volume.view;
    const std::string& label = volume.label;
    if (view.watch == Watch::kWholeView) {
      // The host's FUSE view, the sandbox's alone, whichever mount of it the sandbox uses.
      volumes.insert(volumes.end(), {label, std::string(WatchAccessName(WatchAccess::kFilesystem)),
                                     "-", view.host_dir.string()});
    } else if (caps.host_kernel_mounts) {
      // The sandbox's own bind (only the workload's use of the directory) or its own tmpfs.
      const WatchAccess access =
          view.watch == Watch::kSandboxTmpfs ? WatchAccess::kFilesystem : WatchAccess::kMount;
      volumes.insert(volumes.end(),
                     {label, std::string(WatchAccessName(access)), sandbox_root, volume.target});
    } else {
      // What is left is a tmpfs in the guest's memory or a host directory shared with or copied
      // into the guest, which its agent counts (backends::GuestWatches: the FUSE views are the
      // whole-view case above): only the guest sees the first two, and only the guest tells its
      // own changes to a shared directory from the host's.
      volumes.insert(volumes.end(), {label, std::string(kGuest), "-", volume.target});
      if (view.watch == Watch::kSharedDirectory && !view.read_only && !view.host_dir.empty()) {
        // virtiofsd's view of the host directory goes through the host's own mount: the host's
        // count, which the guest cannot forge, of the guest's changes and the host's own.
        volumes.insert(volumes.end(), {label, std::string(WatchAccessName(WatchAccess::kTree)), "-",
                                       view.host_dir.string()});
      }
    }
  }
  if (volumes.empty()) {
    return std::optional<backends::HelperRecord>();
  }
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return Error{"cannot start the volume audit: pipe: " + os::ErrnoText(errno)};
  }
  os::UniqueFd ready_read(ready[0]);
  os::UniqueFd ready_write(ready[1]);
  backends::HelperSpec spec;
  spec.role = "volume-audit";
  spec.program = "/proc/self/exe";
  spec.argv = {"mvm-volume-audit", std::string(kHelperFlag), "volume-audit",
               fs::absolute(state.root).lexically_normal().string(), name};
  spec.argv.insert(spec.argv.end(), volumes.begin(), volumes.end());
  spec.fds = {ready_write.get()};
  spec.dies_with_parent = dies_with_caller;
  spec.own_session = true;
  auto helper = backends::StartHelper(spec);
  ready_write.Reset();
  if (!helper) {
    return Error{"cannot start the volume audit: " + helper.error().message};
  }
  // The marks must be in place before the workload's first operation: the helper answers once
  // they are, or exits (EOF) with the reason in the audit log.
  char answer = 0;
  ssize_t n;
  do {
    n = ::read(ready_read.get(), &answer, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || answer != 'r') {
    (void)helper->process.Kill(SIGKILL);
    return Error{"the volume audit could not watch the sandbox's volumes (the audit log says why)"};
  }
  (void)helper->process.Release();  // ended by pid and start time, like every recorded helper
  return std::optional<backends::HelperRecord>(helper->record);
}

int RunVolumeWatchHelper(const StateDir& state, const std::string& name,
                         const std::vector<std::string>& volumes) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);
  os::UniqueFd stop(::signalfd(-1, &term, SFD_CLOEXEC));
  auto session = OpenAudit(state);
  if (!session || !stop.valid()) {
    return 2;
  }
  audit::Log* log = &*(*session)->log;
  auto audit = std::make_shared<volumes::VolumeAudit>(
      [log](std::string_view event, const nlohmann::json& fields) {
        (void)log->Append(event, fields);
      });
  volumes::MountWatch watch(name, audit);
  GuestReport guest(state, name, log);
  for (size_t i = 0; i + 3 < volumes.size(); i += 4) {
    if (volumes[i + 1] == kGuest) {
      guest.Add(volumes[i], volumes[i + 3]);
      continue;
    }
    volumes::WatchedVolume volume;
    volume.label = volumes[i];
    volume.root = volumes[i + 2] == "-" ? fs::path() : fs::path(volumes[i + 2]);
    volume.path = volumes[i + 3];
    ErrorOr<Ok> added = Error{"unknown watch `" + volumes[i + 1] + "`"};
    if (auto access = volumes::ParseWatchAccess(volumes[i + 1])) {
      volume.access = *access;
      added = watch.Add(volume);
    }
    if (!added) {
      (void)log->Append(
          "volume.refused",
          {{"sandbox", name}, {"volume", volume.label}, {"message", added.error().message}});
      return 1;
    }
  }
  if (!guest.empty()) {
    guest.Ask();  // the attach records: the agent watched its volumes before it served anyone
  }
  (void)!::write(3, "r", 1);
  ::close(3);
  const auto wake_every =
      guest.empty() ? std::chrono::milliseconds(std::chrono::seconds(10)) : kGuestAskEvery;
  watch.Run(
      stop.get(), [&guest] { guest.AskIfDue(); }, wake_every);
  if (!guest.empty()) {
    guest.Finish();
  }
  return 0;
}

void EndGuestVolumeAudit(const SandboxRecord& record) {
  auto backend = backends::Find(record.backend);
  if (!backend || (*backend)->capabilities().host_kernel_mounts) {
    return;  // the volumes are watched on the host until the end (EndHelpers)
  }
  TerminateHelpers(record, {"volume-audit"});
}

}  // namespace mvm::runtime::internal
