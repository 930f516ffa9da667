#include "runtime/rootfs/elf.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "ir/support/os/unique_fd.h"
#include "runtime/rootfs/tree_util.h"

namespace mvm::runtime::rootfs {
namespace {

// Reads exactly `size` bytes at `offset`; false on a short file or an error.
bool ReadAt(int fd, void* out, size_t size, off_t offset) {
  auto* p = static_cast<char*>(out);
  while (size > 0) {
    ssize_t n = pread(fd, p, size, offset);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return true;
}

template <typename Ehdr, typename Phdr>
ErrorOr<bool> HasNoInterpreter(int fd, const std::filesystem::path& path) {
  Ehdr header;
  if (!ReadAt(fd, &header, sizeof header, 0)) {
    return Error{Quote(path) + " is too short for an ELF header"};
  }
  if (header.e_phentsize != sizeof(Phdr)) {
    return Error{Quote(path) + " has malformed ELF program headers"};
  }
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Phdr program;
    if (!ReadAt(fd, &program, sizeof program,
                static_cast<off_t>(header.e_phoff + static_cast<uint64_t>(i) * sizeof program))) {
      return Error{Quote(path) + " ends inside its ELF program headers"};
    }
    if (program.p_type == PT_INTERP) {
      return false;
    }
  }
  return true;
}

}  // namespace

ErrorOr<bool> IsStaticElf(const std::filesystem::path& path) {
  os::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Error{"cannot open " + Quote(path) + ": " + ErrnoText(errno)};
  }
  unsigned char ident[EI_NIDENT];
  if (!ReadAt(fd.get(), ident, sizeof ident, 0) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return Error{Quote(path) + " is not an ELF executable"};
  }
  constexpr unsigned char kNativeData =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  if (ident[EI_DATA] != kNativeData) {
    return Error{Quote(path) + " is an ELF file for another byte order than this machine's"};
  }
  switch (ident[EI_CLASS]) {
    case ELFCLASS64:
      return HasNoInterpreter<Elf64_Ehdr, Elf64_Phdr>(fd.get(), path);
    case ELFCLASS32:
      return HasNoInterpreter<Elf32_Ehdr, Elf32_Phdr>(fd.get(), path);
    default:
      return Error{Quote(path) + " has an unknown ELF class"};
  }
}

}  // namespace mvm::runtime::rootfs
