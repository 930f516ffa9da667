// mvm-agent: the guest agent, PID 1 of every sandbox. See agent.proto for the protocol and
// server.h for what it does.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/agent/init.h"
#include "runtime/agent/server.h"

namespace {

constexpr char kUsage[] =
    "usage: mvm-agent (--socket PATH | --listen-fd N) [--files-root DIR] [--log-bytes N]\n"
    "                 [--no-workload-capabilities] [--watch-volume PATH]...\n"
    "  --socket PATH     unix socket to serve the agent protocol on (a stale one is replaced)\n"
    "  --listen-fd N     serve on inherited listening unix socket N instead\n"
    "  --files-root DIR  directory that file requests are confined to (default /)\n"
    "  --log-bytes N     size of the log ring in bytes (default 1048576)\n"
    "  --no-workload-capabilities\n"
    "                    commands keep no capability (a container's agent holds CAP_SETUID and\n"
    "                    CAP_SETGID only to run commands as an image's User)\n"
    "  --watch-volume PATH\n"
    "                    count the operations on the volume at absolute PATH, for VolumeOps\n"
    "                    (repeatable)\n";

constexpr unsigned long long kMinLogBytes = 4096;
constexpr unsigned long long kMaxLogBytes = 256ull << 20;

int Usage(const std::string& message) {
  std::fprintf(stderr, "mvm-agent: %s\n%s", message.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // The kernel starts a microVM's init as /init from the initramfs, with no options of ours (they
  // come on the kernel command line instead); in a container the agent is /.mvm/init with options.
  if (getpid() == 1 && std::string_view(argv[0]) == "/init") {
    mvm::runtime::agent::RunAsVmInit();
  }
  mvm::runtime::agent::AgentOptions options;
  bool have_socket = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("mvm-agent %s\n", mvm::runtime::agent::AgentVersion());
      return 0;
    }
    if (arg == "--no-workload-capabilities") {
      options.workload_capabilities = false;
      continue;
    }
    // Both `--flag value` and `--flag=value`.
    std::string_view name = arg.substr(0, arg.find('='));
    std::string value;
    if (name.size() < arg.size()) {
      value = std::string(arg.substr(name.size() + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Usage("`" + std::string(arg) + "` needs a value");
    }
    if (name == "--socket") {
      options.socket_path = value;
      have_socket = true;
    } else if (name == "--listen-fd") {
      char* end = nullptr;
      errno = 0;
      const long fd = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || fd < 3 || fd > 1 << 20) {
        return Usage("--listen-fd `" + value + "`: give an inherited descriptor number, 3 or more");
      }
      options.listen_fd = static_cast<int>(fd);
      have_socket = true;
    } else if (name == "--watch-volume") {
      if (value.empty() || value.front() != '/') {
        return Usage("--watch-volume `" + value + "`: give the volume's absolute path");
      }
      options.watch_volumes.push_back(value);
    } else if (name == "--files-root") {
      options.files_root = value;
    } else if (name == "--log-bytes") {
      char* end = nullptr;
      errno = 0;
      const unsigned long long bytes = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || value.front() == '-' ||
          bytes < kMinLogBytes || bytes > kMaxLogBytes) {
        return Usage("--log-bytes `" + value + "`: give a number of bytes from " +
                     std::to_string(kMinLogBytes) + " to " + std::to_string(kMaxLogBytes));
      }
      options.log_bytes = static_cast<size_t>(bytes);
    } else {
      return Usage("unknown option `" + std::string(name) + "`");
    }
  }
  if (!have_socket) {
    return Usage("--socket or --listen-fd is required");
  }
  auto status = mvm::runtime::agent::RunAgent(options);
  if (!status) {
    std::fprintf(stderr, "mvm-agent: %s\n", status.error().message.c_str());
    return 1;
  }
  return *status;
}
