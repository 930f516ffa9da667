// What a registry or an image archive sends as JSON, and what a plan names as a reference: the
// first byte picks the parser (0 index, 1 manifest, 2 configuration, 3 reference, 4 media type).
// Beyond crashes and sanitizer reports, a parser that accepts must hand out only what its
// contract says: sha256 digests, sizes within the limits, tar layers only, bounded lists.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/oci/content.h"

namespace {

using namespace mvm::runtime::oci;  // NOLINT(google-build-using-namespace): a fuzz harness

void Require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void CheckDescriptor(const Descriptor& d, int64_t max_size) {
  Require(IsSha256Digest(d.digest));
  Require(d.size >= 0 && d.size <= max_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  Limits limits;
  limits.max_layers = 8;
  limits.max_blob_bytes = 1 << 20;
  switch (data[0] % 5) {
    case 0:
      if (auto index = ParseIndex(body, limits)) {
        for (const Descriptor& d : index->manifests) {
          CheckDescriptor(d, limits.max_manifest_bytes);
        }
        if (auto chosen = SelectPlatform(*index, "linux", "amd64")) {
          Require(chosen->os == "linux" && chosen->architecture == "amd64");
          Require(IsManifestMediaType(chosen->media_type));
        }
      }
      break;
    case 1:
      if (auto m = ParseManifest(body, limits)) {
        CheckDescriptor(m->config, limits.max_config_bytes);
        Require(static_cast<int>(m->layers.size()) <= limits.max_layers);
        for (const Descriptor& d : m->layers) {
          CheckDescriptor(d, limits.max_blob_bytes);
          Require(IsLayerMediaType(d.media_type));
        }
      }
      break;
    case 2:
      (void)ParseConfig(body);
      break;
    case 3:
      if (auto ref = SplitReference(body)) {
        Require(!ref->repository.empty());
        Require(ref->digest.empty() || IsSha256Digest(ref->digest));
        Require(!ref->tag.empty() || !ref->digest.empty());
      }
      break;
    default:
      if (auto type = ManifestMediaType("", body)) {
        Require(IsIndexMediaType(*type) || IsManifestMediaType(*type));
      }
      break;
  }
  return 0;
}
