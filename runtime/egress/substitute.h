#ifndef MVM_RUNTIME_EGRESS_SUBSTITUTE_H_
#define MVM_RUNTIME_EGRESS_SUBSTITUTE_H_

// Secrets in the egress proxy. The sandbox holds only tokens (secrets::MintToken); the proxy puts
// the real value in place of a token in the requests it has terminated TLS for, when the request
// goes to one of that secret's hosts, and nowhere else:
//   - RequestRewriter: a client→upstream HTTP/1.1 stream on a terminated connection; tokens of the
//     host's secrets are replaced in header values and (up to a bound) in bodies; a token of any
//     other secret, or any token in the request target, refuses the request;
//   - ResponseMasker: the upstream→client stream of the same connection; a real value the upstream
//     echoes back is overwritten (same length, so framing holds) before the sandbox sees it;
//   - TokenScanner: any other stream the proxy reads in clear (plain HTTP, DNS names), where a
//     token is never substituted and seeing one is an exfiltration attempt.

#include <http_parser.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/secrets/secrets.h"

namespace mvm::runtime::egress {

/// One secret a sandbox may use, as its egress helper holds it.
struct SandboxSecret {
  std::string name;                ///< the store's name: what audit records say
  std::string token;               ///< what the sandbox holds instead of the value
  std::vector<std::string> hosts;  ///< normalised names or `*.suffix`, as rules are (policy.h)
  std::shared_ptr<const secrets::SecretBytes> value;
};

/// The secrets of one sandbox. Tokens are compared in lowercase (the constructor lowers them);
/// a secret with an empty token or an empty value is dropped, as it could never be substituted.
class SecretTable {
 public:
  SecretTable() = default;
  explicit SecretTable(std::vector<SandboxSecret> secrets);

  bool empty() const { return secrets_.empty(); }
  const std::vector<SandboxSecret>& secrets() const { return secrets_; }
  /// Whether some secret may be sent to `host` (normalised): the proxy terminates TLS for it.
  bool IsSecretHost(std::string_view host) const;
  /// Whether `secret` may be sent to `host`.
  static bool Allows(const SandboxSecret& secret, std::string_view host);
  /// The secret whose token occurs first in `bytes` (case-insensitively: DNS and normalising code
  /// may change the case), or nullptr. Nothing is decoded: a caller looking at a URL decodes its
  /// `%XX` first, as the RequestRewriter does.
  const SandboxSecret* FindToken(std::string_view bytes) const;
  /// The longest token, for scanners that must keep a tail across reads.
  size_t max_token() const { return max_token_; }

  /// Where a token occurs: its secret (nullptr for none) and its offset.
  struct Hit {
    const SandboxSecret* secret = nullptr;
    size_t at = 0;
  };
  /// The first token in `bytes` that ends after `min_end` (case-insensitively; the leftmost, and of
  /// tokens starting there the table's first).
  Hit Find(std::string_view bytes, size_t min_end = 0) const;

 private:
  std::vector<SandboxSecret> secrets_;
  size_t max_token_ = 0;
};

/// Finds tokens (case-insensitively) in a stream read in pieces; a token split across pieces is
/// found, once. Holds max_token() - 1 bytes between pieces. `table` must outlive the scanner.
class TokenScanner {
 public:
  explicit TokenScanner(const SecretTable& table) : table_(table) {}
  /// The secret whose token this piece completes (the first, if several), or nullptr.
  const SandboxSecret* Feed(std::string_view bytes);

 private:
  const SecretTable& table_;
  std::string tail_;  ///< the last max_token() - 1 bytes seen: a token's start may be among them
};

/// The client→upstream half of a terminated connection to `host`. Every request (keep-alive and
/// pipelining included, bytes split anywhere) is parsed by http-parser and written anew: its
/// request line, then its headers in order with their names as sent, tokens of `host`'s secrets
/// replaced in names and values. A token in the request target refuses the request, whichever
/// secret it stands for: targets end up in access logs, so they are never rewritten. A CONNECT
/// inside the terminated connection is refused, and so is a request whose Host header (exactly one)
/// or absolute-form target names another host than `host` (normalised): a front shared by several
/// sites routes by Host, so the secret would go to the site named. An Upgrade turns the rest of the
/// stream into a tunnel that is relayed as it is and scanned for tokens. An `Accept-Encoding`
/// header is set to `identity`, so that responses come uncompressed and the ResponseMasker can read
/// them.
class RequestRewriter {
 public:
  /// Bodies up to `max_body` bytes (Content-Length or chunked) are buffered and rewritten (a
  /// Content-Length is set to the new length; a chunked body stays chunked, in one chunk); a
  /// longer body, and any body after `Expect: 100-continue`
  /// (the client waits for the upstream's answer to the head before it sends the body), is
  /// forwarded as it streams, with its tokens not replaced, and a token in it refuses the request.
  /// A streamed chunked body is re-chunked piece by piece. Chunk extensions and trailers are
  /// dropped (an upstream that merged trailers into the head could be made to reframe).
  RequestRewriter(const SecretTable& table, std::string host, size_t max_body = size_t{1} << 20);
  RequestRewriter(const RequestRewriter&) = delete;
  RequestRewriter& operator=(const RequestRewriter&) = delete;
  RequestRewriter(RequestRewriter&&) noexcept;
  RequestRewriter& operator=(RequestRewriter&&) noexcept;
  ~RequestRewriter();

  struct Verdict {
    /// Bytes that may go upstream now.
    std::string forward;
    /// Set when the connection must end: why. Nothing of the refused request is in `forward`.
    std::optional<std::string> denied;
    /// The refusal is a token going where its secret may not: the secret's name (for the
    /// `secret-exfiltration` audit record). Set whenever the refused bytes would have carried a
    /// token upstream unreplaced: a token of another host's secret anywhere, any token in the
    /// request target, a streamed body or a tunnel. Empty for other refusals (parse errors,
    /// CONNECT).
    std::string exfiltrated;
    /// The names of the secrets substituted into what `forward` holds (each once).
    std::vector<std::string> substituted;
    /// The request switched protocols (Upgrade): the rest is relayed as it is, scanned for tokens.
    bool tunnel = false;
  };

  /// Feeds the next bytes the client sent.
  Verdict Feed(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The upstream→client half of a terminated connection to `host`: every real value of a secret
/// that may go to `host` is overwritten with `*`s of the same length. Bytes that could be the start
/// of a value are held back until the next Feed shows whether they are; Finish hands them out.
class ResponseMasker {
 public:
  /// `table` must outlive the masker: it keeps the values alive.
  ResponseMasker(const SecretTable& table, std::string_view host);
  ResponseMasker(const ResponseMasker&) = delete;
  ResponseMasker& operator=(const ResponseMasker&) = delete;
  ResponseMasker(ResponseMasker&&) = default;
  ResponseMasker& operator=(ResponseMasker&&) = default;
  ~ResponseMasker();
  /// The bytes of the stream that may go to the client now, masked.
  std::string Feed(std::string_view bytes);
  /// The bytes held back at the end of the stream (they did not become a value), masked.
  std::string Finish();
  /// How many values were masked so far.
  size_t masked() const { return masked_; }

 private:
  std::vector<std::string_view> values_;  ///< into the table's SecretBytes
  size_t longest_ = 0;
  /// The held bytes as the upstream sent them, and which of them are already known to belong to
  /// a value (a value may end inside the tail that could also start another one). Wiped when
  /// dropped: they may be the start of a value.
  std::string held_;
  std::vector<bool> held_masked_;
  size_t masked_ = 0;
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_SUBSTITUTE_H_
