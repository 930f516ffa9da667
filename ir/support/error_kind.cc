#include "ir/support/error_kind.h"

#include <array>

#include "ir/support/check.h"

namespace mvm {
namespace {

constexpr std::array kKinds = {
#define MVM_ERROR_KIND(Id, id, exit_code, hint, docs) \
  ErrorKindInfo{ErrorKind::k##Id, id, exit_code, hint, docs},
#include "ir/support/errors.def"
};

}  // namespace

std::span<const ErrorKindInfo> AllErrorKinds() { return kKinds; }

const ErrorKindInfo& ErrorKindInfoOf(ErrorKind kind) {
  size_t index = static_cast<size_t>(kind);
  MVM_CHECK(index < kKinds.size());
  return kKinds[index];
}

}  // namespace mvm
