// The launcher's helper processes, run by the launcher exec'ing its own executable with
// kHelperFlag (launcher.h): the parent-death watchdog (StartWatchdog in launcher.cc) and a detached
// warm pool's daemon (StartPoolDaemon in pool_daemon.cc).

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "runtime/launcher/internal.h"

namespace mvm::runtime {

namespace fs = std::filesystem;

namespace {

/// Waits on fd 3 (the write end is the launcher's); 'd' means the launcher cleaned up or detached,
/// EOF without it that the launcher died: then the sandbox and its other helpers are killed and
/// its traces removed.
int RunWatchdog(const StateDir& state, const std::string& name) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  char c = 0;
  ssize_t n;
  do {
    n = ::read(3, &c, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && c == 'd') {
    return 0;
  }
  // No directory: nothing started yet, or the sandbox was handed to another owner under another
  // name (a warm pool's claim), whose cgroups must not be touched.
  if (!IsSandboxName(name) || !fs::exists(state.Sandbox(name))) {
    return 0;
  }
  auto record = ReadRecord(state, name);
  std::string instance = name;
  if (!record) {
    // Not recorded yet: a detached sandbox's owner, if the backend has started it, is in its
    // process file; the start time tells it from a process that reused the pid.
    std::ifstream in(state.Sandbox(name) / backends::kProcessFile);
    pid_t pid = 0;
    uint64_t start_time = 0;
    if (in >> pid >> start_time && pid > 1 && backends::ProcessStartTime(pid) == start_time) {
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) {
        ::usleep(10000);
      }
    }
  }
  if (record) {
    internal::ThawIfPaused(state, *record);
    internal::SignalRecord(*record, SIGKILL);
    internal::WaitGone(*record, std::chrono::seconds(5));
    internal::EndHelpers(*record);
    instance = record->InstanceName();
  }
  internal::RemoveSandbox(state, name, instance);
  if (auto session = OpenAudit(state)) {
    (void)(*session)->log->Append("destroy", {{"sandbox", name}, {"reason", "parent died"}});
  }
  return 0;
}

}  // namespace

std::optional<int> RunHelperIfAsked(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != kHelperFlag) {
    return std::nullopt;
  }
  if (argc == 5 && std::string_view(argv[2]) == "watchdog") {
    StateDir state;
    state.root = argv[3];
    return RunWatchdog(state, argv[4]);
  }
  if (argc >= 6 && std::string_view(argv[2]) == "ports") {
    StateDir state;
    state.root = argv[3];
    std::vector<int> guest;
    for (int i = 5; i < argc; ++i) {
      guest.push_back(std::atoi(argv[i]));
    }
    return internal::RunPortsHelper(state, argv[4], guest);
  }
  if (argc >= 9 && (argc - 5) % 4 == 0 && std::string_view(argv[2]) == "volume-audit") {
    StateDir state;
    state.root = argv[3];
    return internal::RunVolumeWatchHelper(state, argv[4],
                                          std::vector<std::string>(argv + 5, argv + argc));
  }
  if (argc == 3 && std::string_view(argv[2]) == "pool") {
    return internal::RunPoolDaemon();
  }
  std::fprintf(stderr, "%s: unknown helper invocation\n", argv[0]);
  return 2;
}

}  // namespace mvm::runtime
