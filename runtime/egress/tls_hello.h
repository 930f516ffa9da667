#ifndef MVM_RUNTIME_EGRESS_TLS_HELLO_H_
#define MVM_RUNTIME_EGRESS_TLS_HELLO_H_

// The proxy decides an HTTPS connection by the server name its TLS ClientHello asks for, without
// terminating TLS: OpenSSL parses the hello (a server's own parser, which every TLS server exposes
// to the internet), and the bytes go upstream unchanged once the name is allowed.

#include <string>
#include <string_view>

namespace mvm::runtime::egress {

struct ClientHello {
  enum class Status {
    kNeedMore,  ///< a hello may follow: read more bytes and ask again
    kHello,     ///< a complete ClientHello; the fields below are set
    kInvalid,   ///< not a TLS ClientHello (`error` says how)
  };
  Status status = Status::kNeedMore;
  /// The host_name of the server_name extension as sent (not normalised); empty without one.
  std::string server_name;
  /// The hello carries encrypted_client_hello (or the draft ESNI): the real name is hidden.
  bool encrypted_name = false;
  std::string error;
};

/// The largest ClientHello the proxy waits for: a hello split over several records with a large
/// key share stays far below it.
inline constexpr size_t kMaxClientHelloBytes = 32 * 1024;

/// Parses the first bytes a client sent on a connection. Stateless: call again with all the bytes
/// so far when it says kNeedMore.
ClientHello ParseClientHello(std::string_view bytes);

}  // namespace mvm::runtime::egress

#endif  // MVM_RUNTIME_EGRESS_TLS_HELLO_H_
