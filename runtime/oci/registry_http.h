#ifndef MVM_RUNTIME_OCI_REGISTRY_HTTP_H_
#define MVM_RUNTIME_OCI_REGISTRY_HTTP_H_

// The registry client's transport (internal to runtime/oci): one libcurl easy handle and the
// settings every request shares (trust anchors, timeouts, protocols, redirects), a request and
// its response. What to ask and what the answers mean is registry.cc's business; this file alone
// includes curl.h.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/registry_auth.h"

namespace mvm::runtime::oci {

/// Small caps on what is held of bodies that are not content, and on redirects.
inline constexpr size_t kMaxErrorBody = 16 << 10;
inline constexpr size_t kMaxTokenBody = 64 << 10;
inline constexpr size_t kMaxHeaderBytes = 64 << 10;
inline constexpr int kMaxRedirects = 5;

struct HttpResponse;

/// One GET, as libcurl performs it (redirects followed).
struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;            ///< "Name: value"
  std::string bearer;                          ///< sent as `Authorization: Bearer` when not empty
  const RegistryCredentials* basic = nullptr;  ///< else sent as Basic when set; not owned
  /// Plain http allowed, for this URL and the redirects it leads to: only for a loopback
  /// registry spoken to over http, or a loopback token service.
  bool plain_http = false;
  /// No proxy: a loopback address is reached directly.
  bool loopback = false;
  /// Where a 2xx body goes; empty = into HttpResponse::body, bounded by `max_body`. Gets each
  /// chunk, the response so far (status, headers) and whether it is the first chunk of this
  /// response; false aborts the transfer.
  std::function<bool(std::string_view chunk, const HttpResponse& response, bool first)> sink;
  size_t max_body = kMaxErrorBody;
};

/// How a request went.
struct HttpResponse {
  bool completed = false;          ///< libcurl finished the transfer without error
  bool transient_failure = false;  ///< a transport failure worth retrying (reset, cut, stall)
  bool untrusted_certificate = false;
  std::string transport_error;  ///< libcurl's text when not `completed`
  long status = 0;              ///< of the last response (after redirects); 0 for none
  std::map<std::string, std::string> headers;  ///< the last response's, names lowercase
  std::string body;  ///< an error body (bounded), or a 2xx body without a sink
  bool body_too_large = false;
  bool sink_aborted = false;
  bool body_started = false;
  size_t header_bytes = 0;

  /// Whether an HTTP answer arrived to judge by its status: a sink or cap that stopped the body
  /// shows as a libcurl write error, but the status still tells the story.
  bool answered() const { return completed || ((sink_aborted || body_too_large) && status != 0); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// One libcurl easy handle (so connections are reused) with the settings of one registry.
/// Movable, not thread-safe.
class HttpClient {
 public:
  /// `ca_file` empty: the system trust store; else the system store and the PEM file's
  /// certificates. An Error when libcurl cannot start or `ca_file` is not a readable PEM file.
  static ErrorOr<HttpClient> Create(const std::filesystem::path& ca_file,
                                    std::chrono::seconds connect_timeout,
                                    std::chrono::seconds stall_timeout);
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  HttpResponse Perform(const HttpRequest& request);

 private:
  struct Handle;
  explicit HttpClient(std::unique_ptr<Handle> handle);
  std::unique_ptr<Handle> handle_;
};

/// 408, 429, 500, 502, 503, 504: answers worth another try.
bool TransientStatus(long status);

/// "CODE message; CODE message" of a distribution error body (and `error`, `error_description`,
/// `details` of a token service's), escaped for a terminal and bounded; "" when it has none.
std::string DistributionErrors(std::string_view body);

/// The first distribution error code of `body` ("MANIFEST_UNKNOWN"); "" when none.
std::string FirstErrorCode(std::string_view body);

/// Server text for a message: escaped for a terminal, one line, at most `max` bytes shown.
std::string ShownText(std::string_view text, size_t max = 300);

/// ASCII lowercase.
std::string AsciiLower(std::string_view text);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_REGISTRY_HTTP_H_
