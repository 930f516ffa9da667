#ifndef MVM_TESTS_SUPPORT_PROCESSES_H_
#define MVM_TESTS_SUPPORT_PROCESSES_H_

// Looking for host processes by their command line, as tests that must see a VM or a helper gone
// do. A process may end while its /proc entry is read, so nothing here throws: such a process is
// simply not there.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mvm::testing {

/// The live processes whose command line (arguments separated by NUL bytes, as
/// /proc/PID/cmdline holds them) satisfies `matches`.
inline std::vector<pid_t> ProcessesWhose(const std::function<bool(const std::string&)>& matches) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const int fd = ::open((e.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::string cmdline;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
      cmdline.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    if (matches(cmdline)) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

/// Whether a live process's command line starts with `program` and contains `needle`.
inline bool ProcessRuns(const std::string& program, const std::string& needle) {
  return !ProcessesWhose([&](const std::string& cmdline) {
            return cmdline.rfind(program, 0) == 0 && cmdline.find(needle) != std::string::npos;
          }).empty();
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_PROCESSES_H_
