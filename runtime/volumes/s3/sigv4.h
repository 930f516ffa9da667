#ifndef MVM_RUNTIME_VOLUMES_S3_SIGV4_H_
#define MVM_RUNTIME_VOLUMES_S3_SIGV4_H_

// AWS Signature Version 4 (header form), as the S3 client signs its requests: a pure function of
// the request, the time and the credentials, so tests check it against AWS's published examples
// (tests/runtime/volumes/sigv4_test.cc) and an independent implementation.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mvm::runtime::volumes::s3 {

/// One request to sign. Header names may be in any case; each signed header is sent as given.
struct SigningInput {
  std::string method;                                        ///< "GET", "PUT", ...
  std::string path;                                          ///< raw (not encoded), from "/"
  std::vector<std::pair<std::string, std::string>> query;    ///< raw names and values
  std::vector<std::pair<std::string, std::string>> headers;  ///< every header to sign, host too
  std::string payload_sha256;  ///< lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
  std::string amz_date;        ///< "YYYYMMDDTHHMMSSZ", the x-amz-date header's value
  std::string region;
  std::string service = "s3";
  std::string access_key_id;
};

/// Each step's result, so a test can compare them with AWS's.
struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      ///< lowercase hex
  std::string authorization;  ///< the Authorization header's value
};

/// Signs `input` with `secret_access_key` (never kept or logged).
Signature Sign(const SigningInput& input, std::string_view secret_access_key);

/// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept, everything else
/// `%XX` (uppercase); `/` kept when `keep_slash` (paths), encoded otherwise (query parts).
std::string UriEncode(std::string_view text, bool keep_slash);

/// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

}  // namespace mvm::runtime::volumes::s3

#endif  // MVM_RUNTIME_VOLUMES_S3_SIGV4_H_
