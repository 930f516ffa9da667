// What confining virtiofsd costs at a VM's start: StartConfinedVirtiofsd (a user namespace with
// mapped ids, pid/mount/net/ipc/uts/cgroup namespaces, an idmapped mount of the directory, a
// scratch tmpfs and /proc, a seccomp filter) against a plain fork and exec of the same binary,
// each timed until virtiofsd has been exec'd. Needs root. Run by hand: see bench/README.md.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/agent/framing.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace {

namespace fs = std::filesystem;
namespace qm = mvm::runtime::qemu_microvm;

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("mvm-virtiofsd-bench-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir / "src"); }
  ~Scratch() { fs::remove_all(dir); }
};

void Reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

void BM_ConfinedStart(benchmark::State& state) {
  Scratch scratch;
  qm::SharedDir dir{scratch.dir / "src", "mvm-vfs0", scratch.dir / "vfs0.sock"};
  for (auto _ : state) {
    auto listener = mvm::runtime::agent::ListenUnix(dir.socket.string());
    auto pid = qm::StartConfinedVirtiofsd(dir, listener->get(), -1);
    if (!pid) {
      state.SkipWithError(pid.error().message.c_str());
      break;
    }
    state.PauseTiming();
    Reap(*pid);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ConfinedStart)->Unit(benchmark::kMillisecond)->UseRealTime();

// The baseline: fork, exec (close-on-exec pipe to see the exec happen), as virtiofsd was started
// before it was confined.
void BM_PlainStart(benchmark::State& state) {
  Scratch scratch;
  qm::SharedDir dir{scratch.dir / "src", "mvm-vfs0", scratch.dir / "vfs0.sock"};
  std::vector<std::string> args = qm::VirtiofsdArgv(dir, 3);
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  for (auto _ : state) {
    int exec_seen[2];
    if (::pipe2(exec_seen, O_CLOEXEC) != 0) {
      state.SkipWithError("pipe");
      break;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      // It fails at once (its source is where only the confined one has it); only the exec counts.
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(exec_seen[1]);
    char byte;
    (void)!::read(exec_seen[0], &byte, 1);
    ::close(exec_seen[0]);
    state.PauseTiming();
    Reap(pid);
    state.ResumeTiming();
  }
}
BENCHMARK(BM_PlainStart)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
