#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "runtime/rootfs/debian_image.h"
#include "runtime/rootfs/templates.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

// Removes everything inside `dir` but `dir` itself (a missing `dir` is fine). `keep` names
// entries to spare.
ErrorOr<Ok> EmptyDir(const fs::path& dir, const std::vector<std::string>& keep = {}) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (std::find(keep.begin(), keep.end(), it->path().filename().string()) == keep.end()) {
      doomed.push_back(it->path());
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Error{"cannot list " + Quote(dir) + ": " + ec.message()};
  }
  for (const fs::path& path : doomed) {
    if (auto removed = RemoveTree(path); !removed) {
      return removed;
    }
  }
  return Ok{};
}

}  // namespace

// What a sandbox never needs, and what only makes the tree big or differ between two builds of
// the same packages. Everything else mmdebstrap installed stays, dpkg's database included, so the
// tree still says truthfully which packages (and versions) it holds.
ErrorOr<Ok> StripDebianTree(const fs::path& root) {
  for (std::string_view path :
       {"dev", "var/lib/apt/lists", "var/cache/apt", "var/log", "var/cache/debconf",
        "var/cache/ldconfig", "var/lib/dpkg", "usr/share/man", "usr/share/info", "usr/share/locale",
        "usr/share/doc", "etc/resolv.conf"}) {
    if (auto refused = RefuseSymlinkedPath(root, path); !refused) {
      return refused;
    }
  }
  // Device nodes (console, null, tty, ...) and the /proc symlinks: the backend mounts its own /dev.
  // Device nodes in an image are also a way out of a sandbox that forgets `nodev`.
  if (auto emptied = EmptyDir(root / "dev"); !emptied) {
    return emptied;
  }
  // apt's package lists and downloaded archives: only useful to install more packages, which a
  // read-only tree cannot do; they date the build.
  for (std::string_view dir : {"var/lib/apt/lists", "var/cache/apt"}) {
    if (auto emptied = EmptyDir(root / dir); !emptied) {
      return emptied;
    }
  }
  // Install-time logs and debconf's backups of its own database: timestamps and build noise.
  if (auto emptied = EmptyDir(root / "var/log"); !emptied) {
    return emptied;
  }
  for (std::string_view file :
       {"var/cache/debconf/config.dat-old", "var/cache/debconf/templates.dat-old",
        "var/cache/ldconfig/aux-cache", "var/lib/dpkg/status-old", "var/lib/dpkg/diversions-old"}) {
    if (auto removed = RemoveTree(root / file); !removed) {
      return removed;
    }
  }
  // Manuals, info pages and translations of messages (the locale directory is about a third of
  // the packages' size): nobody reads them inside a sandbox, which runs in the C.UTF-8 locale.
  for (std::string_view dir : {"usr/share/man", "usr/share/info", "usr/share/locale"}) {
    if (auto emptied = EmptyDir(root / dir); !emptied) {
      return emptied;
    }
  }
  // Package documentation, except each package's copyright file: that is its licence notice.
  std::error_code ec;
  std::vector<fs::path> packages;
  for (fs::directory_iterator it(root / "usr/share/doc", ec), end; !ec && it != end;
       it.increment(ec)) {
    packages.push_back(it->path());
  }
  for (const fs::path& package : packages) {
    if (fs::is_symlink(package, ec) || !fs::is_directory(package, ec)) {
      continue;
    }
    if (auto emptied = EmptyDir(package, {"copyright"}); !emptied) {
      return emptied;
    }
  }
  // mmdebstrap copies these from the host to resolve names while it installs; they describe the
  // build host, not the sandbox (AddSandboxSkeleton writes the sandbox's own hostname and hosts).
  return RemoveTree(root / "etc/resolv.conf");
}

ErrorOr<Ok> BuildPython311(const fs::path& root, const ProgressFn& progress,
                           const DebootstrapFn& debootstrap) {
  if (!debootstrap) {
    return Error{
        "template `python-3.11` is made by mmdebstrap in the builder sandbox, and this caller has "
        "none; build it through the launcher (`mvmctl run` or `mvmctl build` of a workload that "
        "uses it)"};
  }
  if (progress) {
    progress(
        "building template python-3.11 with mmdebstrap in the builder sandbox (a minute or "
        "more, once)");
  }
  // `python3` rather than `python3-minimal`: the minimal interpreter lacks most of the standard
  // library (json, dataclasses, asyncio, ... are in libpython3.11-stdlib), which workloads and the
  // SDK's run shim import. `python3.11` pins the version the template's name promises.
  if (auto made = debootstrap(
          {"bookworm", {"python3", "python3.11"}, DebianSourceLines("bookworm")}, root, progress);
      !made) {
    return Error{"template `python-3.11`: " + made.error().message};
  }
  if (progress) {
    progress("stripping template python-3.11 (apt lists, logs, manuals, device nodes)");
  }
  if (auto stripped = StripDebianTree(root); !stripped) {
    return stripped;
  }
  if (auto refused = RefuseSymlinkedPath(root, "usr/bin"); !refused) {
    return refused;
  }
  std::error_code ec;
  fs::path python = root / "usr/bin/python";
  if (!fs::exists(fs::symlink_status(python, ec))) {
    fs::create_symlink("python3", python, ec);
    if (ec) {
      return Error{"cannot create " + Quote(python) + ": " + ec.message()};
    }
  }
  if (!fs::is_regular_file(fs::symlink_status(root / "usr/bin/python3.11", ec))) {
    return Error{"template `python-3.11`: mmdebstrap finished but " +
                 Quote(root / "usr/bin/python3.11") +
                 " is missing (or not a file); the mirror's bookworm may no longer ship "
                 "python3.11"};
  }
  return AddSandboxSkeleton(root);
}

}  // namespace mvm::runtime::rootfs
