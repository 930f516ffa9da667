// Running a Nix build request with the real `nix`: one child process at a time, its stderr streamed
// line by line and its stdout (the `--json` result) collected.

#include "backend-emit/nix/build.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <nlohmann/json.hpp>
#include <system_error>

#include "backend-emit/nix/nar.h"

extern char** environ;

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Nix's `--json` answer is a line per installable; anything near this size is not one.
constexpr size_t kMaxStdoutBytes = size_t{16} << 20;
// Enough of Nix's log to show why a build failed without burying the message.
constexpr size_t kTailLines = 25;

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) {
      close(fd_);
    }
    fd_ = -1;
  }

 private:
  int fd_;
};

struct ProcessResult {
  int status = 0;  ///< as from waitpid
  std::string out;
  std::deque<std::string> tail;  ///< the last kTailLines lines of stderr
};

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

// Runs `exe` with `argv` (argv[0] as given), stdin from /dev/null. Every stderr line goes to
// `progress.on_log`; silence of `progress.heartbeat` calls `progress.on_heartbeat`.
ErrorOr<ProcessResult> RunProcess(const fs::path& exe, const std::vector<std::string>& argv,
                                  const BuildProgress& progress) {
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (pipe2(out_pipe.data(), O_CLOEXEC) != 0) {
    return Error{"cannot create a pipe: " + ErrnoText(errno)};
  }
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    return Error{"cannot create a pipe: " + ErrnoText(errno)};
  }
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, exe.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Error{"cannot run `" + exe.string() + "`: " + ErrnoText(spawned)};
  }
  out_write.Reset();
  err_write.Reset();
  // Leaves no running or unreaped child behind when reading fails half way.
  auto abandon = [pid](Error error) -> Error {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return error;
  };

  ProcessResult result;
  std::string partial;
  auto line = [&](std::string text) {
    if (progress.on_log) {
      progress.on_log(text);
    }
    result.tail.push_back(std::move(text));
    if (result.tail.size() > kTailLines) {
      result.tail.pop_front();
    }
  };
  const Clock::time_point start = Clock::now();
  Clock::time_point last_heard = start;
  bool out_open = true;
  bool err_open = true;
  bool too_much = false;
  std::array<char, 65536> buffer{};
  while (out_open || err_open) {
    std::array<pollfd, 2> fds{};
    nfds_t n = 0;
    if (out_open) {
      fds[n++] = {out_read.get(), POLLIN, 0};
    }
    if (err_open) {
      fds[n++] = {err_read.get(), POLLIN, 0};
    }
    // Rounded up: a truncated timeout wakes poll just before the heartbeat is due.
    const Clock::time_point beat_due = last_heard + progress.heartbeat;
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(beat_due - Clock::now());
    int ready = poll(fds.data(), n, static_cast<int>(std::max<int64_t>(wait.count(), 0)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready < 0) {
      return abandon(Error{"cannot wait for `nix`: " + ErrnoText(errno)});
    }
    if (ready == 0) {
      if (Clock::now() < beat_due) {
        continue;  // woke early (timer slack); silence has not lasted a heartbeat yet
      }
      if (progress.on_heartbeat) {
        progress.on_heartbeat(
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start));
      }
      last_heard = Clock::now();
      continue;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      ssize_t got = read(fds[i].fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) {
        continue;
      }
      bool is_out = fds[i].fd == out_read.get();
      if (got <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      std::string_view chunk(buffer.data(), static_cast<size_t>(got));
      if (is_out) {
        // Keep draining past the limit so Nix never blocks on a full pipe.
        too_much = too_much || result.out.size() + chunk.size() > kMaxStdoutBytes;
        if (!too_much) {
          result.out.append(chunk);
        }
        continue;
      }
      last_heard = Clock::now();
      partial.append(chunk);
      for (size_t nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
        line(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
    }
  }
  if (!partial.empty()) {
    line(std::move(partial));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error{"cannot wait for `nix`: " + ErrnoText(errno)};
    }
  }
  if (too_much) {
    return Error{"`nix` wrote more than " + std::to_string(kMaxStdoutBytes) +
                 " bytes to stdout; that is not the `--json` answer mvm expects"};
  }
  result.status = status;
  return result;
}

// Causes of failure a user cannot guess from Nix's own words.
std::string HintFor(const std::deque<std::string>& tail) {
  for (const std::string& l : tail) {
    if (l.find("path mismatch in (possibly filtered) path added from '/usr/bin'") !=
        std::string::npos) {
      return "\nhint: the host's /usr/bin/busybox is not the busybox-static binary the template "
             "flake pins; install Debian 12's busybox-static, or update the pin in "
             "templates/flake.nix as docs/nix.md describes";
    }
    if (l.starts_with("error:") && l.find("sandboxing") != std::string::npos) {
      return "\nhint: mvm builds only in Nix's sandbox; this host cannot create it (it needs user "
             "and mount namespaces)";
    }
  }
  return "";
}

std::string Tail(const std::deque<std::string>& tail) {
  std::string out;
  for (const std::string& l : tail) {
    out += "\n  " + l;
  }
  return out;
}

}  // namespace

ErrorOr<fs::path> FindNix() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path == nullptr ? "" : path;
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? "" : dirs.substr(colon + 1);
    if (dir.empty()) {
      continue;
    }
    fs::path candidate = fs::path(dir) / "nix";
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return Error{"nix not found on PATH; install Debian's nix-bin (apt-get install nix-bin)"};
}

ErrorOr<BuildResult> RunNixBuild(const fs::path& nix_path, const NixBuildRequest& request,
                                 const BuildProgress& progress) {
  const std::string installable = request.flake_ref + "#" + request.attr;
  auto built = RunProcess(nix_path, request.argv, progress);
  if (!built) {
    return built.error();
  }
  if (built->status != 0) {
    return Error{"`nix build` of `" + installable + "` failed (" + DescribeStatus(built->status) +
                 "); the last lines of its log:" + Tail(built->tail) + HintFor(built->tail)};
  }
  // `--json`: [{"drvPath": ..., "outputs": {"out": "/nix/store/..."}}], one entry per installable.
  Json answer = Json::parse(built->out, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const Json* outputs = nullptr;
  if (answer.is_array() && answer.size() == 1 && answer[0].is_object()) {
    auto it = answer[0].find("outputs");
    if (it != answer[0].end() && it->is_object()) {
      outputs = &*it;
    }
  }
  if (outputs == nullptr) {
    return Error{"`nix build --json` of `" + installable +
                 "` printed something other than one result: " + built->out};
  }
  for (const std::string& name : request.outputs) {
    if (!outputs->contains(name) || !(*outputs)[name].is_string()) {
      return Error{"`" + installable + "` has no output `" + name +
                   "`; a rootfs is the derivation's `out`"};
    }
  }
  BuildResult result;
  result.store_path = (*outputs)[request.outputs.front()].get<std::string>();

  std::vector<std::string> info_argv = {"nix",
                                        "--extra-experimental-features",
                                        "nix-command flakes",
                                        "path-info",
                                        "--store",
                                        request.store,
                                        "--option",
                                        "substituters",
                                        "",
                                        "--option",
                                        "build-users-group",
                                        "",
                                        "--json",
                                        result.store_path};
  auto info = RunProcess(nix_path, info_argv, BuildProgress{});
  if (!info) {
    return info.error();
  }
  if (info->status != 0) {
    return Error{"`nix path-info` of `" + result.store_path + "` failed (" +
                 DescribeStatus(info->status) + "):" + Tail(info->tail)};
  }
  Json paths = Json::parse(info->out, /*cb=*/nullptr, /*allow_exceptions=*/false);
  const Json* entry = paths.is_array() && paths.size() == 1 ? &paths[0] : nullptr;
  if (entry == nullptr || !entry->is_object() || !entry->contains("narHash") ||
      !(*entry)["narHash"].is_string()) {
    return Error{"`nix path-info --json` printed no narHash for `" + result.store_path +
                 "`: " + info->out};
  }
  auto nar_hash = SriToDigest((*entry)["narHash"].get<std::string>());
  if (!nar_hash) {
    return Error{"`nix path-info` of `" + result.store_path + "`: " + nar_hash.error().message};
  }
  result.nar_hash = *nar_hash;
  if (auto refs = entry->find("references"); refs != entry->end() && refs->is_array()) {
    for (const Json& r : *refs) {
      if (r.is_string() && r.get<std::string>() != result.store_path) {
        result.references.push_back(r.get<std::string>());
      }
    }
  }

  // A local store at a directory keeps `/nix/store/x` at `<store>/nix/store/x`. Hash what is there:
  // the digest recorded in the plan must be the files the launcher will find.
  result.tree = fs::path(request.store) / fs::path(result.store_path).relative_path();
  auto on_disk = NarHash(result.tree);
  if (!on_disk) {
    return on_disk.error();
  }
  if (*on_disk != result.nar_hash) {
    return Error{"the tree at `" + result.tree.string() + "` hashes to " + *on_disk +
                 ", but Nix records " + result.nar_hash + " for `" + result.store_path +
                 "`; the store is damaged (`nix store verify --store " + request.store +
                 "` tells more)"};
  }
  return result;
}

}  // namespace mvm::nix
