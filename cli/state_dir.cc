#include "cli/state_dir.h"

#include "runtime/launcher/state.h"

namespace mvm::cli {

std::filesystem::path DefaultStateDir() { return runtime::ResolveStateDir("").root; }

std::filesystem::path StateDirFrom(const Args& args) {
  return runtime::ResolveStateDir(args.Get("state-dir")).root;
}

}  // namespace mvm::cli
