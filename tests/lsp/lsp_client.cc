#include "tests/lsp/lsp_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "ir/support/os/process.h"

namespace mvm::lsp::testing {

using nlohmann::json;

LspClient::LspClient() {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  os::SpawnOptions server;
  server.argv = {MVM_MVMCTL_PATH, "lsp"};
  // The server's log goes where the test's does.
  server.fds = {{STDIN_FILENO, in[0]}, {STDOUT_FILENO, out[1]}, {STDERR_FILENO, STDERR_FILENO}};
  auto spawned = os::Spawn(server);
  close(in[0]);
  close(out[1]);
  if (!spawned) {
    close(in[1]);
    close(out[0]);
    throw std::runtime_error(spawned.error().message);
  }
  pid_ = *spawned;
  to_server_ = in[1];
  from_server_ = out[0];
  signal(SIGPIPE, SIG_IGN);
}

LspClient::~LspClient() {
  if (to_server_ >= 0) {
    close(to_server_);
  }
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(from_server_);
}

void LspClient::SendRaw(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(to_server_, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      throw std::runtime_error("the server closed its input");
    }
    done += static_cast<size_t>(n);
  }
}

void LspClient::Send(const json& message) {
  std::string body = message.dump();
  SendRaw("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

int LspClient::Request(const std::string& method, json params) {
  int id = next_id_++;
  Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
  return id;
}

void LspClient::Notify(const std::string& method, json params) {
  Send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

void LspClient::CloseInput() {
  close(to_server_);
  to_server_ = -1;
}

std::optional<json> LspClient::Next(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t header_end = buffer_.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      size_t at = buffer_.find("Content-Length: ");
      size_t length = std::stoul(buffer_.substr(at + 16, header_end - at - 16));
      if (buffer_.size() >= header_end + 4 + length) {
        json message = json::parse(buffer_.substr(header_end + 4, length));
        buffer_.erase(0, header_end + 4 + length);
        return message;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    pollfd p{from_server_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char chunk[65536];
    ssize_t n = read(from_server_, chunk, sizeof chunk);
    if (n <= 0) {
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

std::optional<json> LspClient::WaitFor(const std::function<bool(const json&)>& match,
                                       int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    std::optional<json> message = Next(static_cast<int>(left.count()));
    if (!message) {
      return std::nullopt;
    }
    if (match(*message)) {
      return message;
    }
  }
}

std::optional<json> LspClient::Response(int id) {
  return WaitFor(
      [id](const json& m) { return m.contains("id") && m["id"] == id && !m.contains("method"); });
}

std::optional<json> LspClient::Diagnostics(const std::string& uri) {
  return WaitFor([&](const json& m) {
    return m.value("method", "") == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri;
  });
}

json LspClient::Initialize(json initialization_options) {
  json params = {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", json::object()}};
  if (!initialization_options.is_null()) {
    params["initializationOptions"] = std::move(initialization_options);
  }
  int id = Request("initialize", std::move(params));
  std::optional<json> response = Response(id);
  Notify("initialized", json::object());
  return response ? (*response)["result"] : json(nullptr);
}

int LspClient::Wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

}  // namespace mvm::lsp::testing
