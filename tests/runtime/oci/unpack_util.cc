#include "tests/runtime/oci/unpack_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <cstdlib>

#include "runtime/oci/oci.h"

namespace mvm::runtime::oci::testing {

Member File(std::string name, std::string content, mode_t mode) {
  Member m;
  m.name = std::move(name);
  m.content = std::move(content);
  m.mode = mode;
  return m;
}

Member Dir(std::string name, mode_t mode) {
  Member m;
  m.type = Member::Type::kDir;
  m.name = std::move(name);
  m.mode = mode;
  return m;
}

Member Symlink(std::string name, std::string target) {
  Member m;
  m.type = Member::Type::kSymlink;
  m.name = std::move(name);
  m.link = std::move(target);
  m.mode = 0777;
  return m;
}

Member Hardlink(std::string name, std::string target) {
  Member m;
  m.type = Member::Type::kHardlink;
  m.name = std::move(name);
  m.link = std::move(target);
  return m;
}

namespace {

void Check(int r, archive* a) {
  if (r != ARCHIVE_OK) {
    std::fprintf(stderr, "libarchive writer: %s\n", archive_error_string(a));
    std::abort();
  }
}

}  // namespace

std::string LayerBytes(const std::vector<Member>& members, Compression compression) {
  archive* a = archive_write_new();
  Check(archive_write_set_format_pax_restricted(a), a);
  if (compression == Compression::kGzip) {
    Check(archive_write_add_filter_gzip(a), a);
  } else if (compression == Compression::kZstd) {
    Check(archive_write_add_filter_zstd(a), a);
  }
  size_t capacity = 1 << 20;
  for (const Member& m : members) {
    capacity += m.content.size() + 4096;
  }
  std::string out(capacity, '\0');
  size_t used = 0;
  Check(archive_write_set_bytes_in_last_block(a, 1), a);
  Check(archive_write_open_memory(a, out.data(), out.size(), &used), a);
  for (const Member& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, m.mode);
    archive_entry_set_uid(e, m.uid);
    archive_entry_set_gid(e, m.gid);
    archive_entry_set_mtime(e, m.mtime, 0);
    switch (m.type) {
      case Member::Type::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
        break;
      case Member::Type::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case Member::Type::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, m.link.c_str());
        break;
      case Member::Type::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, m.link.c_str());
        archive_entry_set_size(e, 0);
        break;
      case Member::Type::kCharDevice:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdev(e, makedev(1, 3));
        break;
      case Member::Type::kFifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    for (const auto& [name, value] : m.xattrs) {
      archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    }
    Check(archive_write_header(a, e), a);
    if (m.type == Member::Type::kFile && !m.content.empty()) {
      archive_write_data(a, m.content.data(), m.content.size());
    }
    archive_entry_free(e);
  }
  Check(archive_write_close(a), a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

std::string LayerMediaType(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return std::string(kMediaOciLayer);
    case Compression::kGzip:
      return std::string(kMediaOciLayerGzip);
    case Compression::kZstd:
      return std::string(kMediaOciLayerZstd);
  }
  return {};
}

}  // namespace mvm::runtime::oci::testing
