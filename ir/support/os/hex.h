#ifndef MVM_IR_SUPPORT_OS_HEX_H_
#define MVM_IR_SUPPORT_OS_HEX_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace mvm::os {

/// `bytes` as lowercase hexadecimal, two digits a byte (libsodium's sodium_bin2hex, which runs in
/// constant time, so a key or a MAC can be printed without leaking it through timing).
std::string Hex(std::string_view bytes);
/// The same for `size` bytes at `bytes` (a digest array).
std::string Hex(const unsigned char* bytes, size_t size);

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_HEX_H_
