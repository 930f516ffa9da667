#ifndef MVM_IR_SUPPORT_ERROR_OR_H_
#define MVM_IR_SUPPORT_ERROR_OR_H_

#include <string>
#include <utility>
#include <variant>

#include "ir/support/check.h"
#include "ir/support/error_kind.h"

namespace mvm {

/// An environment failure (I/O, missing tool, bad key file): what happened, phrased for the user,
/// and its kind (ir/support/errors.def), which is what callers branch on and what picks the CLI's
/// exit code. `Error{"..."}` is of the generic kind, `ErrorKind::kEnvironment`.
struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kEnvironment;
};

/// An error of `kind`.
inline Error MakeError(ErrorKind kind, std::string message) {
  return Error{std::move(message), kind};
}

/// `error` as `kind`, whatever kind it had: for a caller to whose command every failure of a step
/// means the same (see docs/cli.md for which failures each command reports how).
inline Error WithKind(Error error, ErrorKind kind) {
  error.kind = kind;
  return error;
}

/// `error` as `kind` when it has only the generic kind; a more precise kind from below is kept.
inline Error WithDefaultKind(Error error, ErrorKind kind) {
  if (error.kind == ErrorKind::kEnvironment) {
    error.kind = kind;
  }
  return error;
}

/// Either a value or an Error. Used for failures of the environment, never for mistakes in user
/// input (those are diagnostics). A stage whose failures are not environment errors names its own
/// failure type `E` (the plan verifier's refusals).
template <typename T, typename E = Error>
class [[nodiscard]] ErrorOr {
 public:
  ErrorOr(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  ErrorOr(E error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& operator*() {
    MVM_CHECK(ok());
    return std::get<0>(v_);
  }
  const T& operator*() const {
    MVM_CHECK(ok());
    return std::get<0>(v_);
  }
  T* operator->() { return &**this; }
  const T* operator->() const { return &**this; }

  const E& error() const {
    MVM_CHECK(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, E> v_;
};

/// ErrorOr for operations with no value.
struct Ok {};

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_ERROR_OR_H_
