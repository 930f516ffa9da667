// SecretBytes, HoldSecrets and tokens: what every holder of a value needs besides the store.

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "ir/support/os/errno_text.h"
#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {

ErrorOr<SecretBytes> SecretBytes::Allocate(size_t size) {
  if (sodium_init() < 0) {
    return Error{"cannot initialise libsodium"};
  }
  SecretBytes out;
  if (size == 0) {
    return out;
  }
  // sodium_malloc locks the pages (mlock) and puts guard pages around them; it fails rather than
  // hand out memory it could not lock.
  out.data_ = static_cast<char*>(sodium_malloc(size));
  if (out.data_ == nullptr) {
    return Error{"cannot allocate locked memory for a secret value: " + os::ErrnoText(errno) +
                 " (raise RLIMIT_MEMLOCK)"};
  }
  sodium_memzero(out.data_, size);
  out.size_ = size;
  return out;
}

ErrorOr<SecretBytes> SecretBytes::Copy(std::string_view bytes) {
  auto out = Allocate(bytes.size());
  if (out && !bytes.empty()) {
    std::memcpy(out->data(), bytes.data(), bytes.size());
  }
  return out;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) {
      sodium_free(data_);
    }
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  if (data_ != nullptr) {
    sodium_free(data_);  // wipes before it frees
  }
}

std::optional<std::string> ValueProblem(std::string_view value) {
  if (value.empty()) {
    return "the value is empty";
  }
  if (value.size() > kMaxValueBytes) {
    return "the value is " + std::to_string(value.size()) + " bytes; at most " +
           std::to_string(kMaxValueBytes) + " are allowed";
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c > 0x7e) {
      // The position, never the byte: error messages must not carry any part of a value.
      return "byte " + std::to_string(i + 1) +
             " of the value is not printable ASCII; values are sent in HTTP headers, where a "
             "control character would end or split the header";
    }
  }
  return std::nullopt;
}

std::optional<std::string> NameProblem(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return "a secret name is 1 to 128 characters";
  }
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  for (char c : name) {
    if (!ok(c)) {
      return "a secret name is made of letters, digits, `.`, `_` and `-`";
    }
  }
  if (name.front() == '.' || name.front() == '_' || name.front() == '-') {
    return "a secret name starts with a letter or a digit";
  }
  return std::nullopt;
}

ErrorOr<Ok> HoldSecrets() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Error{"cannot make this process undumpable: " + os::ErrnoText(errno)};
  }
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) {
    return Error{"cannot disable core files: " + os::ErrnoText(errno)};
  }
  return Ok{};
}

std::string MintToken() {
  if (sodium_init() < 0) {
    std::abort();  // no randomness source: nothing here can be made safe without one
  }
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  unsigned char random[32];
  randombytes_buf(random, sizeof random);
  std::string token(kTokenPrefix);
  for (unsigned char r : random) {
    token += kAlphabet[r & 31];  // 5 of each byte's 8 bits: 32 × 5 = 160 bits
  }
  sodium_memzero(random, sizeof random);
  return token;
}

}  // namespace mvm::runtime::secrets
