#ifndef MVM_FRONTEND_COMMON_TREE_H_
#define MVM_FRONTEND_COMMON_TREE_H_

#include <tree_sitter/api.h>

#include <memory>
#include <string_view>

#include "ir/support/source_file.h"

namespace mvm::frontend {

struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};
struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};
/// Owning handles for tree-sitter objects.
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;
using ParserPtr = std::unique_ptr<TSParser, ParserDeleter>;

/// The source text of `node`.
inline std::string_view NodeText(TSNode node, const SourceFile& file) {
  uint32_t begin = ts_node_start_byte(node);
  uint32_t end = ts_node_end_byte(node);
  return file.contents().substr(begin, end - begin);
}

/// The location of `node` in `file`.
inline SourceLoc NodeLoc(TSNode node, const SourceFile& file) {
  return file.Loc(ts_node_start_byte(node), ts_node_end_byte(node));
}

/// `node`'s type name ("call", "identifier", ...).
inline std::string_view NodeType(TSNode node) { return ts_node_type(node); }

/// The child in field `name`, or a null node.
inline TSNode Field(TSNode node, std::string_view name) {
  return ts_node_child_by_field_name(node, name.data(), static_cast<uint32_t>(name.size()));
}

/// Source text shortened for messages: one line, at most `max` code points, with "…" when cut.
std::string Excerpt(std::string_view text, size_t max = 40);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_TREE_H_
