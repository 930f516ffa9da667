// A microVM's way out, for a plan that allows egress (docs/architecture/microvm-egress.md): a tap
// in a network namespace of its own, where only the egress proxy's and resolver's sockets answer.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "ir/support/os/errno_text.h"
#include "runtime/backends/egress_net_util.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace {

std::string Errno(const std::string& what) { return what + ": " + os::ErrnoText(errno); }

// The redirect takes every TCP connection that arrives on the tap, whatever its destination, to
// the proxy (which reads the original destination with SO_ORIGINAL_DST, and takes a connection to
// its own address as a client that uses it as its HTTP proxy). The input filter then admits only
// the proxy's port and the resolver's; nothing is forwarded, and the namespace has no route
// beyond the link anyway. ARP is not an IP packet and is answered as usual.
std::string Rules() {
  const std::string on_tap = std::string("iifname \"") + kEgressTap + "\" ";
  const std::string to_host = std::string("ip daddr ") + kEgressHostAddress + " ";
  const std::string proxy = std::to_string(kEgressProxyPort);
  const std::vector<std::string> lines = {
      "table ip mvm_vm_nat {",
      "  chain prerouting {",
      "    type nat hook prerouting priority -100; policy accept;",
      "    " + on_tap + "meta l4proto tcp redirect to :" + proxy,
      "  }",
      "}",
      "table inet mvm_vm_filter {",
      "  chain input {",
      "    type filter hook input priority 0; policy drop;",
      "    iifname \"lo\" accept",
      "    " + on_tap + to_host + "tcp dport " + proxy + " accept",
      "    " + on_tap + to_host + "udp dport 53 accept",
      "  }",
      "  chain forward {",
      "    type filter hook forward priority 0; policy drop;",
      "  }",
      "}",
  };
  std::string out;
  for (const std::string& line : lines) {
    out += line + "\n";
  }
  return out;
}

ErrorOr<Ok> LoadRules() { return backends::LoadNftRules(Rules(), "the VM's egress rules"); }

/// Turns IPv6 off on the tap (so that it has no link-local address either), through the calling
/// thread's namespace's sysctl; best effort: a kernel without IPv6 has no such file, and the input
/// filter drops IPv6 either way. Only the tap's own file is written, which exists in no other
/// namespace.
void DisableIpv6OnTheTap() {
  const std::string path = std::string("/proc/sys/net/ipv6/conf/") + kEgressTap + "/disable_ipv6";
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::write(fd, "1", 1);
    ::close(fd);
  }
}

ErrorOr<Ok> InterfaceUp(int s, const char* name, const char* address, int prefix) {
  ifreq request{};
  std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (address != nullptr) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&request.ifr_addr);
    sin->sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &sin->sin_addr);
    if (::ioctl(s, SIOCSIFADDR, &request) != 0) {
      return Error{Errno(std::string("give ") + name + " the address " + address)};
    }
    sin->sin_addr.s_addr = htonl(~(0xffffffffu >> prefix));
    if (::ioctl(s, SIOCSIFNETMASK, &request) != 0) {
      return Error{Errno(std::string("set the netmask of ") + name)};
    }
  }
  if (::ioctl(s, SIOCGIFFLAGS, &request) != 0) {
    return Error{Errno(std::string("read the flags of ") + name)};
  }
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(s, SIOCSIFFLAGS, &request) != 0) {
    return Error{Errno(std::string("bring ") + name + " up")};
  }
  return Ok{};
}

ErrorOr<os::UniqueFd> Bound(int type, int port) {
  return backends::BoundEgressSocket(type, kEgressHostAddress, port);
}

/// In the calling thread, which must be in the VM's fresh namespace.
ErrorOr<VmNetwork> MakeNetwork() {
  os::UniqueFd tap(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!tap.valid()) {
    return Error{Errno("open /dev/net/tun (the kernel needs the tun module)")};
  }
  ifreq request{};
  std::strncpy(request.ifr_name, kEgressTap, IFNAMSIZ - 1);
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(tap.get(), TUNSETIFF, &request) != 0) {
    return Error{Errno(std::string("make the tap ") + kEgressTap)};
  }
  DisableIpv6OnTheTap();
  os::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    return Error{Errno("socket")};
  }
  if (auto up = InterfaceUp(s.get(), "lo", nullptr, 0); !up) {
    return up.error();
  }
  // One hardware address for every VM's host end (each tap is alone in its namespace): a VM
  // restored from a snapshot holds the address it learnt over ARP, and the kernel drops frames
  // for any other, so a random one per tap would cut a restored VM off until its cache expires.
  ifreq hw{};
  std::strncpy(hw.ifr_name, kEgressTap, IFNAMSIZ - 1);
  hw.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  constexpr unsigned char kTapMac[6] = {0x02, 0x6d, 0x76,
                                        0x6d, 0x00, 0x01};  // locally administered
  std::memcpy(hw.ifr_hwaddr.sa_data, kTapMac, sizeof kTapMac);
  if (::ioctl(s.get(), SIOCSIFHWADDR, &hw) != 0) {
    return Error{Errno(std::string("set the hardware address of ") + kEgressTap)};
  }
  if (auto up = InterfaceUp(s.get(), kEgressTap, kEgressHostAddress, kEgressPrefix); !up) {
    return up.error();
  }
  if (auto loaded = LoadRules(); !loaded) {
    return loaded.error();
  }
  auto proxy = Bound(SOCK_STREAM, kEgressProxyPort);
  if (!proxy) {
    return proxy.error();
  }
  auto dns = Bound(SOCK_DGRAM, 53);
  if (!dns) {
    return dns.error();
  }
  VmNetwork out;
  out.tap = std::move(tap);
  out.endpoints.proxy = std::move(*proxy);
  out.endpoints.dns = std::move(*dns);
  out.endpoints.resolver_address = kEgressHostAddress;
  out.endpoints.proxy_url =
      std::string("http://") + kEgressHostAddress + ":" + std::to_string(kEgressProxyPort);
  return out;
}

}  // namespace

std::string GuestNetParameter() {
  return std::string(kEgressGuestAddress) + "/" + std::to_string(kEgressPrefix) + "," +
         kEgressHostAddress;
}

ErrorOr<VmNetwork> OpenVmNetwork() {
  // unshare moves only the calling thread, so a thread of its own makes the namespace and ends in
  // it; the tap and the sockets it made keep the namespace alive, and nothing else is in it.
  ErrorOr<VmNetwork> out = Error{"not run"};
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out = Error{Errno("make a network namespace")};
      return;
    }
    out = MakeNetwork();
  }).join();
  if (!out) {
    return Error{"cannot give the microVM its way out: " + out.error().message};
  }
  return out;
}

}  // namespace mvm::runtime::qemu_microvm
