#include "runtime/oci/content.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace mvm::runtime::oci {
namespace {

using nlohmann::json;

// Strings in these documents are names, digests and command lines; nothing legitimate is longer.
constexpr size_t kMaxString = 64 * 1024;
constexpr size_t kMaxList = 4096;

ErrorOr<json> ParseObject(std::string_view body, std::string_view what) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Error{"the image's " + std::string(what) + " is not valid JSON"};
  }
  if (!doc.is_object()) {
    return Error{"the image's " + std::string(what) + " is not a JSON object"};
  }
  return doc;
}

ErrorOr<std::string> StringField(const json& obj, std::string_view key, std::string_view where,
                                 bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) {
      return Error{std::string(where) + " has no `" + std::string(key) + "`"};
    }
    return std::string();
  }
  if (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxString) {
    return Error{std::string(where) + "'s `" + std::string(key) + "` is not a string of at most " +
                 std::to_string(kMaxString) + " bytes"};
  }
  return it->get<std::string>();
}

ErrorOr<std::vector<std::string>> StringList(const json& obj, std::string_view key,
                                             std::string_view where) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array() || it->size() > kMaxList) {
    return Error{std::string(where) + "'s `" + std::string(key) + "` is not a list of at most " +
                 std::to_string(kMaxList) + " strings"};
  }
  for (const json& item : *it) {
    if (!item.is_string() || item.get_ref<const std::string&>().size() > kMaxString) {
      return Error{std::string(where) + "'s `" + std::string(key) + "` holds a non-string"};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

ErrorOr<Descriptor> ParseDescriptor(const json& obj, const std::string& where, int64_t max_size) {
  if (!obj.is_object()) {
    return Error{where + " is not a JSON object"};
  }
  Descriptor d;
  auto media = StringField(obj, "mediaType", where, /*required=*/true);
  if (!media) {
    return media.error();
  }
  d.media_type = std::move(*media);
  auto digest = StringField(obj, "digest", where, /*required=*/true);
  if (!digest) {
    return digest.error();
  }
  if (!IsSha256Digest(*digest)) {
    return Error{where + "'s digest `" + digest->substr(0, 80) +
                 "` is not `sha256:` and 64 lowercase hex digits, the only form mvm verifies"};
  }
  d.digest = std::move(*digest);
  auto size = obj.find("size");
  if (size == obj.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Error{where + " has no non-negative integer `size`"};
  }
  d.size = size->get<int64_t>();
  if (d.size > max_size) {
    return Error{where + " is " + std::to_string(d.size) + " bytes, over the limit of " +
                 std::to_string(max_size)};
  }
  if (auto p = obj.find("platform"); p != obj.end() && p->is_object()) {
    for (auto [key, field] : {std::pair{"os", &d.os}, std::pair{"architecture", &d.architecture},
                              std::pair{"variant", &d.variant}}) {
      auto v = StringField(*p, key, where + "'s platform", /*required=*/false);
      if (!v) {
        return v.error();
      }
      *field = std::move(*v);
    }
  }
  if (auto a = obj.find("annotations"); a != obj.end() && a->is_object()) {
    auto name = StringField(*a, "org.opencontainers.image.ref.name", where + "'s annotations",
                            /*required=*/false);
    if (!name) {
      return name.error();
    }
    d.ref_name = std::move(*name);
  }
  return d;
}

std::string DockerHubRepository(std::string_view path) {
  return path.find('/') == std::string_view::npos ? "library/" + std::string(path)
                                                  : std::string(path);
}

}  // namespace

std::string Reference::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (!digest.empty()) {
    out += "@" + digest;
  }
  return out;
}

std::string Reference::ManifestReference() const { return tag.empty() ? digest : tag; }

ErrorOr<Reference> SplitReference(std::string_view ref) {
  Reference out;
  std::string_view rest = ref;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!IsSha256Digest(out.digest)) {
      return Error{"`" + std::string(ref) +
                   "` is pinned by a digest that is not `sha256:` and 64 lowercase hex digits"};
    }
  }
  size_t slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  bool has_registry = slash != std::string_view::npos &&
                      (first.find_first_of(".:") != std::string_view::npos || first == "localhost");
  std::string_view path = rest;
  if (has_registry) {
    out.registry = std::string(first);
    path = rest.substr(slash + 1);
  } else {
    out.registry = "docker.io";
  }
  // A `:` after the last `/` starts the tag (a port's `:` is before the first `/`).
  size_t last_slash = path.rfind('/');
  size_t colon = path.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    out.tag = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
  }
  if (path.empty() || (!out.tag.empty() && out.tag.size() > 128)) {
    return Error{"`" + std::string(ref) + "` is not an image reference"};
  }
  out.repository = out.registry == "docker.io" ? DockerHubRepository(path) : std::string(path);
  if (out.tag.empty() && out.digest.empty()) {
    out.tag = "latest";
  }
  return out;
}

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kMediaOciIndex || media_type == kMediaDockerList;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kMediaOciManifest || media_type == kMediaDockerManifest;
}

bool IsLayerMediaType(std::string_view media_type) {
  return media_type == kMediaOciLayer || media_type == kMediaOciLayerGzip ||
         media_type == kMediaOciLayerZstd || media_type == kMediaDockerLayerGzip;
}

ErrorOr<std::string> ManifestMediaType(std::string_view declared, std::string_view body) {
  if (IsIndexMediaType(declared) || IsManifestMediaType(declared)) {
    return std::string(declared);
  }
  auto doc = ParseObject(body, "manifest");
  if (!doc) {
    return doc.error();
  }
  auto media = StringField(*doc, "mediaType", "the manifest", /*required=*/false);
  if (media && (IsIndexMediaType(*media) || IsManifestMediaType(*media))) {
    return *media;
  }
  if (doc->contains("manifests")) {
    return std::string(kMediaOciIndex);
  }
  if (doc->contains("layers")) {
    return std::string(kMediaOciManifest);
  }
  return Error{"the registry's answer is neither an image index nor a manifest (media type `" +
               std::string(declared.substr(0, 120)) + "`)"};
}

ErrorOr<Index> ParseIndex(std::string_view body, const Limits& limits) {
  if (static_cast<int64_t>(body.size()) > limits.max_manifest_bytes) {
    return Error{"the image index is over the limit of " +
                 std::to_string(limits.max_manifest_bytes) + " bytes"};
  }
  auto doc = ParseObject(body, "index");
  if (!doc) {
    return doc.error();
  }
  auto it = doc->find("manifests");
  if (it == doc->end() || !it->is_array() || it->size() > kMaxList) {
    return Error{"the image index has no list of manifests"};
  }
  Index index;
  for (size_t i = 0; i < it->size(); ++i) {
    auto d = ParseDescriptor((*it)[i], "the index's manifest " + std::to_string(i + 1),
                             limits.max_manifest_bytes);
    if (!d) {
      return d.error();
    }
    index.manifests.push_back(std::move(*d));
  }
  return index;
}

ErrorOr<Manifest> ParseManifest(std::string_view body, const Limits& limits) {
  if (static_cast<int64_t>(body.size()) > limits.max_manifest_bytes) {
    return Error{"the image manifest is over the limit of " +
                 std::to_string(limits.max_manifest_bytes) + " bytes"};
  }
  auto doc = ParseObject(body, "manifest");
  if (!doc) {
    return doc.error();
  }
  Manifest m;
  auto config = doc->find("config");
  if (config == doc->end()) {
    return Error{"the image manifest has no `config`"};
  }
  auto c = ParseDescriptor(*config, "the manifest's config", limits.max_config_bytes);
  if (!c) {
    return c.error();
  }
  m.config = std::move(*c);
  auto layers = doc->find("layers");
  if (layers == doc->end() || !layers->is_array()) {
    return Error{"the image manifest has no list of `layers`"};
  }
  if (static_cast<int64_t>(layers->size()) > limits.max_layers) {
    return Error{"the image has " + std::to_string(layers->size()) + " layers, over the limit of " +
                 std::to_string(limits.max_layers)};
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    auto d = ParseDescriptor((*layers)[i], "the manifest's layer " + std::to_string(i + 1),
                             limits.max_blob_bytes);
    if (!d) {
      return d.error();
    }
    if (!IsLayerMediaType(d->media_type)) {
      return Error{"the manifest's layer " + std::to_string(i + 1) + " has media type `" +
                   d->media_type.substr(0, 120) +
                   "`, which is not a tar layer (plain, gzip or zstd); mvm unpacks only those"};
    }
    m.layers.push_back(std::move(*d));
  }
  return m;
}

ErrorOr<ImageConfig> ParseConfig(std::string_view body) {
  auto doc = ParseObject(body, "configuration");
  if (!doc) {
    return doc.error();
  }
  ImageConfig c;
  for (auto [key, field] : {std::pair{"os", &c.os}, std::pair{"architecture", &c.architecture},
                            std::pair{"variant", &c.variant}}) {
    auto v = StringField(*doc, key, "the image configuration", /*required=*/false);
    if (!v) {
      return v.error();
    }
    *field = std::move(*v);
  }
  if (auto cfg = doc->find("config"); cfg != doc->end() && cfg->is_object()) {
    const std::string where = "the image configuration's `config`";
    for (auto [key, list] : {std::pair{"Entrypoint", &c.entrypoint}, std::pair{"Cmd", &c.cmd},
                             std::pair{"Env", &c.env}}) {
      auto v = StringList(*cfg, key, where);
      if (!v) {
        return v.error();
      }
      *list = std::move(*v);
    }
    for (auto [key, field] :
         {std::pair{"WorkingDir", &c.working_dir}, std::pair{"User", &c.user}}) {
      auto v = StringField(*cfg, key, where, /*required=*/false);
      if (!v) {
        return v.error();
      }
      *field = std::move(*v);
    }
  }
  if (auto rootfs = doc->find("rootfs"); rootfs != doc->end() && rootfs->is_object()) {
    auto ids = StringList(*rootfs, "diff_ids", "the image configuration's `rootfs`");
    if (!ids) {
      return ids.error();
    }
    c.diff_ids = std::move(*ids);
  }
  return c;
}

ErrorOr<Descriptor> SelectPlatform(const Index& index, std::string_view os,
                                   std::string_view architecture) {
  const Descriptor* best = nullptr;
  std::vector<std::string> platforms;
  for (const Descriptor& d : index.manifests) {
    if (!IsManifestMediaType(d.media_type)) {
      continue;  // attestation manifests and nested indexes are not images to run
    }
    std::string platform = d.os + "/" + d.architecture + (d.variant.empty() ? "" : "/" + d.variant);
    if (platform != "/" &&
        std::find(platforms.begin(), platforms.end(), platform) == platforms.end()) {
      platforms.push_back(std::move(platform));
    }
    if (d.os == os && d.architecture == architecture && (best == nullptr || d.variant.empty())) {
      best = &d;
    }
  }
  if (best == nullptr) {
    std::string seen;
    for (const std::string& p : platforms) {
      seen += (seen.empty() ? "" : ", ") + p;
    }
    return Error{"the image has no " + std::string(os) + "/" + std::string(architecture) +
                 " manifest (it has: " + (seen.empty() ? "none with a platform" : seen) +
                 "); use an image built for " + std::string(os) + "/" + std::string(architecture)};
  }
  return *best;
}

}  // namespace mvm::runtime::oci
