#ifndef MVM_FRONTEND_COMMON_TREE_H_
#define MVM_FRONTEND_COMMON_TREE_H_

#include <tree_sitter/api.h>

#include <memory>
#include <string_view>
#include <vector>

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

/// The named children of `node` but its extras: comments, and Python's backslash line
/// continuations, which the grammar makes named nodes wherever they appear.
inline std::vector<TSNode> NamedChildren(TSNode node) {
  std::vector<TSNode> out;
  uint32_t count = ts_node_named_child_count(node);
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    TSNode child = ts_node_named_child(node, i);
    if (!ts_node_is_extra(child)) {
      out.push_back(child);
    }
  }
  return out;
}

/// What a `WalkPreOrder` visitor wants next.
enum class Walk { kDescend, kSkipChildren, kStop };

/// Visits `root` and its descendants in pre-order, `visit(node)` returning a `Walk`. Iterative: a
/// hostile file can nest deeper than the stack allows.
template <typename Visit>
void WalkPreOrder(TSNode root, Visit&& visit) {
  TSTreeCursor cursor = ts_tree_cursor_new(root);
  for (;;) {
    Walk next = visit(ts_tree_cursor_current_node(&cursor));
    if (next == Walk::kStop) {
      break;
    }
    if (next == Walk::kDescend && ts_tree_cursor_goto_first_child(&cursor)) {
      continue;
    }
    bool more = true;
    while (more && !ts_tree_cursor_goto_next_sibling(&cursor)) {
      more = ts_tree_cursor_goto_parent(&cursor);
    }
    if (!more) {
      break;
    }
  }
  ts_tree_cursor_delete(&cursor);
}

/// Source text shortened for messages: one line, at most `max` code points, with "…" when cut.
std::string Excerpt(std::string_view text, size_t max = 40);

}  // namespace mvm::frontend

#endif  // MVM_FRONTEND_COMMON_TREE_H_
