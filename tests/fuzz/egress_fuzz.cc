// libFuzzer target: what a sandbox sends its egress helper (runtime/egress/). The first byte picks
// the parser, the rest is its input:
//   0: a DNS query, answered by the resolver (upstream is a fake with a public, a refused and no
//      answer, so the pinning paths run too); the answer must parse as DNS again;
//   1: a TLS ClientHello as the proxy reads it, fed in two pieces as a socket may deliver it;
//   2: the client side of an HTTP/1.x connection through the Host gate, fed in pieces; nothing of
//      a request the checker refused may be forwarded;
//   3: the two halves of a connection the proxy terminated TLS for, with a fixed table of two
//      secrets: the input as client requests through the RequestRewriter (if nothing was refused,
//      no token is left in what went upstream, and that parses as HTTP again) and as an upstream
//      response through the ResponseMasker (same length out, only `*` written, no value left).
// Properties beyond "no crash, no leak, no undefined behaviour" are checked with fuzz::Fail.

#include <arpa/inet.h>
#include <http_parser.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/egress/dns_message.h"
#include "runtime/egress/http_gate.h"
#include "runtime/egress/resolver.h"
#include "runtime/egress/substitute.h"
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

const eg::SecretTable& Secrets() {
  // Tokens end in digits, which no method or header syntax continues, so a token in what went
  // upstream can only be one the rewriter let through.
  static const eg::SecretTable* table = [] {
    std::vector<eg::SandboxSecret> secrets;
    auto add = [&](std::string name, std::string token, std::string host, std::string_view value) {
      auto bytes = mvm::runtime::secrets::SecretBytes::Copy(value);
      if (!bytes.ok()) {
        mvm::fuzz::Fail("no locked memory for a fuzz secret");
      }
      secrets.push_back(
          {std::move(name),
           std::move(token),
           {std::move(host)},
           std::make_shared<const mvm::runtime::secrets::SecretBytes>(std::move(*bytes))});
    };
    add("one", "mvmtok-aaaabbbbccccddddeeeeffffgggg2345", "api.one.test", "VALUE-ONE");
    add("two", "mvmtok-zzzzyyyyxxxxwwwwvvvvuuuu7777tttt3", "*.two.test", "vv2vv2");
    return new eg::SecretTable(std::move(secrets));
  }();
  return *table;
}

/// Whether `stream` parses as whole HTTP/1.x requests.
bool ParsesAsRequests(std::string_view stream) {
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  http_parser_settings settings{};
  const size_t used = http_parser_execute(&parser, &settings, stream.data(), stream.size());
  return HTTP_PARSER_ERRNO(&parser) == HPE_OK && used == stream.size();
}

void Substitute(std::string_view input) {
  const eg::SecretTable& table = Secrets();
  const uint8_t knob = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  const size_t step = knob % 17 + 1;
  const std::string host = (knob & 0x80) != 0 ? "api.one.test" : "x.two.test";
  {
    // A small bound, so that streamed bodies are reached too.
    eg::RequestRewriter rewriter(table, host, /*max_body=*/64);
    std::string forwarded;
    bool refused = false;
    bool tunnel = false;
    for (size_t at = 0; at < input.size(); at += step) {
      eg::RequestRewriter::Verdict v = rewriter.Feed(input.substr(at, step));
      forwarded += v.forward;
      tunnel = tunnel || v.tunnel;
      if (v.denied) {
        refused = true;
        for (const eg::SandboxSecret& s : table.secrets()) {
          if (v.denied->find(s.value->view()) != std::string::npos) {
            mvm::fuzz::Fail("a refusal names a secret's value");
          }
        }
        break;
      }
    }
    if (!refused && table.FindToken(forwarded) != nullptr) {
      mvm::fuzz::Fail("a token went upstream without a refusal");
    }
    if (!tunnel && !ParsesAsRequests(forwarded)) {
      mvm::fuzz::Fail("what went upstream does not parse as HTTP requests");
    }
  }
  eg::ResponseMasker masker(table, host);
  std::string out;
  for (size_t at = 0; at < input.size(); at += step) {
    out += masker.Feed(input.substr(at, step));
  }
  out += masker.Finish();
  if (out.size() != input.size()) {
    mvm::fuzz::Fail("masking changed the response's length");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != input[i] && out[i] != '*') {
      mvm::fuzz::Fail("masking changed a byte to something other than `*`");
    }
  }
  for (const eg::SandboxSecret& s : table.secrets()) {
    if (eg::SecretTable::Allows(s, host) && out.find(s.value->view()) != std::string::npos) {
      mvm::fuzz::Fail("a value reached the sandbox unmasked");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      Dns(input);
      break;
    case 1:
      Hello(input);
      break;
    case 2:
      Http(input);
      break;
    default:
      Substitute(input);
      break;
  }
  return 0;
}
