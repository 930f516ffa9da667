// Pause and resume by name from any process (`mvmctl pause|resume`): the backend stops or continues
// the sandbox's processes, and the record says so, so that a command which needs the sandbox's
// agent is refused at once instead of waiting for an agent that cannot answer.

#include "runtime/launcher/internal.h"
#include "runtime/launcher/launcher.h"

namespace mvm::runtime {

using namespace internal;  // NOLINT(google-build-using-namespace)

namespace {

backends::SandboxRef RefOf(const StateDir& state, const SandboxRecord& record) {
  return {record.InstanceName(), state.Sandbox(record.name)};
}

// Both directions: the lock, the checks, the backend, then the record (only once the backend is
// done, so a record never says paused while the sandbox runs, or the reverse for longer than the
// write).
ErrorOr<Ok> SetPaused(const LauncherOptions& options, std::string_view name, bool pause,
                      audit::Log& audit) {
  const char* event = pause ? "pause" : "resume";
  if (auto valid = CheckSandboxName(name); !valid) {
    return valid.error();
  }
  auto lock = SandboxLock::Acquire(options.state, name);
  if (!lock) {
    return lock.error();
  }
  auto record = ReadRecord(options.state, name);
  if (!record) {
    return record.error();
  }
  if (!IsRunning(*record)) {
    return Error{"sandbox `" + std::string(name) + "` is not running; `mvmctl ps` shows its state"};
  }
  if (!record->pool.empty()) {
    return Error{"sandbox `" + std::string(name) + "` is kept ready by warm pool `" + record->pool +
                 "`, which owns it; claim it first"};
  }
  auto backend = backends::Find(record->backend);
  if (!backend) {
    return backend.error();
  }
  const backends::SandboxRef ref = RefOf(options.state, *record);
  auto done = pause ? (*backend)->Pause(ref) : (*backend)->Resume(ref);
  if (!done) {
    (void)audit.Append(event, {{"sandbox", record->name},
                               {"backend", record->backend},
                               {"failed", done.error().message}});
    return Error{"cannot " + std::string(event) + " sandbox `" + std::string(name) +
                 "`: " + done.error().message};
  }
  record->paused = pause;
  if (auto written = WriteRecord(options.state, *record); !written) {
    if (pause) {
      // Unrecorded, a pause would make every later exec wait on a stopped agent.
      (void)(*backend)->Resume(ref);
    }
    return written.error();
  }
  (void)audit.Append(event, {{"sandbox", record->name}, {"backend", record->backend}});
  return Ok{};
}

}  // namespace

Error PausedError(std::string_view name) {
  return MakeError(ErrorKind::kSandboxPaused, "sandbox `" + std::string(name) +
                                                  "` is paused; `mvmctl resume " +
                                                  std::string(name) + "` first");
}

ErrorOr<Ok> PauseByName(const LauncherOptions& options, std::string_view name, audit::Log& audit) {
  return SetPaused(options, name, true, audit);
}

ErrorOr<Ok> ResumeByName(const LauncherOptions& options, std::string_view name, audit::Log& audit) {
  return SetPaused(options, name, false, audit);
}

void internal::ThawIfPaused(const StateDir& state, const SandboxRecord& record) {
  if (!record.paused) {
    return;
  }
  if (auto backend = backends::Find(record.backend)) {
    (void)(*backend)->Resume(RefOf(state, record));
  }
}

}  // namespace mvm::runtime
