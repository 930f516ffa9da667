// libFuzzer target for the host side of the agent protocol: agent::Client reading what an agent
// answers. The agent runs in the sandbox, and a microVM guest's root can replace it, so every byte
// here is hostile. The first input byte picks which requests the client makes; the rest is the
// whole stream the "agent" sends back, then end of stream. Properties checked besides "no crash,
// no sanitizer report, no hang": an Exec never passes more output to its sink than the request's
// limit, and every call returns (a value or an Error).

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/agent/client.h"

namespace {

namespace agent = ::mvm::runtime::agent;

constexpr uint64_t kOutputLimit = 1024;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // What fits in a socket's buffer, so the whole answer is written before the client reads.
  if (size < 1 || size > 64 * 1024) {
    return 0;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return 0;
  }
  int buffer = 1 << 20;
  (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  const char* answer = reinterpret_cast<const char*>(data) + 1;
  size_t left = size - 1;
  while (left > 0) {
    ssize_t n = send(sv[1], answer, left, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    answer += n;
    left -= static_cast<size_t>(n);
  }
  shutdown(sv[1], SHUT_WR);

  agent::Client client = agent::Client::Adopt(sv[0], "fuzz");
  (void)client.Hello();
  switch (data[0] % 6) {
    case 0: {
      agent::ExecRequest request;
      request.argv = {"true"};
      request.output_limit_bytes = kOutputLimit;
      uint64_t seen[2] = {0, 0};
      auto result = client.Exec(request, [&](agent::Stream stream, std::string_view chunk) {
        seen[stream == agent::Stream::kStderr ? 1 : 0] += chunk.size();
      });
      if (seen[0] > kOutputLimit || seen[1] > kOutputLimit) {
        Fail("Exec passed more output than the limit");
      }
      (void)result;
      break;
    }
    case 1:
      (void)client.ReadFile("/f", 4096);
      break;
    case 2:
      (void)client.List("/");
      break;
    case 3:
      (void)client.Logs(4096);
      break;
    case 4:
      (void)client.WriteFile("/f", "data");
      (void)client.Remove("/f", true);
      break;
    default:
      (void)client.Signal(15);
      (void)client.Shutdown();
      break;
  }
  close(sv[1]);
  return 0;
}
