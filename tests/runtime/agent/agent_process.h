// Test support: the real `mvm-agent` binary as a child process in a scratch directory, and small
// helpers around the client.

#ifndef MVM_TESTS_RUNTIME_AGENT_AGENT_PROCESS_H_
#define MVM_TESTS_RUNTIME_AGENT_AGENT_PROCESS_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/agent/client.h"
#include "tests/support/files.h"

namespace mvm::runtime::agent::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// Polls `condition` every 20 ms until it holds or `limit` passes. Limits are generous: they only
/// bound how long a failing test takes, never what a passing one measures.
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// True while `pid` exists, zombie or not.
inline bool ProcessExists(pid_t pid) { return fs::exists("/proc/" + std::to_string(pid)); }

using mvm::testing::ReadFile;
using mvm::testing::WriteFile;

/// The only child of `parent` (a wrapper's agent), as the caller's PID namespace numbers it.
inline std::optional<pid_t> OnlyChild(pid_t parent) {
  const std::string children =
      ReadFile("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  if (children.empty()) {
    return std::nullopt;
  }
  return std::stoi(children);
}

/// A running agent on `socket` in a fresh directory `dir`, confined to `root` (= dir/root) unless
/// told otherwise. Stopped (SIGTERM, then SIGKILL) and its directory removed on destruction.
class AgentProcess {
 public:
  /// Extra arguments go after --socket and --files-root; `wrapper` (a command such as `unshare`)
  /// goes before the agent's path.
  explicit AgentProcess(std::vector<std::string> extra = {}, std::string files_root = "",
                        std::vector<std::string> wrapper = {}) {
    char tmpl[] = "/tmp/mvm-agent-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = made;
    root_ = dir_ / "root";
    fs::create_directory(root_);
    socket_ = dir_ / "agent.sock";
    wrapped_ = !wrapper.empty();
    std::vector<std::string> args = wrapper;
    for (const std::string& arg :
         {std::string(MVM_AGENT_PATH), std::string("--socket"), socket_.string(),
          std::string("--files-root"), files_root.empty() ? root_.string() : files_root}) {
      args.push_back(arg);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    // What the agent has in its own environment must never reach a workload.
    std::string secret = "MVM_AGENT_TEST_SECRET=leaked";
    std::string path = "PATH=/usr/bin:/bin";
    char* envp[] = {secret.data(), path.data(), nullptr};
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // a crashed test runner must not leave agents behind
      // execvpe: a wrapper is found in PATH.
      execvpe(argv[0], argv.data(), envp);
      _exit(127);
    }
  }

  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  ~AgentProcess() {
    if (pid_ > 0 && !exit_status_) {
      // A wrapper such as `unshare` may ignore SIGTERM itself: stop the agent directly.
      if (std::optional<pid_t> child = wrapped_ ? OnlyChild(pid_) : std::nullopt) {
        kill(*child, SIGTERM);
      }
      kill(pid_, SIGTERM);
      if (!WaitExit(20s)) {
        kill(pid_, SIGKILL);
        WaitExit(20s);
      }
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);  // does not follow symlinks
  }

  pid_t pid() const { return pid_; }
  const fs::path& dir() const { return dir_; }
  const fs::path& root() const { return root_; }
  const fs::path& socket() const { return socket_; }

  ErrorOr<Client> Connect() { return Client::Connect(socket_, 20s); }

  /// Waits for the agent to exit; its wait status, or nullopt when it is still running at `limit`.
  std::optional<int> WaitExit(std::chrono::milliseconds limit) {
    WaitFor(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_status_ = status;
          }
          return exit_status_.has_value();
        },
        limit);
    return exit_status_;
  }

 private:
  fs::path dir_, root_, socket_;
  pid_t pid_ = -1;
  bool wrapped_ = false;
  std::optional<int> exit_status_;
};

/// An Exec's result with its forwarded output.
struct Ran {
  ExecResult result;
  std::string out, err;
};

inline ErrorOr<Ran> RunCommand(Client& client, const ExecRequest& request) {
  Ran ran;
  auto result = client.Exec(request, [&](Stream stream, std::string_view data) {
    (stream == Stream::kStdout ? ran.out : ran.err).append(data);
  });
  if (!result) {
    return result.error();
  }
  ran.result = *result;
  return ran;
}

inline ExecRequest Sh(const std::string& script) {
  ExecRequest request;
  request.argv = {"sh", "-c", script};
  return request;
}

/// A raw connection to the agent's socket, for sending what the client library never would.
inline int RawConnect(const fs::path& socket) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket.string();
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace mvm::runtime::agent::testing

#endif  // MVM_TESTS_RUNTIME_AGENT_AGENT_PROCESS_H_
