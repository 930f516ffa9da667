#include "runtime/agent/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace mvm::runtime::agent {
namespace {

constexpr int kMaxPasses = 32;

// The parent pid from /proc/<pid>/stat ("pid (comm) state ppid ..."); comm may hold spaces and
// parentheses, so the fields are counted from its last ')'. -1 when the process is gone.
pid_t ParentOf(const char* pid) {
  const std::string path = std::string("/proc/") + pid + "/stat";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  char buffer[1024];
  ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) {
    return -1;
  }
  buffer[n] = '\0';
  const char* close_paren = std::strrchr(buffer, ')');
  if (close_paren == nullptr || close_paren[1] != ' ' || close_paren[2] == '\0' ||
      close_paren[3] != ' ') {
    return -1;
  }
  return static_cast<pid_t>(std::strtol(close_paren + 4, nullptr, 10));
}

// Every process's children, from one scan of /proc.
std::multimap<pid_t, pid_t> ChildrenByParent() {
  std::multimap<pid_t, pid_t> children;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return children;
  }
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') {
      continue;
    }
    const pid_t parent = ParentOf(entry->d_name);
    if (parent >= 0) {
      children.emplace(parent, static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  return children;
}

}  // namespace

std::vector<pid_t> ListTree(const TreeScope& scope) {
  const std::multimap<pid_t, pid_t> children = ChildrenByParent();
  std::vector<pid_t> found;
  std::vector<pid_t> pending{scope.root};
  // A pid appears under one parent only, so the walk visits each once; the bound guards against a
  // /proc read torn by pid reuse making a cycle.
  std::set<pid_t> seen{scope.root};
  while (!pending.empty()) {
    const pid_t parent = pending.back();
    pending.pop_back();
    auto [first, last] = children.equal_range(parent);
    for (auto it = first; it != last; ++it) {
      const pid_t child = it->second;
      if (scope.exclude.count(child) != 0 || !seen.insert(child).second) {
        continue;
      }
      if (scope.pass.count(child) == 0) {
        found.push_back(child);
      }
      pending.push_back(child);
    }
  }
  return found;
}

size_t SignalTree(const TreeScope& scope, int signal) {
  std::set<pid_t> signalled;
  size_t reached = 0;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    bool added = false;
    for (pid_t pid : ListTree(scope)) {
      if (signalled.insert(pid).second) {
        added = true;
        if (kill(pid, signal) == 0) {  // else ESRCH: it exited since the scan
          ++reached;
        }
      }
    }
    if (!added) {
      break;
    }
  }
  return reached;
}

}  // namespace mvm::runtime::agent
