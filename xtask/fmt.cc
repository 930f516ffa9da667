#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "xtask/tasks.h"

namespace mvm::xtask {
namespace fs = std::filesystem;

namespace {

/// Directories holding mvm's own C++; third_party and build trees are not ours to format.
constexpr const char* kSourceDirs[] = {"frontend", "ir",  "passes", "backend-emit", "runtime",
                                       "cli",      "lsp", "xtask",  "tests",        "bench"};

/// Runs `argv` and returns its exit status (127 when it could not be started).
int Run(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const std::string& a : argv) {
    raw.push_back(const_cast<char*>(a.c_str()));
  }
  raw.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execvp(raw[0], raw.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) {
    return 127;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int RunFmt(const std::vector<std::string>& args) {
  bool check = false;
  fs::path root = ".";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--check") {
      check = true;
    } else if (args[i] == "--root" && i + 1 < args.size()) {
      root = args[++i];
    } else {
      std::fprintf(stderr, "xtask fmt: error: unexpected argument `%s`\n", args[i].c_str());
      return 2;
    }
  }
  std::vector<std::string> files;
  for (const char* dir : kSourceDirs) {
    std::error_code ec;
    if (!fs::is_directory(root / dir, ec)) {
      continue;
    }
    for (const auto& entry : fs::recursive_directory_iterator(root / dir, ec)) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".cc" || ext == ".h")) {
        files.push_back(entry.path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  if (Run({"clang-format-16", "--version"}) == 127) {
    std::fprintf(stderr,
                 "xtask fmt: error: clang-format-16 not found; run scripts/bootstrap.sh (Debian "
                 "package clang-format-16)\n");
    return 3;
  }
  int bad = 0;
  for (const std::string& file : files) {
    if (check) {
      if (Run({"clang-format-16", "--dry-run", "--Werror", "-style=file", file}) != 0) {
        ++bad;
      }
    } else if (Run({"clang-format-16", "-i", "-style=file", file}) != 0) {
      ++bad;
    }
  }
  if (bad != 0) {
    std::fprintf(stderr, "xtask fmt: %d of %zu files %s\n", bad, files.size(),
                 check ? "are not formatted; run `build/bin/xtask fmt`" : "could not be formatted");
    return 1;
  }
  std::printf("xtask fmt: %zu files %s\n", files.size(), check ? "are formatted" : "formatted");
  return 0;
}

}  // namespace mvm::xtask
