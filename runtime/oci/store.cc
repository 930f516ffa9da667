#include "runtime/oci/store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"
#include "ir/support/os/utc_time.h"
#include "runtime/oci/unpack.h"
#include "runtime/rootfs/rootfs.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::oci {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kNamesFile = "names.json";
constexpr std::string_view kImageFile = "image.json";
constexpr std::string_view kScratchPrefix = ".scratch-";

using rootfs::Quote;

// An exclusive flock on <dir>/lock for as long as it lives.
class StoreLock {
 public:
  static ErrorOr<StoreLock> Take(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return Error{"cannot create the image cache " + Quote(dir) + ": " + ec.message()};
    }
    ::chmod(dir.c_str(), 0700);
    fs::path path = dir / "lock";
    os::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) {
      return Error{"cannot open " + Quote(path) + ": " + os::ErrnoText(errno)};
    }
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) {
        return Error{"cannot lock " + Quote(path) + ": " + os::ErrnoText(errno)};
      }
    }
    StoreLock lock;
    lock.fd_ = std::move(fd);
    return lock;
  }

 private:
  os::UniqueFd fd_;
};

struct NameTable {
  std::map<std::string, std::string> names;    // canonical name -> manifest digest
  std::map<std::string, std::string> indexes;  // index digest -> manifest digest
};

ErrorOr<NameTable> ReadNames(const fs::path& dir) {
  NameTable t;
  fs::path path = dir / kNamesFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return t;
  }
  auto text = os::ReadFileBounded(path, 64 << 20);
  if (!text) {
    return text.error();
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error{Quote(path) + " is not the image cache's name table; remove it and pull again"};
  }
  for (auto [key, map] : {std::pair{"names", &t.names}, std::pair{"indexes", &t.indexes}}) {
    if (auto it = doc.find(key); it != doc.end() && it->is_object()) {
      for (auto& [k, v] : it->items()) {
        if (v.is_string() && IsSha256Digest(v.get<std::string>())) {
          (*map)[k] = v.get<std::string>();
        }
      }
    }
  }
  return t;
}

ErrorOr<Ok> WriteNames(const fs::path& dir, const NameTable& t) {
  json doc = {{"version", 1}, {"names", t.names}, {"indexes", t.indexes}};
  return os::WriteFileAtomically(dir / kNamesFile, doc.dump(2) + "\n", os::kPrivateFile);
}

// Reads the name table under the store's lock, lets `change` edit it, and writes it back; `change`
// returning false leaves it as it was.
template <typename Change>
ErrorOr<NameTable> ChangeNames(const fs::path& dir, Change change) {
  auto lock = StoreLock::Take(dir);
  if (!lock) {
    return lock.error();
  }
  auto names = ReadNames(dir);
  if (!names) {
    return names.error();
  }
  if (change(*names)) {
    if (auto ok = WriteNames(dir, *names); !ok) {
      return ok.error();
    }
  }
  return names;
}

ErrorOr<StoredImage> ReadImage(const fs::path& image_dir) {
  auto text = os::ReadFileBounded(image_dir / kImageFile, 1 << 20);
  if (!text) {
    return text.error();
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error{Quote(image_dir / kImageFile) +
                 " is damaged; `mvmctl image rm` it and pull again"};
  }
  StoredImage s;
  s.dir = image_dir;
  s.rootfs = image_dir / "rootfs";
  s.manifest_digest = doc.value("manifest_digest", "");
  s.index_digest = doc.value("index_digest", "");
  s.config_digest = doc.value("config_digest", "");
  s.tree_digest = doc.value("tree_digest", "");
  s.source = doc.value("source", "");
  s.stored_at = doc.value("stored_at", "");
  s.layer_bytes = doc.value("layer_bytes", int64_t{0});
  s.tree_bytes = doc.value("tree_bytes", int64_t{0});
  if (!IsSha256Digest(s.manifest_digest) ||
      image_dir.filename() != ImageDirName(s.manifest_digest)) {
    return Error{Quote(image_dir / kImageFile) + " does not describe " + Quote(image_dir) +
                 "; `mvmctl image prune` removes it"};
  }
  auto config = os::ReadFileBounded(image_dir / "config.json", 64 << 20);
  if (!config) {
    return config.error();
  }
  auto parsed = ParseConfig(*config);
  if (!parsed) {
    return parsed.error();
  }
  s.config = std::move(*parsed);
  return s;
}

void AttachNames(StoredImage& image, const NameTable& t) {
  for (const auto& [name, digest] : t.names) {
    if (digest == image.manifest_digest) {
      image.names.push_back(name);
    }
  }
}

}  // namespace

std::string ImageDirName(std::string_view manifest_digest) {
  return "sha256-" + std::string(DigestHex(manifest_digest));
}

std::string CanonicalName(const Reference& ref) {
  Reference r = ref;
  r.digest.clear();
  return r.ToString();
}

ErrorOr<fs::path> ImageStore::MakeScratch() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return Error{"cannot create the image cache " + Quote(dir_) + ": " + ec.message()};
  }
  std::string tmpl = (dir_ / (std::string(kScratchPrefix) + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error{"cannot create a directory in " + Quote(dir_) + ": " + os::ErrnoText(errno)};
  }
  // A pid file lets Prune tell an abandoned scratch directory from one a pull is using.
  fs::path dir = tmpl;
  (void)rootfs::WriteTextFile(dir / "owner", std::to_string(::getpid()) + "\n", 0600);
  return dir;
}

ErrorOr<std::optional<StoredImage>> ImageStore::Find(std::string_view digest) const {
  if (!IsSha256Digest(digest)) {
    return Error{"`" + std::string(digest.substr(0, 80)) + "` is not a sha256 digest"};
  }
  auto names = ReadNames(dir_);
  if (!names) {
    return names.error();
  }
  std::string manifest(digest);
  if (auto it = names->indexes.find(manifest); it != names->indexes.end()) {
    manifest = it->second;
  }
  fs::path image_dir = dir_ / ImageDirName(manifest);
  std::error_code ec;
  if (!fs::is_directory(image_dir, ec)) {
    return std::optional<StoredImage>();
  }
  auto image = ReadImage(image_dir);
  if (!image) {
    return image.error();
  }
  AttachNames(*image, *names);
  return std::optional<StoredImage>(std::move(*image));
}

ErrorOr<std::optional<StoredImage>> ImageStore::FindByName(std::string_view name) const {
  auto names = ReadNames(dir_);
  if (!names) {
    return names.error();
  }
  auto it = names->names.find(std::string(name));
  if (it == names->names.end()) {
    return std::optional<StoredImage>();
  }
  return Find(it->second);
}

ErrorOr<std::vector<StoredImage>> ImageStore::List() const {
  std::vector<StoredImage> out;
  auto names = ReadNames(dir_);
  if (!names) {
    return names.error();
  }
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    return out;
  }
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    std::string file = e.path().filename().string();
    if (file.rfind("sha256-", 0) != 0 || !e.is_directory()) {
      continue;
    }
    auto image = ReadImage(e.path());
    if (!image) {
      continue;  // a damaged entry is Prune's and Verify's business, not a reason to list nothing
    }
    AttachNames(*image, *names);
    out.push_back(std::move(*image));
  }
  std::sort(out.begin(), out.end(), [](const StoredImage& a, const StoredImage& b) {
    return a.stored_at != b.stored_at ? a.stored_at > b.stored_at
                                      : a.manifest_digest < b.manifest_digest;
  });
  return out;
}

ErrorOr<StoredImage> ImageStore::Name(StoredImage image, std::string_view name,
                                      std::string_view index_digest) {
  const std::string& digest = image.manifest_digest;
  bool named =
      name.empty() || std::find(image.names.begin(), image.names.end(), name) != image.names.end();
  bool aliased = index_digest.empty() || index_digest == image.index_digest;
  if (named && aliased) {
    return image;  // the common case of a launch: nothing to record, no lock, no write
  }
  auto names = ChangeNames(dir_, [&](NameTable& t) {
    bool changed = false;
    if (!name.empty()) {
      changed |= std::exchange(t.names[std::string(name)], digest) != digest;
    }
    if (!index_digest.empty()) {
      changed |= std::exchange(t.indexes[std::string(index_digest)], digest) != digest;
    }
    return changed;
  });
  if (!names) {
    return names.error();
  }
  image.names.clear();
  AttachNames(image, *names);
  return image;
}

ErrorOr<StoredImage> ImageStore::Publish(const ImageParts& parts, const ProgressFn& progress) {
  if (!IsSha256Digest(parts.manifest_digest)) {
    return Error{"internal: publishing an image without a manifest digest"};
  }
  if (auto found = Find(parts.manifest_digest); found && *found) {
    return Name(std::move(**found), parts.name, parts.index_digest);
  }

  auto scratch = MakeScratch();
  if (!scratch) {
    return scratch.error();
  }
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      if (!path.empty()) {
        (void)rootfs::RemoveTree(path);
      }
    }
  } cleanup{*scratch};
  fs::path staged = *scratch / "image";
  if (::mkdir(staged.c_str(), 0700) != 0) {
    return Error{"cannot create " + Quote(staged) + ": " + os::ErrnoText(errno)};
  }
  std::vector<LayerFile> layers;
  for (size_t i = 0; i < parts.layer_files.size(); ++i) {
    layers.push_back({parts.layer_files[i], parts.manifest.layers[i].media_type,
                      parts.manifest.layers[i].digest});
  }
  if (progress) {
    progress("unpacking " + std::to_string(layers.size()) + " layer" +
             (layers.size() == 1 ? "" : "s"));
  }
  auto report = UnpackLayers(layers, staged / "rootfs", limits_);
  if (!report) {
    return report.error();
  }
  auto tree = rootfs::TreeDigest(staged / "rootfs");
  if (!tree) {
    return Error{"the unpacked image cannot be hashed: " + tree.error().message};
  }
  int64_t layer_bytes = 0;
  for (const Descriptor& d : parts.manifest.layers) {
    layer_bytes += d.size;
  }
  json meta = {{"manifest_digest", parts.manifest_digest},
               {"index_digest", parts.index_digest},
               {"config_digest", parts.manifest.config.digest},
               {"tree_digest", *tree},
               {"source", parts.source},
               {"stored_at", os::NowUtcText(os::UtcForm::kRfc3339)},
               {"layer_bytes", layer_bytes},
               {"tree_bytes", report->bytes}};
  for (auto [file, body] : {std::pair{"manifest.json", &parts.manifest_body},
                            std::pair{"config.json", &parts.config_body}}) {
    if (auto ok = rootfs::WriteTextFile(staged / file, *body, 0400); !ok) {
      return ok.error();
    }
  }
  if (auto ok = rootfs::WriteTextFile(staged / kImageFile, meta.dump(2) + "\n", 0400); !ok) {
    return ok.error();
  }

  fs::path image_dir = dir_ / ImageDirName(parts.manifest_digest);
  {
    auto lock = StoreLock::Take(dir_);
    if (!lock) {
      return lock.error();
    }
    std::error_code ec;
    if (!fs::exists(image_dir, ec)) {
      if (::rename(staged.c_str(), image_dir.c_str()) != 0) {
        return Error{"cannot publish the image at " + Quote(image_dir) + ": " +
                     os::ErrnoText(errno)};
      }
      (void)os::SyncDirectory(dir_);
    }  // else a concurrent pull published the same content first; ours goes with the scratch
  }
  auto image = ReadImage(image_dir);
  if (!image) {
    return image.error();
  }
  return Name(std::move(*image), parts.name, parts.index_digest);
}

ErrorOr<VerifyReport> ImageStore::Verify(const StoredImage& image) const {
  VerifyReport report;
  auto manifest = os::ReadFileBounded(image.dir / "manifest.json", limits_.max_manifest_bytes);
  if (!manifest) {
    report.problems.push_back(manifest.error().message);
  } else {
    if (std::string d = Sha256Digest(*manifest); d != image.manifest_digest) {
      report.problems.push_back("the manifest hashes to " + d + ", not " + image.manifest_digest);
    }
    auto parsed = ParseManifest(*manifest, limits_);
    if (!parsed) {
      report.problems.push_back("the manifest does not parse: " + parsed.error().message);
    } else if (parsed->config.digest != image.config_digest) {
      report.problems.push_back("the manifest names configuration " + parsed->config.digest +
                                ", the cache recorded " + image.config_digest);
    }
  }
  auto config = os::ReadFileBounded(image.dir / "config.json", limits_.max_config_bytes);
  if (!config) {
    report.problems.push_back(config.error().message);
  } else if (std::string d = Sha256Digest(*config); d != image.config_digest) {
    report.problems.push_back("the configuration hashes to " + d + ", not " + image.config_digest);
  }
  auto tree = rootfs::TreeDigest(image.rootfs);
  if (!tree) {
    report.problems.push_back("the tree cannot be hashed: " + tree.error().message);
  } else if (*tree != image.tree_digest) {
    report.problems.push_back("the tree hashes to " + *tree + ", not " + image.tree_digest +
                              " as when it was unpacked: something changed it");
  }
  return report;
}

namespace {

// The metadata fingerprint CheckTree keeps: SHA-256 over every entry's relative path and lstat
// fields, in sorted order. Entries that cannot be stat-ed make it fail (an Error), never match.
ErrorOr<std::string> TreeFingerprint(const fs::path& root) {
  std::vector<std::string> lines;
  std::error_code ec;
  auto add = [&](const fs::path& path, const std::string& rel) -> bool {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      return false;
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, " %llu %o %u %u %lld %lld.%09ld %lld.%09ld",
                  static_cast<unsigned long long>(st.st_ino), st.st_mode, st.st_uid, st.st_gid,
                  static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
                  st.st_mtim.tv_nsec, static_cast<long long>(st.st_ctim.tv_sec),
                  st.st_ctim.tv_nsec);
    lines.push_back(rel + '\0' + buf);
    return true;
  };
  if (!add(root, ".")) {
    return Error{"cannot stat " + Quote(root) + ": " + os::ErrnoText(errno)};
  }
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!add(it->path(), it->path().lexically_relative(root).string())) {
      return Error{"cannot stat " + Quote(it->path()) + ": " + os::ErrnoText(errno)};
    }
  }
  if (ec) {
    return Error{"cannot walk " + Quote(root) + ": " + ec.message()};
  }
  std::sort(lines.begin(), lines.end());
  Sha256 h;
  for (const std::string& line : lines) {
    h.Update(line);
    h.Update("\n");
  }
  return h.Finish();
}

constexpr std::string_view kFingerprintFile = "verified-fingerprint";

}  // namespace

ErrorOr<Ok> ImageStore::CheckTree(const StoredImage& image) const {
  auto before = TreeFingerprint(image.rootfs);
  if (before) {
    auto kept = os::ReadFileBounded(image.dir / kFingerprintFile, 128);
    if (kept && *kept == *before) {
      return Ok{};
    }
  }
  auto tree = rootfs::TreeDigest(image.rootfs);
  if (!tree) {
    return Error{"cannot be hashed: " + tree.error().message};
  }
  if (*tree != image.tree_digest) {
    return Error{"hashes to " + *tree + ", not " + image.tree_digest};
  }
  // Kept only when nothing changed while the tree was read, so the fingerprint is of what hashed.
  auto after = TreeFingerprint(image.rootfs);
  if (before && after && *before == *after) {
    (void)os::WriteFileAtomically(image.dir / kFingerprintFile, *after, os::kPrivateFile);
  }
  return Ok{};
}

ErrorOr<Ok> ImageStore::Remove(const StoredImage& image) {
  auto lock = StoreLock::Take(dir_);
  if (!lock) {
    return lock.error();
  }
  auto names = ReadNames(dir_);
  if (!names) {
    return names.error();
  }
  std::erase_if(names->names, [&](const auto& kv) { return kv.second == image.manifest_digest; });
  std::erase_if(names->indexes, [&](const auto& kv) { return kv.second == image.manifest_digest; });
  if (auto ok = WriteNames(dir_, *names); !ok) {
    return ok.error();
  }
  // Renamed away first, so that a Find never sees a half-removed tree under the key.
  fs::path doomed =
      dir_ / (std::string(kScratchPrefix) + "rm-" + std::string(DigestHex(image.manifest_digest)));
  if (::rename(image.dir.c_str(), doomed.c_str()) != 0) {
    return Error{"cannot remove " + Quote(image.dir) + ": " + os::ErrnoText(errno)};
  }
  return rootfs::RemoveTree(doomed);
}

ErrorOr<std::vector<StoredImage>> ImageStore::Prune() {
  std::vector<StoredImage> removed;
  auto all = List();
  if (!all) {
    return all.error();
  }
  for (const StoredImage& image : *all) {
    if (image.names.empty()) {
      if (auto ok = Remove(image); !ok) {
        return ok.error();
      }
      removed.push_back(image);
    }
  }
  auto lock = StoreLock::Take(dir_);
  if (!lock) {
    return lock.error();
  }
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
    std::string file = e.path().filename().string();
    if (file.rfind(kScratchPrefix, 0) != 0) {
      continue;
    }
    // A scratch directory whose owner is alive belongs to a pull in progress.
    auto owner = os::ReadFileBounded(e.path() / "owner", 64);
    if (owner) {
      pid_t pid = static_cast<pid_t>(std::atol(owner->c_str()));
      if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) {
        continue;
      }
    }
    (void)rootfs::RemoveTree(e.path());
  }
  return removed;
}

}  // namespace mvm::runtime::oci
