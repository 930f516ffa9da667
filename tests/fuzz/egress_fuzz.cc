// libFuzzer target: what a sandbox sends its egress helper (runtime/egress/). The first byte picks
// the parser, the rest is its input:
//   0: a DNS query, answered by the resolver (upstream is a fake with a public, a refused and no
//      answer, so the pinning paths run too); the answer must parse as DNS again;
//   1: a TLS ClientHello as the proxy reads it, fed in two pieces as a socket may deliver it;
//   2: the client side of an HTTP/1.x connection through the Host gate, fed in pieces; nothing of
//      a request the checker refused may be forwarded.
// Properties beyond "no crash, no leak, no undefined behaviour" are checked with fuzz::Fail.

#include <arpa/inet.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/egress/dns_message.h"
#include "runtime/egress/http_gate.h"
#include "runtime/egress/resolver.h"
#include "runtime/egress/tls_hello.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace eg = mvm::runtime::egress;

void Dns(std::string_view input) {
  static eg::EventLog* events =
      new eg::EventLog([](const std::string&, const nlohmann::json&) {}, std::chrono::hours(1));
  eg::Policy policy;
  policy.rules = {{"allowed.test", eg::Protocol::kHttps}, {"*.wild.test", eg::Protocol::kHttp}};
  policy.dns = true;
  eg::Resolver resolver(
      policy,
      [](const std::string& name) {
        eg::UpstreamAnswer a;
        a.rcode = eg::Rcode::kNoError;
        in_addr address{};
        ::inet_pton(AF_INET, name.size() % 2 == 0 ? "203.0.113.10" : "169.254.169.254", &address);
        if (name.size() % 3 != 0) {
          a.v4.push_back(address);
        }
        return a;
      },
      events, "fuzz");
  const std::string answer = resolver.Answer(input);
  if (!answer.empty() && (answer.size() < 12 || (static_cast<uint8_t>(answer[2]) & 0x80) == 0)) {
    mvm::fuzz::Fail("the resolver's answer is not a DNS response");
  }
}

void Hello(std::string_view input) {
  const size_t cut = input.empty() ? 0 : static_cast<uint8_t>(input[0]) % input.size();
  (void)eg::ParseClientHello(input.substr(0, cut));
  eg::ClientHello whole = eg::ParseClientHello(input);
  if (whole.status == eg::ClientHello::Status::kHello && whole.server_name.size() > 65535) {
    mvm::fuzz::Fail("a server name longer than its 16-bit length allows");
  }
}

void Http(std::string_view input) {
  // Requests for host "ok" pass; every other is refused.
  eg::HttpGate gate([](const eg::HttpRequestHead& head) -> std::optional<std::string> {
    if (head.host == "ok") {
      return std::nullopt;
    }
    return "refused";
  });
  std::string forwarded;
  size_t step = input.empty() ? 1 : static_cast<uint8_t>(input[0]) % 17 + 1;
  for (size_t at = 0; at < input.size(); at += step) {
    eg::HttpGate::Verdict v = gate.Feed(input.substr(at, step));
    forwarded += v.forward;
    if (v.denied || v.tunnel) {
      break;
    }
  }
  if (forwarded.size() > input.size()) {
    mvm::fuzz::Fail("the gate forwarded more bytes than it was given");
  }
  if (!input.starts_with(forwarded)) {
    mvm::fuzz::Fail("the gate forwarded bytes that are not a prefix of its input");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      Dns(input);
      break;
    case 1:
      Hello(input);
      break;
    default:
      Http(input);
      break;
  }
  return 0;
}
