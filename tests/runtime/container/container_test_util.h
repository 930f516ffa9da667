#ifndef MVM_TESTS_RUNTIME_CONTAINER_CONTAINER_TEST_UTIL_H_
#define MVM_TESTS_RUNTIME_CONTAINER_CONTAINER_TEST_UTIL_H_

// Shared by the container tests: busybox root filesystems, sandboxes run with their output in a
// file, and snapshots of directory trees.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/backends/container/container.h"
#include "tests/support/files.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::container::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// The static busybox from Debian's busybox-static.
inline const fs::path kBusybox = "/bin/busybox";

using mvm::testing::ReadFile;
using mvm::testing::TempDir;
using mvm::testing::WriteFile;

/// A root filesystem with nothing but /bin: busybox, links for the applets the tests use, and the
/// probe program.
inline void MakeBusyboxRootfs(const fs::path& root) {
  fs::create_directories(root / "bin");
  fs::copy_file(kBusybox, root / "bin" / "busybox");
  fs::copy_file(MVM_CONTAINER_PROBE, root / "bin" / "mvm-container-probe");
  for (const char* applet :
       {"sh",   "ls",   "cat",    "echo",  "touch", "mkdir", "id",      "hostname",
        "grep", "dd",   "head",   "tr",    "sleep", "mount", "unshare", "df",
        "stat", "wc",   "true",   "false", "rm",    "sed",   "test",    "readlink",
        "seq",  "kill", "mkfifo", "tail",  "cut"}) {
    fs::create_symlink("busybox", root / "bin" / applet);
  }
}

/// Every entry below `root` with its type, size, mode, owner and mtime, to tell whether a tree
/// changed.
inline std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    lstat(entry.path().c_str(), &st);
    std::ostringstream line;
    line << st.st_mode << " " << st.st_size << " " << st.st_uid << ":" << st.st_gid << " "
         << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
    out[fs::relative(entry.path(), root).string()] = line.str();
  }
  struct stat st {};
  lstat(root.c_str(), &st);
  out["."] = std::to_string(st.st_mode) + " " + std::to_string(st.st_mtim.tv_nsec);
  return out;
}

/// Polls for `path` to exist, for up to `timeout`.
inline bool WaitForFile(const fs::path& path, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!fs::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Start with the sandbox's stdout and stderr in `log` (its stdin is always /dev/null).
inline ErrorOr<Sandbox> StartLogged(const Spec& spec, const fs::path& log,
                                    Timings* timings = nullptr) {
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  Spec logged = spec;
  logged.stdout_fd = out;
  auto started = Start(logged, timings);
  close(out);
  return started;
}

/// A directory with a busybox rootfs and an output directory bound read-write at /out,
/// and the sandboxes started from it (their cgroups are removed at the end, whatever happened).
class SandboxFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      MVM_MISSING_PREREQUISITE() << "the container backend needs root";
    }
    MakeBusyboxRootfs(rootfs());
    fs::create_directories(out());
  }
  void TearDown() override {
    for (const std::string& name : names_) {
      (void)RemoveCgroups(name);
    }
  }

  fs::path rootfs() const { return dir_.path() / "rootfs"; }
  fs::path out() const { return dir_.path() / "out"; }
  fs::path log() const { return dir_.path() / "log"; }
  const fs::path& dir() const { return dir_.path(); }

  /// A spec running `script` with busybox sh as PID 1, with /out bound read-write.
  Spec MakeSpec(const std::string& script) {
    static int counter = 0;
    Spec spec;
    spec.name = "t" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    names_.push_back(spec.name);
    spec.rootfs = rootfs();
    spec.init = kBusybox;
    spec.init_args = {"sh", "-c", script};
    spec.mounts.push_back({Mount::Kind::kBind, out(), "/out", false, 0});
    return spec;
  }

  struct Outcome {
    std::string error;  ///< Start's or Wait's, empty when the sandbox ran to its end
    ExitStatus status;
    Timings timings;
  };

  /// Starts `spec`, waits for PID 1 (killing it after `timeout`) and removes its cgroups.
  Outcome Run(const Spec& spec, std::chrono::milliseconds timeout = 60s) {
    Outcome outcome;
    auto started = StartLogged(spec, log(), &outcome.timings);
    if (!started) {
      outcome.error = started.error().message;
      return outcome;
    }
    auto status = Wait(*started, timeout);
    if (!status) {
      outcome.error = status.error().message;
      (void)Kill(*started, SIGKILL);
      (void)Wait(*started, std::nullopt);
    } else {
      outcome.status = *status;
    }
    close(started->pidfd);
    if (auto removed = RemoveCgroups(spec.name); !removed) {
      outcome.error += removed.error().message;
    }
    return outcome;
  }

  std::string Out(const std::string& file) const { return ReadFile(out() / file); }

 private:
  TempDir dir_;
  std::vector<std::string> names_;
};

}  // namespace mvm::runtime::container::testing

#endif  // MVM_TESTS_RUNTIME_CONTAINER_CONTAINER_TEST_UTIL_H_
