// Building OCI images for tests: an OCI image layout directory (image-layout spec) written from
// layers the test describes entry by entry (tar written with libarchive, gzip optional), an image
// config, a manifest and an index (optionally a multi-arch index of linux/amd64 and linux/arm64),
// and pushing it to a TestRegistry with skopeo.
#ifndef MVM_TESTS_RUNTIME_OCI_OCI_LAYOUT_UTIL_H_
#define MVM_TESTS_RUNTIME_OCI_OCI_LAYOUT_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "runtime/oci/oci.h"

namespace mvm::testing {

class TestRegistry;

/// One entry of a layer's tar.
struct LayerEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink };
  std::string path;  ///< as stored in the tar ("etc/hostname", "./x", "../escape", ".wh.gone")
  Type type = Type::kFile;
  /// A file's content; a symlink's or hard link's target.
  std::string content;
  int mode = 0644;  ///< permission bits (and setuid etc.); the type comes from `type`
  int uid = 0;
  int gid = 0;
};

/// A layer: its entries in tar order.
struct LayerSpec {
  std::vector<LayerEntry> entries;
  bool gzip = true;  ///< tar+gzip media type; false: plain tar
};

/// The fields of the image configuration's `config` mvm reads.
struct ImageConfigSpec {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  ///< "NAME=value"
  std::string working_dir;
  std::string user;
};

struct LayoutSpec {
  std::vector<LayerSpec> layers;
  ImageConfigSpec config;
  std::string tag = "latest";  ///< the index's org.opencontainers.image.ref.name
  /// false: index.json names one linux/amd64 manifest. true: index.json names an image index
  /// (a blob) of two manifests, linux/amd64 and linux/arm64, with the same layers and configs
  /// that differ only in `architecture`.
  bool multi_arch = false;
};

/// What WriteOciLayout wrote. All digests are "sha256:<hex>".
struct WrittenLayout {
  std::filesystem::path dir;
  std::string tag;
  /// The image manifest (single-arch), or the amd64 one (multi-arch).
  std::string manifest_digest;
  /// One per platform: {"linux/amd64", digest}, {"linux/arm64", digest}; one entry when single.
  std::vector<std::pair<std::string, std::string>> platform_manifests;
  /// Multi-arch: the image index blob the tag names (what a registry serves for the tag). Single:
  /// the digest of index.json (not pushed; a registry serves manifest_digest for the tag).
  std::string index_digest;
  runtime::oci::Descriptor config;               ///< of the amd64 image
  std::vector<runtime::oci::Descriptor> layers;  ///< blob descriptors, in order
  std::vector<std::string> diff_ids;             ///< sha256 of each uncompressed tar
};

/// The tar of `layer` (uncompressed), as written into a layout.
ErrorOr<std::string> LayerTar(const LayerSpec& layer);

/// Writes an OCI image layout into `dir` (made if missing; its content replaced): oci-layout,
/// index.json, blobs/sha256/<hex>.
ErrorOr<WrittenLayout> WriteOciLayout(const std::filesystem::path& dir, const LayoutSpec& spec);

/// Pushes `layout` to `registry` as `repo_tag` ("demo:1"): `skopeo copy --preserve-digests
/// --dest-tls-verify=false oci:DIR:TAG docker://HOST/repo:tag`, with `--multi-arch all` for a
/// multi-arch layout and `--dest-creds` for a registry with auth. Digests are preserved, so
/// WrittenLayout's digests are what the registry serves. An Error with skopeo's output.
ErrorOr<Ok> PushLayout(const WrittenLayout& layout, const TestRegistry& registry,
                       std::string_view repo_tag);

}  // namespace mvm::testing

#endif  // MVM_TESTS_RUNTIME_OCI_OCI_LAYOUT_UTIL_H_
