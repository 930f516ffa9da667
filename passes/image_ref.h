#ifndef MVM_PASSES_IMAGE_REF_H_
#define MVM_PASSES_IMAGE_REF_H_

#include <string>
#include <string_view>

namespace mvm::passes {

/// The parts of a valid image reference, copied out of the input.
struct ImageRef {
  std::string kind;    ///< "nix", "oci" or "template"
  std::string domain;  ///< oci: registry `host[:port]` as written; empty means Docker Hub
  std::string path;    ///< oci: repository path; nix: flake reference; template: template name
  std::string tag;     ///< oci: tag, empty when none
  std::string digest;  ///< oci: `sha256:<64 hex>`, empty when not pinned
  std::string attr;    ///< nix: flake output attribute (after `#`)
};

/// The outcome of ParseImageRef: the parts when `ok()`, else why the reference is invalid.
struct ImageRefResult {
  ImageRef ref;
  std::string error;  ///< a reason fit for the `invalid-image-ref` message; empty when valid

  bool ok() const { return error.empty(); }
};

/// Parses the image reference `<kind>:<ref>` as declared (`kind` is the part before the first `:`).
///  - nix: `<flakeref>#<attr>`, both non-empty, no whitespace;
///  - template: `[a-z0-9][a-z0-9.-]*`;
///  - oci: the OCI distribution reference grammar (`[domain[:port]/]path[:tag][@digest]`, path
///    components lowercase, name at most 255 characters, tag `[\w][\w.-]{0,127}`). The registry is
///    recognised as Docker does: the first component when it has a `.` or `:`, is `localhost`, or
///    has an uppercase letter. Only `sha256` digests are accepted, since that is what the runtime
///    verifies.
/// Pure function of its arguments; no registry is contacted.
ImageRefResult ParseImageRef(std::string_view kind, std::string_view ref);

}  // namespace mvm::passes

#endif  // MVM_PASSES_IMAGE_REF_H_
