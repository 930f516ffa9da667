#include "runtime/egress/substitute.h"

#include <openssl/crypto.h>
#include <strings.h>

#include <algorithm>
#include <utility>

#include "runtime/egress/policy.h"

namespace mvm::runtime::egress {

namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowered(std::string_view bytes) {
  std::string out(bytes);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

/// Overwrites `s` before it is freed: it may hold part of a value.
void Wipe(std::string& s) {
  if (!s.empty()) {
    OPENSSL_cleanse(s.data(), s.size());
  }
  s.clear();
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void AddOnce(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    names.push_back(name);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SecretTable, TokenScanner

SecretTable::SecretTable(std::vector<SandboxSecret> secrets) {
  for (SandboxSecret& s : secrets) {
    if (s.token.empty() || s.value == nullptr || s.value->empty()) {
      continue;
    }
    // DNS, and any code that normalises what it sends, may change a token's case: comparisons
    // are made in lowercase, so an uppercased token is still a token.
    s.token = Lowered(s.token);
    max_token_ = std::max(max_token_, s.token.size());
    secrets_.push_back(std::move(s));
  }
}

bool SecretTable::IsSecretHost(std::string_view host) const {
  return std::any_of(secrets_.begin(), secrets_.end(),
                     [host](const SandboxSecret& s) { return Allows(s, host); });
}

bool SecretTable::Allows(const SandboxSecret& secret, std::string_view host) {
  return std::any_of(secret.hosts.begin(), secret.hosts.end(), [host](const std::string& pattern) {
    return HostPatternCovers(pattern, host);
  });
}

SecretTable::Hit SecretTable::Find(std::string_view bytes, size_t min_end) const {
  Hit best;
  if (secrets_.empty() || bytes.size() < min_end) {
    return best;
  }
  const std::string lower = Lowered(bytes);
  size_t best_at = std::string::npos;
  for (const SandboxSecret& s : secrets_) {
    // The first occurrence ending after min_end starts at or after min_end - size + 1.
    const size_t from = min_end >= s.token.size() ? min_end - s.token.size() + 1 : 0;
    const size_t at = lower.find(s.token, from);
    if (at != std::string::npos && at < best_at) {
      best_at = at;
      best = {&s, at};
    }
  }
  return best;
}

const SandboxSecret* SecretTable::FindToken(std::string_view bytes) const {
  return Find(bytes).secret;
}

const SandboxSecret* TokenScanner::Feed(std::string_view bytes) {
  const size_t keep = table_.max_token() == 0 ? 0 : table_.max_token() - 1;
  const size_t old = tail_.size();
  tail_.append(bytes);
  // Tokens wholly inside the old tail were reported by the Feed that completed them.
  const SandboxSecret* found = table_.Find(tail_, old).secret;
  if (tail_.size() > keep) {
    tail_.erase(0, tail_.size() - keep);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// RequestRewriter

namespace {

struct Header {
  std::string name;
  std::string value;
};

/// Why a request is refused, and the secret whose token it would have let out unreplaced.
struct Refusal {
  std::string reason;
  std::string secret;
};

}  // namespace

struct RequestRewriter::Impl {
  Impl(const SecretTable& t, std::string h, size_t max)
      : table(t), host(std::move(h)), max_body(max) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    settings.on_message_begin = OnMessageBegin;
    settings.on_url = OnUrl;
    settings.on_header_field = OnHeaderField;
    settings.on_header_value = OnHeaderValue;
    settings.on_headers_complete = OnHeadersComplete;
    settings.on_body = OnBody;
    settings.on_message_complete = OnMessageComplete;
  }

  static Impl* Self(http_parser* p) { return static_cast<Impl*>(p->data); }
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t n);
  static int OnHeaderField(http_parser* p, const char* at, size_t n);
  static int OnHeaderValue(http_parser* p, const char* at, size_t n);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t n);
  static int OnMessageComplete(http_parser* p);

  Verdict Feed(std::string_view bytes);
  Verdict Refuse(Refusal refusal);
  std::optional<Refusal> Replace(std::string& text, std::string_view where);
  std::optional<Refusal> StartBody();
  std::optional<Refusal> CheckAuthority() const;
  std::optional<Refusal> Stream(std::string_view piece);
  std::optional<Refusal> EndBody();
  Refusal StreamedToken(const SandboxSecret& secret) const;
  bool chunked() const { return chunked_body; }
  size_t max_growth() const { return std::max(max_body, kMinGrowth); }
  static constexpr size_t kMinGrowth = size_t{64} << 10;
  void AppendHead();
  void AppendChunk(std::string_view data);
  void AppendLastChunk();

  const SecretTable& table;
  const std::string host;
  const size_t max_body;
  http_parser parser{};
  http_parser_settings settings{};

  // The request being parsed. Everything that goes upstream is written anew from what the parser
  // reports, never copied from the client's bytes, so that nothing the parser skipped (chunk
  // extensions, whitespace) can carry a token past the checks.
  enum class Mode { kHead, kBuffered, kStreamed };
  Mode mode = Mode::kHead;
  std::string url;
  std::vector<Header> headers;
  bool in_value = false;
  /// Read from the parser's flags when the head is complete: a `Transfer-Encoding` trailer clears
  /// F_CHUNKED before the parser reports the end of the message.
  bool chunked_body = false;
  size_t grown = 0;                          ///< bytes of values put in so far
  std::string body;                          ///< de-chunked, while buffered
  std::optional<TokenScanner> body_scanner;  ///< a streamed body, de-chunked
  std::optional<Refusal> pending;            ///< found inside a parser callback
  bool upgraded = false;

  std::string out;           ///< what this Feed forwards
  size_t request_start = 0;  ///< of out: where the request being parsed begins
  std::vector<std::string> substituted;
  size_t substituted_start = 0;

  bool done = false;
  std::optional<TokenScanner> tunnel;
};

int RequestRewriter::Impl::OnMessageBegin(http_parser* p) {
  Impl* r = Self(p);
  r->mode = Mode::kHead;
  r->url.clear();
  r->headers.clear();
  r->in_value = false;
  r->grown = 0;
  Wipe(r->body);
  r->body_scanner.reset();
  r->request_start = r->out.size();
  r->substituted_start = r->substituted.size();
  return 0;
}

int RequestRewriter::Impl::OnUrl(http_parser* p, const char* at, size_t n) {
  Self(p)->url.append(at, n);
  return 0;
}

int RequestRewriter::Impl::OnHeaderField(http_parser* p, const char* at, size_t n) {
  Impl* r = Self(p);
  // After the head, the parser reports a chunked body's trailers through the same callbacks. They
  // are dropped: requests hardly ever carry them, and an upstream that merges them into the head
  // could be made to read a Content-Length or Transfer-Encoding the proxy never checked.
  if (r->mode != Mode::kHead) {
    return 0;
  }
  std::vector<Header>& fields = r->headers;
  if (r->in_value || fields.empty()) {
    fields.emplace_back();
    r->in_value = false;
  }
  fields.back().name.append(at, n);
  return 0;
}

int RequestRewriter::Impl::OnHeaderValue(http_parser* p, const char* at, size_t n) {
  Impl* r = Self(p);
  if (r->mode != Mode::kHead) {
    return 0;  // a trailer's
  }
  std::vector<Header>& fields = r->headers;
  if (fields.empty()) {
    fields.emplace_back();  // http-parser names a field first; should it not, the value is kept
  }
  r->in_value = true;
  fields.back().value.append(at, n);
  return 0;
}

int RequestRewriter::Impl::OnHeadersComplete(http_parser* p) {
  Impl* r = Self(p);
  r->in_value = false;
  r->pending = r->StartBody();
  // Not 1 or 2: to http-parser those mean "no body" and "upgrade".
  return r->pending ? -1 : 0;
}

int RequestRewriter::Impl::OnBody(http_parser* p, const char* at, size_t n) {
  Impl* r = Self(p);
  if (r->mode == Mode::kBuffered) {
    r->body.append(at, n);
    if (r->body.size() <= r->max_body) {
      return 0;
    }
    // Only a chunked body's length is learnt as it comes: past the bound, it streams from here.
    r->mode = Mode::kStreamed;
    std::string so_far = std::move(r->body);
    r->body.clear();
    r->AppendHead();
    r->pending = r->Stream(so_far);
    Wipe(so_far);
  } else {
    r->pending = r->Stream({at, n});
  }
  return r->pending ? -1 : 0;
}

int RequestRewriter::Impl::OnMessageComplete(http_parser* p) {
  Impl* r = Self(p);
  r->pending = r->EndBody();
  if (r->pending) {
    return -1;
  }
  r->mode = Mode::kHead;
  r->request_start = r->out.size();
  r->substituted_start = r->substituted.size();
  // http-parser stops after a request that switched protocols; Feed relays the rest.
  r->upgraded = p->upgrade != 0;
  return 0;
}

Refusal RequestRewriter::Impl::StreamedToken(const SandboxSecret& secret) const {
  return Refusal{"a token of secret `" + secret.name + "` in a request body to " + host +
                     " that is streamed, not rewritten (longer than " + std::to_string(max_body) +
                     " bytes, or sent after `Expect: 100-continue`)",
                 secret.name};
}

std::optional<Refusal> RequestRewriter::Impl::Replace(std::string& text, std::string_view where) {
  const std::vector<SandboxSecret>& secrets = table.secrets();
  const std::string lower = Lowered(text);
  // The next occurrence of each token at or after `from`: each text is searched once per token,
  // however many tokens a body holds.
  std::vector<size_t> next(secrets.size());
  for (size_t i = 0; i < secrets.size(); ++i) {
    next[i] = lower.find(secrets[i].token);
  }
  std::string result;
  size_t from = 0;
  for (;;) {
    size_t first = secrets.size();
    for (size_t i = 0; i < secrets.size(); ++i) {
      if (next[i] != std::string::npos && (first == secrets.size() || next[i] < next[first])) {
        first = i;
      }
    }
    if (first == secrets.size()) {
      break;
    }
    const SandboxSecret& s = secrets[first];
    if (!SecretTable::Allows(s, host)) {
      Wipe(result);
      return Refusal{"a token of secret `" + s.name + "` in " + std::string(where) +
                         " of a request to " + host + ", which is not one of its hosts",
                     s.name};
    }
    // A value is up to 16 KiB and a token 39 bytes: a body of tokens would grow 400-fold in a
    // helper's memory. The bound is generous for requests that name their key a few times.
    grown += s.value->size();
    if (grown > max_growth()) {
      Wipe(result);
      return Refusal{"the tokens in a request to " + host + " would grow it by more than " +
                         std::to_string(max_growth()) + " bytes",
                     ""};
    }
    result.append(text, from, next[first] - from);
    result.append(s.value->view());
    from = next[first] + s.token.size();
    AddOnce(substituted, s.name);
    for (size_t i = 0; i < secrets.size(); ++i) {
      if (next[i] != std::string::npos && next[i] < from) {
        next[i] = lower.find(secrets[i].token, from);
      }
    }
  }
  if (from == 0) {
    return std::nullopt;  // no token: the text stays as it is
  }
  result.append(text, from);
  Wipe(text);
  text = std::move(result);
  return std::nullopt;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = Lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/// `text` with every `%XX` decoded, as a server reads a URL.
std::string PercentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
        HexDigit(text[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/// The normalised name in a Host value or a URL's authority, without its port; nothing when it is
/// not a name.
std::optional<std::string> AuthorityName(std::string_view authority) {
  while (!authority.empty() && (authority.front() == ' ' || authority.front() == '\t')) {
    authority.remove_prefix(1);
  }
  while (!authority.empty() && (authority.back() == ' ' || authority.back() == '\t')) {
    authority.remove_suffix(1);
  }
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos &&
      authority.find_first_not_of("0123456789", colon + 1) == std::string_view::npos) {
    authority = authority.substr(0, colon);
  }
  return NormaliseName(authority);
}

}  // namespace

std::optional<Refusal> RequestRewriter::Impl::CheckAuthority() const {
  // A front shared by many sites (a CDN) routes by the Host header, not by the name the TLS
  // connection was opened to: a request naming another site would take the secret there.
  const std::string why =
      " does not name " + host + ", the host this connection was opened to and its secrets are for";
  int hosts = 0;
  bool matches = false;
  for (const Header& h : headers) {
    if (::strcasecmp(h.name.c_str(), "host") == 0) {
      ++hosts;
      matches = AuthorityName(h.value) == host;
    }
  }
  if (hosts != 1) {
    return Refusal{"a request to " + host + " with " + std::to_string(hosts) +
                       " Host headers; it needs exactly one",
                   ""};
  }
  if (!matches) {
    return Refusal{"the request's Host header" + why, ""};
  }
  if (!url.starts_with('/') && url != "*") {
    http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url.data(), url.size(), 0, &u) != 0 ||
        (u.field_set & (1 << UF_HOST)) == 0) {
      return Refusal{"a request target that is neither a path nor an absolute URL", ""};
    }
    const std::string_view authority(url.data() + u.field_data[UF_HOST].off,
                                     u.field_data[UF_HOST].len);
    if (AuthorityName(authority) != host) {
      return Refusal{"the request target's host" + why, ""};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> RequestRewriter::Impl::StartBody() {
  chunked_body = (parser.flags & F_CHUNKED) != 0;
  const SandboxSecret* in_target = table.FindToken(url);
  if (in_target == nullptr) {
    in_target = table.FindToken(PercentDecoded(url));  // `%6d%76%6d…` is a token to a server
  }
  if (const SandboxSecret* s = in_target) {
    return Refusal{
        "a secret token in the request target; tokens are replaced only in headers and bodies",
        s->name};
  }
  if (parser.method == HTTP_CONNECT) {
    return Refusal{"a CONNECT request inside the terminated connection to " + host, ""};
  }
  // Before any substitution: a refusal quotes nothing of the request, and a value is put only in
  // requests whose Host is the connection's.
  if (auto refused = CheckAuthority()) {
    return refused;
  }
  bool expect_continue = false;
  for (Header& h : headers) {
    if (auto refused = Replace(h.name, "a header name")) {
      return refused;
    }
    if (auto refused = Replace(h.value, "a header value")) {
      return refused;
    }
    if (::strcasecmp(h.name.c_str(), "expect") == 0 &&
        Lowered(h.value).find("100-continue") != std::string::npos) {
      expect_continue = true;
    }
    // The masker reads responses as they come: a compressed one would carry a value an upstream
    // echoes (or stored and serves back) past it. Servers honour `identity` as the only coding.
    if (::strcasecmp(h.name.c_str(), "accept-encoding") == 0) {
      h.value = "identity";
    }
  }
  // http-parser joins folded header lines without their line breaks and rejects bare ones, so this
  // holds; were it not to, a rewritten head would split into two requests upstream.
  for (const Header& h : headers) {
    if (HasLineBreak(h.name) || HasLineBreak(h.value)) {
      return Refusal{"a header with a line break or a NUL in it", ""};
    }
  }
  const bool long_body =
      !chunked() && parser.content_length != ULLONG_MAX && parser.content_length > max_body;
  // A client that waits for `100 Continue` before it sends its body would wait for ever on a proxy
  // that waits for the body before it sends the head: such a body streams, as a long one does.
  if (expect_continue || long_body) {
    mode = Mode::kStreamed;
    AppendHead();
    body_scanner.emplace(table);
  } else {
    mode = Mode::kBuffered;
  }
  return std::nullopt;
}

std::optional<Refusal> RequestRewriter::Impl::Stream(std::string_view piece) {
  if (!body_scanner) {
    body_scanner.emplace(table);
  }
  if (const SandboxSecret* s = body_scanner->Feed(piece)) {
    return StreamedToken(*s);
  }
  if (chunked()) {
    AppendChunk(piece);
  } else {
    out += piece;
  }
  return std::nullopt;
}

std::optional<Refusal> RequestRewriter::Impl::EndBody() {
  if (mode == Mode::kBuffered) {
    if (auto refused = Replace(body, "the body")) {
      return refused;
    }
    if (!chunked()) {
      for (Header& h : headers) {
        if (::strcasecmp(h.name.c_str(), "content-length") == 0) {
          h.value = std::to_string(body.size());
        }
      }
    }
    AppendHead();
    if (chunked()) {
      AppendChunk(body);
    } else {
      out += body;
    }
    Wipe(body);
  }
  if (chunked()) {
    AppendLastChunk();
  }
  return std::nullopt;
}

void RequestRewriter::Impl::AppendHead() {
  out += http_method_str(static_cast<http_method>(parser.method));
  out += ' ';
  out += url;
  out += " HTTP/" + std::to_string(parser.http_major) + "." + std::to_string(parser.http_minor);
  out += "\r\n";
  for (const Header& h : headers) {
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "\r\n";
}

void RequestRewriter::Impl::AppendChunk(std::string_view data) {
  // A chunked body goes upstream in chunks of the proxy's making (the client's extensions, which
  // no server acts on, are dropped): one per piece the parser reports, one for a buffered body.
  if (data.empty()) {
    return;  // an empty chunk would end the body
  }
  char size[32];
  ::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out += size;
  out += data;
  out += "\r\n";
}

void RequestRewriter::Impl::AppendLastChunk() { out += "0\r\n\r\n"; }

RequestRewriter::Verdict RequestRewriter::Impl::Refuse(Refusal refusal) {
  done = true;
  Verdict v;
  v.denied = std::move(refusal.reason);
  v.exfiltrated = std::move(refusal.secret);
  // What completed requests produced in this Feed still goes; nothing of the refused one does,
  // and its bytes, which may hold values already put in, are wiped.
  OPENSSL_cleanse(out.data() + request_start, out.size() - request_start);
  out.resize(request_start);
  v.forward = std::move(out);
  out.clear();
  substituted.resize(substituted_start);
  v.substituted = std::move(substituted);
  substituted.clear();
  Wipe(body);
  headers.clear();
  tunnel.reset();
  return v;
}

RequestRewriter::Verdict RequestRewriter::Impl::Feed(std::string_view bytes) {
  if (done) {
    Verdict v;
    v.denied = "the connection was already refused";
    return v;
  }
  Verdict v;
  if (bytes.empty()) {
    return v;  // to http-parser, no bytes is the end of the stream
  }
  if (!tunnel) {
    request_start = 0;
    substituted_start = 0;
    const size_t used = http_parser_execute(&parser, &settings, bytes.data(), bytes.size());
    if (pending) {
      Refusal refusal = std::move(*pending);
      pending.reset();
      return Refuse(std::move(refusal));
    }
    const http_errno error = HTTP_PARSER_ERRNO(&parser);
    if (error != HPE_OK) {
      return Refuse({std::string("not an HTTP/1.x request: ") + http_errno_description(error), ""});
    }
    if (!upgraded) {
      v.forward = std::move(out);
      out.clear();
      v.substituted = std::move(substituted);
      substituted.clear();
      return v;
    }
    tunnel.emplace(table);
    bytes.remove_prefix(used);
  }
  // An upgraded connection: relayed as it is, but a token in it (which nothing would replace)
  // still ends it.
  if (const SandboxSecret* s = tunnel->Feed(bytes)) {
    request_start = out.size();
    substituted_start = substituted.size();
    return Refuse(
        {"a token of secret `" + s->name + "` in the upgraded connection to " + host, s->name});
  }
  out += bytes;
  v.forward = std::move(out);
  out.clear();
  v.substituted = std::move(substituted);
  substituted.clear();
  v.tunnel = true;
  return v;
}

RequestRewriter::RequestRewriter(const SecretTable& table, std::string host, size_t max_body)
    : impl_(std::make_unique<Impl>(table, std::move(host), max_body)) {}

RequestRewriter::RequestRewriter(RequestRewriter&&) noexcept = default;
RequestRewriter& RequestRewriter::operator=(RequestRewriter&&) noexcept = default;
RequestRewriter::~RequestRewriter() = default;

RequestRewriter::Verdict RequestRewriter::Feed(std::string_view bytes) {
  return impl_->Feed(bytes);
}

// ---------------------------------------------------------------------------------------------
// ResponseMasker

ResponseMasker::ResponseMasker(const SecretTable& table, std::string_view host) {
  for (const SandboxSecret& s : table.secrets()) {
    if (SecretTable::Allows(s, host)) {
      values_.push_back(s.value->view());
      longest_ = std::max(longest_, s.value->size());
    }
  }
}

ResponseMasker::~ResponseMasker() { Wipe(held_); }

namespace {

/// The length of the longest suffix of `text` that is a proper prefix of `value`: the stream's
/// last bytes that may yet become `value`. Knuth–Morris–Pratt, so a 16 KiB value costs linear
/// time, not quadratic.
size_t PrefixAtEnd(std::string_view text, std::string_view value) {
  if (value.size() < 2) {
    return 0;
  }
  text = text.substr(text.size() - std::min(text.size(), value.size() - 1));
  std::vector<size_t> fail(value.size(), 0);
  for (size_t i = 1, k = 0; i < value.size(); ++i) {
    while (k > 0 && value[i] != value[k]) {
      k = fail[k - 1];
    }
    if (value[i] == value[k]) {
      ++k;
    }
    fail[i] = k;
  }
  size_t matched = 0;
  for (char c : text) {
    while (matched > 0 && c != value[matched]) {
      matched = fail[matched - 1];
    }
    if (c == value[matched]) {
      ++matched;
    }
    // text is shorter than value: matched never reaches value.size()
  }
  return matched;
}

}  // namespace

std::string ResponseMasker::Feed(std::string_view bytes) {
  if (values_.empty()) {
    return std::string(bytes);
  }
  const size_t earlier = held_.size();
  std::string buf = std::move(held_);
  held_.clear();
  buf.append(bytes);
  std::vector<bool> mask = std::move(held_masked_);
  held_masked_.clear();
  mask.resize(buf.size(), false);
  // Every occurrence is found in the stream as sent before any is masked, so one value that
  // overlaps another is masked whole too.
  for (std::string_view value : values_) {
    for (size_t at = buf.find(value); at != std::string::npos; at = buf.find(value, at + 1)) {
      std::fill(mask.begin() + static_cast<ptrdiff_t>(at),
                mask.begin() + static_cast<ptrdiff_t>(at + value.size()), true);
      if (at + value.size() > earlier) {
        ++masked_;  // one wholly inside the held bytes was counted when it was found
      }
    }
  }
  size_t hold = 0;
  for (std::string_view value : values_) {
    hold = std::max(hold, PrefixAtEnd(buf, value));
  }
  const size_t emit = buf.size() - hold;
  std::string out(buf, 0, emit);
  for (size_t i = 0; i < emit; ++i) {
    if (mask[i]) {
      out[i] = '*';
    }
  }
  held_.assign(buf, emit, hold);
  held_masked_.assign(mask.begin() + static_cast<ptrdiff_t>(emit), mask.end());
  Wipe(buf);
  return out;
}

std::string ResponseMasker::Finish() {
  std::string out = held_;
  for (size_t i = 0; i < out.size(); ++i) {
    if (held_masked_[i]) {
      out[i] = '*';
    }
  }
  Wipe(held_);
  held_masked_.clear();
  return out;
}

}  // namespace mvm::runtime::egress
