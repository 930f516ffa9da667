// Importing a builder sandbox's output into the host's artifact store (artifacts.h): the builder's
// store is hostile data, so the tree is copied through descriptors with nothing followed, and its
// NAR hash is computed over the host's copy.

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <system_error>

#include "backend-emit/nix/artifacts.h"
#include "backend-emit/nix/nar.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/files.h"
#include "ir/support/os/unique_fd.h"

namespace mvm::nix {
namespace fs = std::filesystem;

namespace {

using os::ErrnoText;
using os::UniqueFd;

// A rootfs is far below both; a builder that makes more is refused rather than copied on and on.
constexpr size_t kMaxEntries = 2'000'000;
constexpr int kMaxDepth = 128;

constexpr std::string_view kNixBase32 = "0123456789abcdfghijklmnpqrsvwxyz";

struct CopyState {
  bool keep_symlinks = true;  // else a symlink is refused: the copy is read by tools that follow
  // A rootfs keeps its permission bits (less setuid and setgid); a Nix store path has none but x.
  bool keep_modes = false;
  // A symlink target under this directory (where the tree was made) is made relative to the tree's
  // root: fakechroot writes absolute links with the directory in them.
  std::string made_at;
  // Set for a rootfs: the builder's ids, shifted back to the tree's own (BuilderIds).
  std::optional<BuilderIds> ids;
  size_t entries = 0;
  std::string problem;  // set once; the copy stops there
};

bool Fail(CopyState& state, std::string message) {
  if (state.problem.empty()) {
    state.problem = std::move(message);
  }
  return false;
}

// Gives the copy named `name` in `to` (AT_EMPTY_PATH: `to` itself) the owner of `st`, as the
// builder saw it.
bool CopyOwner(int to, const char* name, const struct stat& st, const std::string& path,
               CopyState& state) {
  const BuilderIds& ids = *state.ids;
  auto inside = [&](uint32_t id) { return id >= ids.base && id - ids.base < ids.range; };
  if (!inside(st.st_uid) || !inside(st.st_gid)) {
    return Fail(state,
                "`" + path + "` is owned by " + std::to_string(st.st_uid) + ":" +
                    std::to_string(st.st_gid) + " on this host, which is no id of the builder's (" +
                    std::to_string(ids.base) + " to " + std::to_string(ids.base + ids.range - 1) +
                    "); the builder made no such file, so the tree is not copied");
  }
  const int flags = AT_SYMLINK_NOFOLLOW | (*name == '\0' ? AT_EMPTY_PATH : 0);
  return ::fchownat(to, name, st.st_uid - ids.base, st.st_gid - ids.base, flags) == 0 ||
         Fail(state, "cannot set the owner of the copy of `" + path + "`: " + ErrnoText(errno));
}

// Copies the directory `from` (opened O_DIRECTORY|O_NOFOLLOW) into the empty directory `to`;
// `where` names `from` in messages, relative to the store path.
bool CopyDirectory(int from, int to, const std::string& where, int depth, CopyState& state) {
  if (depth > kMaxDepth) {
    return Fail(state, "`" + where + "` is nested deeper than " + std::to_string(kMaxDepth) +
                           " directories");
  }
  int listing_fd = ::dup(from);
  if (listing_fd < 0) {
    return Fail(state, "cannot read `" + where + "`: " + ErrnoText(errno));
  }
  DIR* dir = ::fdopendir(listing_fd);
  if (dir == nullptr) {
    ::close(listing_fd);
    return Fail(state, "cannot read `" + where + "`: " + ErrnoText(errno));
  }
  bool ok = true;
  while (ok) {
    errno = 0;
    dirent* e = ::readdir(dir);
    if (e == nullptr) {
      if (errno != 0) {
        ok = Fail(state, "cannot read `" + where + "`: " + ErrnoText(errno));
      }
      break;
    }
    const std::string name = e->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    const std::string path = where + "/" + name;
    if (++state.entries > kMaxEntries) {
      ok = Fail(state, "the tree holds more than " + std::to_string(kMaxEntries) + " entries");
      break;
    }
    struct stat st {};
    if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      ok = Fail(state, "cannot stat `" + path + "`: " + ErrnoText(errno));
    } else if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid() || ::mkdirat(to, name.c_str(), 0700) != 0) {
        ok = Fail(state, "cannot copy the directory `" + path + "`: " + ErrnoText(errno));
        continue;
      }
      UniqueFd sub_to(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      ok = sub_to.valid() ? CopyDirectory(sub.get(), sub_to.get(), path, depth + 1, state)
                          : Fail(state, "cannot open the copy of `" + path + "`");
      // As in a Nix store: read-only once filled.
      const mode_t dir_mode = state.keep_modes ? (st.st_mode & 01777) : 0555;
      ok = ok && (!state.ids || CopyOwner(sub_to.get(), "", st, path, state));
      ok = ok && (::fchmod(sub_to.get(), dir_mode) == 0 ||
                  Fail(state, "cannot set the mode of the copy of `" + path + "`"));
    } else if (S_ISREG(st.st_mode)) {
      // O_NONBLOCK: a FIFO put in the file's place after fstatat is opened without waiting, and
      // the fstat below refuses it.
      UniqueFd in(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      struct stat opened {};
      if (!in.valid() || ::fstat(in.get(), &opened) != 0 || !S_ISREG(opened.st_mode)) {
        ok = Fail(state, "cannot open `" + path + "` as a regular file");
        continue;
      }
      const mode_t mode = state.keep_modes                  ? (opened.st_mode & 01777)
                          : (opened.st_mode & S_IXUSR) != 0 ? 0555
                                                            : 0444;
      UniqueFd out(
          ::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out.valid()) {
        ok = Fail(state, "cannot create the copy of `" + path + "`: " + ErrnoText(errno));
        continue;
      }
      auto copied = os::CopyAll(in.get(), out.get());
      if (copied && state.ids && !CopyOwner(out.get(), "", opened, path, state)) {
        ok = false;
        continue;
      }
      ok = copied ? (::fchmod(out.get(), mode) == 0 ||
                     Fail(state, "cannot set the mode of the copy of `" + path + "`"))
                  : Fail(state, "cannot copy `" + path + "`: " + copied.error().message);
    } else if (S_ISLNK(st.st_mode) && !state.keep_symlinks) {
      ok = Fail(state, "`" + path + "` is a symlink, which this copy does not take");
    } else if (S_ISLNK(st.st_mode)) {
      // Kept as a link, never resolved here: what it points at is the sandbox's business.
      std::string target(4096, '\0');
      const ssize_t n = ::readlinkat(from, name.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<size_t>(n) >= target.size()) {
        ok = Fail(state, "cannot read the symlink `" + path + "`");
        continue;
      }
      target.resize(static_cast<size_t>(n));
      if (!state.made_at.empty() && target.starts_with(state.made_at + "/")) {
        target.erase(0, state.made_at.size());
      }
      ok = ::symlinkat(target.c_str(), to, name.c_str()) == 0 ||
           Fail(state, "cannot copy the symlink `" + path + "`: " + ErrnoText(errno));
      ok = ok && (!state.ids || CopyOwner(to, name.c_str(), st, path, state));
    } else {
      ok = Fail(state, "`" + path +
                           "` is neither a regular file, a directory nor a symlink; a rootfs "
                           "built by Nix holds nothing else");
    }
  }
  ::closedir(dir);
  return ok && state.problem.empty();
}

// The directory `relative` beneath `builder_nix_dir`, with no symlink and no mount point on the
// way: the builder cannot point the host at a file outside its own store.
ErrorOr<UniqueFd> OpenBeneath(const fs::path& builder_nix_dir, const std::string& relative) {
  UniqueFd root(::open(builder_nix_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) {
    return Error{"cannot open the builder's store `" + builder_nix_dir.string() +
                 "`: " + ErrnoText(errno)};
  }
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  UniqueFd source(
      static_cast<int>(::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof how)));
  if (!source.valid()) {
    return Error{"cannot open `" + relative + "` beneath `" + builder_nix_dir.string() + "` (" +
                 ErrnoText(errno) + ")"};
  }
  return source;
}

// Adds to `found` every `/nix/store/<32 nix-base32>-<name>` that `text` holds. With `more`, text
// follows, so a path that reaches the end may go on there and is left for the next call.
void FindStorePaths(std::string_view text, std::set<std::string>& found, bool more = false) {
  constexpr std::string_view kStore = "/nix/store/";
  for (size_t at = text.find(kStore); at != std::string_view::npos;
       at = text.find(kStore, at + 1)) {
    size_t end = at + kStore.size() + 33;
    while (end < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[end])) ||
            std::string_view("+-._?=").find(text[end]) != std::string_view::npos)) {
      ++end;
    }
    if (end < text.size() || (end == text.size() && !more)) {
      std::string candidate(text.substr(at, end - at));
      if (IsStorePath(candidate)) {
        found.insert(std::move(candidate));
      }
    }
  }
}

// The store paths the files and symlink targets under `tree` (the host's own copy) name.
std::set<std::string> ScanReferences(const fs::path& tree) {
  std::set<std::string> found;
  std::error_code ec;
  std::string chunk(1 << 16, '\0');
  for (auto it = fs::recursive_directory_iterator(tree, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink(ec)) {
      FindStorePaths(fs::read_symlink(it->path(), ec).string(), found);
      continue;
    }
    if (!it->is_regular_file(ec)) {
      continue;
    }
    std::ifstream in(it->path(), std::ios::binary);
    // Chunks overlap by a store path's longest length, so a path across a boundary is found.
    std::string carry;
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      std::string text = carry + chunk.substr(0, static_cast<size_t>(in.gcount()));
      FindStorePaths(text, found, /*more=*/static_cast<bool>(in));
      carry = text.size() > 256 ? text.substr(text.size() - 256) : text;
    }
  }
  return found;
}

std::string RandomHex() {
  unsigned char bytes[8];
  randombytes_buf(bytes, sizeof bytes);
  std::string hex;
  for (unsigned char b : bytes) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 15];
  }
  return hex;
}

}  // namespace

bool IsStorePath(std::string_view store_path) {
  constexpr std::string_view kPrefix = "/nix/store/";
  if (!store_path.starts_with(kPrefix)) {
    return false;
  }
  std::string_view base = store_path.substr(kPrefix.size());
  if (base.size() < 34 || base[32] != '-' || base.size() > 32 + 1 + 211) {
    return false;
  }
  for (char c : base.substr(0, 32)) {
    if (kNixBase32.find(c) == std::string_view::npos) {
      return false;
    }
  }
  std::string_view name = base.substr(33);
  if (name.front() == '.') {
    return false;
  }
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   std::string_view("+-._?=").find(c) != std::string_view::npos;
    if (!allowed) {
      return false;
    }
  }
  return true;
}

ErrorOr<ImportedTree> ImportBuiltTree(const fs::path& state_dir, const fs::path& builder_nix_dir,
                                      std::string_view store_path, std::string_view pinned) {
  if (!IsStorePath(store_path)) {
    return Error{"the builder named `" + std::string(store_path) +
                 "` as its output, which is not a Nix store path (`/nix/store/<hash>-<name>`); "
                 "nothing was imported"};
  }
  auto source = OpenBeneath(builder_nix_dir, "store/" + std::string(store_path.substr(11)));
  if (!source) {
    return Error{"cannot open the builder's output `" + std::string(store_path) +
                 "` as a directory: " + source.error().message +
                 "; a rootfs is a directory in the builder's own store"};
  }
  const fs::path trees = state_dir / "artifacts" / "trees";
  std::error_code ec;
  fs::create_directories(trees, ec);
  if (ec) {
    return Error{"cannot create `" + trees.string() + "`: " + ec.message()};
  }
  const fs::path staging = trees / (".import-" + RandomHex());
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return Error{"cannot create `" + staging.string() + "`: " + ErrnoText(errno)};
  }
  auto discard = [&] { fs::remove_all(staging, ec); };
  UniqueFd to(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  CopyState state;
  if (!to.valid() || !CopyDirectory(source->get(), to.get(), std::string(store_path), 0, state)) {
    discard();
    return Error{"cannot import the builder's output `" + std::string(store_path) +
                 "`: " + (state.problem.empty() ? ErrnoText(errno) : state.problem)};
  }
  ::fchmod(to.get(), 0555);
  auto hash = NarHash(staging);
  if (!hash) {
    discard();
    return hash.error();
  }
  if (!pinned.empty() && *hash != pinned) {
    discard();
    return Error{"refused: the builder's output `" + std::string(store_path) + "` has NAR hash " +
                 *hash + " (computed by this host over its copy), but the plan pins " +
                 std::string(pinned) +
                 "; the flake or its inputs changed, or the build is not reproducible. Rebuild "
                 "with `--repin` to record the new digest"};
  }
  std::set<std::string> found = ScanReferences(staging);
  found.erase(std::string(store_path));
  std::vector<std::string> references(found.begin(), found.end());
  const fs::path tree = trees / hash->substr(hash->find(':') + 1);
  if (fs::exists(tree, ec)) {
    auto existing = NarHash(tree);
    if (existing && *existing == *hash) {
      discard();
      return ImportedTree{tree, *hash, std::move(references)};
    }
    fs::remove_all(tree, ec);
  }
  if (::rename(staging.c_str(), tree.c_str()) != 0) {
    const int err = errno;
    discard();
    return Error{"cannot move the imported tree to `" + tree.string() + "`: " + ErrnoText(err)};
  }
  return ImportedTree{tree, *hash, std::move(references)};
}

ErrorOr<Ok> CopyOutOfBuilder(const fs::path& builder_nix_dir, std::string_view relative,
                             const fs::path& to) {
  auto source = OpenBeneath(builder_nix_dir, std::string(relative));
  if (!source) {
    return source.error();
  }
  if (::mkdir(to.c_str(), 0700) != 0) {
    return Error{"cannot create `" + to.string() + "`: " + ErrnoText(errno)};
  }
  UniqueFd out(::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  CopyState state;
  state.keep_symlinks = false;
  if (!out.valid() || !CopyDirectory(source->get(), out.get(), std::string(relative), 0, state)) {
    std::error_code ec;
    fs::remove_all(to, ec);
    return Error{"cannot copy `" + std::string(relative) + "` out of the builder's store: " +
                 (state.problem.empty() ? ErrnoText(errno) : state.problem)};
  }
  return Ok{};
}

ErrorOr<Ok> CopyRootfsOutOfBuilder(const fs::path& builder_nix_dir, std::string_view relative,
                                   const fs::path& to, std::string_view made_at, BuilderIds ids) {
  auto source = OpenBeneath(builder_nix_dir, std::string(relative));
  if (!source) {
    return source.error();
  }
  UniqueFd out(::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.valid()) {
    return Error{"cannot open `" + to.string() + "`: " + ErrnoText(errno)};
  }
  CopyState state;
  state.keep_modes = true;
  state.made_at = std::string(made_at);
  state.ids = ids;
  struct stat st {};
  if (!CopyDirectory(source->get(), out.get(), std::string(relative), 0, state) ||
      ::fstat(source->get(), &st) != 0 ||
      !CopyOwner(out.get(), "", st, std::string(relative), state) ||
      ::fchmod(out.get(), st.st_mode & 01777) != 0) {
    return Error{"cannot copy the tree `" + std::string(relative) +
                 "` out of the builder's store: " +
                 (state.problem.empty() ? ErrnoText(errno) : state.problem)};
  }
  return Ok{};
}

}  // namespace mvm::nix
