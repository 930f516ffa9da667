// The guest's serial console and qemu's output, kept within a fixed size on the host.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ir/support/os/write_all.h"
#include "runtime/backends/qemu_microvm/qemu_microvm.h"

namespace mvm::runtime::qemu_microvm {

namespace fs = std::filesystem;

namespace {}  // namespace

void KeepBoundedLog(int fd, const fs::path& log, std::string_view what) {
  int out = ::open(log.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  // The head stays as written: the boot (and init's "agent listening" line that GuestReadyBootMs
  // reads) is there. After it the file holds what arrived since the last compaction, which keeps
  // the last kConsoleTailBytes of that and drops the rest.
  size_t head = 0;
  std::string tail;  // the bytes after the head (and marker) in the file, in order
  uint64_t dropped = 0;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    std::string_view chunk(buf, static_cast<size_t>(n));
    if (head < kConsoleHeadBytes) {
      std::string_view part = chunk.substr(0, kConsoleHeadBytes - head);
      if (out >= 0) {
        (void)os::WriteAll(out, part);
      }
      head += part.size();
      chunk.remove_prefix(part.size());
    }
    if (chunk.empty()) {
      continue;
    }
    tail.append(chunk);
    if (tail.size() <= 2 * kConsoleTailBytes) {
      if (out >= 0) {
        (void)os::WriteAll(out, chunk);
      }
      continue;
    }
    dropped += tail.size() - kConsoleTailBytes;
    tail.erase(0, tail.size() - kConsoleTailBytes);
    if (out < 0) {
      continue;
    }
    // The head is read back from the file rather than kept twice in memory.
    std::string first(head, '\0');
    fs::path next = log;
    next += ".new";
    int fresh = -1;
    const std::string marker = "\n[mvm: " + std::to_string(dropped) + " bytes of " +
                               std::string(what) + " dropped here]\n";
    if (::pread(out, first.data(), head, 0) == static_cast<ssize_t>(head) &&
        (fresh = ::open(next.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 &&
        os::WriteAll(fresh, first) == 0 && os::WriteAll(fresh, marker) == 0 &&
        os::WriteAll(fresh, tail) == 0 && ::rename(next.c_str(), log.c_str()) == 0) {
      ::close(out);
      out = fresh;
      continue;
    }
    // The bound holds even when the rewrite fails (a full disk): nothing more is written.
    if (fresh >= 0) {
      ::close(fresh);
      ::unlink(next.c_str());
    }
    ::close(out);
    out = -1;
  }
  if (out >= 0) {
    ::close(out);
  }
}

}  // namespace mvm::runtime::qemu_microvm
