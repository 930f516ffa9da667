#ifndef MVM_RUNTIME_OCI_CONTENT_H_
#define MVM_RUNTIME_OCI_CONTENT_H_

// The JSON documents of an image: index (or Docker manifest list), manifest, configuration, and a
// reference's parts. The parsers take untrusted bytes (a registry's or an archive's) and hand out
// only what passed their checks: every descriptor's digest is a sha256 digest, sizes are in range,
// strings are bounded; anything else is an Error that says which document and field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/oci.h"

namespace mvm::runtime::oci {

/// An OCI reference split for the distribution API. Built from a reference the compiler's grammar
/// already accepted (passes/image_ref.cc), so this only splits; it validates nothing but digests.
struct Reference {
  std::string registry;    ///< host[:port] as written ("docker.io" when the reference names none)
  std::string repository;  ///< "library/python" for Docker Hub's official images
  std::string tag;         ///< empty when none
  std::string digest;      ///< "sha256:…" when pinned, else empty

  /// `registry/repository[:tag][@digest]`, the canonical spelling.
  std::string ToString() const;
  /// The tag when there is one, else the digest: what a manifest request names.
  std::string ManifestReference() const;
};

/// Splits `ref` (without the `oci:` prefix). The registry is the first component when it contains
/// `.` or `:` or is `localhost`, as Docker decides; otherwise Docker Hub, whose one-component names
/// live under `library/`. A reference with neither tag nor digest gets the tag `latest`.
ErrorOr<Reference> SplitReference(std::string_view ref);

bool IsIndexMediaType(std::string_view media_type);
bool IsManifestMediaType(std::string_view media_type);
bool IsLayerMediaType(std::string_view media_type);

/// The media type of a manifest-like document: `declared` (a Content-Type or a descriptor's) when
/// it names an index or a manifest, else the document's own `mediaType` field, else by shape
/// (`manifests` → index, `layers` → manifest). Error when none of these says.
ErrorOr<std::string> ManifestMediaType(std::string_view declared, std::string_view body);

struct Index {
  std::vector<Descriptor> manifests;
};
struct Manifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};
/// The parts of an image configuration mvm honours (OCI image spec, config.md), and its platform.
struct ImageConfig {
  std::string os;
  std::string architecture;
  std::string variant;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  ///< "KEY=value"
  std::string working_dir;
  std::string user;
  std::vector<std::string> diff_ids;
};

ErrorOr<Index> ParseIndex(std::string_view body, const Limits& limits);
ErrorOr<Manifest> ParseManifest(std::string_view body, const Limits& limits);
ErrorOr<ImageConfig> ParseConfig(std::string_view body);

/// The first index entry for `os`/`architecture`, preferring one without a `variant`. The error
/// lists the platforms the index has.
ErrorOr<Descriptor> SelectPlatform(const Index& index, std::string_view os,
                                   std::string_view architecture);

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_CONTENT_H_
