#include "runtime/rootfs/debian_image.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <tuple>

#include "ir/debian_packages.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/files.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/process.h"
#include "ir/support/os/unique_fd.h"
#include "runtime/rootfs/templates.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kDigestPrefix = "sha256:";

bool IsLowerHex(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return os::Hex(hash, sizeof hash);
}

// `1%3a2.38` -> `1:2.38`: apt's file names escape the epoch's colon.
std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && text.substr(i + 1, 2) == "3a") {
      out += ':';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool PackageLess(const DebianPackage& a, const DebianPackage& b) {
  return std::tie(a.name, a.arch, a.version) < std::tie(b.name, b.arch, b.version);
}

// Holds an flock on `path` until the descriptor closes.
ErrorOr<os::UniqueFd> LockFile(const fs::path& path) {
  os::UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return Error{"cannot open the lock file " + Quote(path) + ": " + ErrnoText(errno)};
  }
  while (flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return Error{"cannot lock " + Quote(path) + ": " + ErrnoText(errno)};
    }
  }
  return fd;
}

std::string Joined(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : std::string(separator)) + name;
  }
  return out;
}

// Runs apt-get with the private state of `apt_dir` and the host's configuration otherwise.
ErrorOr<os::ProcessResult> RunApt(const fs::path& apt_dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {
      "apt-get", "-o", "Dir::State::Lists=" + (apt_dir / "lists").string(), "-o",
      "Dir::State::status=" + (apt_dir / "status").string(), "-o",
      "Dir::Cache=" + (apt_dir / "cache").string(), "-o", "Dir::Cache::pkgcache=", "-o",
      "Dir::Cache::srcpkgcache=", "-o",
      "Dir::Etc::SourceList=" + (apt_dir / "sources.list").string(), "-o",
      "Dir::Etc::SourceParts=" + (apt_dir / "sources.list.d").string(),
      // The host's pins and preferences are about the host, not the image.
      "-o", "Dir::Etc::Preferences=" + (apt_dir / "preferences").string(), "-o",
      "Dir::Etc::PreferencesParts=" + (apt_dir / "preferences.d").string(), "-o",
      "APT::Architecture=amd64", "-o", "APT::Architectures=amd64", "-o",
      "APT::Install-Recommends=false",
      // As mmdebstrap does: apt must not treat itself as essential.
      "-o", "pkgCacheGen::ForceEssential=,", "-o", "Acquire::ForceHash=SHA256", "-o",
      "APT::Sandbox::User=root", "-o", "Debug::NoLocking=true", "-q"};
  argv.insert(argv.end(), args.begin(), args.end());
  os::RunOptions options;
  options.spawn.argv = std::move(argv);
  options.spawn.env = os::EnvironmentWith({"LC_ALL=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"});
  auto ran = os::RunProcess(options);
  if (!ran) {
    return Error{"cannot run apt-get: " + ran.error().message};
  }
  return ran;
}

ErrorOr<Ok> PrepareAptDir(const fs::path& apt_dir, std::string_view suite) {
  for (std::string_view dir :
       {"lists/partial", "cache/archives/partial", "sources.list.d", "preferences.d"}) {
    if (auto made = MakeDir(apt_dir / dir, 0755); !made) {
      return made;
    }
  }
  if (auto written = os::WriteFileAtomically(apt_dir / "status", ""); !written) {
    return written.error();
  }
  std::string sources = Joined(DebianSourceLines(suite), "\n") + "\n";
  if (auto written = os::WriteFileAtomically(apt_dir / "sources.list", sources); !written) {
    return written.error();
  }
  return Ok{};
}

// Has `debootstrap` make the tree of `pin` in `root`, then checks on this copy that it holds
// exactly `pin`.
ErrorOr<Ok> BuildDebianTree(const DebianImageSpec& spec, const DebianPin& pin, const fs::path& root,
                            const DebootstrapFn& debootstrap, const ProgressFn& progress) {
  if (!debootstrap) {
    return Error{
        "Debian image: images are made by mmdebstrap in the builder sandbox, and this caller has "
        "none; build it through the launcher (`mvmctl build` or `mvmctl run`)"};
  }
  if (progress) {
    progress(
        "building Debian " + spec.suite + " image with " +
        (spec.packages.empty() ? std::string("no extra packages") : Joined(spec.packages, ", ")) +
        " by mmdebstrap in the builder sandbox (" + std::to_string(pin.packages.size()) +
        " packages, " + pin.digest + ")");
  }
  if (auto made =
          debootstrap({spec.suite, spec.packages, DebianSourceLines(spec.suite)}, root, progress);
      !made) {
    return Error{"Debian image: " + made.error().message};
  }
  // The tree is the builder's: its package database is read here only if no link leads out of it.
  if (auto refused = RefuseSymlinkedPath(root, "var/lib/dpkg/status"); !refused) {
    return refused;
  }
  auto status = os::ReadFileBounded(root / "var/lib/dpkg/status", int64_t{64} << 20);
  if (!status) {
    return status.error();
  }
  auto installed = ParseDpkgStatus(*status);
  if (!installed) {
    return installed.error();
  }
  std::vector<DebianPackage> wanted = pin.packages;
  for (DebianPackage& p : wanted) {
    p.sha256.clear();
  }
  if (*installed != wanted) {
    std::set<std::string> have;
    std::set<std::string> want;
    for (const DebianPackage& p : *installed) {
      have.insert(p.name + " " + p.version + " " + p.arch);
    }
    for (const DebianPackage& p : wanted) {
      want.insert(p.name + " " + p.version + " " + p.arch);
    }
    std::string missing;
    std::string extra;
    for (const std::string& w : want) {
      missing += have.contains(w) ? "" : "\n  - " + w;
    }
    for (const std::string& h : have) {
      extra += want.contains(h) ? "" : "\n  + " + h;
    }
    return Error{"Debian image: mmdebstrap installed another package set than the pinned " +
                 pin.digest + ":" + missing + extra +
                 "\nhint: the archive changed between resolving and building; run the command "
                 "again"};
  }
  if (auto stripped = StripDebianTree(root); !stripped) {
    return stripped;
  }
  return AddSandboxSkeleton(root);
}

}  // namespace

std::vector<std::string> DebianSourceLines(std::string_view suite) {
  std::string s(suite);
  return {"deb http://deb.debian.org/debian " + s + " main",
          "deb http://deb.debian.org/debian " + s + "-updates main",
          "deb http://deb.debian.org/debian-security " + s + "-security main"};
}

ErrorOr<Ok> CheckDebianImageSpec(const DebianImageSpec& spec) {
  std::span<const std::string_view> suites = ir::DebianSuites();
  if (std::find(suites.begin(), suites.end(), spec.suite) == suites.end()) {
    return Error{"Debian image: suite `" + spec.suite + "` is not supported; use `bookworm`"};
  }
  if (spec.packages.size() > static_cast<size_t>(ir::kMaxDebianPackages)) {
    return Error{"Debian image: " + std::to_string(spec.packages.size()) + " packages, more than " +
                 std::to_string(ir::kMaxDebianPackages)};
  }
  std::set<std::string> seen;
  for (const std::string& name : spec.packages) {
    if (std::string why = ir::DebianPackageNameError(name); !why.empty()) {
      return Error{"Debian image: invalid package name `" + name + "`: " + why};
    }
    if (!seen.insert(name).second) {
      return Error{"Debian image: package `" + name + "` is listed more than once"};
    }
  }
  return Ok{};
}

std::string PinText(const std::vector<DebianPackage>& packages) {
  std::vector<DebianPackage> sorted = packages;
  std::sort(sorted.begin(), sorted.end(), PackageLess);
  std::string out;
  for (const DebianPackage& p : sorted) {
    out += p.name + " " + p.version + " " + p.arch + " " + p.sha256 + "\n";
  }
  return out;
}

DebianPin MakePin(std::vector<DebianPackage> packages) {
  std::sort(packages.begin(), packages.end(), PackageLess);
  DebianPin pin;
  pin.digest = std::string(kDigestPrefix) + Sha256Hex(PinText(packages));
  pin.packages = std::move(packages);
  return pin;
}

ErrorOr<std::vector<DebianPackage>> ParsePrintUris(std::string_view output) {
  std::vector<DebianPackage> out;
  size_t line_no = 0;
  while (!output.empty()) {
    size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    ++line_no;
    if (line.empty()) {
      continue;
    }
    auto bad = [&](std::string_view why) {
      return Error{"cannot read line " + std::to_string(line_no) + " of apt's package list (" +
                   std::string(why) + "): " + std::string(line)};
    };
    if (!line.starts_with('\'')) {
      return bad("expected `'URL' FILE SIZE SHA256:HEX`");
    }
    size_t quote = line.find('\'', 1);
    if (quote == std::string_view::npos) {
      return bad("unterminated URL");
    }
    std::vector<std::string_view> fields;
    for (std::string_view rest = line.substr(quote + 1); !rest.empty();) {
      size_t start = rest.find_first_not_of(' ');
      if (start == std::string_view::npos) {
        break;
      }
      rest = rest.substr(start);
      size_t stop = rest.find(' ');
      fields.push_back(rest.substr(0, stop));
      rest = stop == std::string_view::npos ? std::string_view() : rest.substr(stop);
    }
    if (fields.size() == 2 || (fields.size() == 3 && (!fields[2].starts_with("SHA256:") ||
                                                      !IsLowerHex(fields[2].substr(7))))) {
      return bad("no SHA256 hash");
    }
    if (fields.size() != 3) {
      return bad("expected a file name, a size and a hash after the URL");
    }
    std::string_view file = fields[0];
    if (!file.ends_with(".deb")) {
      return bad("not a .deb");
    }
    file.remove_suffix(4);
    size_t first = file.find('_');
    size_t last = file.rfind('_');
    if (first == std::string_view::npos || first == last) {
      return bad("the file name is not NAME_VERSION_ARCH.deb");
    }
    DebianPackage p;
    p.name = std::string(file.substr(0, first));
    p.version = Unescape(file.substr(first + 1, last - first - 1));
    p.arch = std::string(file.substr(last + 1));
    p.sha256 = std::string(fields[2].substr(7));
    out.push_back(std::move(p));
  }
  return out;
}

ErrorOr<std::vector<DebianPackage>> ParseDpkgStatus(std::string_view status) {
  std::vector<DebianPackage> out;
  DebianPackage current;
  bool installed = false;
  auto flush = [&] {
    if (installed && !current.name.empty()) {
      out.push_back(current);
    }
    current = DebianPackage{};
    installed = false;
  };
  while (true) {
    size_t end = status.find('\n');
    std::string_view line = status.substr(0, end);
    if (line.empty()) {
      flush();
    } else if (line.starts_with("Package: ")) {
      current.name = std::string(line.substr(9));
    } else if (line.starts_with("Version: ")) {
      current.version = std::string(line.substr(9));
    } else if (line.starts_with("Architecture: ")) {
      current.arch = std::string(line.substr(14));
    } else if (line.starts_with("Status: ")) {
      installed = line.ends_with(" installed");
    }
    if (end == std::string_view::npos) {
      break;
    }
    status = status.substr(end + 1);
  }
  flush();
  std::sort(out.begin(), out.end(), PackageLess);
  return out;
}

ErrorOr<DebianPin> ResolveDebianImage(const DebianImageSpec& spec, const fs::path& cache_dir,
                                      const ProgressFn& progress) {
  if (auto checked = CheckDebianImageSpec(spec); !checked) {
    return checked.error();
  }
  const fs::path apt_dir = cache_dir / "debian" / ("apt-" + spec.suite);
  if (auto made = MakeDir(apt_dir, 0755); !made) {
    return made.error();
  }
  auto lock = LockFile(apt_dir / "lock");
  if (!lock) {
    return lock.error();
  }
  if (auto prepared = PrepareAptDir(apt_dir, spec.suite); !prepared) {
    return prepared.error();
  }
  if (progress) {
    progress("resolving Debian " + spec.suite + " packages (apt-get update against " +
             "deb.debian.org)");
  }
  auto updated = RunApt(apt_dir, {"update"});
  if (!updated) {
    return updated.error();
  }
  if (!updated->success() || updated->err.find("\nW: ") != std::string::npos ||
      updated->err.starts_with("W: ")) {
    return Error{"Debian image: `apt-get update` for " + spec.suite + " failed (" +
                 updated->Describe() + "):\n" + updated->Tail(10) +
                 "\nhint: resolving needs the Debian mirror deb.debian.org (or the host's apt "
                 "proxy); check network access and retry"};
  }
  // The same selection `mmdebstrap --variant=minbase` makes, in one apt run: the suite's
  // Essential:yes packages, its other Priority:required ones, the declared packages, and their
  // dependencies, without Recommends.
  const std::string narrow =
      "?or(?archive(^" + spec.suite + "$),?codename(^" + spec.suite + "$)),?architecture(amd64)";
  std::vector<std::string> args = {
      "install", "--print-uris", "-y", "-qq", "?narrow(" + narrow + ",?essential)",
      "?narrow(" + narrow + ",?and(?priority(required),?not(?essential)))",
      // What the builder's mmdebstrap installs in place of usrmerge (its merged-usr hook), so that
      // minbase's `usrmerge | usr-is-merged` resolves here as it is installed there.
      "usr-is-merged"};
  args.insert(args.end(), spec.packages.begin(), spec.packages.end());
  auto resolved = RunApt(apt_dir, args);
  if (!resolved) {
    return resolved.error();
  }
  if (!resolved->success()) {
    return Error{"Debian image: apt cannot resolve " + Joined(spec.packages, ", ") + " in " +
                 spec.suite + " (" + resolved->Describe() + "):\n" + resolved->Tail(10) +
                 "\nhint: check the package names with `apt-cache policy NAME` on a " + spec.suite +
                 " machine or at https://packages.debian.org/" + spec.suite};
  }
  auto packages = ParsePrintUris(resolved->out);
  if (!packages) {
    return packages.error();
  }
  if (packages->empty()) {
    return Error{"Debian image: apt resolved no packages for " + spec.suite +
                 "; its package lists may be empty"};
  }
  return MakePin(std::move(*packages));
}

ErrorOr<DebianImage> MaterializeDebianImage(const DebianImageSpec& spec, std::string_view pinned,
                                            const fs::path& cache_dir, const ProgressFn& progress,
                                            const DebootstrapFn& debootstrap) {
  if (auto checked = CheckDebianImageSpec(spec); !checked) {
    return checked.error();
  }
  if (!pinned.empty() &&
      (!pinned.starts_with(kDigestPrefix) || !IsLowerHex(pinned.substr(kDigestPrefix.size())))) {
    return Error{"Debian image: the pinned package-set digest `" + std::string(pinned) +
                 "` is not `sha256:<64 lowercase hex>`"};
  }
  auto image_dir = [&](std::string_view digest) {
    return cache_dir / "debian" / ("sha256-" + std::string(digest.substr(kDigestPrefix.size())));
  };
  const std::string label = "Debian image " + spec.suite + " [" + Joined(spec.packages, " ") + "]";
  DebianImage out;
  std::string key(pinned);
  if (key.empty()) {
    auto pin = ResolveDebianImage(spec, cache_dir, progress);
    if (!pin) {
      return pin.error();
    }
    out.pin = std::move(*pin);
    key = out.pin.digest;
  }
  const fs::path dir = image_dir(key);
  auto build = [&](const fs::path& root, const ProgressFn& step) -> ErrorOr<Ok> {
    if (out.pin.packages.empty()) {
      auto pin = ResolveDebianImage(spec, cache_dir, step);
      if (!pin) {
        return pin.error();
      }
      if (pin->digest != key) {
        return Error{"Debian image: the plan pins the package set " + key +
                     ", but the archive now resolves " + Joined(spec.packages, ", ") + " to " +
                     pin->digest +
                     " (a package was updated) and the pinned set is not in this machine's "
                     "cache; make the plan again with `mvmctl build` (or run the source file)"};
      }
      out.pin = std::move(*pin);
    }
    if (auto built = BuildDebianTree(spec, out.pin, root, debootstrap, step); !built) {
      return built;
    }
    // Beside the tree, not in it (the tree is sealed and hashed): the list the pin digest is over.
    return os::WriteFileAtomically(dir / "packages.lock", PinText(out.pin.packages));
  };
  auto tree = MaterializeInto(label, dir, kDebianImageRevision, build, progress);
  if (!tree) {
    return tree.error();
  }
  out.tree = std::move(*tree);
  return out;
}

uint64_t TreeBytes(const fs::path& root) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  return bytes;
}

std::vector<CachedDebianImage> ListDebianImages(const fs::path& cache_dir) {
  std::vector<CachedDebianImage> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(cache_dir / "debian", ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (!name.starts_with("sha256-") || !IsLowerHex(name.substr(7)) || name.size() != 7 + 64 ||
        !entry.is_directory(type_ec) || entry.is_symlink(type_ec)) {
      continue;
    }
    CachedDebianImage image;
    image.pin = std::string(kDigestPrefix) + name.substr(7);
    image.dir = entry.path();
    std::error_code link_ec;
    const fs::path current = fs::read_symlink(image.dir / "current", link_ec);
    if (!link_ec && current.string().starts_with("sha256-")) {
      image.current = std::string(kDigestPrefix) + current.string().substr(7);
    }
    std::error_code tree_ec;
    for (const fs::directory_entry& tree : fs::directory_iterator(image.dir, tree_ec)) {
      const std::string tree_name = tree.path().filename().string();
      std::error_code is_ec;
      if (tree_name.starts_with("sha256-") && tree.is_directory(is_ec) && !tree.is_symlink(is_ec)) {
        image.trees.push_back(std::string(kDigestPrefix) + tree_name.substr(7));
        image.bytes += TreeBytes(tree.path());
      }
    }
    std::sort(image.trees.begin(), image.trees.end());
    if (!image.current.empty()) {
      image.revision = RevisionOf(image.dir / ("sha256-" + image.current.substr(7)));
    }
    if (auto lock = os::ReadFileBounded(image.dir / "packages.lock", 1 << 20)) {
      image.packages = static_cast<size_t>(std::count(lock->begin(), lock->end(), '\n'));
    }
    out.push_back(std::move(image));
  }
  std::sort(out.begin(), out.end(),
            [](const CachedDebianImage& a, const CachedDebianImage& b) { return a.pin < b.pin; });
  return out;
}

ErrorOr<Ok> RemoveDebianImage(const CachedDebianImage& image) {
  os::UniqueFd fd(open((image.dir / "lock").c_str(), O_RDWR | O_CLOEXEC));
  if (fd.valid() && flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error{"the Debian image " + image.pin + " is being built (" + Quote(image.dir / "lock") +
                 " is held); try again once the build has finished"};
  }
  return RemoveTree(image.dir);
}

}  // namespace mvm::runtime::rootfs
