#include "runtime/launcher/pool_wire.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ir/support/os/errno_text.h"
#include "runtime/agent/json_line.h"

namespace mvm::runtime::internal {

namespace fs = std::filesystem;

namespace {

/// A claim carries the claimer's plan file, which stays far below this.
constexpr size_t kMaxLine = 1u << 20;
/// How long one side waits for the other's line: requests are answered at once, as the pool's main
/// thread never boots anything itself.
constexpr auto kLineDeadline = std::chrono::seconds(5);

}  // namespace

fs::path PoolFile(const StateDir& state, std::string_view name, std::string_view ext) {
  return state.Pools() / (std::string(name) + std::string(ext));
}

/// Writes `data`; `pass_fd`, when given, goes along with its first byte (SCM_RIGHTS).
ErrorOr<Ok> WriteAll(int fd, std::string_view data, int pass_fd) {
  return agent::WriteAllWithFd(fd, data, pass_fd);
}

ErrorOr<nlohmann::json> ReadJsonLine(int fd, int* received_fd) {
  return agent::ReadJsonLine(fd, received_fd, kLineDeadline, kMaxLine);
}

ErrorOr<nlohmann::json> Request(const StateDir& state, std::string_view pool,
                                const nlohmann::json& request, int pass_fd) {
  fs::path path = PoolFile(state, pool, ".sock");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof addr.sun_path) {
    return Error{"the socket path `" + path.string() + "` is too long for a unix socket"};
  }
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error{"cannot create a socket: " + os::ErrnoText(errno)};
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::string why = os::ErrnoText(errno);
    ::close(fd);
    return Error{"cannot reach pool `" + std::string(pool) + "` at `" + path.string() +
                 "`: " + why};
  }
  auto written = WriteAll(fd, request.dump() + "\n", pass_fd);
  if (!written) {
    ::close(fd);
    return written.error();
  }
  auto reply = ReadJsonLine(fd);
  ::close(fd);
  if (!reply) {
    return Error{"pool `" + std::string(pool) + "` did not answer: " + reply.error().message};
  }
  return reply;
}

nlohmann::json ToJson(const PoolRecord& r) {
  return {{"name", r.name},
          {"key", r.key},
          {"workload_id", r.workload_id},
          {"payload_digest", r.payload_digest},
          {"backend", r.backend},
          {"size", r.size},
          {"pid", r.pid},
          {"pid_start_time", r.pid_start_time},
          {"created_at", r.created_at}};
}

ErrorOr<PoolRecord> ReadPoolRecord(const fs::path& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{"cannot read `" + path.string() + "`"};
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(buffer.str());
    PoolRecord r;
    r.name = j.at("name").get<std::string>();
    r.key = j.at("key").get<std::string>();
    r.workload_id = j.at("workload_id").get<std::string>();
    r.payload_digest = j.at("payload_digest").get<std::string>();
    r.backend = j.at("backend").get<std::string>();
    r.size = j.at("size").get<uint32_t>();
    r.pid = j.at("pid").get<pid_t>();
    r.pid_start_time = j.at("pid_start_time").get<uint64_t>();
    r.created_at = j.at("created_at").get<std::string>();
    if (!IsSandboxName(r.name) || path.stem() != r.name) {
      return Error{"`" + path.string() + "` names pool `" + r.name + "`"};
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Error{"`" + path.string() + "` is damaged (" + e.what() + ")"};
  }
}

}  // namespace mvm::runtime::internal
