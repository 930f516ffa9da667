#ifndef MVM_IR_SUPPORT_SOURCE_LOC_H_
#define MVM_IR_SUPPORT_SOURCE_LOC_H_

#include <cstdint>
#include <string>

namespace mvm {

/// A range in a source file. Lines and columns are 1-based; columns count Unicode code points; the
/// end is exclusive. A default-constructed SourceLoc (line 0) means "no location" (e.g. IR read
/// from JSON that carried none).
struct SourceLoc {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  uint32_t end_line = 0;
  uint32_t end_column = 0;

  /// True when the location points into a file.
  bool valid() const { return line != 0; }

  friend bool operator==(const SourceLoc&, const SourceLoc&) = default;
};

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_SOURCE_LOC_H_
