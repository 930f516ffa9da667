#include "runtime/egress/address.h"

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

namespace mvm::runtime::egress {

namespace {

struct V4Range {
  uint32_t base;
  int prefix;
  const char* why;
};

constexpr uint32_t Ip(int a, int b, int c, int d) {
  return (static_cast<uint32_t>(a) << 24) | (static_cast<uint32_t>(b) << 16) |
         (static_cast<uint32_t>(c) << 8) | static_cast<uint32_t>(d);
}

constexpr V4Range kRefusedV4[] = {
    {Ip(0, 0, 0, 0), 8, "\"this network\" (0.0.0.0/8)"},
    {Ip(10, 0, 0, 0), 8, "private (10.0.0.0/8)"},
    {Ip(100, 64, 0, 0), 10, "carrier-grade NAT (100.64.0.0/10)"},
    {Ip(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"},
    {Ip(169, 254, 0, 0), 16, "link-local (169.254.0.0/16, cloud metadata services)"},
    {Ip(172, 16, 0, 0), 12, "private (172.16.0.0/12)"},
    {Ip(192, 0, 0, 0), 24, "IETF protocol assignments (192.0.0.0/24)"},
    {Ip(192, 168, 0, 0), 16, "private (192.168.0.0/16)"},
    {Ip(198, 18, 0, 0), 15, "benchmarking (198.18.0.0/15, mvm's sandbox-side addresses)"},
    {Ip(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"},
    {Ip(240, 0, 0, 0), 4, "reserved or broadcast (240.0.0.0/4)"},
};

bool InPrefix(const in6_addr& a, const uint8_t* base, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a.s6_addr, base, static_cast<size_t>(whole)) != 0) {
    return false;
  }
  const int rest = prefix % 8;
  if (rest == 0) {
    return true;
  }
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.s6_addr[whole] & mask) == (base[whole] & mask);
}

in_addr LastFour(const in6_addr& a) {
  in_addr v4{};
  std::memcpy(&v4.s_addr, a.s6_addr + 12, 4);
  return v4;
}

}  // namespace

std::string RefusedAddress(const in_addr& address) {
  const uint32_t a = ntohl(address.s_addr);
  for (const V4Range& range : kRefusedV4) {
    const uint32_t mask = range.prefix == 0 ? 0 : ~uint32_t{0} << (32 - range.prefix);
    if ((a & mask) == range.base) {
      return range.why;
    }
  }
  return "";
}

std::string RefusedAddress(const in6_addr& address) {
  static const uint8_t kZero[16] = {};
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b};
  static const uint8_t kUla[1] = {0xfc};
  static const uint8_t kLinkLocal[2] = {0xfe, 0x80};
  static const uint8_t kSiteLocal[2] = {0xfe, 0xc0};
  static const uint8_t kMulticast[1] = {0xff};
  if (InPrefix(address, kZero, 128)) {
    return "unspecified (::)";
  }
  if (InPrefix(address, kZero, 120) && address.s6_addr[15] == 1) {
    return "loopback (::1)";
  }
  if (InPrefix(address, kMapped, 96) || InPrefix(address, kNat64, 96) ||
      InPrefix(address, kZero, 96)) {
    std::string embedded = RefusedAddress(LastFour(address));
    return embedded.empty() ? "" : "an IPv4 address that is " + embedded;
  }
  if (InPrefix(address, kUla, 7)) {
    return "unique local (fc00::/7, cloud metadata services)";
  }
  if (InPrefix(address, kLinkLocal, 10)) {
    return "link-local (fe80::/10)";
  }
  if (InPrefix(address, kSiteLocal, 10)) {
    return "site-local (fec0::/10)";
  }
  if (InPrefix(address, kMulticast, 8)) {
    return "multicast (ff00::/8)";
  }
  return "";
}

std::string AddressText(const in_addr& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

std::string AddressText(const in6_addr& address) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &address, text, sizeof text);
  return text;
}

}  // namespace mvm::runtime::egress
