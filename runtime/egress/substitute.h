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
  /// The secret whose token occurs first in `bytes` (case-insensitively: a DNS name or a
  /// percent-encoded URL may change the case), or nullptr.
  const SandboxSecret* FindToken(std::string_view bytes) const;
  /// The longest token, for scanners that must keep a tail across reads.
  size_t max_token() const { return max_token_; }

 private:
  std::vector<SandboxSecret> secrets_;
  size_t max_token_ = 0;
};

/// Finds tokens in a stream read in pieces; a token split across two pieces is found.
class TokenScanner {
 public:
  explicit TokenScanner(const SecretTable& table) : table_(table) {}
  /// The secret whose token this piece completes, or nullptr.
  const SandboxSecret* Feed(std::string_view bytes);

 private:
  const SecretTable& table_;
  std::string tail_;
};

/// The client→upstream half of a terminated connection to `host`.
class RequestRewriter {
 public:
  /// Bodies up to `max_body` bytes (Content-Length or chunked) are buffered and rewritten (a
  /// Content-Length is set to the new length; a chunked body is re-chunked); a longer body is
  /// forwarded as it streams, with its tokens not replaced, and a token in it refuses the request.
  RequestRewriter(const SecretTable& table, std::string host, size_t max_body = size_t{1} << 20);
  RequestRewriter(const RequestRewriter&) = delete;
  RequestRewriter& operator=(const RequestRewriter&) = delete;

  struct Verdict {
    /// Bytes that may go upstream now.
    std::string forward;
    /// Set when the connection must end: why. Nothing of the refused request is in `forward`.
    std::optional<std::string> denied;
    /// The refusal is a token going where its secret may not: the secret's name (for the
    /// `secret-exfiltration` audit record).
    std::string exfiltrated;
    /// The names of the secrets substituted into what `forward` holds (each once).
    std::vector<std::string> substituted;
    /// The request switched protocols (Upgrade): the rest is relayed as it is, scanned for tokens.
    bool tunnel = false;
  };

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
  ResponseMasker(const SecretTable& table, std::string_view host);
  std::string Feed(std::string_view bytes);
  std::string Finish();
  /// How many values were masked so far.
  size_t masked() const { return masked_; }

 private:
  std::vector<std::string_view> values_;
  std::string held_;
  size_t masked_ = 0;
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_SUBSTITUTE_H_
