#ifndef MVM_RUNTIME_VOLUMES_S3_CLIENT_H_
#define MVM_RUNTIME_VOLUMES_S3_CLIENT_H_

// A small S3 client on libcurl for the `object` volume backend: path-style requests to one bucket,
// signed with AWS Signature V4 (sigv4.h), every body streamed in bounded memory. PUT sends objects
// up to `part_bytes` in one request and larger ones as a multipart upload of `part_bytes` parts
// (each buffered once to sign its hash); GET streams to a sink; LIST is ListObjectsV2, paginated.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume.h"

namespace mvm::runtime::volumes::s3 {

struct ClientConfig {
  std::string endpoint;  ///< `http(s)://host[:port]`, no path
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key_id;
  secrets::SecretBytes secret_access_key;
  /// Objects larger than this go as a multipart upload of parts this large (S3's minimum part is
  /// 5 MiB); also the memory one upload holds.
  uint64_t part_bytes = 8 << 20;
  int list_page_size = 1000;  ///< max-keys of each ListObjectsV2 page
  std::chrono::seconds connect_timeout{10};
  /// A transfer slower than 1 KiB/s for this long fails.
  std::chrono::seconds stall_timeout{30};
};

struct ObjectInfo {
  uint64_t size = 0;
  std::string etag;
};

struct Listing {
  std::vector<std::pair<std::string, uint64_t>> objects;  ///< keys (whole) and sizes
  std::vector<std::string> prefixes;                      ///< common prefixes (with delimiter)
};

/// An object being uploaded; nothing is visible under its key before Commit. Destroyed before
/// Commit, it aborts a multipart upload it started.
class Upload;

class Client : public std::enable_shared_from_this<Client> {
 public:
  /// An Error for a malformed endpoint or bucket name.
  static ErrorOr<std::shared_ptr<Client>> Create(ClientConfig config);
  ~Client();

  /// HEAD of the bucket.
  ErrorOr<Ok> HeadBucket();
  /// HEAD of `key`: nullopt when there is none.
  ErrorOr<std::optional<ObjectInfo>> Head(const std::string& key);
  /// GET of `key` streamed to `sink`; nullopt when there is none, else the bytes.
  ErrorOr<std::optional<uint64_t>> Get(const std::string& key, const ReadSink& sink);
  ErrorOr<std::unique_ptr<Writer>> Put(const std::string& key);
  /// Every page of ListObjectsV2 under `prefix`, grouped at `delimiter` when not empty; stops
  /// after `max_keys` objects and prefixes when not 0.
  ErrorOr<Listing> List(const std::string& prefix, const std::string& delimiter,
                        size_t max_keys = 0);
  ErrorOr<Ok> Delete(const std::string& key);
  /// Server-side copy (CopyObject, objects up to 5 GiB).
  ErrorOr<Ok> Copy(const std::string& from, const std::string& to);

  const ClientConfig& config() const { return config_; }

  struct Request;
  struct Response {
    long status = 0;
    std::string body;  ///< error bodies and small answers (at most 1 MiB); not streamed bodies
    std::string etag;
    std::optional<uint64_t> content_length;
  };
  /// One signed request; an Error only when no HTTP answer came.
  ErrorOr<Response> Perform(const Request& request);
  /// "s3 `bucket`: <doing> `key`: HTTP 403 AccessDenied: message".
  Error Failure(std::string_view doing, const std::string& key, const Response& response) const;

 private:
  explicit Client(ClientConfig config) : config_(std::move(config)) {}
  ClientConfig config_;
  std::string host_;  ///< the Host header: host[:port] of the endpoint
};

/// What Client::Perform sends.
struct Client::Request {
  std::string method = "GET";
  std::string key;  ///< empty: the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  ///< signed, beside the usual ones
  std::string_view body;                                     ///< PUT, POST
  const ReadSink* sink = nullptr;  ///< a 2xx body goes here instead of Response::body
};

/// The decoded text of every `<tag>…</tag>` in `xml`, in order (flat: S3's answers need no more).
std::vector<std::string> XmlValues(std::string_view xml, std::string_view tag);

}  // namespace mvm::runtime::volumes::s3

#endif  // MVM_RUNTIME_VOLUMES_S3_CLIENT_H_
