#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "ir/support/os/process.h"
#include "xtask/tasks.h"

namespace mvm::xtask {
namespace fs = std::filesystem;

namespace {

/// Directories holding mvm's own C++; third_party and build trees are not ours to format.
constexpr const char* kSourceDirs[] = {"frontend", "ir",  "passes", "backend-emit", "runtime",
                                       "cli",      "lsp", "xtask",  "tests",        "bench"};

/// Runs `argv` with this process's stdout and stderr (/dev/null when `quiet`) and returns its exit
/// status (127 when it could not be started).
int Run(const std::vector<std::string>& argv, bool quiet = false) {
  os::SpawnOptions options;
  options.argv = argv;
  if (!quiet) {
    options.fds = {{1, 1}, {2, 2}};
  }
  auto pid = os::Spawn(options);
  if (!pid) {
    return 127;
  }
  auto status = os::WaitForExit(*pid);
  if (!status) {
    return 127;
  }
  return status->signal != 0 ? 128 + status->signal : status->exit_code;
}

}  // namespace

int RunFmt(const std::vector<std::string>& args) {
  std::optional<TaskArgs> parsed = ParseTaskArgs("fmt", args, /*takes_check=*/true);
  if (!parsed) {
    return 2;
  }
  const bool check = parsed->check;
  const fs::path root = parsed->root;
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
  // One clang-format per batch of files rather than per file: starting it is most of its cost
  // (`.ci/run` spent a minute here). A batch that fails is run again file by file, to count and
  // report the files.
  constexpr size_t kBatch = 64;
  auto format = [&](std::vector<std::string>::const_iterator first,
                    std::vector<std::string>::const_iterator last, bool quiet) {
    std::vector<std::string> argv = {"clang-format-16", "-style=file"};
    if (check) {
      argv.insert(argv.end(), {"--dry-run", "--Werror"});
    } else {
      argv.push_back("-i");
    }
    argv.insert(argv.end(), first, last);
    return Run(argv, quiet) == 0;
  };
  int bad = 0;
  for (size_t at = 0; at < files.size(); at += kBatch) {
    const auto first = files.begin() + static_cast<long>(at);
    const auto last = files.begin() + static_cast<long>(std::min(files.size(), at + kBatch));
    if (format(first, last, /*quiet=*/true)) {
      continue;
    }
    for (auto file = first; file != last; ++file) {
      bad += format(file, file + 1, /*quiet=*/false) ? 0 : 1;
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
