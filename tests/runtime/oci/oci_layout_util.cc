#include "tests/runtime/oci/oci_layout_util.h"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <memory>

#include "ir/support/os/process.h"
#include "nlohmann/json.hpp"
#include "tests/runtime/oci/test_registry.h"

namespace mvm::testing {
namespace {

using runtime::oci::Descriptor;
using runtime::oci::Sha256Digest;

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t Append(archive*, void* user, const void* buffer, size_t length) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

ErrorOr<std::string> Gzip(const std::string& tar) {
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  std::string out;
  // A raw-format writer with the gzip filter compresses one stream of bytes.
  if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_write_set_format_raw(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, Append, nullptr) != ARCHIVE_OK) {
    return Error{std::string("gzip: ") + archive_error_string(a.get())};
  }
  std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_pathname(entry.get(), "layer.tar");
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(tar.size()));
  if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK ||
      archive_write_data(a.get(), tar.data(), tar.size()) != static_cast<la_ssize_t>(tar.size()) ||
      archive_write_close(a.get()) != ARCHIVE_OK) {
    return Error{std::string("gzip: ") + archive_error_string(a.get())};
  }
  return out;
}

ErrorOr<Ok> WriteBlob(const std::filesystem::path& dir, const std::string& bytes,
                      std::string* digest) {
  *digest = Sha256Digest(bytes);
  std::ofstream out(dir / "blobs/sha256" / std::string(runtime::oci::DigestHex(*digest)),
                    std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) {
    return Error{"cannot write a blob into " + dir.string()};
  }
  return Ok{};
}

nlohmann::json DescriptorJson(const Descriptor& d) {
  nlohmann::json out = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.os.empty()) {
    out["platform"] = {{"os", d.os}, {"architecture", d.architecture}};
  }
  return out;
}

}  // namespace

ErrorOr<std::string> LayerTar(const LayerSpec& layer) {
  std::unique_ptr<archive, ArchiveWriteDeleter> a(archive_write_new());
  std::string out;
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, Append, nullptr) != ARCHIVE_OK) {
    return Error{std::string("tar: ") + archive_error_string(a.get())};
  }
  for (const LayerEntry& e : layer.entries) {
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_uid(entry.get(), e.uid);
    archive_entry_set_gid(entry.get(), e.gid);
    archive_entry_set_mtime(entry.get(), 0, 0);
    switch (e.type) {
      case LayerEntry::Type::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.content.size()));
        break;
      case LayerEntry::Type::kDir:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        break;
      case LayerEntry::Type::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_symlink(entry.get(), e.content.c_str());
        break;
      case LayerEntry::Type::kHardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_hardlink(entry.get(), e.content.c_str());
        archive_entry_set_size(entry.get(), 0);
        break;
    }
    archive_entry_set_perm(entry.get(), static_cast<mode_t>(e.mode));
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
      return Error{"tar: " + e.path + ": " + archive_error_string(a.get())};
    }
    if (e.type == LayerEntry::Type::kFile && !e.content.empty() &&
        archive_write_data(a.get(), e.content.data(), e.content.size()) !=
            static_cast<la_ssize_t>(e.content.size())) {
      return Error{"tar: " + e.path + ": " + archive_error_string(a.get())};
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Error{std::string("tar: ") + archive_error_string(a.get())};
  }
  return out;
}

ErrorOr<WrittenLayout> WriteOciLayout(const std::filesystem::path& dir, const LayoutSpec& spec) {
  namespace oci = runtime::oci;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir / "blobs/sha256", ec);
  if (ec) {
    return Error{"cannot make " + dir.string() + ": " + ec.message()};
  }
  WrittenLayout written;
  written.dir = dir;
  written.tag = spec.tag;
  for (const LayerSpec& layer : spec.layers) {
    auto tar = LayerTar(layer);
    if (!tar) {
      return tar.error();
    }
    written.diff_ids.push_back(Sha256Digest(*tar));
    std::string blob = *tar;
    if (layer.gzip) {
      auto gz = Gzip(*tar);
      if (!gz) {
        return gz.error();
      }
      blob = std::move(*gz);
    }
    Descriptor d;
    d.media_type = std::string(layer.gzip ? oci::kMediaOciLayerGzip : oci::kMediaOciLayer);
    d.size = static_cast<int64_t>(blob.size());
    if (auto done = WriteBlob(dir, blob, &d.digest); !done) {
      return done.error();
    }
    written.layers.push_back(d);
  }
  std::vector<std::string> architectures = {"amd64"};
  if (spec.multi_arch) {
    architectures.push_back("arm64");
  }
  std::vector<Descriptor> manifests;
  for (const std::string& architecture : architectures) {
    nlohmann::json config_fields = nlohmann::json::object();
    auto set_list = [&](const char* key, const std::vector<std::string>& list) {
      if (!list.empty()) {
        config_fields[key] = list;
      }
    };
    set_list("Entrypoint", spec.config.entrypoint);
    set_list("Cmd", spec.config.cmd);
    set_list("Env", spec.config.env);
    if (!spec.config.working_dir.empty()) {
      config_fields["WorkingDir"] = spec.config.working_dir;
    }
    if (!spec.config.user.empty()) {
      config_fields["User"] = spec.config.user;
    }
    nlohmann::json config = {{"architecture", architecture},
                             {"os", "linux"},
                             {"config", config_fields},
                             {"rootfs", {{"type", "layers"}, {"diff_ids", written.diff_ids}}}};
    Descriptor config_d;
    config_d.media_type = std::string(oci::kMediaOciConfig);
    std::string config_bytes = config.dump();
    config_d.size = static_cast<int64_t>(config_bytes.size());
    if (auto done = WriteBlob(dir, config_bytes, &config_d.digest); !done) {
      return done.error();
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const Descriptor& layer : written.layers) {
      layers.push_back(DescriptorJson(layer));
    }
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", oci::kMediaOciManifest},
                               {"config", DescriptorJson(config_d)},
                               {"layers", layers}};
    Descriptor manifest_d;
    manifest_d.media_type = std::string(oci::kMediaOciManifest);
    std::string manifest_bytes = manifest.dump();
    manifest_d.size = static_cast<int64_t>(manifest_bytes.size());
    if (auto done = WriteBlob(dir, manifest_bytes, &manifest_d.digest); !done) {
      return done.error();
    }
    manifest_d.os = "linux";
    manifest_d.architecture = architecture;
    if (manifests.empty()) {
      written.config = config_d;
      written.manifest_digest = manifest_d.digest;
    }
    written.platform_manifests.emplace_back("linux/" + architecture, manifest_d.digest);
    manifests.push_back(manifest_d);
  }
  auto tagged = [&](Descriptor d) {
    nlohmann::json out = DescriptorJson(d);
    out["annotations"] = {{"org.opencontainers.image.ref.name", spec.tag}};
    return out;
  };
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", oci::kMediaOciIndex}};
  if (spec.multi_arch) {
    nlohmann::json children = nlohmann::json::array();
    for (const Descriptor& m : manifests) {
      children.push_back(DescriptorJson(m));
    }
    nlohmann::json image_index = {
        {"schemaVersion", 2}, {"mediaType", oci::kMediaOciIndex}, {"manifests", children}};
    Descriptor index_d;
    index_d.media_type = std::string(oci::kMediaOciIndex);
    std::string index_bytes = image_index.dump();
    index_d.size = static_cast<int64_t>(index_bytes.size());
    if (auto done = WriteBlob(dir, index_bytes, &index_d.digest); !done) {
      return done.error();
    }
    written.index_digest = index_d.digest;
    index["manifests"] = nlohmann::json::array({tagged(index_d)});
  } else {
    Descriptor only = manifests[0];
    only.os.clear();
    index["manifests"] = nlohmann::json::array({tagged(only)});
  }
  std::string index_json = index.dump();
  if (!spec.multi_arch) {
    written.index_digest = Sha256Digest(index_json);
  }
  std::ofstream(dir / "index.json", std::ios::binary | std::ios::trunc) << index_json;
  std::ofstream(dir / "oci-layout", std::ios::binary | std::ios::trunc)
      << R"({"imageLayoutVersion":"1.0.0"})";
  if (!std::filesystem::exists(dir / "oci-layout")) {
    return Error{"cannot write the layout in " + dir.string()};
  }
  return written;
}

ErrorOr<Ok> PushLayout(const WrittenLayout& layout, const TestRegistry& registry,
                       std::string_view repo_tag) {
  auto skopeo = os::FindProgram("skopeo");
  if (!skopeo) {
    return Error{"PushLayout needs skopeo"};
  }
  os::RunOptions run;
  run.spawn.argv = {skopeo->string(), "copy", "--quiet", "--preserve-digests",
                    "--dest-tls-verify=false"};
  if (!layout.platform_manifests.empty() && layout.platform_manifests.size() > 1) {
    run.spawn.argv.push_back("--multi-arch");
    run.spawn.argv.push_back("all");
  }
  if (registry.options().auth != TestRegistryAuth::kNone) {
    run.spawn.argv.push_back("--dest-creds");
    run.spawn.argv.push_back(registry.options().user + ":" + registry.options().password);
  }
  run.spawn.argv.push_back("oci:" + layout.dir.string() + ":" + layout.tag);
  run.spawn.argv.push_back("docker://" + registry.host() + "/" + std::string(repo_tag));
  // skopeo keeps nothing of ours: a private auth file and blob cache under the registry's dir.
  run.spawn.env =
      os::EnvironmentWith({"REGISTRY_AUTH_FILE=" + (registry.dir() / "skopeo-auth.json").string(),
                           "HOME=" + registry.dir().string()});
  run.merge_stderr = true;
  auto ran = os::RunProcess(run);
  if (!ran) {
    return Error{"cannot run skopeo: " + ran.error().message};
  }
  if (!ran->success()) {
    return Error{"skopeo copy to " + registry.host() + "/" + std::string(repo_tag) + " failed (" +
                 ran->Describe() + "): " + ran->Tail(15)};
  }
  return Ok{};
}

}  // namespace mvm::testing
