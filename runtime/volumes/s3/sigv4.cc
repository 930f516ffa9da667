// AWS Signature Version 4: canonical request, string to sign, signing key, signature.

#include "runtime/volumes/s3/sigv4.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

#include "ir/support/os/hex.h"

namespace mvm::runtime::volumes::s3 {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Hmac(std::string_view key, std::string_view message) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, Bytes(key), key.size());
  crypto_auth_hmacsha256_update(&state, Bytes(message), message.size());
  crypto_auth_hmacsha256_final(&state, mac);
  sodium_memzero(&state, sizeof state);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

/// A header value as SigV4 canonicalises it: trimmed, runs of spaces as one.
std::string TrimValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && keep_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, Bytes(bytes), bytes.size());
  return os::Hex(digest, sizeof digest);
}

Signature Sign(const SigningInput& input, std::string_view secret_access_key) {
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : input.query) {
    query.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [name, value] : query) {
    canonical_query += (canonical_query.empty() ? "" : "&") + name + "=" + value;
  }
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : input.headers) {
    headers.emplace_back(Lower(name), TrimValue(value));
  }
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  Signature out;
  out.canonical_request = input.method + "\n" + UriEncode(input.path, true) + "\n" +
                          canonical_query + "\n" + canonical_headers + "\n" + signed_headers +
                          "\n" + input.payload_sha256;
  std::string date = input.amz_date.substr(0, 8);
  std::string scope = date + "/" + input.region + "/" + input.service + "/aws4_request";
  out.string_to_sign = "AWS4-HMAC-SHA256\n" + input.amz_date + "\n" + scope + "\n" +
                       Sha256Hex(out.canonical_request);
  std::string key = Hmac("AWS4" + std::string(secret_access_key), date);
  key = Hmac(key, input.region);
  key = Hmac(key, input.service);
  key = Hmac(key, "aws4_request");
  out.signature = os::Hex(Hmac(key, out.string_to_sign));
  sodium_memzero(key.data(), key.size());
  out.authorization = "AWS4-HMAC-SHA256 Credential=" + input.access_key_id + "/" + scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + out.signature;
  return out;
}

}  // namespace mvm::runtime::volumes::s3
