// `mvmctl run [options] -- CMD ARGS...`: a one-shot command without a source file. Its workload is
// written here, in the IR, and from there on is an ordinary workload: the same passes, lowering,
// dev-key signature, verification, admission and audit as `mvmctl run FILE.py`.
#ifndef MVM_CLI_ONESHOT_H_
#define MVM_CLI_ONESHOT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"
#include "ir/support/error_or.h"

namespace mvm::cli {

/// The image a one-shot command runs in unless `--image` says otherwise.
inline constexpr std::string_view kOneShotImage = "template:python-3.11";
/// The id of a one-shot command's workload (and so the prefix of its sandbox's name).
inline constexpr std::string_view kOneShotWorkload = "oneshot";

/// What the command line asked for.
struct OneShotRequest {
  std::vector<std::string> command;                ///< CMD ARGS..., after `--`
  std::string image = std::string(kOneShotImage);  ///< `<kind>:<ref>`, as `image=` is declared
  std::vector<std::string> env;                    ///< `-e NAME=VALUE`, in order
  std::optional<std::string> timeout;              ///< `--timeout S`, as given
  std::string network = "none";  ///< `--network`: `none`, or `dns`, `https:HOST`, `http:HOST`, ...
  std::string isolation;         ///< "container" or "microvm": what the chosen backend gives
};

/// The module of one workload `oneshot` with one entrypoint `main` whose command is
/// `request.command`. Mistakes the command line alone shows (no command, a malformed `-e`, image
/// or network item, a timeout that is not whole seconds) are usage Errors that name the option
/// and how to write it; what the declaration language rules (an env name, a host) is left to the
/// passes, which report it as they would for a source file.
ErrorOr<ir::Module> OneShotModule(const OneShotRequest& request);

}  // namespace mvm::cli

#endif  // MVM_CLI_ONESHOT_H_
