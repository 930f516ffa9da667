#include "runtime/oci/pull.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "ir/support/os/errno_text.h"
#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/write_all.h"
#include "runtime/lazylibs/archive_api.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::oci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Fields = std::vector<std::pair<std::string, std::string>>;

using rootfs::Quote;

void Emit(const PullOptions& o, std::string_view event, const Fields& fields) {
  if (o.events) {
    o.events(event, fields);
  }
}

void Say(const PullOptions& o, const std::string& line) {
  if (o.progress) {
    o.progress(line);
  }
}

// A scratch directory under the cache, removed with everything in it when this goes.
class Scratch {
 public:
  static ErrorOr<Scratch> Make(const ImageStore& store) {
    auto dir = store.MakeScratch();
    if (!dir) {
      return dir.error();
    }
    Scratch s;
    s.dir_ = *dir;
    return s;
  }
  Scratch() = default;
  Scratch(Scratch&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}
  Scratch& operator=(Scratch&&) = delete;
  ~Scratch() {
    if (!dir_.empty()) {
      (void)rootfs::RemoveTree(dir_);
    }
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

// Digest and size of a file, streamed.
struct FileHash {
  std::string digest;
  int64_t size = 0;
};

ErrorOr<FileHash> HashFile(const fs::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return Error{"cannot read " + Quote(path) + ": " + os::ErrnoText(errno)};
  }
  Sha256 h;
  FileHash out;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error{"cannot read " + Quote(path) + ": " + os::ErrnoText(errno)};
    }
    if (n == 0) {
      break;
    }
    h.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    out.size += n;
  }
  out.digest = h.Finish();
  return out;
}

// A blob of a layout: present, of the descriptor's size and digest.
ErrorOr<fs::path> CheckedLayoutBlob(const fs::path& layout, const Descriptor& d,
                                    std::string_view what) {
  fs::path blob = layout / "blobs" / "sha256" / std::string(DigestHex(d.digest));
  auto h = HashFile(blob);
  if (!h) {
    return Error{"the layout's " + std::string(what) + " " + d.digest +
                 " is missing or unreadable (" + h.error().message + ")"};
  }
  if (h->digest != d.digest || h->size != d.size) {
    return Error{"the layout's " + std::string(what) + " " + Quote(blob) + " is " +
                 std::to_string(h->size) + " bytes hashing to " + h->digest + ", not " +
                 std::to_string(d.size) + " bytes hashing to " + d.digest +
                 ": the file is corrupt or was altered"};
  }
  return blob;
}

ErrorOr<ImageConfig> CheckConfig(std::string_view body, const Manifest& manifest,
                                 const PullOptions& options, std::string_view image) {
  auto config = ParseConfig(body);
  if (!config) {
    return config.error();
  }
  if ((!config->os.empty() && config->os != options.os) ||
      (!config->architecture.empty() && config->architecture != options.architecture)) {
    return Error{"`" + std::string(image) + "` is built for " + config->os + "/" +
                 config->architecture + ", not " + options.os + "/" + options.architecture +
                 "; use an image (or an index entry) for " + options.os + "/" +
                 options.architecture};
  }
  if (!config->diff_ids.empty() && config->diff_ids.size() != manifest.layers.size()) {
    return Error{"`" + std::string(image) + "`'s configuration lists " +
                 std::to_string(config->diff_ids.size()) + " layers and its manifest " +
                 std::to_string(manifest.layers.size()) + ": the image is malformed"};
  }
  return config;
}

ErrorOr<Pulled> Materialize(ImageStore& store, ImageParts parts, const PullOptions& options,
                            std::string_view image) {
  auto stored = store.Publish(parts, options.progress);
  if (!stored) {
    return Error{"`" + std::string(image) + "`: " + stored.error().message};
  }
  Emit(options, "image-materialize",
       {{"image", std::string(image)},
        {"manifest", stored->manifest_digest},
        {"tree", stored->tree_digest},
        {"source", stored->source}});
  return Pulled{std::move(*stored), "", "", false};
}

// Records the name (and the index alias) of an image already in the cache.
ErrorOr<Pulled> Hit(ImageStore& store, const StoredImage& found, const std::string& name,
                    const std::string& index_digest, const PullOptions& options,
                    std::string_view image) {
  Emit(options, "image-cache-hit",
       {{"image", std::string(image)}, {"manifest", found.manifest_digest}});
  auto stored = store.Name(found, name, index_digest);
  if (!stored) {
    return stored.error();
  }
  return Pulled{std::move(*stored), "", "", true};
}

}  // namespace

ErrorOr<Pulled> Pull(ImageStore& store, const Reference& ref, RegistryOptions registry_options,
                     const PullOptions& options) {
  const std::string image = ref.ToString();
  // A pinned pull names no tag to record: the tag may since have moved.
  const std::string name = ref.digest.empty() ? CanonicalName(ref) : "";
  if (!ref.digest.empty()) {
    auto found = store.Find(ref.digest);
    if (!found) {
      return found.error();
    }
    if (*found) {
      auto hit = Hit(store, **found, name, "", options, image);
      if (hit) {
        hit->resolved_from = ref.digest;
        hit->resolved_digest = ref.digest;
      }
      return hit;
    }
  }
  auto opened = Registry::Open(ref.registry, std::move(registry_options));
  if (!opened) {
    return opened.error();
  }
  Registry& registry = *opened;
  const std::string asked = ref.digest.empty() ? ref.tag : ref.digest;
  Say(options, "resolving " + image);
  auto top = registry.GetManifest(ref.repository, asked);
  if (!top) {
    return top.error();
  }
  Emit(options, "image-resolve", {{"image", image}, {"digest", top->digest}});
  auto media = ManifestMediaType(top->media_type, top->body);
  if (!media) {
    return Error{"`" + image + "`: " + media.error().message};
  }
  std::string index_digest;
  std::string manifest_digest = top->digest;
  std::string manifest_body = std::move(top->body);
  if (IsIndexMediaType(*media)) {
    auto index = ParseIndex(manifest_body, store.limits());
    if (!index) {
      return Error{"`" + image + "`: " + index.error().message};
    }
    auto chosen = SelectPlatform(*index, options.os, options.architecture);
    if (!chosen) {
      return Error{"`" + image + "`: " + chosen.error().message};
    }
    index_digest = top->digest;
    manifest_digest = chosen->digest;
    if (auto found = store.Find(manifest_digest); !found) {
      return found.error();
    } else if (*found) {
      auto hit = Hit(store, **found, name, index_digest, options, image);
      if (hit) {
        hit->resolved_from = asked;
        hit->resolved_digest = top->digest;
      }
      return hit;
    }
    auto child = registry.GetManifest(ref.repository, chosen->digest);
    if (!child) {
      return child.error();
    }
    if (static_cast<int64_t>(child->body.size()) != chosen->size) {
      return Error{"`" + image + "`: the " + options.os + "/" + options.architecture +
                   " manifest is " + std::to_string(child->body.size()) +
                   " bytes where the index says " + std::to_string(chosen->size)};
    }
    manifest_body = std::move(child->body);
  } else if (auto found = store.Find(manifest_digest); !found) {
    return found.error();
  } else if (*found) {
    auto hit = Hit(store, **found, name, "", options, image);
    if (hit) {
      hit->resolved_from = asked;
      hit->resolved_digest = top->digest;
    }
    return hit;
  }
  auto manifest = ParseManifest(manifest_body, store.limits());
  if (!manifest) {
    return Error{"`" + image + "`: " + manifest.error().message};
  }
  auto scratch = Scratch::Make(store);
  if (!scratch) {
    return scratch.error();
  }
  fs::path config_file = scratch->dir() / "config";
  if (auto got = registry.GetBlob(ref.repository, manifest->config, config_file); !got) {
    return got.error();
  }
  auto config_body = os::ReadFileBounded(config_file, store.limits().max_config_bytes);
  if (!config_body) {
    return config_body.error();
  }
  auto config = CheckConfig(*config_body, *manifest, options, image);
  if (!config) {
    return config.error();
  }
  ImageParts parts;
  int64_t bytes = 0;
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    const Descriptor& layer = manifest->layers[i];
    Say(options, "fetching layer " + std::to_string(i + 1) + "/" +
                     std::to_string(manifest->layers.size()) + " " + layer.digest.substr(0, 19) +
                     "… (" + std::to_string(layer.size) + " bytes)");
    fs::path file = scratch->dir() / ("layer-" + std::to_string(i));
    if (auto got = registry.GetBlob(ref.repository, layer, file); !got) {
      return got.error();
    }
    bytes += layer.size;
    parts.layer_files.push_back(file);
  }
  Emit(options, "image-fetch",
       {{"image", image},
        {"manifest", manifest_digest},
        {"layers", std::to_string(manifest->layers.size())},
        {"bytes", std::to_string(bytes)}});
  parts.manifest_body = std::move(manifest_body);
  parts.manifest_digest = manifest_digest;
  parts.index_digest = index_digest;
  parts.config_body = std::move(*config_body);
  parts.manifest = std::move(*manifest);
  parts.config = std::move(*config);
  parts.name = name;
  parts.source = "registry";
  std::string resolved = top->digest;
  auto pulled = Materialize(store, std::move(parts), options, image);
  if (pulled) {
    pulled->resolved_from = asked;
    pulled->resolved_digest = resolved;
  }
  return pulled;
}

namespace {

// Unpacks the archive `file` (a tar, optionally compressed) into `dest`: regular files and
// directories only, each name checked (relative, no `..`), nothing ever followed, the total
// bounded. It only holds blobs and JSON, so anything else in it is refused.
ErrorOr<Ok> ExtractArchive(const fs::path& file, const fs::path& dest, const Limits& limits) {
  auto lib = lazylibs::LoadArchive();
  if (!lib) {
    return lib.error();
  }
  const lazylibs::Archive& ar = **lib;
  std::unique_ptr<archive, decltype(ar.read_free)> a(ar.read_new(), ar.read_free);
  ar.read_support_format_tar(a.get());
  ar.read_support_filter_gzip(a.get());
  ar.read_support_filter_zstd(a.get());
  ar.read_support_filter_none(a.get());
  if (ar.read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Error{Quote(file) + " is not a tar archive: " + ar.error_string(a.get())};
  }
  int64_t total = 0;
  int64_t entries = 0;
  archive_entry* e = nullptr;
  for (;;) {
    int r = ar.read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) {
      return Ok{};
    }
    if (r != ARCHIVE_OK) {
      return Error{Quote(file) + " is damaged: " + ar.error_string(a.get())};
    }
    std::string name = ar.entry_pathname(e) != nullptr ? ar.entry_pathname(e) : "";
    while (name.rfind("./", 0) == 0) {
      name.erase(0, 2);
    }
    while (!name.empty() && name.back() == '/') {
      name.pop_back();
    }
    if (name.empty() || name == ".") {
      continue;
    }
    fs::path rel(name);
    bool bad = rel.is_absolute() || name.size() > 1024;
    for (const auto& part : rel) {
      bad = bad || part == ".." || part == ".";
    }
    if (bad) {
      return Error{Quote(file) + " has the member `" + name.substr(0, 200) +
                   "`, which is not a plain relative name; the archive is malformed or hostile"};
    }
    if (++entries > 100000) {
      return Error{Quote(file) + " has more than 100000 members; it is not an image archive"};
    }
    fs::path out = dest / rel;
    mode_t type = ar.entry_filetype(e);
    std::error_code ec;
    if (type == AE_IFDIR) {
      fs::create_directories(out, ec);
      continue;
    }
    if (type != AE_IFREG) {
      return Error{Quote(file) + " has `" + name.substr(0, 200) +
                   "`, which is neither a file nor a directory; an image archive holds only "
                   "those"};
    }
    fs::create_directories(out.parent_path(), ec);
    os::UniqueFd fd(
        ::open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      return Error{"cannot write " + Quote(out) + " from " + Quote(file) + ": " +
                   os::ErrnoText(errno) + (errno == EEXIST ? " (a member appears twice)" : "")};
    }
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int64_t written = 0;
    for (;;) {
      int rb = ar.read_data_block(a.get(), &block, &size, &offset);
      if (rb == ARCHIVE_EOF) {
        break;
      }
      if (rb != ARCHIVE_OK) {
        return Error{Quote(file) + " is damaged at `" + name.substr(0, 200) +
                     "`: " + ar.error_string(a.get())};
      }
      if (offset != written) {
        return Error{Quote(file) + " has a sparse member `" + name.substr(0, 200) +
                     "`; an image archive has none"};
      }
      total += static_cast<int64_t>(size);
      if (total > limits.max_tree_bytes) {
        return Error{Quote(file) + " expands past " + std::to_string(limits.max_tree_bytes) +
                     " bytes; it is not an image archive mvm accepts"};
      }
      if (int err = os::WriteAll(fd.get(), std::string_view(static_cast<const char*>(block), size));
          err != 0) {
        return Error{"cannot write " + Quote(out) + ": " + os::ErrnoText(err)};
      }
      written += static_cast<int64_t>(size);
    }
  }
}

ErrorOr<std::vector<Pulled>> LoadLayout(ImageStore& store, const fs::path& layout,
                                        std::string_view name, const PullOptions& options) {
  auto index_body = os::ReadFileBounded(layout / "index.json", store.limits().max_manifest_bytes);
  if (!index_body) {
    return index_body.error();
  }
  auto index = ParseIndex(*index_body, store.limits());
  if (!index) {
    return Error{Quote(layout / "index.json") + ": " + index.error().message};
  }
  std::vector<Pulled> out;
  std::vector<std::string> seen;
  for (const Descriptor& top : index->manifests) {
    Descriptor chosen = top;
    std::string index_digest;
    if (IsIndexMediaType(top.media_type)) {
      auto path = CheckedLayoutBlob(layout, top, "index");
      if (!path) {
        return path.error();
      }
      auto body = os::ReadFileBounded(*path, store.limits().max_manifest_bytes);
      if (!body) {
        return body.error();
      }
      auto nested = ParseIndex(*body, store.limits());
      if (!nested) {
        return Error{"the layout's index " + top.digest + ": " + nested.error().message};
      }
      auto pick = SelectPlatform(*nested, options.os, options.architecture);
      if (!pick) {
        return pick.error();
      }
      index_digest = top.digest;
      chosen = *pick;
    } else if (!IsManifestMediaType(top.media_type)) {
      continue;
    }
    auto manifest_path = CheckedLayoutBlob(layout, chosen, "manifest");
    if (!manifest_path) {
      return manifest_path.error();
    }
    auto manifest_body = os::ReadFileBounded(*manifest_path, store.limits().max_manifest_bytes);
    if (!manifest_body) {
      return manifest_body.error();
    }
    auto manifest = ParseManifest(*manifest_body, store.limits());
    if (!manifest) {
      return Error{"the layout's manifest " + chosen.digest + ": " + manifest.error().message};
    }
    auto config_path = CheckedLayoutBlob(layout, manifest->config, "configuration");
    if (!config_path) {
      return config_path.error();
    }
    auto config_body = os::ReadFileBounded(*config_path, store.limits().max_config_bytes);
    if (!config_body) {
      return config_body.error();
    }
    std::string label = top.ref_name.empty() ? chosen.digest : top.ref_name;
    auto config = CheckConfig(*config_body, *manifest, options, label);
    if (!config) {
      return config.error();
    }
    ImageParts parts;
    for (const Descriptor& layer : manifest->layers) {
      auto blob = CheckedLayoutBlob(layout, layer, "layer");
      if (!blob) {
        return blob.error();
      }
      parts.layer_files.push_back(*blob);
    }
    parts.manifest_body = std::move(*manifest_body);
    parts.manifest_digest = chosen.digest;
    parts.index_digest = index_digest;
    parts.config_body = std::move(*config_body);
    parts.manifest = std::move(*manifest);
    parts.config = std::move(*config);
    parts.source = "oci-layout";
    std::string ref_name = !name.empty() ? std::string(name) : top.ref_name;
    // A layout's ref.name may be a whole reference or just a tag; only a reference names an image.
    if (!ref_name.empty() && ref_name.find('/') != std::string::npos) {
      if (auto split = SplitReference(ref_name); split) {
        parts.name = CanonicalName(*split);
      }
    }
    seen.push_back(label);
    auto pulled = Materialize(store, std::move(parts), options, label);
    if (!pulled) {
      return pulled.error();
    }
    out.push_back(std::move(*pulled));
  }
  if (out.empty()) {
    return Error{Quote(layout / "index.json") + " names no image manifest"};
  }
  if (!name.empty() && out.size() > 1) {
    return Error{"the layout holds " + std::to_string(out.size()) +
                 " images, so one name cannot name them; load it without a name"};
  }
  return out;
}

ErrorOr<std::vector<Pulled>> LoadDockerArchive(ImageStore& store, const fs::path& dir,
                                               std::string_view name, const PullOptions& options) {
  auto text = os::ReadFileBounded(dir / "manifest.json", store.limits().max_manifest_bytes);
  if (!text) {
    return text.error();
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty()) {
    return Error{
        "the archive's manifest.json is not a list of images (a `docker save` archive "
        "has one)"};
  }
  if (!name.empty() && doc.size() > 1) {
    return Error{"the archive holds " + std::to_string(doc.size()) +
                 " images, so one name cannot name them; load it without a name"};
  }
  auto member = [&](const json& v) -> ErrorOr<fs::path> {
    if (!v.is_string()) {
      return Error{"the archive's manifest.json names a file by a non-string"};
    }
    fs::path rel(v.get<std::string>());
    for (const auto& part : rel) {
      if (part == ".." || rel.is_absolute()) {
        return Error{"the archive's manifest.json names `" + rel.string() +
                     "`, outside the archive"};
      }
    }
    return dir / rel;
  };
  std::vector<Pulled> out;
  for (const json& entry : doc) {
    if (!entry.is_object() || !entry.contains("Config") || !entry.contains("Layers") ||
        !entry["Layers"].is_array()) {
      return Error{"an entry of the archive's manifest.json lacks `Config` or `Layers`"};
    }
    auto config_path = member(entry["Config"]);
    if (!config_path) {
      return config_path.error();
    }
    auto config_body = os::ReadFileBounded(*config_path, store.limits().max_config_bytes);
    if (!config_body) {
      return config_body.error();
    }
    Manifest manifest;
    manifest.config.media_type = kMediaOciConfig;
    manifest.config.digest = Sha256Digest(*config_body);
    manifest.config.size = static_cast<int64_t>(config_body->size());
    ImageParts parts;
    for (const json& l : entry["Layers"]) {
      auto layer_path = member(l);
      if (!layer_path) {
        return layer_path.error();
      }
      auto h = HashFile(*layer_path);
      if (!h) {
        return h.error();
      }
      Descriptor d;
      d.media_type = kMediaOciLayer;
      d.digest = h->digest;
      d.size = h->size;
      manifest.layers.push_back(std::move(d));
      parts.layer_files.push_back(*layer_path);
    }
    std::string label = manifest.config.digest;
    std::vector<std::string> tags;
    if (auto it = entry.find("RepoTags"); it != entry.end() && it->is_array()) {
      for (const json& t : *it) {
        if (t.is_string()) {
          tags.push_back(t.get<std::string>());
        }
      }
    }
    if (!tags.empty()) {
      label = tags.front();
    }
    auto config = CheckConfig(*config_body, manifest, options, label);
    if (!config) {
      return config.error();
    }
    // Nothing in a docker archive carries a digest, so the layers are checked against the one
    // list that names them, the configuration's diff_ids (the digests of the uncompressed tars).
    if (config->diff_ids.size() != manifest.layers.size()) {
      return Error{"`" + label + "`'s configuration lists " +
                   std::to_string(config->diff_ids.size()) + " layers and the archive " +
                   std::to_string(manifest.layers.size())};
    }
    for (size_t i = 0; i < manifest.layers.size(); ++i) {
      if (config->diff_ids[i] != manifest.layers[i].digest) {
        return Error{"`" + label + "`'s layer " + std::to_string(i + 1) + " hashes to " +
                     manifest.layers[i].digest + " where its configuration says " +
                     config->diff_ids[i] + ": the archive is corrupt or was altered"};
      }
    }
    // mvm keys images by manifest digest; a docker archive has no manifest, so mvm writes the OCI
    // manifest such an image would have, and that manifest's digest is the image's from now on.
    json m = {{"schemaVersion", 2},
              {"mediaType", kMediaOciManifest},
              {"config",
               {{"mediaType", kMediaOciConfig},
                {"digest", manifest.config.digest},
                {"size", manifest.config.size}}},
              {"layers", json::array()}};
    for (const Descriptor& d : manifest.layers) {
      m["layers"].push_back({{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
    }
    parts.manifest_body = m.dump();
    parts.manifest_digest = Sha256Digest(parts.manifest_body);
    parts.config_body = std::move(*config_body);
    parts.manifest = std::move(manifest);
    parts.config = std::move(*config);
    parts.source = "docker-archive";
    std::string ref_name = !name.empty() ? std::string(name) : (tags.empty() ? "" : tags.front());
    if (!ref_name.empty()) {
      if (auto split = SplitReference(ref_name); split) {
        parts.name = CanonicalName(*split);
      }
    }
    auto pulled = Materialize(store, std::move(parts), options, label);
    if (!pulled) {
      return pulled.error();
    }
    out.push_back(std::move(*pulled));
  }
  return out;
}

}  // namespace

ErrorOr<std::vector<Pulled>> Load(ImageStore& store, const fs::path& file, std::string_view name,
                                  const PullOptions& options) {
  std::error_code ec;
  fs::path dir = file;
  std::optional<Scratch> scratch;
  if (!fs::exists(file, ec)) {
    return Error{Quote(file) + " does not exist"};
  }
  if (!fs::is_directory(file, ec)) {
    auto made = Scratch::Make(store);
    if (!made) {
      return made.error();
    }
    scratch.emplace(std::move(*made));
    dir = scratch->dir() / "archive";
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return Error{"cannot create " + Quote(dir) + ": " + os::ErrnoText(errno)};
    }
    Say(options, "reading " + file.string());
    if (auto ok = ExtractArchive(file, dir, store.limits()); !ok) {
      return ok.error();
    }
  }
  if (fs::is_regular_file(dir / "oci-layout", ec) && fs::is_regular_file(dir / "index.json", ec)) {
    return LoadLayout(store, dir, name, options);
  }
  if (fs::is_regular_file(dir / "manifest.json", ec)) {
    return LoadDockerArchive(store, dir, name, options);
  }
  return Error{Quote(file) +
               " is neither an OCI image layout (`oci-layout` and `index.json`) nor a `docker "
               "save` archive (`manifest.json`); make one with `skopeo copy … oci:DIR` or `docker "
               "save`"};
}

}  // namespace mvm::runtime::oci
