// The one place that lists the backends of this build.

#include <array>

#include "runtime/backends/backend.h"
#include "runtime/backends/container/container.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::backends {

std::span<const Backend* const> All() {
  static const std::array<const Backend*, 2> all = {&container::TheBackend(),
                                                    &qemu_microvm::TheBackend()};
  return all;
}

ErrorOr<const Backend*> Find(std::string_view name) {
  for (const Backend* backend : All()) {
    if (backend->name() == name) {
      return backend;
    }
  }
  std::string known;
  for (const Backend* backend : All()) {
    known += (known.empty() ? "`--backend " : "` or `--backend ") + std::string(backend->name());
  }
  return Error{"backend `" + std::string(name) + "` is not available in this build; use " + known +
               "` (gvisor is planned)"};
}

std::string NameList() {
  std::string names;
  for (const Backend* backend : All()) {
    names += (names.empty() ? "" : "|") + std::string(backend->name());
  }
  return names;
}

std::string HelpList(size_t indent) {
  std::string lines;
  for (const Backend* backend : All()) {
    lines += std::string(indent, ' ') + std::string(backend->name()) + ": " +
             std::string(backend->summary()) + "\n";
  }
  return lines;
}

}  // namespace mvm::runtime::backends
