#ifndef MVM_IR_SUPPORT_SOURCE_FILE_H_
#define MVM_IR_SUPPORT_SOURCE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/support/error_or.h"
#include "ir/support/source_loc.h"

namespace mvm {

/// The bytes of one input file and its line table. Owns its contents; SourceLocs made from it copy
/// the path, so they outlive it.
class SourceFile {
 public:
  /// `path` is kept exactly as the user gave it (diagnostics print it unchanged).
  SourceFile(std::string path, std::string contents);

  /// Reads a file from disk; fails with a message naming the path and the OS error.
  static ErrorOr<SourceFile> Read(const std::string& path);

  const std::string& path() const { return path_; }
  std::string_view contents() const { return contents_; }

  /// The location of the byte range [begin, end), with code-point columns.
  SourceLoc Loc(uint32_t begin, uint32_t end) const;

  /// Text of 1-based line `line`, without its line terminator; empty when out of range.
  std::string_view Line(uint32_t line) const;
  uint32_t line_count() const { return static_cast<uint32_t>(line_starts_.size()); }

  /// Byte offset of a 1-based (line, code-point column) position, clamped to the file.
  uint32_t Offset(uint32_t line, uint32_t column) const;

 private:
  static constexpr uint32_t kCountStride = 256;

  /// Continuation bytes in [0, offset), from the checkpoints below plus at most a stride of bytes.
  uint32_t ContinuationBytesBefore(uint32_t offset) const;

  std::string path_;
  std::string contents_;
  std::vector<uint32_t> line_starts_;
  /// Continuation bytes (10xxxxxx) before each multiple of kCountStride, so Loc counts code points
  /// in O(kCountStride) on however long a line.
  std::vector<uint32_t> continuation_before_;
  /// Continuation bytes in the whole file: with the checkpoints, tells a block without any apart
  /// (most blocks of most code), which then needs no counting.
  uint32_t continuation_total_ = 0;
};

/// Number of code points in `s` (bytes that are not UTF-8 continuation bytes; invalid input counts
/// bytes).
uint32_t CodePointCount(std::string_view s);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_SOURCE_FILE_H_
