// The TypeScript language module: finds `@workload` / `@entrypoint` / `@service` decorators
// imported from `@mvm/sdk` and reads their arguments without running anything. Declarations mirror
// the Python module (python_language.cc) so that the same declaration gives the same IR and the
// same diagnostics at the same places; TypeScript's options objects are read as Python's keyword
// arguments.

#include <string>
#include <unordered_set>
#include <vector>

#include "frontend/common/frontend_language.h"
#include "frontend/typescript/typescript_reader.h"

extern "C" const TSLanguage* tree_sitter_typescript(void);
extern "C" const TSLanguage* tree_sitter_tsx(void);

namespace mvm::frontend {
namespace typescript {
namespace {

constexpr std::string_view kSdkModule = "@mvm/sdk";

bool IsComment(TSNode n) { return NodeType(n) == "comment"; }

bool IsClass(TSNode node) {
  std::string_view type = NodeType(node);
  return type == "class_declaration" || type == "abstract_class_declaration" || type == "class";
}

/// Whether `node` has an anonymous `type` keyword child (`import type ...`, `import { type X }`).
bool HasTypeKeyword(TSNode node) {
  for (uint32_t i = 0; i < ts_node_child_count(node); ++i) {
    TSNode child = ts_node_child(node, i);
    if (!ts_node_is_named(child) && NodeType(child) == "type") {
      return true;
    }
  }
  return false;
}

/// The children of `node` in field `decorator`, appended to `out`.
void AppendDecorators(TSNode node, std::vector<TSNode>& out) {
  for (uint32_t i = 0; i < ts_node_child_count(node); ++i) {
    const char* field = ts_node_field_name_for_child(node, i);
    if (field != nullptr && std::string_view(field) == "decorator") {
      out.push_back(ts_node_child(node, i));
    }
  }
}

/// Whether a string node spells `@mvm/sdk`. Module specifiers never need escapes, so the raw text
/// between the quotes is compared.
bool IsSdkModule(TSNode source, const SourceFile& file) {
  std::string_view text = NodeText(source, file);
  return text.size() >= 2 && text.substr(1, text.size() - 2) == kSdkModule;
}

/// What a misplaced decorator sits on, for the message.
std::string_view DecoratedThing(TSNode decorator) {
  TSNode parent = ts_node_parent(decorator);
  std::string_view type = ts_node_is_null(parent) ? "" : NodeType(parent);
  if (type == "class_body") {
    return "a method";
  }
  if (type == "public_field_definition") {
    return "a field";
  }
  if (type == "required_parameter" || type == "optional_parameter") {
    return "a parameter";
  }
  return "";
}

}  // namespace

void Reader::CollectImport(TSNode statement) {
  if (NodeType(statement) != "import_statement" || HasTypeKeyword(statement)) {
    return;  // `import type` brings in no values, so no decorators either.
  }
  TSNode source = Field(statement, "source");
  for (uint32_t i = 0; i < ts_node_named_child_count(statement); ++i) {
    TSNode child = ts_node_named_child(statement, i);
    if (NodeType(child) == "import_require_clause") {
      // `import mvm = require("@mvm/sdk")` binds the module object, like `import * as mvm`.
      TSNode name = FirstNamedChildOfType(child, "identifier");
      if (IsSdkModule(Field(child, "source"), file_) && !ts_node_is_null(name)) {
        module_aliases_.insert(std::string(Text(name)));
      }
      continue;
    }
    if (NodeType(child) != "import_clause" || ts_node_is_null(source) ||
        !IsSdkModule(source, file_)) {
      continue;
    }
    for (uint32_t j = 0; j < ts_node_named_child_count(child); ++j) {
      TSNode part = ts_node_named_child(child, j);
      if (NodeType(part) == "namespace_import") {
        TSNode name = FirstNamedChildOfType(part, "identifier");
        if (!ts_node_is_null(name)) {
          module_aliases_.insert(std::string(Text(name)));
        }
      } else if (NodeType(part) == "named_imports") {
        for (uint32_t k = 0; k < ts_node_named_child_count(part); ++k) {
          TSNode spec = ts_node_named_child(part, k);
          if (NodeType(spec) != "import_specifier" || HasTypeKeyword(spec)) {
            continue;
          }
          TSNode name = Field(spec, "name");
          TSNode alias = Field(spec, "alias");
          std::string exported(Text(name));
          if (NodeType(name) == "string" && exported.size() >= 2) {
            exported = exported.substr(1, exported.size() - 2);
          }
          if (IsSdkExport(exported)) {
            sdk_names_[std::string(Text(ts_node_is_null(alias) ? name : alias))] = exported;
          }
        }
      }
      // A default import is ignored: `@mvm/sdk` has no default export.
    }
  }
}

void Reader::CollectBindings(TSNode root) {
  // Iterative over module-level code; functions, classes and namespaces have their own scopes, and
  // a `const` cannot be reassigned from inside them anyway.
  std::vector<TSNode> stack{root};
  std::vector<TSNode> targets;
  while (!stack.empty()) {
    TSNode n = stack.back();
    stack.pop_back();
    std::string_view type = NodeType(n);
    if (type == "function_declaration" || type == "generator_function_declaration" ||
        type == "function_expression" || type == "generator_function" || type == "arrow_function" ||
        type == "method_definition" || IsClass(n) || type == "internal_module" ||
        type == "module" || type == "ambient_declaration") {
      continue;
    }
    targets.clear();
    if (type == "lexical_declaration" || type == "variable_declaration") {
      std::string_view keyword = type == "variable_declaration" ? "var" : Text(Field(n, "kind"));
      TSNode parent = ts_node_parent(n);
      bool module_level =
          NodeType(parent) == "program" ||
          (NodeType(parent) == "export_statement" && NodeType(ts_node_parent(parent)) == "program");
      // `var` is hoisted to module scope from blocks; `let` and `const` in a block stay there.
      if (module_level || keyword == "var") {
        for (uint32_t i = 0; i < ts_node_named_child_count(n); ++i) {
          TSNode declarator = ts_node_named_child(n, i);
          TSNode name = Field(declarator, "name");
          if (NodeType(declarator) != "variable_declarator" || NodeType(name) != "identifier") {
            continue;
          }
          Constant& b = constants_[std::string(Text(name))];
          b.keyword = keyword;
          b.value = module_level ? Field(declarator, "value") : TSNode{};
          b.assignments += module_level ? 1 : 2;
        }
      }
    } else if (type == "assignment_expression" || type == "augmented_assignment_expression") {
      targets.push_back(Field(n, "left"));
    } else if (type == "update_expression") {
      targets.push_back(Field(n, "argument"));
    } else if (type == "for_in_statement") {
      // `for (X of xs)` and `for (var X of xs)` rebind a module-level name; `const`/`let` make a
      // new one scoped to the loop.
      TSNode kind = Field(n, "kind");
      if (ts_node_is_null(kind) || Text(kind) == "var") {
        targets.push_back(Field(n, "left"));
      }
    }
    // Every name a (destructuring) assignment target mentions counts as reassigned.
    while (!targets.empty()) {
      TSNode t = targets.back();
      targets.pop_back();
      if (ts_node_is_null(t)) {
        continue;
      }
      std::string_view t_type = NodeType(t);
      if (t_type == "identifier" || t_type == "shorthand_property_identifier_pattern") {
        constants_[std::string(Text(t))].assignments += 2;
      } else if (t_type == "assignment_pattern" || t_type == "object_assignment_pattern") {
        targets.push_back(Field(t, "left"));  // `[X = default]`: the default is only read
      } else if (t_type == "pair_pattern") {
        targets.push_back(Field(t, "value"));
      } else if (t_type == "array_pattern" || t_type == "object_pattern" ||
                 t_type == "rest_pattern" || t_type == "parenthesized_expression" ||
                 t_type == "non_null_expression") {
        for (uint32_t i = 0; i < ts_node_named_child_count(t); ++i) {
          targets.push_back(ts_node_named_child(t, i));
        }
      }
    }
    for (uint32_t i = ts_node_named_child_count(n); i-- > 0;) {
      stack.push_back(ts_node_named_child(n, i));
    }
  }
}

std::vector<DecoratorCall> Reader::ReadDecorators(const std::vector<TSNode>& decorators) {
  std::vector<DecoratorCall> calls;
  for (TSNode decorator : decorators) {
    consumed_.insert(ts_node_start_byte(decorator));
    TSNode expr = Unwrap(FirstNamedChildOfType(decorator, ""));
    if (ts_node_is_null(expr)) {
      continue;
    }
    bool is_call = NodeType(expr) == "call_expression";
    std::string sdk = ResolveSdkName(is_call ? Field(expr, "function") : expr);
    if (sdk != "workload" && sdk != "entrypoint" && sdk != "service") {
      continue;  // Not ours (Angular, TypeORM, class-validator...): ignored by design.
    }
    DecoratorCall call;
    call.sdk_name = sdk;
    call.loc = Loc(decorator);
    if (is_call) {
      call.called = true;
      TSNode arguments = Field(expr, "arguments");
      if (NodeType(arguments) != "arguments") {
        NonStatic(arguments, "the tagged template `" + Excerpt(Text(expr)) + "`",
                  "call the decorator with arguments: `@" + sdk + "(...)`");
        call.reported = true;
      } else if (!ReadArguments(arguments, 0, call.args, call.keys, call.values,
                                sdk == "workload")) {
        call.reported = true;  // do not lower a half-read declaration
      }
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

std::string Reader::MethodName(TSNode method) {
  TSNode name = Field(method, "name");
  if (NodeType(name) == "string") {
    StaticValue v = EvaluateString(name);
    if (v.kind == StaticValue::Kind::kString) {
      return v.text;
    }
  }
  return std::string(Text(name));
}

void Reader::ReadClass(TSNode cls, const std::vector<TSNode>& decorators,
                       std::vector<WorkloadDecl>& out) {
  size_t errors_before = sink_.error_count();
  std::vector<DecoratorCall> calls = ReadDecorators(decorators);
  std::vector<MemberDecl> members;
  if (HasWorkload(calls)) {
    // A method's decorators are the `decorator` children of the class body just before it.
    TSNode body = Field(cls, "body");
    std::vector<TSNode> pending;
    for (uint32_t i = 0; i < ts_node_child_count(body); ++i) {
      TSNode child = ts_node_child(body, i);
      const char* field = ts_node_field_name_for_child(body, i);
      if (field != nullptr && std::string_view(field) == "decorator") {
        pending.push_back(child);
        continue;
      }
      if (!ts_node_is_named(child) || IsComment(child)) {
        continue;
      }
      if (NodeType(child) == "method_definition") {
        std::string method = MethodName(child);
        AddMemberDecorators(ReadDecorators(pending), method,
                            "`@workload` must decorate a module-level class, not a method", members,
                            sink_);
      }
      pending.clear();
    }
  }
  TSNode name = Field(cls, "name");
  AddWorkloadDecorators(std::move(calls),
                        ts_node_is_null(name) ? "default" : std::string(Text(name)),
                        /*function_form=*/false, members, errors_before, out, sink_);
}

void Reader::ReportMisplaced(TSNode root) {
  // Any mvm decorator not read above sits somewhere a declaration cannot be.
  VisitNodesWithDecorators(root, file_.contents(), [&](TSNode node) {
    if (NodeType(node) != "decorator" || consumed_.contains(ts_node_start_byte(node))) {
      return;
    }
    std::string_view thing = DecoratedThing(node);
    for (const DecoratorCall& call : ReadDecorators({node})) {
      if (call.reported) {
        continue;
      }
      std::string where = call.sdk_name == "workload"
                              ? "`@workload` must decorate a module-level class" +
                                    (thing.empty() ? std::string() : ", not " + std::string(thing))
                              : "`@" + call.sdk_name +
                                    "` must decorate a method of a module-level `@workload` class";
      sink_.Emit<DiagnosticKind::kMisplacedDeclaration>(call.loc, where);
    }
  });
}

void Reader::Read(TSNode root, std::vector<WorkloadDecl>& out) {
  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
    CollectImport(ts_node_named_child(root, i));
  }
  if (sdk_names_.empty() && module_aliases_.empty()) {
    return;  // No `@mvm/sdk` import, so no declaration: the common case for ordinary modules.
  }
  CollectBindings(root);

  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
    TSNode statement = ts_node_named_child(root, i);
    std::vector<TSNode> decorators;
    TSNode cls{};
    if (IsClass(statement)) {
      cls = statement;
    } else if (NodeType(statement) == "export_statement") {
      // `@workload(...) export class X {}`, `export @workload(...) class X {}` and
      // `export default @workload(...) class {}` all declare a module-level class.
      TSNode declaration = Field(statement, "declaration");
      if (ts_node_is_null(declaration)) {
        declaration = Field(statement, "value");
      }
      if (!ts_node_is_null(declaration) && IsClass(declaration)) {
        cls = declaration;
        AppendDecorators(statement, decorators);
      }
    }
    if (ts_node_is_null(cls)) {
      continue;
    }
    AppendDecorators(cls, decorators);
    ReadClass(cls, decorators, out);
  }
  ReportMisplaced(root);
}

TSNode FirstNamedChildOfType(TSNode node, std::string_view type) {
  for (uint32_t i = 0; i < ts_node_named_child_count(node); ++i) {
    TSNode child = ts_node_named_child(node, i);
    if (type.empty() ? !IsComment(child) : NodeType(child) == type) {
      return child;
    }
  }
  return TSNode{};
}

namespace {

class TypeScriptFrontend final : public FrontendLanguage {
 public:
  Language language() const override { return Language::kTypeScript; }
  const TSLanguage* Grammar(std::string_view path) const override {
    // JSX makes `<T>x` ambiguous, so .tsx has its own grammar without type assertions.
    return path.ends_with(".tsx") ? tree_sitter_tsx() : tree_sitter_typescript();
  }
  void ReadDeclarations(const SourceFile& file, TSNode root, std::vector<WorkloadDecl>& out,
                        DiagnosticSink& sink,
                        std::unordered_set<std::string>& names_used) const override {
    Reader reader(file, sink);
    reader.Read(root, out);
    reader.AppendNamesUsed(names_used);
  }
  std::string_view ModuleMarker() const override { return kSdkModule; }
  bool ImportsSdk(const SourceFile& file, TSNode root) const override {
    // Import declarations are module-level by the language's rules.
    for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) {
      TSNode statement = ts_node_named_child(root, i);
      if (NodeType(statement) != "import_statement") {
        continue;
      }
      TSNode source = Field(statement, "source");
      if (!ts_node_is_null(source) && IsSdkModule(source, file)) {
        return true;
      }
      // `import mvm = require("@mvm/sdk")` names its module inside the clause.
      TSNode require = FirstNamedChildOfType(statement, "import_require_clause");
      if (!ts_node_is_null(require) && !ts_node_is_null(Field(require, "source")) &&
          IsSdkModule(Field(require, "source"), file)) {
        return true;
      }
    }
    return false;
  }
};

}  // namespace
}  // namespace typescript

const FrontendLanguage& TypeScriptLanguage() {
  static const typescript::TypeScriptFrontend kTypeScript;
  return kTypeScript;
}

}  // namespace mvm::frontend
