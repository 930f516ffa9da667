// Nix remote builders for a build request: `mvmctl build --builders SPEC` sends the build to SSH
// machines and copies the output back into the request's store (docs/nix.md#remote-builders).
#ifndef MVM_BACKEND_EMIT_NIX_BUILDERS_H_
#define MVM_BACKEND_EMIT_NIX_BUILDERS_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "backend-emit/nix/request.h"
#include "ir/support/error_or.h"

namespace mvm::nix {

/// Checks a value of Nix's `builders` setting, written as Nix's machines file: machines separated
/// by newlines or `;`, `#` starting a comment, each machine up to eight whitespace-separated
/// fields (`URI systems ssh-key max-jobs speed-factor supported-features mandatory-features
/// base64-host-key`, `-` for a default). Every URI must be `ssh://` or `ssh-ng://` with a host:
/// those are the stores that build on another machine over SSH, with its own keys. An ssh key must
/// be an absolute path, and a host key must be the base64 of an OpenSSH public key line (as
/// `base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub` prints it). Returns the machines as Nix reads
/// them, comments and blank entries dropped, joined by `;` (one argv item); an Error of kind
/// kUsage saying which machine and field is wrong and how to write it. Pure.
ErrorOr<std::string> CheckBuilders(std::string_view spec);

/// Sends `request`'s build to the machines of `checked` (from CheckBuilders) and to them only:
/// `--max-jobs 0 --builders <checked>` go before the flake output in its argv, so that Nix fails
/// rather than builds on this host when no builder takes the build. An Error of kind
/// kInvalidInput when the argv already sets `--builders` or `--max-jobs` (a `.nix.json` edited by
/// hand): one of the two must go.
ErrorOr<Ok> UseRemoteBuilders(NixBuildRequest& request, std::string_view checked);

/// Imports the derivation `drv` and its closure (its input derivations and sources) from the binary
/// cache directory `cache`, which an untrusted builder sandbox wrote, into the local store at
/// `store`, running `nix_path copy --derivation`. Only content-addressed paths are accepted:
/// signatures are required and no key is trusted, so a path whose name does not follow from its
/// contents (a build output the builder made up) is refused by Nix, and nothing is evaluated.
/// `drv` must be a store path ending in `.drv`. An Error with the tail of Nix's log.
ErrorOr<Ok> ImportDerivations(const std::filesystem::path& nix_path,
                              const std::filesystem::path& cache, std::string_view store,
                              std::string_view drv);

/// `request` with its flake output replaced by the derivation `drv`, for the host's `nix build` of
/// a derivation evaluated elsewhere: Nix builds a `.drv` path's outputs without evaluating.
NixBuildRequest DerivationRequest(const NixBuildRequest& request, std::string_view drv);

/// A hint for a remote build that failed with `log` (Nix's output), for causes Nix's words do not
/// make plain (a refused host key, no builder reachable); "" when none applies. Starts with a
/// newline.
std::string RemoteBuildHint(std::string_view log);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_BUILDERS_H_
