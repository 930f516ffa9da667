#include "runtime/backends/container/egress_net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "ir/support/os/errno_text.h"
#include "runtime/backends/egress_net_util.h"

namespace mvm::runtime::container {

namespace {

// Only TCP is redirected: DNS reaches the resolver directly at its loopback address, and any
// other packet to a non-local address is routed to `lo`, which drops it.
constexpr const char* kRules =
    "table ip mvm_egress {\n"
    "  chain output {\n"
    "    type nat hook output priority -100; policy accept;\n"
    "    ip daddr != 127.0.0.0/8 meta l4proto tcp redirect to :15001\n"
    "  }\n"
    "}\n";

constexpr const char* kSourceAddress = "198.18.0.1";

std::string Errno(const std::string& what) { return what + ": " + os::ErrnoText(errno); }

ErrorOr<Ok> DefaultRouteViaLoopback() {
  os::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    return Error{Errno("socket")};
  }
  // A source address for connections that leave by the default route: `lo`'s own 127.0.0.1 is
  // host-scoped, so without another the kernel would send from 0.0.0.0 and the redirected
  // connection's answers would never arrive. 198.18.0.1 is mvm's own (resolver.h).
  ifreq alias{};
  std::strncpy(alias.ifr_name, "lo:mvm", IFNAMSIZ - 1);
  auto* address = reinterpret_cast<sockaddr_in*>(&alias.ifr_addr);
  address->sin_family = AF_INET;
  ::inet_pton(AF_INET, kSourceAddress, &address->sin_addr);
  if (::ioctl(s.get(), SIOCSIFADDR, &alias) != 0) {
    return Error{Errno(std::string("add ") + kSourceAddress + " to lo")};
  }
  ::inet_pton(AF_INET, "255.255.255.255", &address->sin_addr);
  if (::ioctl(s.get(), SIOCSIFNETMASK, &alias) != 0) {
    return Error{Errno(std::string("set the netmask of ") + kSourceAddress)};
  }
  rtentry route{};
  auto* dst = reinterpret_cast<sockaddr_in*>(&route.rt_dst);
  dst->sin_family = AF_INET;
  auto* mask = reinterpret_cast<sockaddr_in*>(&route.rt_genmask);
  mask->sin_family = AF_INET;
  route.rt_flags = RTF_UP;
  char lo[] = "lo";
  route.rt_dev = lo;
  if (::ioctl(s.get(), SIOCADDRT, &route) != 0 && errno != EEXIST) {
    return Error{Errno("add the default route via lo")};
  }
  return Ok{};
}

ErrorOr<Ok> Redirect() { return backends::LoadNftRules(kRules, "the redirect rule"); }

}  // namespace

std::string EgressResolvConf() {
  return std::string("# mvm: the sandbox's resolver (answers only names its plan allows)\n") +
         "nameserver " + kResolverAddress + "\noptions timeout:5 attempts:2\n";
}

ErrorOr<backends::EgressEndpoints> OpenEgressNetwork(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  os::UniqueFd netns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) {
    return Error{Errno("cannot open the sandbox's network namespace " + path)};
  }
  // setns moves only the calling thread, so a thread of its own enters the sandbox's namespace
  // and ends there; the sockets it makes keep that namespace.
  ErrorOr<backends::EgressEndpoints> out = Error{"not run"};
  std::thread([&] {
    if (::setns(netns.get(), CLONE_NEWNET) != 0) {
      out = Error{Errno("cannot enter the sandbox's network namespace")};
      return;
    }
    if (auto routed = DefaultRouteViaLoopback(); !routed) {
      out = routed.error();
      return;
    }
    if (auto redirected = Redirect(); !redirected) {
      out = redirected.error();
      return;
    }
    auto proxy = backends::BoundEgressSocket(SOCK_STREAM, "127.0.0.1", kProxyPort);
    auto dns = backends::BoundEgressSocket(SOCK_DGRAM, kResolverAddress, 53);
    if (!proxy || !dns) {
      out = Error{"cannot open the egress sockets in the sandbox: " +
                  (!proxy ? proxy.error().message : dns.error().message)};
      return;
    }
    backends::EgressEndpoints e;
    e.proxy = std::move(*proxy);
    e.dns = std::move(*dns);
    e.resolver_address = kResolverAddress;
    e.proxy_url = "http://127.0.0.1:" + std::to_string(kProxyPort);
    out = std::move(e);
  }).join();
  if (!out) {
    return Error{"cannot give the sandbox its way out: " + out.error().message};
  }
  return out;
}

}  // namespace mvm::runtime::container
