#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "ir/support/os/process.h"
#include "runtime/rootfs/elf.h"
#include "runtime/rootfs/templates.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

namespace {

// Debian's busybox-static installs here (/bin is /usr/bin on merged-/usr hosts; either works).
constexpr std::string_view kHostBusybox = "/bin/busybox";
constexpr std::string_view kInstallHint = "install it with `apt-get install busybox-static`";

// One line of `busybox --list-full` ("usr/bin/env") as a path inside the tree, or empty when the
// line is not a plain relative path (a busybox that prints one is not one we should trust).
fs::path AppletPath(std::string_view line) {
  fs::path path(line);
  if (line.empty() || path.is_absolute()) {
    return {};
  }
  for (const fs::path& part : path) {
    if (part == ".." || part == "." || part.empty()) {
      return {};
    }
  }
  return path;
}

}  // namespace

ErrorOr<Ok> BuildBusybox(const fs::path& root, const ProgressFn& progress,
                         const DebootstrapFn& /*debootstrap: busybox is the host's own binary*/) {
  const fs::path host(kHostBusybox);
  std::error_code ec;
  if (!fs::exists(host, ec)) {
    return Error{"template `busybox` needs " + Quote(host) +
                 " (Debian's busybox-static), which is missing; " + std::string(kInstallHint)};
  }
  auto is_static = IsStaticElf(host);
  if (!is_static) {
    return Error{"template `busybox`: " + is_static.error().message};
  }
  if (!*is_static) {
    // A dynamically linked busybox would need the host's libc inside the sandbox.
    return Error{"template `busybox` needs a statically linked busybox, but " + Quote(host) +
                 " is dynamically linked (Debian's `busybox` package); " +
                 std::string(kInstallHint)};
  }
  if (progress) {
    progress("building template busybox from " + host.string());
  }

  if (auto made = MakeDir(root / "bin", 0755); !made) {
    return made;
  }
  const fs::path binary = root / "bin" / "busybox";
  if (!fs::copy_file(host, binary, ec)) {
    return Error{"cannot copy " + Quote(host) + " to " + Quote(binary) + ": " + ec.message()};
  }
  if (chmod(binary.c_str(), 0755) != 0) {
    return Error{"cannot set the mode of " + Quote(binary) + ": " + ErrnoText(errno)};
  }

  // The copy, not the host binary, says which applets exist: that is the binary the tree runs.
  os::RunOptions options;
  options.spawn.argv = {binary.string(), "--list-full"};
  options.merge_stderr = true;
  auto listed = os::RunProcess(options);
  if (!listed) {
    return Error{"template `busybox`: " + listed.error().message};
  }
  if (!listed->success()) {
    return Error{"template `busybox`: `busybox --list-full` failed (" + listed->Describe() +
                 "):\n" + listed->Tail(10)};
  }
  const fs::path self("bin/busybox");
  std::string_view rest = listed->out;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if (line.empty()) {
      continue;
    }
    fs::path applet = AppletPath(line);
    if (applet.empty()) {
      return Error{"template `busybox`: `busybox --list-full` printed `" + std::string(line) +
                   "`, which is not a relative path"};
    }
    if (applet == self) {
      continue;
    }
    // Mode by mode, so the tree (and its digest) does not depend on the umask.
    fs::path dir = root;
    for (const fs::path& part : applet.parent_path()) {
      dir /= part;
      if (auto made = MakeDir(dir, 0755); !made) {
        return made;
      }
    }
    // Relative targets resolve inside the tree wherever it is mounted, and also when the tree is
    // inspected from the host.
    fs::path target = self.lexically_relative(applet.parent_path());
    fs::create_symlink(target, root / applet, ec);
    if (ec) {
      return Error{"cannot create the applet link " + Quote(root / applet) + ": " + ec.message()};
    }
  }
  for (std::string_view needed : {"bin/sh", "usr/bin/env"}) {
    if (!fs::is_symlink(root / needed, ec)) {
      return Error{"template `busybox`: " + Quote(host) + " has no `" +
                   fs::path(needed).filename().string() + "` applet; " + std::string(kInstallHint)};
    }
  }

  if (auto made = MakeDir(root / "etc", 0755); !made) {
    return made;
  }
  for (auto [name, content] : {
           std::pair{"passwd",
                     "root:x:0:0:root:/root:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
           std::pair{"group", "root:x:0:\nnogroup:x:65534:\n"},
       }) {
    if (auto written = WriteTextFile(root / "etc" / name, content, 0644); !written) {
      return written;
    }
  }
  return AddSandboxSkeleton(root);
}

}  // namespace mvm::runtime::rootfs
