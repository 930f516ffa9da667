#include "runtime/egress/substitute.h"

#include <http_parser.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace {

namespace eg = mvm::runtime::egress;
using eg::RequestRewriter;
using eg::ResponseMasker;
using eg::SandboxSecret;
using eg::SecretTable;
using eg::TokenScanner;

// Tokens as secrets::MintToken makes them: the prefix and 32 characters of a-z2-7.
const std::string kOpenAiToken = "mvmtok-aaaabbbbccccddddeeeeffffgggg2345";
const std::string kGithubToken = "mvmtok-zzzzyyyyxxxxwwwwvvvvuuuu7777tttt";
const std::string kOpenAiValue = "sk-real-openai-value";
const std::string kGithubValue = "ghp_realgithubvalue";

SandboxSecret Secret(std::string name, std::string token, std::vector<std::string> hosts,
                     std::string_view value) {
  auto bytes = mvm::runtime::secrets::SecretBytes::Copy(value);
  EXPECT_TRUE(bytes.ok());
  return SandboxSecret{
      std::move(name), std::move(token), std::move(hosts),
      std::make_shared<const mvm::runtime::secrets::SecretBytes>(std::move(*bytes))};
}

SecretTable Table() {
  std::vector<SandboxSecret> secrets;
  secrets.push_back(Secret("openai", kOpenAiToken, {"api.openai.com"}, kOpenAiValue));
  secrets.push_back(Secret("github", kGithubToken, {"*.github.com"}, kGithubValue));
  return SecretTable(std::move(secrets));
}

/// Everything a rewriter made of `input` fed in pieces of `step` bytes, up to its first refusal.
struct Rewritten {
  std::string forward;
  std::optional<std::string> denied;
  std::string exfiltrated;
  std::vector<std::string> substituted;
  bool tunnel = false;
};

void ExpectNoValue(const Rewritten& run) {
  for (const std::string& value : {kOpenAiValue, kGithubValue}) {
    if (run.denied) {
      EXPECT_EQ(run.denied->find(value), std::string::npos) << *run.denied;
    }
    EXPECT_EQ(run.exfiltrated.find(value), std::string::npos);
  }
}

Rewritten Rewrite(const SecretTable& table, const std::string& host, std::string_view input,
                  size_t step = 0, size_t max_body = size_t{1} << 20) {
  RequestRewriter rewriter(table, host, max_body);
  Rewritten run;
  if (step == 0) {
    step = input.empty() ? 1 : input.size();
  }
  for (size_t at = 0; at < input.size(); at += step) {
    RequestRewriter::Verdict v = rewriter.Feed(input.substr(at, step));
    run.forward += v.forward;
    for (const std::string& name : v.substituted) {
      if (std::find(run.substituted.begin(), run.substituted.end(), name) ==
          run.substituted.end()) {
        run.substituted.push_back(name);
      }
    }
    run.tunnel = run.tunnel || v.tunnel;
    if (v.denied) {
      run.denied = v.denied;
      run.exfiltrated = v.exfiltrated;
      EXPECT_TRUE(rewriter.Feed("GET / HTTP/1.1\r\n\r\n").denied) << "a refusal is final";
      break;
    }
  }
  ExpectNoValue(run);
  return run;
}

/// One request as http-parser reads it back from what the rewriter forwarded.
struct Parsed {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
};

struct Reparser {
  std::vector<Parsed> requests;
  bool in_value = false;
};

/// Parses `stream` as requests; fails the test on a parse error or a request cut short.
std::vector<Parsed> ParseBack(std::string_view stream) {
  Reparser r;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &r;
  http_parser_settings s{};
  static constexpr auto kSelf = [](http_parser* p) { return static_cast<Reparser*>(p->data); };
  s.on_message_begin = [](http_parser* p) {
    kSelf(p)->requests.emplace_back();
    kSelf(p)->in_value = false;
    return 0;
  };
  s.on_url = [](http_parser* p, const char* at, size_t n) {
    kSelf(p)->requests.back().url.append(at, n);
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, size_t n) {
    Reparser* self = kSelf(p);
    if (self->in_value || self->requests.back().headers.empty()) {
      self->requests.back().headers.emplace_back();
      self->in_value = false;
    }
    self->requests.back().headers.back().first.append(at, n);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t n) {
    kSelf(p)->in_value = true;
    kSelf(p)->requests.back().headers.back().second.append(at, n);
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    kSelf(p)->requests.back().chunked = (p->flags & F_CHUNKED) != 0;
    return 0;
  };
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    kSelf(p)->requests.back().body.append(at, n);
    return 0;
  };
  const size_t used = http_parser_execute(&parser, &s, stream.data(), stream.size());
  EXPECT_EQ(HTTP_PARSER_ERRNO(&parser), HPE_OK) << stream;
  EXPECT_EQ(used, stream.size());
  return r.requests;
}

std::string Header(const Parsed& p, const std::string& name) {
  for (const auto& [n, v] : p.headers) {
    if (n == name) {
      return v;
    }
  }
  return "<none>";
}

// --- SecretTable and TokenScanner ---

TEST(SecretTable, HostsMatchExactlyOrBySuffixLikePolicyRules) {
  SecretTable table = Table();
  EXPECT_TRUE(table.IsSecretHost("api.openai.com"));
  EXPECT_FALSE(table.IsSecretHost("openai.com"));
  EXPECT_FALSE(table.IsSecretHost("xapi.openai.com"));
  EXPECT_TRUE(table.IsSecretHost("api.github.com"));
  EXPECT_TRUE(table.IsSecretHost("a.b.github.com"));
  EXPECT_FALSE(table.IsSecretHost("github.com")) << "`*.suffix` does not cover `suffix`";
  EXPECT_FALSE(table.IsSecretHost("evilgithub.com"));
  const SandboxSecret& github = table.secrets()[1];
  EXPECT_TRUE(SecretTable::Allows(github, "api.github.com"));
  EXPECT_FALSE(SecretTable::Allows(github, "api.openai.com"));
}

TEST(SecretTable, FindTokenIgnoresCaseAndFindsTheFirst) {
  SecretTable table = Table();
  EXPECT_EQ(table.max_token(), kOpenAiToken.size());
  EXPECT_EQ(table.FindToken("nothing here mvmtok-"), nullptr);
  const SandboxSecret* s = table.FindToken("x" + kGithubToken + " " + kOpenAiToken);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "github");
  std::string upper = kOpenAiToken;
  for (char& c : upper) {
    c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
  }
  s = table.FindToken(upper + ".example.com");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "openai");
}

TEST(SecretTable, SecretsThatCouldNeverBeSubstitutedAreDropped) {
  std::vector<SandboxSecret> secrets;
  secrets.push_back(Secret("empty-token", "", {"a.example"}, "v"));
  SandboxSecret no_value{"no-value", "mvmtok-x", {"a.example"}, nullptr};
  secrets.push_back(no_value);
  SecretTable table(std::move(secrets));
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.FindToken("anything mvmtok-x"), nullptr);
}

TEST(TokenScanner, FindsATokenSplitAcrossPiecesOnceAndKeepsOnlyATail) {
  SecretTable table = Table();
  for (size_t cut = 1; cut < kOpenAiToken.size(); ++cut) {
    TokenScanner scanner(table);
    EXPECT_EQ(scanner.Feed(std::string(5000, 'a') + kOpenAiToken.substr(0, cut)), nullptr);
    const SandboxSecret* s = scanner.Feed(kOpenAiToken.substr(cut) + "tail");
    ASSERT_NE(s, nullptr) << cut;
    EXPECT_EQ(s->name, "openai");
    // The token is in the kept tail only partly now; a later piece does not report it again.
    EXPECT_EQ(scanner.Feed("more"), nullptr) << cut;
  }
  TokenScanner scanner(table);
  std::string stream;
  for (char c : "prefix " + kGithubToken) {
    const SandboxSecret* s = scanner.Feed(std::string(1, c));
    if (s != nullptr) {
      EXPECT_EQ(s->name, "github");
      stream += "!";
    }
  }
  EXPECT_EQ(stream, "!") << "fed a byte at a time, the token is found exactly once";
}

// --- RequestRewriter: headers ---

TEST(RequestRewriter, ReplacesAHeaderTokenOfTheHostsSecretAndKeepsTheHeadAsSent) {
  SecretTable table = Table();
  const std::string in =
      "GET /v1/models?x=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
      kOpenAiToken + "\r\nX-Case: Mixed\r\n\r\n";
  Rewritten run = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  EXPECT_EQ(run.forward,
            "GET /v1/models?x=1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                kOpenAiValue + "\r\nX-Case: Mixed\r\n\r\n");
  EXPECT_EQ(run.substituted, std::vector<std::string>{"openai"});
}

TEST(RequestRewriter, ARequestWithoutTokensIsForwardedAsItCame) {
  SecretTable table = Table();
  const std::string in =
      "POST /a HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.0\r\nHost: api.openai.com\r\n\r\n";
  Rewritten run = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  EXPECT_EQ(run.forward, in);
  EXPECT_TRUE(run.substituted.empty());
}

TEST(RequestRewriter, ResponsesAreAskedForUncompressedSoTheMaskerCanReadThem) {
  SecretTable table = Table();
  Rewritten run = Rewrite(table, "api.openai.com",
                          "GET / HTTP/1.1\r\nHost: api.openai.com\r\naccept-encoding: gzip, br\r\n"
                          "X-Accept-Encoding: gzip\r\n\r\n");
  ASSERT_FALSE(run.denied) << *run.denied;
  EXPECT_EQ(run.forward,
            "GET / HTTP/1.1\r\nHost: api.openai.com\r\naccept-encoding: identity\r\n"
            "X-Accept-Encoding: gzip\r\n\r\n");
}

TEST(RequestRewriter, AnUppercasedTokenIsATokenToo) {
  SecretTable table = Table();
  std::string upper = kOpenAiToken;
  for (char& c : upper) {
    c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
  }
  Rewritten run = Rewrite(table, "api.openai.com",
                          "GET / HTTP/1.1\r\nHost: api.openai.com\r\nX-Key: " + upper + "\r\n\r\n");
  ASSERT_FALSE(run.denied) << *run.denied;
  EXPECT_EQ(run.forward,
            "GET / HTTP/1.1\r\nHost: api.openai.com\r\nX-Key: " + kOpenAiValue + "\r\n\r\n");
}

TEST(RequestRewriter, AnotherSecretsTokenInAHeaderIsRefusedAsExfiltration) {
  SecretTable table = Table();
  Rewritten run = Rewrite(table, "api.openai.com",
                          "GET / HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                              kOpenAiToken + "\r\nX-Other: " + kGithubToken + "\r\n\r\n");
  ASSERT_TRUE(run.denied);
  EXPECT_EQ(run.exfiltrated, "github");
  EXPECT_NE(run.denied->find("`github`"), std::string::npos) << *run.denied;
  EXPECT_EQ(run.forward, "") << "nothing of the refused request goes upstream";
  EXPECT_TRUE(run.substituted.empty());
}

TEST(RequestRewriter, ATokenToAHostWithoutSecretsIsRefused) {
  SecretTable table = Table();
  Rewritten run =
      Rewrite(table, "evil.example",
              "GET / HTTP/1.1\r\nHost: evil.example\r\nCookie: k=" + kOpenAiToken + "\r\n\r\n");
  ASSERT_TRUE(run.denied);
  EXPECT_EQ(run.exfiltrated, "openai");
  EXPECT_EQ(run.forward, "");
}

TEST(RequestRewriter, ATokenInTheRequestTargetIsRefusedEvenToItsOwnHost) {
  SecretTable table = Table();
  // Percent-encoded, a token is still one to the server that decodes the target.
  for (const std::string& target : {"/v1?key=" + kOpenAiToken, "/" + kOpenAiToken + "/x",
                                    "http://api.openai.com/" + kOpenAiToken,
                                    "/v1?key=%6D%76%6dtok-" + kOpenAiToken.substr(7)}) {
    Rewritten run = Rewrite(table, "api.openai.com",
                            "GET " + target + " HTTP/1.1\r\nHost: api.openai.com\r\n\r\n", 3);
    ASSERT_TRUE(run.denied) << target;
    EXPECT_EQ(*run.denied,
              "a secret token in the request target; tokens are replaced only in headers and "
              "bodies");
    EXPECT_EQ(run.exfiltrated, "openai");
    EXPECT_EQ(run.forward, "");
  }
}

TEST(RequestRewriter, ATokenSplitAcrossFeedsInAHeaderIsReplaced) {
  SecretTable table = Table();
  const std::string in = "GET / HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                         kOpenAiToken + "\r\n\r\n";
  const std::string want = "GET / HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                           kOpenAiValue + "\r\n\r\n";
  const size_t token_at = in.find(kOpenAiToken);
  for (size_t cut = token_at; cut <= token_at + kOpenAiToken.size(); ++cut) {
    RequestRewriter rewriter(table, "api.openai.com");
    RequestRewriter::Verdict a = rewriter.Feed(std::string_view(in).substr(0, cut));
    RequestRewriter::Verdict b = rewriter.Feed(std::string_view(in).substr(cut));
    ASSERT_FALSE(a.denied || b.denied) << cut;
    EXPECT_EQ(a.forward, "") << "the head is held until it is complete";
    EXPECT_EQ(b.forward, want) << cut;
  }
}

TEST(RequestRewriter, ARequestForAnotherSiteBehindTheSameFrontIsRefused) {
  SecretTable table = Table();
  const std::string auth = "Authorization: Bearer " + kOpenAiToken + "\r\n\r\n";
  for (const std::string& head :
       {std::string("GET / HTTP/1.1\r\nHost: attacker.example\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: api.openai.com.attacker.example\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: api.openai.com\r\nHost: attacker.example\r\n"),
        std::string("GET / HTTP/1.1\r\n"), std::string("GET / HTTP/1.0\r\n"),
        std::string("GET http://attacker.example/ HTTP/1.1\r\nHost: api.openai.com\r\n")}) {
    Rewritten run = Rewrite(table, "api.openai.com", head + auth);
    ASSERT_TRUE(run.denied) << head;
    EXPECT_EQ(run.exfiltrated, "");
    EXPECT_EQ(run.forward, "") << head;
    EXPECT_TRUE(run.substituted.empty());
    EXPECT_EQ(run.denied->find("attacker"), std::string::npos)
        << "nothing of the request is quoted";
  }
  for (const std::string& head :
       {std::string("GET / HTTP/1.1\r\nHost: API.OpenAI.com.:443\r\n"),
        std::string("GET http://api.openai.com:443/v1 HTTP/1.1\r\nhost: api.openai.com\r\n")}) {
    Rewritten run = Rewrite(table, "api.openai.com", head + auth);
    ASSERT_FALSE(run.denied) << head << *run.denied;
    EXPECT_EQ(run.substituted, std::vector<std::string>{"openai"});
  }
}

TEST(RequestRewriter, ConnectInsideATerminatedConnectionIsRefused) {
  SecretTable table = Table();
  Rewritten run = Rewrite(table, "api.openai.com",
                          "CONNECT other.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n");
  ASSERT_TRUE(run.denied);
  EXPECT_NE(run.denied->find("CONNECT"), std::string::npos) << *run.denied;
  EXPECT_EQ(run.exfiltrated, "");
  EXPECT_EQ(run.forward, "");
}

TEST(RequestRewriter, AParseErrorIsRefusedWithTheParsersReason) {
  SecretTable table = Table();
  Rewritten run = Rewrite(table, "api.openai.com", "GET / HTTP/1.1\r\nHost api.openai.com\r\n\r\n");
  ASSERT_TRUE(run.denied);
  EXPECT_TRUE(run.denied->starts_with("not an HTTP/1.x request: ")) << *run.denied;
  EXPECT_EQ(run.exfiltrated, "");
}

// --- RequestRewriter: bodies ---

TEST(RequestRewriter, AContentLengthBodyIsRewrittenAndItsLengthSet) {
  SecretTable table = Table();
  const std::string body = "{\"key\":\"" + kOpenAiToken + "\",\"again\":\"" + kOpenAiToken + "\"}";
  const std::string in = "POST /v1/x HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: " +
                         std::to_string(body.size()) +
                         "\r\nContent-Type: application/json\r\n\r\n" + body;
  Rewritten run = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  const std::string want_body =
      "{\"key\":\"" + kOpenAiValue + "\",\"again\":\"" + kOpenAiValue + "\"}";
  EXPECT_EQ(run.forward, "POST /v1/x HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: " +
                             std::to_string(want_body.size()) +
                             "\r\nContent-Type: application/json\r\n\r\n" + want_body);
  std::vector<Parsed> back = ParseBack(run.forward);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].body, want_body);
  EXPECT_EQ(run.substituted, std::vector<std::string>{"openai"});
}

TEST(RequestRewriter, AChunkedBodyIsDechunkedRewrittenAndSentAsOneChunkWithoutTrailers) {
  SecretTable table = Table();
  // The token is split across two chunks and the first chunk carries an extension.
  const std::string half1 = "a=" + kOpenAiToken.substr(0, 10);
  const std::string half2 = kOpenAiToken.substr(10) + "&b=2";
  char sizes[64];
  ::snprintf(sizes, sizeof sizes, "%zx;ext=1\r\n", half1.size());
  std::string in = "POST / HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n";
  in += sizes + half1 + "\r\n";
  ::snprintf(sizes, sizeof sizes, "%zx\r\n", half2.size());
  // Trailers are dropped, even one that would reframe the body for an upstream that merges them.
  in += sizes + half2 + "\r\n0\r\nX-Trailer: " + kGithubToken +
        "\r\nTransfer-Encoding: identity\r\n\r\n";
  Rewritten run = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  const std::string want_body = "a=" + kOpenAiValue + "&b=2";
  ::snprintf(sizes, sizeof sizes, "%zx\r\n", want_body.size());
  EXPECT_EQ(run.forward,
            "POST / HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n" +
                std::string(sizes) + want_body + "\r\n0\r\n\r\n");
  std::vector<Parsed> back = ParseBack(run.forward);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].chunked);
  EXPECT_EQ(back[0].body, want_body);
}

TEST(RequestRewriter, AnEmptyChunkedBodyStaysEmpty) {
  SecretTable table = Table();
  const std::string in =
      "POST / HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  Rewritten run = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  EXPECT_EQ(run.forward, in);
}

TEST(RequestRewriter, AnotherSecretsTokenInABodyIsRefused) {
  SecretTable table = Table();
  const std::string body = "x=" + kGithubToken;
  Rewritten run = Rewrite(table, "api.openai.com",
                          "POST / HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(run.denied);
  EXPECT_EQ(run.exfiltrated, "github");
  EXPECT_EQ(run.forward, "");
}

TEST(RequestRewriter, ALongBodyStreamsUnchangedAndATokenInItIsRefused) {
  SecretTable table = Table();
  const std::string clean(100, 'x');
  const std::string head = "POST / HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 100\r\n\r\n";
  Rewritten ok = Rewrite(table, "api.openai.com", head + clean, 7, /*max_body=*/50);
  ASSERT_FALSE(ok.denied) << *ok.denied;
  EXPECT_EQ(ok.forward, head + clean);

  const std::string dirty =
      std::string(40, 'x') + kOpenAiToken + std::string(100 - 40 - kOpenAiToken.size(), 'y');
  RequestRewriter rewriter(table, "api.openai.com", 50);
  RequestRewriter::Verdict v = rewriter.Feed(head + dirty.substr(0, 45));
  ASSERT_FALSE(v.denied);
  EXPECT_EQ(v.forward, head + dirty.substr(0, 45)) << "the head goes before the body is known";
  v = rewriter.Feed(dirty.substr(45));
  ASSERT_TRUE(v.denied);
  EXPECT_EQ(v.exfiltrated, "openai");
  EXPECT_EQ(v.forward, "");
  EXPECT_EQ(v.denied->find(kOpenAiValue), std::string::npos);
}

TEST(RequestRewriter, AChunkedBodyPastTheBoundStreamsAsChunksAndIsScanned) {
  SecretTable table = Table();
  const std::string head =
      "POST / HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string in = head + "1e\r\n" + std::string(30, 'a') + "\r\n1e\r\n" +
                         std::string(30, 'b') + "\r\n0\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{5}, in.size()}) {
    Rewritten run = Rewrite(table, "api.openai.com", in, step, /*max_body=*/40);
    ASSERT_FALSE(run.denied) << *run.denied;
    std::vector<Parsed> back = ParseBack(run.forward);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].body, std::string(30, 'a') + std::string(30, 'b')) << step;
  }
  // A token split between two chunks of a streamed body is still seen.
  const std::string t1 = kGithubToken.substr(0, 20);
  const std::string t2 = kGithubToken.substr(20);
  char t2_size[16];
  ::snprintf(t2_size, sizeof t2_size, "%zx", t2.size());
  const std::string github_head =
      "POST / HTTP/1.1\r\nHost: api.github.com\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string dirty = github_head + "32\r\n" + std::string(50, 'a') + "\r\n14\r\n" + t1 +
                            "\r\n" + t2_size + "\r\n" + t2 + "\r\n0\r\n\r\n";
  Rewritten run = Rewrite(table, "api.github.com", dirty, 4, /*max_body=*/40);
  ASSERT_TRUE(run.denied);
  EXPECT_EQ(run.exfiltrated, "github");
  EXPECT_EQ(run.forward.find(t2), std::string::npos);
  // The body streamed once it passed the bound, up to the piece that completed the token.
  std::vector<Parsed> back = ParseBack(run.forward);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].body.starts_with(std::string(50, 'a') + t1)) << back[0].body;
}

TEST(RequestRewriter, ExpectContinueSendsTheHeadAtOnceAndStreamsTheBody) {
  SecretTable table = Table();
  const std::string head =
      "PUT /f HTTP/1.1\r\nHost: api.openai.com\r\nExpect: 100-Continue\r\nContent-Length: "
      "5\r\n\r\n";
  RequestRewriter rewriter(table, "api.openai.com");
  RequestRewriter::Verdict v = rewriter.Feed(head);
  ASSERT_FALSE(v.denied);
  EXPECT_EQ(v.forward, head) << "a client waiting for 100 Continue must not wait on the proxy";
  v = rewriter.Feed("hello");
  ASSERT_FALSE(v.denied);
  EXPECT_EQ(v.forward, "hello");

  const std::string body = "k=" + kOpenAiToken;
  Rewritten run = Rewrite(table, "api.openai.com",
                          "PUT /f HTTP/1.1\r\nHost: api.openai.com\r\nExpect: 100-continue\r\n"
                          "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(run.denied);
  EXPECT_EQ(run.exfiltrated, "openai");
}

// --- RequestRewriter: streams ---

TEST(RequestRewriter, PipelinedRequestsAreEachRewritten) {
  SecretTable table = Table();
  const std::string in =
      "GET /1 HTTP/1.1\r\nHost: api.github.com\r\nAuthorization: token " + kGithubToken +
      "\r\n\r\nGET /2 HTTP/1.1\r\nHost: api.github.com\r\nAuthorization: token " + kGithubToken +
      "\r\n\r\n";
  Rewritten run = Rewrite(table, "api.github.com", in);
  ASSERT_FALSE(run.denied) << *run.denied;
  std::vector<Parsed> back = ParseBack(run.forward);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].url, "/1");
  EXPECT_EQ(back[1].url, "/2");
  EXPECT_EQ(Header(back[0], "Authorization"), "token " + kGithubValue);
  EXPECT_EQ(Header(back[1], "Authorization"), "token " + kGithubValue);
  EXPECT_EQ(run.substituted, std::vector<std::string>{"github"});
}

TEST(RequestRewriter, ARefusedPipelinedRequestLetsTheOneBeforeItThrough) {
  SecretTable table = Table();
  const std::string first = "GET /1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                            kOpenAiToken + "\r\n\r\n";
  const std::string second =
      "GET /2 HTTP/1.1\r\nHost: api.openai.com\r\nX-Leak: " + kGithubToken + "\r\n\r\n";
  RequestRewriter rewriter(table, "api.openai.com");
  RequestRewriter::Verdict v = rewriter.Feed(first + second);
  ASSERT_TRUE(v.denied);
  EXPECT_EQ(v.exfiltrated, "github");
  EXPECT_EQ(v.forward, "GET /1 HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " +
                           kOpenAiValue + "\r\n\r\n");
  EXPECT_EQ(v.substituted, std::vector<std::string>{"openai"});
}

TEST(RequestRewriter, ByteAtATimeForwardsWhatOneFeedForwards) {
  SecretTable table = Table();
  const std::string body = "token=" + kOpenAiToken + "&x=1";
  const std::string chunk = "s=" + kOpenAiToken;
  char size[16];
  ::snprintf(size, sizeof size, "%zx", chunk.size());
  const std::string in =
      "POST /a HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer " + kOpenAiToken +
      "\r\nX-Folded: one\r\n two\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
      body + "GET /b HTTP/1.1\r\nHost: api.openai.com\r\n\r\n" +
      "POST /c HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n" + size +
      "\r\n" + chunk + "\r\n0\r\n\r\n";
  Rewritten whole = Rewrite(table, "api.openai.com", in);
  ASSERT_FALSE(whole.denied) << *whole.denied;
  EXPECT_EQ(whole.forward.find("mvmtok-"), std::string::npos) << whole.forward;
  EXPECT_EQ(ParseBack(whole.forward).size(), 3u);
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{13}}) {
    Rewritten pieces = Rewrite(table, "api.openai.com", in, step);
    ASSERT_FALSE(pieces.denied) << *pieces.denied;
    EXPECT_EQ(pieces.forward, whole.forward) << step;
    EXPECT_EQ(pieces.substituted, whole.substituted) << step;
  }
}

TEST(RequestRewriter, AnUpgradeTurnsTheRestIntoAScannedTunnel) {
  SecretTable table = Table();
  const std::string head =
      "GET /ws HTTP/1.1\r\nHost: api.openai.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Authorization: Bearer " +
      kOpenAiToken + "\r\n\r\n";
  RequestRewriter rewriter(table, "api.openai.com");
  RequestRewriter::Verdict v = rewriter.Feed(head + "\x81\x05hello");
  ASSERT_FALSE(v.denied) << *v.denied;
  EXPECT_TRUE(v.tunnel);
  EXPECT_EQ(v.forward,
            "GET /ws HTTP/1.1\r\nHost: api.openai.com\r\nConnection: Upgrade\r\nUpgrade: "
            "websocket\r\nAuthorization: Bearer " +
                kOpenAiValue + "\r\n\r\n\x81\x05hello");
  v = rewriter.Feed("GET / HTTP/1.1\r\n");  // not HTTP any more: relayed as it is
  ASSERT_FALSE(v.denied);
  EXPECT_EQ(v.forward, "GET / HTTP/1.1\r\n");
  v = rewriter.Feed(kOpenAiToken.substr(0, 9));
  ASSERT_FALSE(v.denied);
  v = rewriter.Feed(kOpenAiToken.substr(9));
  ASSERT_TRUE(v.denied);
  EXPECT_EQ(v.exfiltrated, "openai");
  EXPECT_EQ(v.forward, "");
}

TEST(RequestRewriter, AnEmptyFeedIsNotTheEndOfTheStream) {
  SecretTable table = Table();
  RequestRewriter rewriter(table, "api.openai.com");
  EXPECT_FALSE(rewriter.Feed("").denied);
  EXPECT_FALSE(rewriter.Feed("GET / HTTP/1.1\r\nHost: api.openai.com\r\n").denied);
  RequestRewriter::Verdict v = rewriter.Feed("");
  ASSERT_FALSE(v.denied) << *v.denied;
  v = rewriter.Feed("\r\n");
  ASSERT_FALSE(v.denied) << *v.denied;
  EXPECT_EQ(v.forward, "GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n");
}

TEST(RequestRewriter, TokensThatWouldGrowARequestWithoutBoundAreRefused) {
  std::vector<SandboxSecret> secrets;
  const std::string big(1000, 'v');
  secrets.push_back(Secret("big", kOpenAiToken, {"api.openai.com"}, big));
  SecretTable table(std::move(secrets));
  std::string body;
  for (int i = 0; i < 10; ++i) {
    body += kOpenAiToken;
  }
  const std::string head = "POST / HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: ";
  Rewritten few = Rewrite(table, "api.openai.com",
                          head + std::to_string(body.size()) + "\r\n\r\n" + body, 0, 1000);
  ASSERT_FALSE(few.denied) << *few.denied;
  EXPECT_EQ(ParseBack(few.forward).at(0).body.size(), 10 * big.size());
  for (int i = 0; i < 60; ++i) {
    body += kOpenAiToken;  // 70 KB of values, past the 64 KiB floor of the bound
  }
  Rewritten many = Rewrite(table, "api.openai.com",
                           head + std::to_string(body.size()) + "\r\n\r\n" + body, 0, 4000);
  ASSERT_TRUE(many.denied);
  EXPECT_NE(many.denied->find("grow"), std::string::npos) << *many.denied;
  EXPECT_EQ(many.forward, "");
}

// --- ResponseMasker ---

TEST(ResponseMasker, MasksAValueWithStarsOfTheSameLength) {
  SecretTable table = Table();
  ResponseMasker masker(table, "api.openai.com");
  std::string out = masker.Feed("{\"echo\":\"" + kOpenAiValue + "\"}");
  out += masker.Finish();
  EXPECT_EQ(out, "{\"echo\":\"" + std::string(kOpenAiValue.size(), '*') + "\"}");
  EXPECT_EQ(masker.masked(), 1u);
}

TEST(ResponseMasker, MasksOnlyTheValuesOfTheHostsSecrets) {
  SecretTable table = Table();
  ResponseMasker masker(table, "api.openai.com");
  const std::string in = kGithubValue + " " + kOpenAiValue;
  std::string out = masker.Feed(in) + masker.Finish();
  EXPECT_EQ(out, kGithubValue + " " + std::string(kOpenAiValue.size(), '*'));
}

TEST(ResponseMasker, AValueSplitAcrossFeedsIsMaskedAtEveryCut) {
  SecretTable table = Table();
  const std::string in = "ab " + kOpenAiValue + " cd";
  const std::string want = "ab " + std::string(kOpenAiValue.size(), '*') + " cd";
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    ResponseMasker masker(table, "api.openai.com");
    std::string out = masker.Feed(in.substr(0, cut));
    out += masker.Feed(in.substr(cut));
    out += masker.Finish();
    EXPECT_EQ(out, want) << cut;
    EXPECT_EQ(masker.masked(), 1u) << cut;
  }
  ResponseMasker masker(table, "api.openai.com");
  std::string out;
  for (char c : in) {
    out += masker.Feed(std::string(1, c));
  }
  out += masker.Finish();
  EXPECT_EQ(out, want);
}

TEST(ResponseMasker, HoldsBackOnlyWhatCouldStartAValueAndFinishHandsItOut) {
  SecretTable table = Table();
  ResponseMasker masker(table, "api.openai.com");
  EXPECT_EQ(masker.Feed("data: hello\n"), "data: hello\n") << "no byte of it can start a value";
  EXPECT_EQ(masker.Feed("x sk-re"), "x ") << "`sk-re` may become the value";
  EXPECT_EQ(masker.Feed("d"), "sk-red") << "`sk-red` cannot";
  EXPECT_EQ(masker.Feed("sk-real"), "");
  EXPECT_EQ(masker.Finish(), "sk-real") << "the end of the stream: what was held is not a value";
  EXPECT_EQ(masker.masked(), 0u);
}

TEST(ResponseMasker, OverlappingOccurrencesAreMaskedWhole) {
  std::vector<SandboxSecret> secrets;
  secrets.push_back(Secret("a", "mvmtok-a", {"h.example"}, "abab"));
  secrets.push_back(Secret("b", "mvmtok-b", {"h.example"}, "babc"));
  SecretTable table(std::move(secrets));
  for (size_t cut = 0; cut <= 7; ++cut) {
    const std::string in = "xababcx";  // "abab" at 1, "babc" at 2
    ResponseMasker masker(table, "h.example");
    std::string out = masker.Feed(in.substr(0, cut));
    out += masker.Feed(in.substr(cut));
    out += masker.Finish();
    EXPECT_EQ(out, "x*****x") << cut;
    EXPECT_EQ(masker.masked(), 2u) << cut;
  }
  // A value ending inside bytes held because they could start it again stays masked when they go.
  ResponseMasker masker(table, "h.example");
  std::string out = masker.Feed("abab");
  out += masker.Feed("x");
  out += masker.Finish();
  EXPECT_EQ(out, "****x");
}

TEST(ResponseMasker, AHostWithoutSecretsPassesBytesAtOnce) {
  SecretTable table = Table();
  ResponseMasker masker(table, "other.example");
  EXPECT_EQ(masker.Feed(kOpenAiValue.substr(0, 5)), kOpenAiValue.substr(0, 5));
  EXPECT_EQ(masker.Finish(), "");
}

}  // namespace
