#include "backend-emit/plan/base64.h"

#include <sodium.h>

namespace mvm::plan {

std::string Base64Encode(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the encoder's NUL terminator
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), /*ignore=*/nullptr, &length, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(length);
  // libsodium ignores the slack bits of the last character (`QQ==` and `QR==` both decode to "A");
  // re-encoding finds them, so a flipped low bit cannot slip through unseen. The re-encoding is
  // wiped afterwards because the bytes may be a secret key.
  std::string again = Base64Encode(out);
  bool canonical = again == text;
  sodium_memzero(again.data(), again.size());
  if (!canonical) {
    sodium_memzero(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

}  // namespace mvm::plan
