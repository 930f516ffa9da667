#include "runtime/rootfs/rootfs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include "ir/options.h"
#include "ir/support/check.h"
#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/rootfs/templates.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kCurrent = "current";
constexpr std::string_view kLock = "lock";
constexpr std::string_view kBuildPrefix = ".build-";
constexpr std::string_view kTreePrefix = "sha256-";
constexpr std::string_view kDigestPrefix = "sha256:";
// Inside the tree, so the revision is sealed and hashed with what it describes and one rename
// publishes both.
constexpr std::string_view kRecipeFile = ".mvm/recipe";

const ir::TemplateInfo* FindTemplate(std::string_view name) {
  for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

bool IsLowerHex(std::string_view s, size_t size) {
  return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The hex digest of the tree `current` names, when that tree is published: `current` is a symlink
// to `sha256-<hex>` and that is a real directory. Only a complete tree is ever renamed to such a
// name, so this is the whole check a cache hit makes.
std::optional<std::string> PublishedHex(const fs::path& template_dir) {
  std::error_code ec;
  std::string target = fs::read_symlink(template_dir / kCurrent, ec).string();
  if (ec || !target.starts_with(kTreePrefix) ||
      !IsLowerHex(std::string_view(target).substr(kTreePrefix.size()), 64)) {
    return std::nullopt;
  }
  if (!fs::is_directory(fs::symlink_status(template_dir / target, ec))) {
    return std::nullopt;
  }
  return target.substr(kTreePrefix.size());
}

Materialized Published(const fs::path& template_dir, const std::string& hex) {
  Materialized out;
  out.dir = template_dir / (std::string(kTreePrefix) + hex);
  out.digest = std::string(kDigestPrefix) + hex;
  return out;
}

// Holds the template's build lock until the returned descriptor closes. flock locks belong to the
// open file, so two threads of one process exclude each other too.
ErrorOr<os::UniqueFd> LockTemplate(const fs::path& template_dir, std::string_view name,
                                   const ProgressFn& progress) {
  const fs::path path = template_dir / kLock;
  os::UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return Error{"cannot open the lock file " + Quote(path) + ": " + ErrnoText(errno)};
  }
  if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    return fd;
  }
  if (errno != EWOULDBLOCK) {
    return Error{"cannot lock " + Quote(path) + ": " + ErrnoText(errno)};
  }
  if (progress) {
    progress("waiting for another process to finish building " + std::string(name));
  }
  while (flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error{"cannot lock " + Quote(path) + ": " + ErrnoText(errno)};
    }
  }
  return fd;
}

// Removes what builds that died (crash, kill, power loss) left behind. Only called under the lock,
// so no live build's directory can be among them.
ErrorOr<Ok> RemoveStaleBuilds(const fs::path& template_dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(template_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().native().starts_with(kBuildPrefix)) {
      stale.push_back(it->path());
    }
  }
  if (ec) {
    return Error{"cannot list " + Quote(template_dir) + ": " + ec.message()};
  }
  for (const fs::path& path : stale) {
    if (auto removed = RemoveTree(path); !removed) {
      return Error{"cannot remove the unfinished build " + Quote(path) + ": " +
                   removed.error().message};
    }
  }
  return Ok{};
}

// Flushes the file system holding `dir`, so that after a power loss a published name never
// points at files whose data never reached the disk.
ErrorOr<Ok> SyncFileSystemOf(const fs::path& dir) {
  os::UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || syncfs(fd.get()) != 0) {
    return Error{"cannot flush the file system of " + Quote(dir) + ": " + ErrnoText(errno)};
  }
  return Ok{};
}

// Atomically makes `current` name `tree` (a name in `template_dir`).
ErrorOr<Ok> PointCurrentAt(const fs::path& template_dir, const std::string& tree) {
  const fs::path next = template_dir / ".current.next";
  const fs::path current = template_dir / kCurrent;
  if (unlink(next.c_str()) != 0 && errno != ENOENT) {
    return Error{"cannot remove " + Quote(next) + ": " + ErrnoText(errno)};
  }
  if (symlink(tree.c_str(), next.c_str()) != 0) {
    return Error{"cannot create " + Quote(next) + ": " + ErrnoText(errno)};
  }
  if (rename(next.c_str(), current.c_str()) != 0) {
    return Error{"cannot publish " + Quote(current) + ": " + ErrnoText(errno)};
  }
  return SyncFileSystemOf(template_dir);
}

// Builds `name` with `build` into a fresh `.build-*` directory, seals and hashes it, and renames it
// into place.
ErrorOr<Materialized> BuildAndPublish(std::string_view name, const fs::path& template_dir,
                                      std::string_view revision, const TreeBuilder& build,
                                      const ProgressFn& progress) {
  auto start = std::chrono::steady_clock::now();

  std::string pattern = (template_dir / (std::string(kBuildPrefix) + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Error{"cannot create a build directory in " + Quote(template_dir) + ": " +
                 ErrnoText(errno)};
  }
  const fs::path work(pattern);
  auto digest = [&]() -> ErrorOr<std::string> {
    if (auto built = build(work, progress); !built) {
      return built.error();
    }
    // The tree may be a Debian one, made away from this host: nothing in it is followed.
    if (auto refused = RefuseSymlinkedPath(work, kRecipeFile); !refused) {
      return refused.error();
    }
    if (auto made = MakeDir(work / ".mvm", 0755); !made) {
      return made.error();
    }
    if (auto written = WriteTextFile(work / kRecipeFile, std::string(revision) + "\n", 0644);
        !written) {
      return written.error();
    }
    // mkdtemp made it 0700; a root directory is 0755 (0555 once sealed).
    if (chmod(work.c_str(), 0755) != 0) {
      return Error{"cannot set the mode of " + Quote(work) + ": " + ErrnoText(errno)};
    }
    if (auto sealed = SealTree(work); !sealed) {
      return sealed.error();
    }
    return TreeDigest(work);
  }();
  if (!digest) {
    if (auto removed = RemoveTree(work); !removed) {
      return Error{digest.error().message + "\n(and the unfinished build could not be removed: " +
                   removed.error().message + ")"};
    }
    return digest.error();
  }

  const std::string hex = digest->substr(kDigestPrefix.size());
  const std::string tree = std::string(kTreePrefix) + hex;
  const fs::path published = template_dir / tree;
  if (auto synced = SyncFileSystemOf(work); !synced) {
    return synced.error();
  }
  if (rename(work.c_str(), published.c_str()) != 0) {
    if (errno != ENOTEMPTY && errno != EEXIST) {
      return Error{"cannot publish " + Quote(published) + ": " + ErrnoText(errno)};
    }
    // The same tree is already there, published by a build whose `current` update was lost; its
    // name is its digest, so it is this tree.
    if (auto removed = RemoveTree(work); !removed) {
      return removed.error();
    }
  }
  if (auto pointed = PointCurrentAt(template_dir, tree); !pointed) {
    return pointed.error();
  }

  Materialized out = Published(template_dir, hex);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  out.build_ms = static_cast<uint32_t>(elapsed.count());
  if (progress) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(out.build_ms) / 1000.0);
    progress("built " + std::string(name) + " in " + seconds + " s: " + out.digest);
  }
  return out;
}

}  // namespace

std::string RevisionOf(const fs::path& tree) {
  auto text = os::ReadFileBounded(tree / kRecipeFile, 256);
  if (!text || !text->ends_with('\n')) {
    return "";
  }
  return text->substr(0, text->size() - 1);
}

ErrorOr<Materialized> MaterializeInto(std::string_view name, const fs::path& template_dir,
                                      std::string_view revision, const TreeBuilder& build,
                                      const ProgressFn& progress) {
  auto hit = [&]() -> std::optional<Materialized> {
    auto hex = PublishedHex(template_dir);
    if (!hex) {
      return std::nullopt;
    }
    Materialized out = Published(template_dir, *hex);
    if (RevisionOf(out.dir) != revision) {
      return std::nullopt;
    }
    out.cache_hit = true;
    return out;
  };
  if (auto out = hit()) {
    return *out;
  }
  std::error_code ec;
  fs::create_directories(template_dir, ec);
  if (ec) {
    return Error{"cannot create the rootfs cache " + Quote(template_dir) + ": " + ec.message() +
                 "; check the permissions of the state directory (--state-dir)"};
  }
  auto lock = LockTemplate(template_dir, name, progress);
  if (!lock) {
    return lock.error();
  }
  // Whoever held the lock may just have published it.
  if (auto out = hit()) {
    return *out;
  }
  if (auto hex = PublishedHex(template_dir); hex && progress) {
    const std::string old = RevisionOf(Published(template_dir, *hex).dir);
    progress("the cached " + std::string(name) + " was built by recipe revision " +
             (old.empty() ? "(none recorded)" : old) + ", this mvm builds revision " +
             std::string(revision) + "; building it again (the old tree stays while in use)");
  }
  if (auto cleaned = RemoveStaleBuilds(template_dir); !cleaned) {
    return cleaned.error();
  }
  return BuildAndPublish(name, template_dir, revision, build, progress);
}

ErrorOr<bool> AdoptTree(std::string_view name, const fs::path& tree, const fs::path& template_dir,
                        std::string_view revision) {
  if (const std::string has = RevisionOf(tree); has != revision) {
    return Error{"cannot hand over " + Quote(tree) + ": it was built by recipe revision " +
                 (has.empty() ? "(none recorded)" : has) + ", not " + std::string(revision)};
  }
  const std::string tree_name = tree.filename().string();
  if (!tree_name.starts_with(kTreePrefix)) {
    return Error{"cannot hand over " + Quote(tree) + ": not a published `sha256-<hex>` tree"};
  }
  std::error_code ec;
  fs::create_directories(template_dir, ec);
  if (ec) {
    return Error{"cannot create the rootfs cache " + Quote(template_dir) + ": " + ec.message()};
  }
  auto lock = LockTemplate(template_dir, name, nullptr);
  if (!lock) {
    return lock.error();
  }
  if (auto hex = PublishedHex(template_dir);
      hex && RevisionOf(Published(template_dir, *hex).dir) == revision) {
    return false;
  }
  if (rename(tree.c_str(), (template_dir / tree_name).c_str()) != 0 && errno != ENOTEMPTY &&
      errno != EEXIST) {
    return Error{"cannot move " + Quote(tree) + " into " + Quote(template_dir) + ": " +
                 ErrnoText(errno)};
  }
  if (auto pointed = PointCurrentAt(template_dir, tree_name); !pointed) {
    return pointed.error();
  }
  return true;
}

ErrorOr<bool> HandOverTemplate(std::string_view name, const fs::path& from_cache,
                               const fs::path& to_cache) {
  if (FindTemplate(name) == nullptr) {
    return Error{"unknown template `" + std::string(name) + "`"};
  }
  auto hex = PublishedHex(from_cache / name);
  if (!hex) {
    return Error{"cannot hand over template " + std::string(name) + ": " +
                 Quote(from_cache / name) + " has no published tree"};
  }
  return AdoptTree("template " + std::string(name), Published(from_cache / name, *hex).dir,
                   to_cache / name, TemplateRevision(name));
}

ErrorOr<Materialized> MaterializeTemplate(std::string_view name, const fs::path& cache_dir,
                                          const ProgressFn& progress,
                                          const DebootstrapFn& debootstrap) {
  if (FindTemplate(name) == nullptr) {
    std::string known;
    for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
      known += (known.empty() ? "`" : ", `") + std::string(t.name) + "`";
    }
    return Error{"unknown template `" + std::string(name) + "`; the built-in templates are " +
                 known + " (see `mvmctl templates`)"};
  }
  BuildFn build = FindBuilder(name);
  MVM_CHECK(build != nullptr);  // every ir::BuiltinTemplates entry has a builder
  return MaterializeInto(
      "template " + std::string(name), cache_dir / name, TemplateRevision(name),
      [&](const fs::path& root, const ProgressFn& step) { return build(root, step, debootstrap); },
      progress);
}

std::vector<TemplateStatus> ListTemplates(const fs::path& cache_dir) {
  std::vector<TemplateStatus> out;
  for (const ir::TemplateInfo& t : ir::BuiltinTemplates()) {
    TemplateStatus status;
    status.name = std::string(t.name);
    status.description = std::string(t.description);
    status.wanted_revision = std::string(TemplateRevision(t.name));
    if (auto hex = PublishedHex(cache_dir / t.name)) {
      Materialized published = Published(cache_dir / t.name, *hex);
      status.built = true;
      status.revision = RevisionOf(published.dir);
      status.digest = std::move(published.digest);
      status.dir = std::move(published.dir);
    }
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace mvm::runtime::rootfs
