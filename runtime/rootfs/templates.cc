#include "runtime/rootfs/templates.h"

#include <string>

#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace fs = std::filesystem;

BuildFn FindBuilder(std::string_view name) {
  if (name == "busybox") {
    return &BuildBusybox;
  }
  if (name == "python-3.11") {
    return &BuildPython311;
  }
  return nullptr;
}

std::string_view TemplateRevision(std::string_view name) {
  // busybox 1: the first recorded revision. python-3.11 2: made by mmdebstrap in the builder
  // and owned by the builder's own ids (a tree of revision 1, made on the host or owned by uid
  // 100000, cannot take the sandbox's mount points).
  if (name == "busybox") {
    return "1";
  }
  if (name == "python-3.11") {
    return "2";
  }
  return "";
}

ErrorOr<Ok> AddSandboxSkeleton(const fs::path& root) {
  for (std::string_view path : {"proc", "dev", "sys", "tmp", "run/mvm", ".mvm/sdk/python", "app",
                                "root", "home", "etc/hostname", "etc/hosts"}) {
    if (auto refused = RefuseSymlinkedPath(root, path); !refused) {
      return refused;
    }
  }
  // The backend mounts proc, sysfs, a /dev, tmpfs on /tmp and /run, the agent's socket directory
  // /run/mvm and the Python SDK on /.mvm/sdk/python, and copies the workload's file to /app; mount
  // points must exist in a read-only tree. (Sealing makes /tmp 1555 like everything else read-only:
  // a writable /tmp is always a tmpfs the backend mounts.)
  struct Dir {
    std::string_view path;
    mode_t mode;
  };
  for (const Dir& dir :
       {Dir{"proc", 0555}, Dir{"dev", 0755}, Dir{"sys", 0555}, Dir{"tmp", 01777}, Dir{"run", 0755},
        Dir{"run/mvm", 0755}, Dir{".mvm", 0755}, Dir{".mvm/sdk", 0755},
        Dir{".mvm/sdk/python", 0755}, Dir{"app", 0755}, Dir{"root", 0700}, Dir{"home", 0755}}) {
    if (auto made = MakeDir(root / dir.path, dir.mode); !made) {
      return made;
    }
  }
  if (auto made = MakeDir(root / "etc", 0755); !made) {
    return made;
  }
  if (auto written = WriteTextFile(root / "etc/hostname", "mvm\n", 0644); !written) {
    return written;
  }
  return WriteTextFile(root / "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0644);
}

}  // namespace mvm::runtime::rootfs
