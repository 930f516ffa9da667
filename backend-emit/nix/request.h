#ifndef MVM_BACKEND_EMIT_NIX_REQUEST_H_
#define MVM_BACKEND_EMIT_NIX_REQUEST_H_

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/workload.pb.h"

namespace mvm::nix {

/// The `schema` of every Nix build request this code writes and accepts.
inline constexpr std::string_view kRequestSchema = "mvm.nix-build/v1";

/// How to build one workload's root filesystem with Nix: `DIR/<id>.nix.json`. Everything the build
/// needs is spelled out, down to the exact command, so that `mvmctl build`, a CI job or a remote
/// builder all run the same thing. A plain value; holds no timestamps, so the same input gives the
/// same bytes.
struct NixBuildRequest {
  std::string workload_id;
  std::string image;      ///< as declared: "nix:./flake#rootfs", "template:busybox"
  std::string flake_ref;  ///< resolved: absolute for a relative path, `path:<dir>` for templates
  std::string attr;       ///< the flake output attribute
  std::string store;      ///< the `--store` the build writes to (an absolute directory)
  /// The exact command: argv[0] is `nix`, looked up on PATH; the last item is
  /// `<flake_ref>#<attr>`. Its `--json` output names the built store paths.
  std::vector<std::string> argv;
  std::vector<std::string> outputs;  ///< the derivation outputs expected: {"out"}

  friend bool operator==(const NixBuildRequest&, const NixBuildRequest&) = default;
};

/// Where the inputs of a request are on this host. Every path is absolute.
struct RequestOptions {
  /// The directory of the file that declared the workload: relative flake references are resolved
  /// against it, as `nix build ./flake#x` run there would.
  std::filesystem::path base_dir;
  /// The directory holding the shipped template flake (templates/flake.nix).
  std::filesystem::path templates_dir;
  /// The local Nix store to build in: `<state-dir>/nix` by default.
  std::filesystem::path store;
};

/// The request for one workload's image, or why it has none.
struct LoweredRequest {
  std::optional<NixBuildRequest> request;
  /// When there is no request: why, phrased for the user ("template `python-3.11` is built by the
  /// runtime with mmdebstrap, not by Nix").
  std::string not_built;
};

/// Lowers the image of a checked workload to its Nix build request. `nix:` images build the
/// declared flake output; `template:` images the shipped flake's `packages.x86_64-linux.<name>`
/// when the flake has it. `oci:` images and templates the flake does not build get no request.
/// Pure: reads nothing, runs nothing.
LoweredRequest LowerNixBuildRequest(std::string_view workload_id, const ir::v1::Image& image,
                                    const RequestOptions& options);

/// `flake_ref` with a relative path (`.`, `./x`, `../x`, `path:x`) made absolute against
/// `base_dir`, keeping any `?query`; every other reference (absolute paths, `github:`, registry
/// names) unchanged.
std::string ResolveFlakeRef(std::string_view flake_ref, const std::filesystem::path& base_dir);

/// The `--option` pairs every `nix` mvm runs gets, whatever this host's nix.conf says: no
/// substituters (offline, and nothing unsigned pulled in) and no build users (Debian's nix-bin
/// creates no `nixbld` group), with the command's own `options` (name, value) between them.
std::vector<std::string> NixOptions(
    std::initializer_list<std::pair<std::string_view, std::string_view>> options = {});

/// The exact `nix build` argv for `flake_ref#attr` into `store`: flakes enabled for this command
/// only, the local store at `store`, no substituters (offline and nothing unsigned pulled in), the
/// build sandboxed with no fallback to an unsandboxed build, no build users (Debian's nix-bin
/// creates no `nixbld` group; the sandbox still isolates), build logs streamed, no `result` link,
/// JSON on stdout.
std::vector<std::string> NixBuildArgv(std::string_view flake_ref, std::string_view attr,
                                      std::string_view store);

/// The request as RFC 8785 canonical JSON (the `.nix.json` file, and `--dump nix`).
std::string RequestToCanonicalJson(const NixBuildRequest& request);

/// Reads a `.nix.json` file strictly: exactly the fields above, of the right types, the schema
/// kRequestSchema, a valid workload id, an absolute store, argv starting with `nix`, holding
/// `--store <store>` and `--json` and ending with `<flake_ref>#<attr>`. Other flags may be added
/// (`--builders`, `--max-jobs 0`: docs/nix.md). The Error says which rule failed.
ErrorOr<NixBuildRequest> ParseRequestJson(std::string_view text);

}  // namespace mvm::nix

#endif  // MVM_BACKEND_EMIT_NIX_REQUEST_H_
