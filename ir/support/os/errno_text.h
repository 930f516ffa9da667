#ifndef MVM_IR_SUPPORT_OS_ERRNO_TEXT_H_
#define MVM_IR_SUPPORT_OS_ERRNO_TEXT_H_

// Header-only, as unique_fd.h, so the static guest agent can use it without linking mvm_os.

#include <string>
#include <system_error>

namespace mvm::os {

/// The C library's text for errno value `error` ("No such file or directory"), for messages.
/// Thread-safe, unlike strerror: the text is built per call.
inline std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

}  // namespace mvm::os

#endif  // MVM_IR_SUPPORT_OS_ERRNO_TEXT_H_
