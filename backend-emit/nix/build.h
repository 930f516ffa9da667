#ifndef MVM_BACKEND_EMIT_NIX_BUILD_H_
#define MVM_BACKEND_EMIT_NIX_BUILD_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backend-emit/nix/request.h"
#include "ir/support/error_or.h"

namespace mvm::nix {

/// The executable `nix` on PATH. The Error is the one message every caller prints: "nix not found
/// on PATH; install Debian's nix-bin (apt-get install nix-bin)".
ErrorOr<std::filesystem::path> FindNix();

/// How a running build reports progress. Both callbacks run on the calling thread; either may be
/// empty.
struct BuildProgress {
  /// Each line Nix writes to stderr (its progress and the builder's log), without the newline, as
  /// it arrives.
  std::function<void(std::string_view line)> on_log;
  /// After every `heartbeat` without a line from Nix, with the time since the build started, so a
  /// long quiet build does not look hung.
  std::function<void(std::chrono::seconds elapsed)> on_heartbeat;
  std::chrono::seconds heartbeat{30};
};

/// What a successful build produced.
struct BuildResult {
  std::string store_path;  ///< the `out` output: "/nix/store/<hash>-<name>"
  std::string nar_hash;    ///< its NAR hash as Nix records it, "sha256:<hex>"
  /// Where the tree is on this host (`<store>/nix/store/<hash>-<name>`); its NarHash was checked to
  /// equal `nar_hash`.
  std::filesystem::path tree;
  /// Other store paths the output refers to. A rootfs should have none: the sandbox gets this one
  /// tree, so references would dangle there.
  std::vector<std::string> references;
};

/// Runs `request.argv` with `nix_path` as argv[0]'s executable (stdin from /dev/null, stderr
/// streamed to `progress`), reads the built `out` path from its `--json` output, asks
/// `nix path-info --json` for its NAR hash and references, and checks the tree on disk hashes the
/// same. An Error when Nix fails (with the last lines of its log, and a hint for failures with a
/// known cause such as a host busybox that differs from the template flake's pin) or its output is
/// not what the request expects.
ErrorOr<BuildResult> RunNixBuild(const std::filesystem::path& nix_path,
                                 const NixBuildRequest& request, const BuildProgress& progress);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_BUILD_H_
