#ifndef MVM_RUNTIME_EGRESS_HTTP_GATE_H_
#define MVM_RUNTIME_EGRESS_HTTP_GATE_H_

// The client-to-server half of a plain-HTTP connection through the proxy. Every request on the
// connection (keep-alive and pipelining included) is parsed (by nodejs's http-parser) and held
// until its request line and headers are checked; only then do its bytes, and its body as it
// streams, go upstream. One bad request ends the connection: nothing after it is forwarded.

#include <http_parser.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mvm::runtime::egress {

/// What the gate shows the checker of one request.
struct HttpRequestHead {
  std::string method;  ///< "GET", "CONNECT", …
  std::string target;  ///< the request target as sent: origin-, absolute- or authority-form
  std::string host;    ///< the Host header's value; empty when there is none
  bool has_host = false;
  int host_headers = 0;  ///< more than one Host header is a request smuggling trick: refused
};

class HttpGate {
 public:
  /// Returns nothing to let the request through, or why not.
  using Checker = std::function<std::optional<std::string>(const HttpRequestHead&)>;

  explicit HttpGate(Checker checker);
  HttpGate(const HttpGate&) = delete;
  HttpGate& operator=(const HttpGate&) = delete;

  struct Verdict {
    /// Bytes that may go upstream now (possibly none: a request's head is still incomplete).
    std::string forward;
    /// Set when the connection must end: the checker's reason or a parse error. Nothing of the
    /// refused request is in `forward`.
    std::optional<std::string> denied;
    /// The request switched protocols (CONNECT, Upgrade): whatever follows is not HTTP and the
    /// caller relays it as it is. `forward` holds the request's head and then, from `tunnel_at`,
    /// the bytes already past the switch.
    bool tunnel = false;
    size_t tunnel_at = 0;
  };

  /// Feeds the next bytes the client sent.
  Verdict Feed(std::string_view bytes);

 private:
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t n);
  static int OnHeaderField(http_parser* p, const char* at, size_t n);
  static int OnHeaderValue(http_parser* p, const char* at, size_t n);
  static int OnHeadersComplete(http_parser* p);
  static int OnMessageComplete(http_parser* p);

  enum class Event { kNone, kHeadersComplete, kMessageComplete };

  Checker checker_;
  http_parser parser_{};
  http_parser_settings settings_{};
  HttpRequestHead head_;
  std::string field_;
  bool in_value_ = false;
  bool in_body_ = false;  ///< between a checked request's head and its end: bytes flow
  Event event_ = Event::kNone;
  std::string held_;  ///< bytes of a request whose head is not yet checked
  bool done_ = false;
};

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_HTTP_GATE_H_
