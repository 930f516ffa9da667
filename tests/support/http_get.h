#ifndef MVM_TESTS_SUPPORT_HTTP_GET_H_
#define MVM_TESTS_SUPPORT_HTTP_GET_H_

// A plain HTTP/1.0 client for the tests that check a service published on the host's loopback.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace mvm::testing {

/// What an HTTP/1.0 GET of `path` from 127.0.0.1:`port` answers, status line and all; empty when
/// the connection fails or closes without a byte. A read waits at most `timeout_seconds`.
inline std::string HttpGet(int port, const std::string& path, int timeout_seconds = 10) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{timeout_seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return {};
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_HTTP_GET_H_
