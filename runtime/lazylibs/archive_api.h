#ifndef MVM_RUNTIME_LAZYLIBS_ARCHIVE_API_H_
#define MVM_RUNTIME_LAZYLIBS_ARCHIVE_API_H_

#include <archive.h>
#include <archive_entry.h>

#include "ir/support/error_or.h"

namespace mvm::lazylibs {

// The libarchive functions mvm calls, without their `archive_` prefix (as curl_api.h does).
#define MVM_ARCHIVE_FUNCTIONS(X)     \
  X(error_string)                    \
  X(set_error)                       \
  X(filter_code)                     \
  X(read_new)                        \
  X(read_free)                       \
  X(read_support_format_tar)         \
  X(read_support_filter_gzip)        \
  X(read_support_filter_zstd)        \
  X(read_support_filter_none)        \
  X(read_open)                       \
  X(read_open_fd)                    \
  X(read_open_filename)              \
  X(read_next_header)                \
  X(read_data)                       \
  X(read_data_block)                 \
  X(write_new)                       \
  X(write_free)                      \
  X(write_set_format_pax_restricted) \
  X(write_set_format_cpio_newc)      \
  X(write_set_format_option)         \
  X(write_set_bytes_in_last_block)   \
  X(write_set_bytes_per_block)       \
  X(write_open)                      \
  X(write_open2)                     \
  X(write_header)                    \
  X(write_data)                      \
  X(write_close)                     \
  X(entry_new)                       \
  X(entry_free)                      \
  X(entry_clear)                     \
  X(entry_filetype)                  \
  X(entry_perm)                      \
  X(entry_uid)                       \
  X(entry_gid)                       \
  X(entry_size)                      \
  X(entry_size_is_set)               \
  X(entry_mtime)                     \
  X(entry_mtime_nsec)                \
  X(entry_mtime_is_set)              \
  X(entry_pathname)                  \
  X(entry_pathname_utf8)             \
  X(entry_symlink)                   \
  X(entry_symlink_utf8)              \
  X(entry_hardlink)                  \
  X(entry_hardlink_utf8)             \
  X(entry_xattr_reset)               \
  X(entry_xattr_next)                \
  X(entry_set_filetype)              \
  X(entry_set_perm)                  \
  X(entry_set_mode)                  \
  X(entry_set_uid)                   \
  X(entry_set_gid)                   \
  X(entry_set_size)                  \
  X(entry_set_mtime)                 \
  X(entry_set_pathname)              \
  X(entry_set_symlink)               \
  X(entry_set_nlink)                 \
  X(entry_set_ino64)                 \
  X(entry_set_rdevmajor)             \
  X(entry_set_rdevminor)

/// libarchive's functions, as pointers into the library once it is loaded; `read_new` is
/// `archive_read_new` and so on, with the same types and contracts.
struct Archive {
#define MVM_ARCHIVE_MEMBER(name) decltype(&::archive_##name) name = nullptr;
  MVM_ARCHIVE_FUNCTIONS(MVM_ARCHIVE_MEMBER)
#undef MVM_ARCHIVE_MEMBER
};

/// libarchive (libarchive.so.13), loaded on the first call; the table lives as long as the
/// process. An error names the library, what needs it and the package to install. Thread-safe.
ErrorOr<const Archive*> LoadArchive();

}  // namespace mvm::lazylibs

#endif  // MVM_RUNTIME_LAZYLIBS_ARCHIVE_API_H_
