#include "tests/runtime/volumes/s3rver.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::testing {

std::filesystem::path S3rver::Program() {
  return std::filesystem::path(MVM_SOURCE_DIR) /
         "third_party/npm/s3rver/node_modules/s3rver/bin/s3rver.js";
}

ErrorOr<S3rver> S3rver::Start(const std::filesystem::path& dir, const std::string& bucket) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error{"pipe failed"};
  }
  os::UniqueFd read_end(pipe_fds[0]);
  os::UniqueFd write_end(pipe_fds[1]);
  os::SpawnOptions options;
  // The legacy provider: s3rver seals ListObjectsV2 continuation tokens with DES, which Node 20's
  // OpenSSL 3 leaves out by default. --silent: its log would fill the pipe read here only once.
  options.argv = {"node",
                  "--openssl-legacy-provider",
                  Program().string(),
                  "-d",
                  dir.string(),
                  "-a",
                  "127.0.0.1",
                  "-p",
                  "0",
                  "--silent",
                  "--configure-bucket",
                  bucket};
  // Its complaints go to a file beside its data, for a failing test to be looked into.
  os::UniqueFd log(
      open((dir.string() + ".log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  options.fds = {{1, write_end.get()}, {2, log.get()}};
  auto pid = os::Spawn(options);
  if (!pid) {
    return pid.error();
  }
  write_end.Reset();
  S3rver server(*pid, "");
  // "S3rver listening on 127.0.0.1:PORT" once it serves.
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (out.find("listening on ") == std::string::npos ||
         out.find('\n', out.find("listening on ")) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{read_end.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      return Error{"s3rver did not say it listens within 20 s; it printed: " + out};
    }
    char buffer[512];
    ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n <= 0) {
      return Error{"s3rver exited before it listened; it printed: " + out};
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  size_t at = out.find("listening on ") + 13;
  std::string address = out.substr(at, out.find('\n', at) - at);
  server.endpoint_ = "http://" + address;
  return server;
}

S3rver::S3rver(S3rver&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), endpoint_(std::move(other.endpoint_)) {}

S3rver::~S3rver() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    (void)os::WaitForExit(pid_);
  }
}

}  // namespace mvm::testing
