#ifndef MVM_RUNTIME_OCI_OCI_H_
#define MVM_RUNTIME_OCI_OCI_H_

// What every part of mvm_oci shares: digests, descriptors, media types and the size limits that
// bound what a registry or an archive may make mvm read or write. Everything an image source
// sends is untrusted until its digest has been checked against one the user pinned or a manifest
// that was itself checked.

#include <sodium.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"

namespace mvm::runtime::oci {

inline constexpr std::string_view kMediaOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kMediaOciLayerGzip =
    "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kMediaOciLayerZstd =
    "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kMediaDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kMediaDockerConfig =
    "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kMediaDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// True for "sha256:" followed by exactly 64 lowercase hex digits: the only digest form mvm
/// accepts (and so the only one that may become part of a path in the cache).
bool IsSha256Digest(std::string_view digest);

/// The 64 hex digits of a digest IsSha256Digest accepts.
inline std::string_view DigestHex(std::string_view digest) { return digest.substr(7); }

/// Incremental SHA-256 (libsodium) for content that streams: blobs as they arrive, layers as they
/// are read.
class Sha256 {
 public:
  Sha256() { crypto_hash_sha256_init(&state_); }
  void Update(std::string_view bytes) {
    crypto_hash_sha256_update(&state_, reinterpret_cast<const unsigned char*>(bytes.data()),
                              bytes.size());
  }
  /// "sha256:<64 hex>"; the hasher is spent afterwards.
  std::string Finish();

 private:
  crypto_hash_sha256_state state_{};
};

/// "sha256:<64 hex>" of `bytes`.
std::string Sha256Digest(std::string_view bytes);

/// A content descriptor (OCI image spec, descriptor.md), as far as mvm uses one.
struct Descriptor {
  std::string media_type;
  std::string digest;  ///< IsSha256Digest holds for every descriptor a parser hands out
  int64_t size = 0;    ///< exact size in bytes; content of another size is refused
  /// For index entries: the platform, empty when the entry names none.
  std::string os;
  std::string architecture;
  std::string variant;
  /// The `org.opencontainers.image.ref.name` annotation (an image layout's name for an image).
  std::string ref_name;
};

/// Bounds on what a source may make mvm hold or write. The defaults fit real images (the largest
/// layer of a CUDA image is a few GiB); callers and tests lower them.
struct Limits {
  int64_t max_manifest_bytes = 4 << 20;  ///< an index or a manifest
  int64_t max_config_bytes = 8 << 20;    ///< an image configuration
  int64_t max_blob_bytes = int64_t{16} << 30;
  int max_layers = 256;
  /// Unpacking: the expanded size of all layers together, and their entry count.
  int64_t max_tree_bytes = int64_t{64} << 30;
  int64_t max_tree_entries = 2'000'000;
};

}  // namespace mvm::runtime::oci

#endif  // MVM_RUNTIME_OCI_OCI_H_
