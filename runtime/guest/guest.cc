#include "runtime/guest/guest.h"

#include <elf.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

#include "ir/digest.h"
#include "ir/support/check.h"
#include "ir/support/os/atomic_file.h"
#include "ir/support/os/errno_text.h"
#include "ir/support/os/hex.h"
#include "ir/support/os/process.h"
#include "runtime/lazylibs/archive_api.h"

namespace mvm::runtime::guest {

namespace fs = std::filesystem;

namespace {

/// The modules the guest needs, by name; their dependencies are found from the modules' own
/// `depends=` lines. The order is the load order of the roots.
/// ext4 asks the crypto API for crc32c at mount time, which would need modprobe in the guest, so
/// the implementation is loaded up front.
constexpr std::string_view kRootModules[] = {
    "virtio_mmio", "virtio_blk", "virtio_console", "crc32c_generic", "ext4", "overlay", "virtiofs"};
/// The modules of the guest's NIC, which only a VM whose plan allows egress has: the initramfs
/// carries them (with their dependencies not already among kRootModules') in a load order of their
/// own, which the guest's init loads only when its command line names a network (mvm.net=), so
/// that a VM without a NIC does not pay for them at boot.
constexpr std::string_view kNetModules[] = {"virtio_net"};

// Whatever the umask: qemu's unprivileged uid reads the kernel and initramfs (as /proc/self/fd/N of
// a descriptor it was given, which checks the file's mode again). Nothing written here is secret.
constexpr os::FileMode kReadableByQemu{0644, true};

ErrorOr<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"cannot read `" + path.string() + "`: " + os::ErrnoText(errno)};
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ErrorOr<Ok> WriteAtomically(const fs::path& path, std::string_view bytes) {
  return os::WriteFileAtomically(path, bytes, kReadableByQemu);
}

ErrorOr<Ok> Run(const std::vector<std::string>& argv, std::string_view what) {
  os::RunOptions options;
  options.spawn.argv = argv;
  options.merge_stderr = true;
  auto result = os::RunProcess(options);
  if (!result) {
    return Error{std::string(what) + ": " + result.error().message};
  }
  if (!result->success()) {
    return Error{std::string(what) + ": `" + argv[0] + "` failed (" + result->Describe() + "):\n" +
                 result->Tail(15)};
  }
  return Ok{};
}

/// The kernel .deb, verified against the pin.
ErrorOr<fs::path> FindKernelDeb(const fs::path& cache_dir, const ProgressFn& progress) {
  const std::string file =
      std::string(kKernelPackage) + "_" + std::string(kKernelVersion) + "_amd64.deb";
  fs::path deb;
  if (const char* env = std::getenv("MVM_KERNEL_DEB"); env != nullptr && env[0] != '\0') {
    deb = env;
  } else {
    fs::path dir = cache_dir / "debs";
    deb = dir / file;
    std::error_code ec;
    if (!fs::exists(deb)) {
      fs::create_directories(dir, ec);
      if (progress) {
        progress("fetching the guest kernel " + std::string(kKernelPackage) + " " +
                 std::string(kKernelVersion) + " with apt-get download (70 MB, once)");
      }
      auto fetched =
          Run({"sh", "-c", "cd \"$1\" && exec apt-get download -q \"$2\"", "sh", dir.string(),
               std::string(kKernelPackage) + "=" + std::string(kKernelVersion)},
              "cannot download the guest kernel (needs the Debian mirror once; or set "
              "MVM_KERNEL_DEB to a copy of " +
                  file + ")");
      if (!fetched) {
        return fetched.error();
      }
    }
  }
  auto bytes = ReadWhole(deb);
  if (!bytes) {
    return bytes.error();
  }
  std::string sha = ir::Sha256Hex(*bytes);
  if (sha != kKernelDebSha256) {
    return Error{"the guest kernel package `" + deb.string() + "` has SHA-256 " + sha +
                 ", not the pinned " + std::string(kKernelDebSha256) + " of " +
                 std::string(kKernelPackage) + " " + std::string(kKernelVersion) +
                 "; remove it to fetch it again, or update the pin in runtime/guest/guest.h"};
  }
  return deb;
}

/// The uncompressed kernel inside a bzImage: the setup header says where the payload is
/// (Documentation/x86/boot.rst), and Debian compresses it with XZ.
ErrorOr<Ok> ExtractVmlinux(const fs::path& vmlinuz, const fs::path& out) {
  auto image = ReadWhole(vmlinuz);
  if (!image) {
    return image.error();
  }
  const std::string& b = *image;
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  if (b.size() < 0x250 || b.compare(0x202, 4, "HdrS") != 0) {
    return Error{"`" + vmlinuz.string() + "` is not a bzImage (no HdrS setup header)"};
  }
  size_t setup_sects = static_cast<unsigned char>(b[0x1f1]);
  if (setup_sects == 0) {
    setup_sects = 4;
  }
  size_t start = (setup_sects + 1) * 512 + u32(0x248);
  size_t length = u32(0x24c);
  if (start + length > b.size() || b.compare(start, 6,
                                             "\xfd"
                                             "7zXZ\0",
                                             6) != 0) {
    return Error{"`" + vmlinuz.string() +
                 "`: the payload is not XZ-compressed where the header says (a kernel built with "
                 "another compressor needs another decompressor here)"};
  }
  fs::path payload = out;
  payload += ".xz";
  if (auto ok = WriteAtomically(payload, std::string_view(b).substr(start, length)); !ok) {
    return ok.error();
  }
  auto ran = Run(
      {"sh", "-c", "xz -dc --single-stream \"$1\" > \"$2\"", "sh", payload.string(), out.string()},
      "cannot decompress the kernel (is `xz-utils` installed?)");
  std::error_code ec;
  fs::remove(payload, ec);
  if (!ran) {
    return ran.error();
  }
  // Readable by qemu's unprivileged uid, as the initramfs is (WriteAtomically).
  fs::permissions(out, fs::perms(0644), ec);
  auto head = ReadWhole(out);
  if (!head || head->compare(0, 4, ELFMAG) != 0) {
    return Error{"the decompressed kernel `" + out.string() + "` is not an ELF file"};
  }
  return Ok{};
}

/// The `depends=` of a kernel module, from its .modinfo ELF section.
ErrorOr<std::vector<std::string>> ModuleDepends(const std::string& ko, const fs::path& path) {
  if (ko.size() < sizeof(Elf64_Ehdr) || ko.compare(0, 4, ELFMAG) != 0) {
    return Error{"`" + path.string() + "` is not an ELF module"};
  }
  Elf64_Ehdr eh;
  std::memcpy(&eh, ko.data(), sizeof eh);
  if (eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > ko.size() ||
      eh.e_shstrndx >= eh.e_shnum) {
    return Error{"`" + path.string() + "`: truncated section table"};
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  std::memcpy(sections.data(), ko.data() + eh.e_shoff, eh.e_shnum * sizeof(Elf64_Shdr));
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  for (const Elf64_Shdr& s : sections) {
    if (names.sh_offset + s.sh_name >= ko.size() || s.sh_offset + s.sh_size > ko.size()) {
      continue;
    }
    if (std::strncmp(ko.data() + names.sh_offset + s.sh_name, ".modinfo", 9) != 0) {
      continue;
    }
    std::string_view info(ko.data() + s.sh_offset, s.sh_size);
    std::vector<std::string> out;
    for (size_t at = 0; at < info.size();) {
      size_t end = info.find('\0', at);
      if (end == std::string_view::npos) {
        end = info.size();
      }
      std::string_view entry = info.substr(at, end - at);
      if (entry.starts_with("depends=")) {
        std::string list(entry.substr(8));
        std::istringstream items(list);
        std::string item;
        while (std::getline(items, item, ',')) {
          if (!item.empty()) {
            out.push_back(item);
          }
        }
      }
      at = end + 1;
    }
    return out;
  }
  return Error{"`" + path.string() + "` has no .modinfo section"};
}

/// `ko` without the signature that Debian appends to every module
/// (include/linux/module_signature.h: the signature, a 12-byte struct ending in its big-endian
/// length, then a magic string). Verifying it is a SHA-256 of every module byte plus an RSA check,
/// about 0.4 billion guest instructions for the ext4 and virtio closure, which under TCG is over a
/// second of boot. The guest gains nothing from it: the host has already checked the whole .deb
/// against the pinned SHA-256, the guest kernel does not enforce signatures (no
/// `module.sig_enforce`, no lockdown), and an unsigned module only marks the kernel tainted.
std::string_view WithoutSignature(std::string_view ko) {
  constexpr std::string_view kMagic = "~Module signature appended~\n";
  constexpr size_t kInfoBytes = 12;
  if (!ko.ends_with(kMagic) || ko.size() < kMagic.size() + kInfoBytes) {
    return ko;
  }
  size_t info = ko.size() - kMagic.size() - kInfoBytes;
  size_t sig_len = 0;
  for (size_t i = 8; i < kInfoBytes; ++i) {
    sig_len = sig_len << 8 | static_cast<unsigned char>(ko[info + i]);
  }
  if (sig_len > info) {
    return ko;
  }
  return ko.substr(0, info - sig_len);
}

std::string ModuleName(const fs::path& ko) {
  std::string name = ko.stem().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

struct KernelDir {
  fs::path dir;  // vmlinux, modules/*.ko, load-order, release
  std::string release;
};

/// Unpacks the .deb once into `<cache_dir>/kernel-<deb sha prefix>/`.
ErrorOr<KernelDir> EnsureKernelDir(const fs::path& cache_dir, const ProgressFn& progress) {
  // Named by the package, the module list and how modules are copied, so that changing any of them
  // makes a new directory.
  std::string key = std::string(kKernelDebSha256) + " unsigned-modules";
  for (std::string_view m : kRootModules) {
    key += " " + std::string(m);
  }
  key += " net";
  for (std::string_view m : kNetModules) {
    key += " " + std::string(m);
  }
  fs::path final_dir = cache_dir / ("kernel-" + ir::Sha256Hex(key).substr(0, 16));
  if (fs::exists(final_dir / "release")) {
    auto release = ReadWhole(final_dir / "release");
    if (!release) {
      return release.error();
    }
    return KernelDir{final_dir, *release};
  }
  auto deb = FindKernelDeb(cache_dir, progress);
  if (!deb) {
    return deb.error();
  }
  if (progress) {
    progress("unpacking the guest kernel and its modules (once)");
  }
  fs::path build = cache_dir / (".build-kernel-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(build, ec);
  fs::create_directories(build / "modules", ec);
  fs::path unpacked = build / "deb";
  if (auto ok = Run({"dpkg-deb", "-x", deb->string(), unpacked.string()},
                    "cannot unpack the guest kernel package");
      !ok) {
    return ok.error();
  }
  fs::path modules_root;
  for (const auto& e : fs::directory_iterator(unpacked / "lib" / "modules", ec)) {
    modules_root = e.path();
  }
  if (modules_root.empty()) {
    return Error{"the kernel package has no lib/modules/<release> directory"};
  }
  std::string release = modules_root.filename().string();
  fs::path vmlinuz = unpacked / "boot" / ("vmlinuz-" + release);
  if (auto ok = ExtractVmlinux(vmlinuz, build / "vmlinux"); !ok) {
    return ok.error();
  }

  std::map<std::string, fs::path> by_name;
  for (auto it = fs::recursive_directory_iterator(modules_root / "kernel", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".ko") {
      by_name[ModuleName(it->path())] = it->path();
    }
  }
  std::set<std::string> builtin;
  {
    auto text = ReadWhole(modules_root / "modules.builtin");
    std::istringstream lines(text ? *text : std::string());
    std::string line;
    while (std::getline(lines, line)) {
      builtin.insert(ModuleName(fs::path(line)));
    }
  }
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<ErrorOr<Ok>(const std::string&)> visit =
      [&](const std::string& name) -> ErrorOr<Ok> {
    if (seen.count(name) != 0 || builtin.count(name) != 0) {
      return Ok{};
    }
    seen.insert(name);
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return Error{"kernel module `" + name + "` is neither in the package nor built in"};
    }
    auto bytes = ReadWhole(it->second);
    if (!bytes) {
      return bytes.error();
    }
    auto deps = ModuleDepends(*bytes, it->second);
    if (!deps) {
      return deps.error();
    }
    for (const std::string& dep : *deps) {
      if (auto ok = visit(dep); !ok) {
        return ok;
      }
    }
    if (auto ok = WriteAtomically(build / "modules" / (name + ".ko"), WithoutSignature(*bytes));
        !ok) {
      return Error{"cannot copy module `" + it->second.string() + "`: " + ok.error().message};
    }
    order.push_back(name + ".ko");
    return Ok{};
  };
  for (std::string_view root : kRootModules) {
    if (auto ok = visit(std::string(root)); !ok) {
      return ok.error();
    }
  }
  const size_t always = order.size();
  for (std::string_view root : kNetModules) {
    if (auto ok = visit(std::string(root)); !ok) {
      return ok.error();
    }
  }
  std::string load_order;
  std::string net_order;
  for (size_t i = 0; i < order.size(); ++i) {
    (i < always ? load_order : net_order) += order[i] + "\n";
  }
  if (auto ok = WriteAtomically(build / "load-order", load_order); !ok) {
    return ok.error();
  }
  if (auto ok = WriteAtomically(build / "load-order-net", net_order); !ok) {
    return ok.error();
  }
  fs::remove_all(unpacked, ec);
  if (auto ok = WriteAtomically(build / "release", release); !ok) {
    return ok.error();
  }
  fs::rename(build, final_dir, ec);
  if (ec) {
    // Another process published it first; theirs is the same.
    fs::remove_all(build, ec);
  }
  return KernelDir{final_dir, release};
}

uint64_t TreeBytes(const fs::path& dir, uint64_t& entries) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    ++entries;
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
      total += (it->file_size(ec) + 4095) / 4096 * 4096;
    } else {
      total += 4096;
    }
  }
  return total;
}

/// The time every image says it was made and its files were changed and read: 1, because mke2fs
/// 1.47.0 takes an E2FSPROGS_FAKE_TIME of 0 as unset.
constexpr char kImageEpoch[] = "1";

/// A version-4-shaped UUID from the SHA-256 of `seed`, so that an image's identity follows from
/// its content rather than from a random draw at each build.
std::string UuidFrom(std::string_view seed) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  d[6] = static_cast<unsigned char>((d[6] & 0x0f) | 0x40);
  d[8] = static_cast<unsigned char>((d[8] & 0x3f) | 0x80);
  std::string h = os::Hex(d, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

/// Sets the atime and ctime of every inode in use to kImageEpoch. mke2fs -d copies both from the
/// tree, where reading a file moves its atime (relatime) and any copy or chmod moves its ctime,
/// which nothing can set back; mtime stays as the tree has it, because Python checks its .pyc files
/// against their sources' mtimes.
ErrorOr<Ok> NormalizeInodeTimes(const fs::path& image) {
  uint32_t inodes = 0;
  {
    std::ifstream in(image, std::ios::binary);
    in.seekg(1024);  // the superblock, whose first field is s_inodes_count
    in.read(reinterpret_cast<char*>(&inodes), sizeof inodes);
    if (!in) {
      return Error{"cannot read the superblock of `" + image.string() + "`"};
    }
  }
  fs::path commands = image;
  commands += ".debugfs";
  std::string test;
  for (uint32_t i = 1; i <= inodes; ++i) {
    test += "testi <" + std::to_string(i) + ">\n";
  }
  if (auto ok = WriteAtomically(commands, test); !ok) {
    return ok.error();
  }
  std::string set;
  os::RunOptions list;
  list.spawn.argv = {"debugfs", "-f", commands.string(), image.string()};
  list.merge_stderr = true;
  list.on_line = [&](std::string_view line) {
    unsigned inode = 0;
    char rest[32] = {};
    if (std::sscanf(std::string(line).c_str(), "Inode %u is marked in %31s", &inode, rest) == 2) {
      for (const char* field : {"atime", "ctime"}) {
        set += "sif <" + std::to_string(inode) + "> " + field + " " + kImageEpoch + "\n";
      }
    }
  };
  auto listed = os::RunProcess(list);
  std::error_code ec;
  if (!listed || !listed->success() || set.empty()) {
    fs::remove(commands, ec);
    return Error{"cannot list the inodes of `" + image.string() + "` with debugfs (is e2fsprogs " +
                 "installed?)" +
                 (listed ? ":\n" + listed->Tail(5) : ": " + listed.error().message)};
  }
  auto written = WriteAtomically(commands, set);
  if (written) {
    // debugfs stamps the superblock's write time on closing, from the same variable as mke2fs.
    written = Run({"env", std::string("E2FSPROGS_FAKE_TIME=") + kImageEpoch, "debugfs", "-w", "-f",
                   commands.string(), image.string()},
                  "cannot set the inode times of `" + image.string() + "`");
  }
  fs::remove(commands, ec);
  return written;
}

/// An ext4 image of `tree` whose bytes depend only on the tree and `seed`: the UUID and the
/// directory hash seed come from `seed`, the superblock's and inodes' times are kImageEpoch.
ErrorOr<Ok> MakeExt4(const fs::path& tree, const fs::path& image, std::string_view label,
                     std::string_view seed) {
  uint64_t entries = 0;
  uint64_t bytes = TreeBytes(tree, entries);
  // Room for metadata and the inode tables; the image is read-only in the guest, so no more.
  uint64_t size_kib = (bytes + bytes / 5) / 1024 + 16 * 1024;
  fs::path tmp = image;
  tmp += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  const std::string key = std::string(label) + " " + std::string(seed);
  std::vector<std::string> argv = {"env", std::string("E2FSPROGS_FAKE_TIME=") + kImageEpoch};
  for (const char* arg : {"mkfs.ext4", "-q", "-F", "-b", "4096", "-m", "0", "-O", "^has_journal"}) {
    argv.push_back(arg);
  }
  argv.insert(argv.end(), {"-N", std::to_string(entries + 256), "-L", std::string(label), "-U",
                           UuidFrom("uuid " + key), "-E",
                           "root_owner=0:0,hash_seed=" + UuidFrom("hash_seed " + key), "-d",
                           tree.string(), tmp.string(), std::to_string(size_kib) + "k"});
  auto made =
      Run(argv, "cannot make the ext4 image of `" + tree.string() + "` (is e2fsprogs installed?)");
  if (made) {
    made = NormalizeInodeTimes(tmp);
  }
  if (!made) {
    fs::remove(tmp, ec);
    return made.error();
  }
  fs::rename(tmp, image, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Error{"cannot rename into `" + image.string() + "`: " + ec.message()};
  }
  return Ok{};
}

}  // namespace

ErrorOr<std::string> WriteCpio(const std::vector<CpioEntry>& entries) {
  auto lib = lazylibs::LoadArchive();
  if (!lib) {
    return lib.error();
  }
  const lazylibs::Archive& ar = **lib;
  std::string out;
  archive* a = ar.write_new();
  MVM_CHECK(a != nullptr);
  // Unblocked: no padding of the output to a block size, so the bytes are the entries and the
  // trailer alone, as the kernel's unpacker reads them.
  MVM_CHECK(ar.write_set_format_cpio_newc(a) == ARCHIVE_OK);
  MVM_CHECK(ar.write_set_bytes_per_block(a, 0) == ARCHIVE_OK);
  auto append = [](archive*, void* to, const void* data, size_t size) -> la_ssize_t {
    static_cast<std::string*>(to)->append(static_cast<const char*>(data), size);
    return static_cast<la_ssize_t>(size);
  };
  MVM_CHECK(ar.write_open(a, &out, nullptr, append, nullptr) == ARCHIVE_OK);
  archive_entry* entry = ar.entry_new();
  MVM_CHECK(entry != nullptr);
  int64_t ino = 1;
  for (const CpioEntry& e : entries) {
    ar.entry_clear(entry);
    ar.entry_set_pathname(entry, e.path.c_str());
    ar.entry_set_mode(entry, e.mode);
    // Everything but the content is fixed (numbered inodes, owner 0:0, mtime 0), so the bytes, and
    // the initramfs digest that names the file, depend on the input alone.
    ar.entry_set_ino64(entry, ino++);
    ar.entry_set_uid(entry, 0);
    ar.entry_set_gid(entry, 0);
    ar.entry_set_nlink(entry, (e.mode & S_IFMT) == S_IFDIR ? 2 : 1);
    ar.entry_set_mtime(entry, 0, 0);
    ar.entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    ar.entry_set_rdevmajor(entry, e.rdev_major);
    ar.entry_set_rdevminor(entry, e.rdev_minor);
    // Failing here is a bug (a path or size newc cannot hold), not the environment: the archive
    // goes to memory.
    MVM_CHECK(ar.write_header(a, entry) == ARCHIVE_OK);
    if (!e.data.empty()) {
      MVM_CHECK(ar.write_data(a, e.data.data(), e.data.size()) ==
                static_cast<la_ssize_t>(e.data.size()));
    }
  }
  ar.entry_free(entry);
  MVM_CHECK(ar.write_close(a) == ARCHIVE_OK);  // writes the TRAILER!!! entry
  ar.write_free(a);
  return out;
}

ErrorOr<BootFiles> EnsureBootFiles(const fs::path& cache_dir, const fs::path& agent_binary,
                                   const ProgressFn& progress) {
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) {
    return Error{"cannot create `" + cache_dir.string() + "`: " + ec.message()};
  }
  auto kernel = EnsureKernelDir(cache_dir, progress);
  if (!kernel) {
    return kernel.error();
  }
  auto agent = ReadWhole(agent_binary);
  if (!agent) {
    return agent.error();
  }
  auto order = ReadWhole(kernel->dir / "load-order");
  if (!order) {
    return order.error();
  }
  auto net_order = ReadWhole(kernel->dir / "load-order-net");
  if (!net_order) {
    return net_order.error();
  }
  std::vector<CpioEntry> entries = {
      {"dev", S_IFDIR | 0755, {}},
      {"dev/console", S_IFCHR | 0600, {}, 5, 1},
      {"proc", S_IFDIR | 0755, {}},
      {"sys", S_IFDIR | 0755, {}},
      {"lib", S_IFDIR | 0755, {}},
      {"lib/modules", S_IFDIR | 0755, {}},
      {"lib/modules/load-order", S_IFREG | 0644, *order},
      {"lib/modules/load-order-net", S_IFREG | 0644, *net_order},
  };
  std::istringstream names(*order + *net_order);
  std::string name;
  while (std::getline(names, name)) {
    auto ko = ReadWhole(kernel->dir / "modules" / name);
    if (!ko) {
      return ko.error();
    }
    entries.push_back({"lib/modules/" + name, S_IFREG | 0644, std::move(*ko)});
  }
  entries.push_back({"init", S_IFREG | 0755, std::move(*agent)});
  auto written = WriteCpio(entries);
  if (!written) {
    return written.error();
  }
  const std::string& cpio = *written;
  std::string hex = ir::Sha256Hex(cpio);
  fs::path initramfs = cache_dir / ("initramfs-" + hex.substr(0, 32) + ".cpio");
  if (!fs::exists(initramfs)) {
    if (auto ok = WriteAtomically(initramfs, cpio); !ok) {
      return ok.error();
    }
  }
  return BootFiles{kernel->dir / "vmlinux", initramfs, kernel->release, "sha256:" + hex};
}

ErrorOr<fs::path> EnsureRootImage(const fs::path& tree, std::string_view digest,
                                  const fs::path& cache_dir, const ProgressFn& progress) {
  std::string hex(digest.substr(digest.find(':') + 1));
  fs::path dir = cache_dir / "images";
  fs::path image = dir / (hex + ".ext4");
  if (fs::exists(image)) {
    return image;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (progress) {
    progress("making the root image of " + std::string(digest.substr(0, 19)) +
             "… with mkfs.ext4 (once per root filesystem)");
  }
  if (auto ok = MakeExt4(tree, image, "mvm-root", digest); !ok) {
    return ok.error();
  }
  return image;
}

std::string VirtiofsTag(size_t n) { return "mvm-vfs" + std::to_string(n); }

ErrorOr<Ok> BuildExtrasImage(const std::vector<ExtraMount>& mounts, const fs::path& staging,
                             const fs::path& image) {
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) {
    return Error{"cannot create `" + staging.string() + "`: " + ec.message()};
  }
  std::string manifest;
  int index = 0;
  size_t shared = 0;
  std::string watch;
  for (const ExtraMount& m : mounts) {
    if (m.watched) {
      watch += "watch\t-\t" + m.target + "\n";
    }
    if (m.target.empty() || m.target[0] != '/' ||
        m.target.find_first_of("\t\n") != std::string::npos) {
      return Error{"mount target `" + m.target +
                   "` cannot be passed to a microVM: use an absolute path without tabs or "
                   "newlines"};
    }
    if (m.kind == ExtraMount::Kind::kTmpfs) {
      manifest += "tmpfs\t" + std::to_string(m.size_mb) + "\t" + m.target + "\n";
      continue;
    }
    if (m.kind == ExtraMount::Kind::kVirtiofs) {
      manifest += "virtiofs\t" + VirtiofsTag(shared++) + "\t" + m.target + "\n";
      continue;
    }
    std::string rel = "m" + std::to_string(index++);
    fs::copy(m.source, staging / rel, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
             ec);
    if (ec) {
      return Error{"cannot copy `" + m.source.string() +
                   "` into the sandbox's image: " + ec.message()};
    }
    manifest += "bind\t" + rel + "\t" + m.target + "\n";
  }
  // After every mount: a volume mounted over another's directory is watched where it ended up.
  manifest += watch;
  if (auto ok = WriteAtomically(staging / "mvm-mounts", manifest); !ok) {
    return ok.error();
  }
  auto made = MakeExt4(staging, image, "mvm-extras", manifest);
  fs::remove_all(staging, ec);
  return made;
}

}  // namespace mvm::runtime::guest
