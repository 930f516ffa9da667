#ifndef MVM_RUNTIME_OCI_REGISTRY_H_
#define MVM_RUNTIME_OCI_REGISTRY_H_

// The registry client: OCI distribution spec v2 (GET manifests and blobs) over libcurl.
//
// Why libcurl: a registry pull is HTTPS with certificate verification, redirects to CDNs, chunked
// and ranged transfers, proxies and HTTP/2; a hand-written HTTP stack would have to get all of
// that right and stay right. libcurl is the client every distribution ships and patches, with the
// system trust store wired in, and its rule that credentials are never sent to a host a redirect
// leads to is the one this client relies on. Everything above the transport (the token flow, the
// bounds, the digest checks, the retries) is here.
//
// What a registry sends is untrusted: every body is bounded before it is read, a manifest fetched
// by digest must hash to it, a blob is written beside its destination and renamed only once its
// size and sha256 match the descriptor. See docs/images.md, "Registries".

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/oci/oci.h"

namespace mvm::runtime::oci {

/// How to reach a registry and what to trust of it.
struct RegistryOptions {
  /// A Docker-style config.json (`auths` by host); empty = the default search:
  /// $MVM_REGISTRY_AUTH, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json,
  /// $XDG_RUNTIME_DIR/containers/auth.json (the first that exists is used; a file named by
  /// $MVM_REGISTRY_AUTH or this field that does not exist is an error).
  std::filesystem::path auth_file;
  /// Extra trust anchors (PEM), in addition to the system trust store. Empty = the system store.
  std::filesystem::path ca_file;
  Limits limits;
  /// Attempts per request (>= 1), with backoff between them; a blob resumes with a Range request.
  int attempts = 4;
  /// The first backoff; each later one doubles (bounded to 10 s).
  std::chrono::milliseconds backoff{200};
  /// A registry on a loopback address is spoken to over plain http unless this is set (for a
  /// local registry with TLS, e.g. the tests' with a test CA in `ca_file`). Every other registry
  /// is https only, whatever this says.
  bool loopback_tls = false;
  /// A transfer that moves fewer than 1 KiB in this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{30};
  std::chrono::seconds connect_timeout{15};
  /// Optional human progress lines ("fetching blob ...", "retrying ..."); never holds credentials.
  std::function<void(std::string_view)> progress;
};

/// A manifest or index as the registry sent it.
struct FetchedManifest {
  std::string media_type;  ///< the Content-Type, without parameters
  std::string digest;      ///< sha256 of `body` as received
  std::string body;
};

/// Where a registry host name leads: the scheme decision, separate so it can be tested without a
/// network.
struct RegistryEndpoint {
  std::string host;      ///< as given, lowercased ("docker.io" stays "docker.io")
  std::string base_url;  ///< "https://registry-1.docker.io", "http://127.0.0.1:5000"
  bool plain_http = false;
  bool loopback = false;  ///< 127.0.0.0/8, ::1 or localhost
};

/// The endpoint of `host` ("127.0.0.1:5000", "[::1]:5000", "registry.example.com",
/// "docker.io"): https, except plain http for a loopback host when `loopback_tls` is false. An
/// Error for a host that is not a host name or address with an optional port (a scheme, a path,
/// credentials, spaces).
ErrorOr<RegistryEndpoint> ResolveRegistryEndpoint(std::string_view host, bool loopback_tls);

/// True for a repository name of the distribution grammar: components of lowercase letters and
/// digits joined by one `.`, `_`, `__` or any number of `-`, separated by `/`; at most 255 bytes.
bool IsRepositoryName(std::string_view name);

/// True for a tag: a letter, digit or `_`, then up to 127 of those, `.` and `-`.
bool IsTag(std::string_view tag);

/// True for 127.0.0.0/8 in dotted-quad form, ::1 (bracketed or not) and `localhost`; `host`
/// without its port.
bool IsLoopbackHost(std::string_view host);

/// A connection to one registry. Not thread-safe; movable. Keeps the auth tokens it obtained
/// (per scope) and the libcurl handle (so connections are reused) for its lifetime.
class Registry {
 public:
  /// host as in a reference: "127.0.0.1:5000", "registry.example.com", "docker.io" (talks to
  /// registry-1.docker.io). Reads the auth file; nothing is sent until the first request.
  static ErrorOr<Registry> Open(std::string_view host, RegistryOptions options);

  Registry(Registry&&) noexcept;
  Registry& operator=(Registry&&) noexcept;
  ~Registry();

  /// GET /v2/<repository>/manifests/<reference> (a tag or a digest), accepting the OCI index and
  /// manifest and the Docker list and v2 manifest. The body is bounded by
  /// limits.max_manifest_bytes; `digest` is the sha256 of the body as received; when `reference`
  /// is a digest the body must hash to it, and a Docker-Content-Digest header that disagrees with
  /// the body is an error. On docker.io a one-component repository is under `library/`.
  ErrorOr<FetchedManifest> GetManifest(std::string_view repository, std::string_view reference);

  /// GET /v2/<repository>/blobs/<digest>, streamed to `dest` through `dest`.partial, which is
  /// fsync'd and renamed over `dest` only once size and sha256 match `blob`; otherwise it is
  /// removed and the Error names the expected and the actual digest or size. Never holds the
  /// blob in memory. Transient failures (connection reset, stall, 5xx, 429 with a bounded
  /// Retry-After) are retried, resuming with a Range request where the server honours one. More
  /// bytes than blob.size or limits.max_blob_bytes abort at once. `dest`'s directory must exist.
  ErrorOr<Ok> GetBlob(std::string_view repository, const Descriptor& blob,
                      const std::filesystem::path& dest);

  const RegistryEndpoint& endpoint() const;

 private:
  struct State;
  explicit Registry(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_REGISTRY_H_
