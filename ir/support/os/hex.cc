#include "ir/support/os/hex.h"

#include <sodium.h>

namespace mvm::os {

std::string Hex(const unsigned char* bytes, size_t size) {
  // sodium_bin2hex writes a terminating NUL after the 2 * size digits.
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, size);
  out.pop_back();
  return out;
}

std::string Hex(std::string_view bytes) {
  return Hex(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace mvm::os
