#include "runtime/backends/qemu_microvm/control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>

#include "ir/support/os/unique_fd.h"
#include "runtime/agent/json_line.h"
#include "runtime/agent/mux.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

/// A QMP message or a control line longer than this is not one we sent or expect.
constexpr size_t kMaxLine = 1u << 20;

/// Lines from a stream socket, with a deadline per read.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  ErrorOr<std::string> Next(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        }
        return line;
      }
      if (buffer_.size() > kMaxLine) {
        return Error{"a line of more than " + std::to_string(kMaxLine) + " bytes"};
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return Error{"no answer within " + std::to_string(timeout.count()) + " ms"};
      }
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready <= 0) {
        continue;  // the deadline check above ends it
      }
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        return Error{n == 0 ? std::string("the connection closed")
                            : std::string("read: ") + std::strerror(errno)};
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

/// qemu's monitor in control mode: one command at a time, events skipped.
class Qmp {
 public:
  explicit Qmp(int fd) : fd_(fd), reader_(fd) {}

  /// Reads the greeting and leaves capabilities negotiation.
  ErrorOr<Ok> Open() {
    auto greeting = reader_.Next(std::chrono::seconds(10));
    if (!greeting) {
      return Error{"qemu's monitor: " + greeting.error().message};
    }
    json hello = json::parse(*greeting, nullptr, false);
    if (!hello.is_object() || !hello.contains("QMP")) {
      return Error{"qemu's monitor did not greet as QMP"};
    }
    const json& v = hello["QMP"]["version"]["qemu"];
    if (v.is_object()) {
      version_ = std::to_string(v.value("major", 0)) + "." + std::to_string(v.value("minor", 0)) +
                 "." + std::to_string(v.value("micro", 0));
    }
    if (auto ok = Execute("qmp_capabilities"); !ok) {
      return ok.error();
    }
    return Ok{};
  }

  ErrorOr<json> Execute(std::string_view command, const json& arguments = nullptr, int pass = -1) {
    json request = {{"execute", command}};
    if (!arguments.is_null()) {
      request["arguments"] = arguments;
    }
    if (auto ok = agent::WriteAllWithFd(fd_, request.dump() + "\n", pass); !ok) {
      return Error{"qemu's monitor: " + ok.error().message};
    }
    for (;;) {
      auto line = reader_.Next(std::chrono::seconds(30));
      if (!line) {
        return Error{"qemu's monitor, `" + std::string(command) + "`: " + line.error().message};
      }
      json answer = json::parse(*line, nullptr, false);
      if (!answer.is_object() || answer.contains("event")) {
        continue;
      }
      if (answer.contains("error")) {
        return Error{"qemu refused `" + std::string(command) +
                     "`: " + answer["error"].value("desc", std::string("no reason given"))};
      }
      return answer.value("return", json::object());
    }
  }

  const std::string& version() const { return version_; }

 private:
  int fd_;
  LineReader reader_;
  std::string version_;
};

class Server {
 public:
  explicit Server(const ControlEnds& ends) : ends_(ends), qmp_(ends.qmp) {}

  void Run() {
    if (auto ok = qmp_.Open(); !ok) {
      return;  // qemu did not start its monitor; nobody can be served
    }
    if (ends_.incoming) {
      // Until the VM runs its agent cannot answer, and the boot's watchdog ends a VM that does not
      // in time; so a failure here needs no handling of its own.
      const auto deadline = Clock::now() + kMaxIncomingTime;
      while (Clock::now() < deadline) {
        auto status = Status();
        if (!status) {
          return;
        }
        if (*status != "inmigrate") {
          if (*status == "paused") {
            (void)qmp_.Execute("cont");
          }
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    for (;;) {
      os::UniqueFd client(::accept4(ends_.listener, nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) {
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        return;
      }
      os::UniqueFd passed;
      auto request = ReadRequest(client.get(), passed);
      json answer;
      if (!request) {
        answer = {{"ok", false}, {"error", request.error().message}};
      } else {
        auto result = Handle(*request, passed);
        if (!result) {
          answer = {{"ok", false}, {"error", result.error().message}};
        } else {
          answer = std::move(*result);
          answer["ok"] = true;
        }
      }
      (void)agent::WriteAllWithFd(client.get(), answer.dump() + "\n");
    }
  }

 private:
  /// One line, and the descriptor that came with it.
  static ErrorOr<nlohmann::json> ReadRequest(int fd, os::UniqueFd& passed) {
    int received = -1;
    auto request = agent::ReadJsonLine(fd, &received, std::chrono::seconds(5), kMaxLine);
    passed.Reset(received);
    if (!request) {
      return request.error();
    }
    if (!request->contains("op") || !(*request)["op"].is_string()) {
      return Error{"a control request is a JSON object with an \"op\""};
    }
    return request;
  }

  ErrorOr<std::string> Status() {
    auto status = qmp_.Execute("query-status");
    if (!status) {
      return status.error();
    }
    return status->value("status", std::string("unknown"));
  }

  ErrorOr<json> Handle(const json& request, os::UniqueFd& passed) {
    const std::string op = request["op"];
    if (op == "status") {
      auto status = Status();
      if (!status) {
        return status.error();
      }
      return json{{"status", *status}, {"qemu_version", qmp_.version()}};
    }
    if (op == "pause" || op == "resume") {
      if (auto ok = qmp_.Execute(op == "pause" ? "stop" : "cont"); !ok) {
        return ok.error();
      }
      return json::object();
    }
    if (op == "snapshot") {
      if (!passed.valid()) {
        return Error{"a snapshot request carries the descriptor of the file to write"};
      }
      return Snapshot(passed.get());
    }
    return Error{"unknown control request `" + op + "`"};
  }

  /// Drains the agent port (agent/mux.h, QUIESCE): every client's connection ends and none is
  /// accepted until Accept().
  ErrorOr<Ok> Quiesce() {
    char stale[16];
    while (::recv(ends_.mux_control, stale, sizeof stale, MSG_DONTWAIT) > 0) {
    }
    if (::send(ends_.mux_control, &agent::kMuxQuiesce, 1, MSG_NOSIGNAL) != 1) {
      return Error{"the agent port's multiplexer is gone"};
    }
    pollfd p{ends_.mux_control, POLLIN, 0};
    char answer = 0;
    if (::poll(&p, 1, static_cast<int>(ends_.quiesce_timeout.count())) != 1 ||
        ::recv(ends_.mux_control, &answer, 1, 0) != 1 || answer != agent::kMuxQuiesced) {
      Accept();
      return Error{"the guest did not drain its agent port within " +
                   std::to_string(ends_.quiesce_timeout.count()) +
                   " ms; the VM was not stopped and runs on"};
    }
    return Ok{};
  }

  void Accept() { (void)::send(ends_.mux_control, &agent::kMuxAccept, 1, MSG_NOSIGNAL); }

  ErrorOr<json> Snapshot(int fd) {
    const auto start = Clock::now();
    auto status = Status();
    if (!status) {
      return status.error();
    }
    const bool was_running = *status == "running";
    // The guest drains its half of the port itself, so a paused VM runs for that moment.
    if (!was_running) {
      if (auto ok = qmp_.Execute("cont"); !ok) {
        return ok.error();
      }
    }
    auto result = Migrate(fd);
    if (!was_running) {
      (void)qmp_.Execute("stop");
    }
    Accept();
    if (!result) {
      return result.error();
    }
    (*result)["duration_ms"] =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return result;
  }

  ErrorOr<json> Migrate(int fd) {
    if (auto ok = Quiesce(); !ok) {
      return ok.error();
    }
    const auto cont = [&]() -> ErrorOr<Ok> {
      if (auto ok = qmp_.Execute("cont"); !ok) {
        return ok.error();
      }
      return Ok{};
    };
    if (auto ok = qmp_.Execute("stop"); !ok) {
      return ok.error();
    }
    // A stopped VM's pages do not change, so nothing is sent twice; the default bandwidth cap
    // (for live migration over a shared link) would only slow the write to a local file.
    if (auto ok = qmp_.Execute("migrate-set-parameters", {{"max-bandwidth", int64_t{1} << 40}});
        !ok) {
      (void)cont();
      return ok.error();
    }
    if (auto ok = qmp_.Execute("getfd", {{"fdname", "mvm-snapshot"}}, fd); !ok) {
      (void)cont();
      return ok.error();
    }
    if (auto ok = qmp_.Execute("migrate", {{"uri", "fd:mvm-snapshot"}}); !ok) {
      (void)qmp_.Execute("closefd", {{"fdname", "mvm-snapshot"}});
      (void)cont();
      return ok.error();
    }
    const auto deadline = Clock::now() + kMaxMigrationTime;
    json done;
    for (;;) {
      auto info = qmp_.Execute("query-migrate");
      if (!info) {
        return info.error();
      }
      const std::string state = info->value("status", std::string());
      if (state == "completed") {
        done = std::move(*info);
        break;
      }
      if (state == "failed" || state == "cancelled") {
        (void)cont();
        return Error{"qemu's migration into the snapshot " + state + ": " +
                     info->value("error-desc", std::string("no reason given"))};
      }
      if (Clock::now() > deadline) {
        (void)qmp_.Execute("migrate_cancel");
        (void)cont();
        return Error{"qemu's migration into the snapshot took longer than " +
                     std::to_string(kMaxMigrationTime.count()) + " s; cancelled"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (auto ok = cont(); !ok) {
      return ok.error();
    }
    json out = {{"qemu_version", qmp_.version()}};
    if (done.contains("ram") && done["ram"].is_object()) {
      out["ram_bytes"] = done["ram"].value("total", uint64_t{0});
    }
    return out;
  }

  const ControlEnds& ends_;
  Qmp qmp_;
};

}  // namespace

void ServeControl(const ControlEnds& ends) {
  Server server(ends);
  server.Run();
}

ErrorOr<json> ControlRequest(const fs::path& socket, const json& request, int fd,
                             std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof address.sun_path) {
    return Error{"the control socket's path `" + path + "` is too long"};
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  os::UniqueFd conn(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!conn.valid() ||
      ::connect(conn.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return Error{"cannot reach the VM's supervisor at `" + path + "`: " + std::strerror(errno)};
  }
  if (auto ok = agent::WriteAllWithFd(conn.get(), request.dump() + "\n", fd); !ok) {
    return Error{"the VM's supervisor: " + ok.error().message};
  }
  auto answer = agent::ReadJsonLine(conn.get(), nullptr, timeout, kMaxLine);
  if (!answer) {
    return Error{"the VM's supervisor: " + answer.error().message};
  }
  if (!answer->value("ok", false)) {
    return Error{
        answer->value("error", std::string("the VM's supervisor refused, saying nothing"))};
  }
  return answer;
}

}  // namespace mvm::runtime::qemu_microvm
