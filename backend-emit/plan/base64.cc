#include "backend-emit/plan/base64.h"

#include <sodium.h>

namespace mvm::plan {

namespace {

std::string Encode(std::string_view bytes, int variant) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);  // the encoder's NUL terminator
  return out;
}

std::optional<std::string> Decode(std::string_view text, int variant) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), /*ignore=*/nullptr, &length, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  // libsodium ignores the slack bits of the last character (`QQ==` and `QR==` both decode to "A");
  // re-encoding finds them, so a flipped low bit cannot slip through unseen. The re-encoding is
  // wiped afterwards because the bytes may be a secret key.
  std::string again = Encode(out, variant);
  bool canonical = again == text;
  sodium_memzero(again.data(), again.size());
  if (!canonical) {
    sodium_memzero(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  return Encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<std::string> Base64Decode(std::string_view text) {
  return Decode(text, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<std::string> Base64DecodeStandardOrUrlSafe(std::string_view text) {
  if (std::optional<std::string> standard = Decode(text, sodium_base64_VARIANT_ORIGINAL)) {
    return standard;
  }
  return Decode(text, sodium_base64_VARIANT_URLSAFE);
}

}  // namespace mvm::plan
