// libFuzzer target for the mux's trunk decoder on the host's side (runtime/agent/mux.h): the bytes
// a microVM guest sends on its agent port, which a guest's root can replace with anything. The
// first input byte says how many clients (0 to 3) are connected before the trunk is read, so
// streams 1 to 3 are open as for concurrent `mvmctl` commands; the rest is the whole trunk stream,
// then end of stream. The property is "no crash, no sanitizer report, no hang": whatever arrives,
// RunMux returns once the trunk ends. (The guest's side is not a target: it outlives the end of its
// trunk by design, waiting for the host to come back, and reads only what the host sends.)

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "runtime/agent/mux.h"

namespace {

namespace agent = ::mvm::runtime::agent;

int Listen(const sockaddr_un& address, socklen_t length) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
      listen(fd, 64) != 0) {
    std::abort();
  }
  return fd;
}

sockaddr_un Abstract(const std::string& name, socklen_t& length) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return address;
}

void SetBuffers(int fd) {
  int buffer = 1 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // What fits in the trunk's buffer, so the whole stream is written before the mux reads; within
  // one stream's window, so a well-behaved guest never needs credit back.
  if (size < 1 || size > 64 * 1024) {
    return 0;
  }
  const int clients = data[0] % 4;

  int trunk[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trunk) != 0) {
    return 0;
  }
  SetBuffers(trunk[0]);
  SetBuffers(trunk[1]);
  const char* bytes = reinterpret_cast<const char*>(data) + 1;
  size_t left = size - 1;
  while (left > 0) {
    ssize_t n = send(trunk[1], bytes, left, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    bytes += n;
    left -= static_cast<size_t>(n);
  }
  shutdown(trunk[1], SHUT_WR);

  agent::MuxOptions options;
  options.trunk_fd = trunk[0];
  socklen_t length = 0;
  sockaddr_un address = Abstract("mvm-fuzz-mux-" + std::to_string(getpid()), length);
  options.listener_fd = Listen(address, length);
  std::vector<int> connected;
  for (int i = 0; i < clients; ++i) {
    int client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SetBuffers(client);
    if (connect(client, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      std::abort();
    }
    connected.push_back(client);
  }
  // What the mux sends back (OPEN, CREDIT, CLOSE) is read and dropped, so it never blocks on a
  // full trunk.
  std::thread reader([fd = trunk[1]] {
    char sink[65536];
    while (read(fd, sink, sizeof sink) > 0) {
    }
  });
  (void)agent::RunMux(options);  // closes trunk[0] and the listener
  reader.join();
  close(trunk[1]);
  for (int client : connected) {
    close(client);
  }
  return 0;
}
