// Reading and writing whole files in tests. Shared by every test binary (tests/support/).
#ifndef MVM_TESTS_SUPPORT_FILES_H_
#define MVM_TESTS_SUPPORT_FILES_H_

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mvm::testing {

/// The bytes of `path`; "" when it cannot be read (the test's expectations then fail visibly).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Replaces `path` with `bytes`, creating missing parent directories. Failures are silent: the
/// test's expectations on what follows show them.
inline void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  if (path.has_parent_path()) {
    std::error_code ignored;
    std::filesystem::create_directories(path.parent_path(), ignored);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// WriteFile, then the permission bits `mode` exactly.
inline void WriteFile(const std::filesystem::path& path, std::string_view bytes,
                      std::filesystem::perms mode) {
  WriteFile(path, bytes);
  std::error_code ignored;
  std::filesystem::permissions(path, mode, ignored);
}

/// The lines of `text`, without their newlines; a last line without one counts too.
inline std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return lines;
}

}  // namespace mvm::testing

#endif  // MVM_TESTS_SUPPORT_FILES_H_
