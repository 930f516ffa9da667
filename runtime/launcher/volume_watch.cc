// The volume-audit helper: one per sandbox with volumes it can watch (mount_watch.h says which),
// counting what the workload does on them (runtime/volumes/mount_watch.h) into the aggregated
// volume records of the audit log. Host root (fanotify's filesystem marks need CAP_SYS_ADMIN); it
// reads events and fstat-s the descriptors they carry, nothing else. Ended with SIGTERM first
// (EndHelpers), so that it writes its last counts and the detach records.

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/launcher/internal.h"
#include "runtime/volumes/mount_watch.h"

namespace mvm::runtime::internal {

namespace fs = std::filesystem;

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
    } else if (view.watch == Watch::kSharedDirectory && !view.read_only && !view.host_dir.empty()) {
      // virtiofsd's view of the host directory goes through the host's own mount.
      volumes.insert(volumes.end(), {label, std::string(WatchAccessName(WatchAccess::kTree)), "-",
                                     view.host_dir.string()});
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
  for (size_t i = 0; i + 3 < volumes.size(); i += 4) {
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
  (void)!::write(3, "r", 1);
  ::close(3);
  watch.Run(stop.get());
  return 0;
}

}  // namespace mvm::runtime::internal
