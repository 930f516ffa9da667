// Every row of ir/options.def that the frontends bind (accept without `unknown-option`) must also
// be lowered into the IR: a row whose lowering is missing would be accepted and then silently
// dropped. For each row of the registry, in both spellings, the test sets the option to two
// different values and requires two different IR modules. The values come from a list of value
// shapes (a string, an integer in the row's range, a list, a mapping, SDK helper calls), tried in
// order until one lowers without a diagnostic; a new row of a shape none of them has fails until a
// shape is added here.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/common/declaration.h"
#include "ir/json.h"
#include "ir/options.h"

namespace mvm::frontend {
namespace {

using ir::OptionContext;
using ir::OptionInfo;
using Kind = StaticValue::Kind;

StaticValue String(std::string text) {
  StaticValue v;
  v.kind = Kind::kString;
  v.text = std::move(text);
  return v;
}

StaticValue Int(int64_t value) {
  StaticValue v;
  v.kind = Kind::kInt;
  v.int_value = value;
  return v;
}

StaticValue List(std::vector<StaticValue> items) {
  StaticValue v;
  v.kind = Kind::kList;
  v.items = std::move(items);
  return v;
}

StaticValue Dict(std::vector<std::pair<std::string, StaticValue>> entries) {
  StaticValue v;
  v.kind = Kind::kDict;
  for (auto& [key, value] : entries) {
    v.keys.push_back(Named{key, {}});
    v.values.push_back(std::move(value));
  }
  return v;
}

StaticValue Call(std::string callee, std::vector<std::pair<std::string, StaticValue>> options = {},
                 std::vector<StaticValue> items = {}) {
  StaticValue v = Dict(std::move(options));
  v.kind = Kind::kCall;
  v.text = std::move(callee);
  v.items = std::move(items);
  return v;
}

/// Sets `name` to `value` among `keys` / `values`, replacing an earlier setting.
void Set(std::vector<Named>& keys, std::vector<StaticValue>& values, std::string_view name,
         StaticValue value) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].name == name) {
      values[i] = std::move(value);
      return;
    }
  }
  keys.push_back(Named{std::string(name), {}});
  values.push_back(std::move(value));
}

/// The smallest declaration that lowers cleanly, with `row` set to `value` (left out when
/// nullopt). Network rows are chain methods: `value` is the list of the method's arguments.
WorkloadDecl Declaration(Language language, const OptionInfo& row,
                         const std::optional<StaticValue>& value) {
  bool python = language == Language::kPython;
  std::string_view spelled = python ? row.python : row.typescript;
  auto spell = [&](std::string_view canonical) {
    const OptionInfo* o = ir::FindOption(row.context, canonical);
    return std::string(o == nullptr ? canonical : python ? o->python : o->typescript);
  };
  WorkloadDecl decl;
  decl.target_name = "W";
  DecoratorCall& call = decl.call;
  call.sdk_name = "workload";
  call.called = true;
  Set(call.keys, call.values, "id", String("w"));
  Set(call.keys, call.values, "image", String("template:busybox"));
  // Sets `row` (when it has a value) on the options of one helper call or decorator.
  auto set_row = [&](std::vector<Named>& keys, std::vector<StaticValue>& values) {
    if (value) {
      Set(keys, values, spelled, *value);
    }
  };
  switch (row.context) {
    case OptionContext::kWorkload:
      set_row(call.keys, call.values);
      break;
    case OptionContext::kEntrypoint:
    case OptionContext::kService: {
      MemberDecl member;
      member.method_name = "m";
      member.call.sdk_name = row.context == OptionContext::kService ? "service" : "entrypoint";
      member.call.called = true;
      Set(member.call.keys, member.call.values, spell("command"), List({String("true")}));
      set_row(member.call.keys, member.call.values);
      decl.members.push_back(std::move(member));
      break;
    }
    case OptionContext::kSecretRef: {
      StaticValue ref = Call("SecretRef", {{spell("name"), String("n")}});
      set_row(ref.keys, ref.values);
      Set(call.keys, call.values, "secrets", Dict({{"K", std::move(ref)}}));
      break;
    }
    case OptionContext::kVolumeLocal: {
      StaticValue volume = Call(
          "Volume.local", {{spell("source"), String("data")}, {spell("target"), String("/d")}});
      set_row(volume.keys, volume.values);
      Set(call.keys, call.values, "volumes", List({std::move(volume)}));
      break;
    }
    case OptionContext::kVolumeMemory: {
      StaticValue volume = Call("Volume.memory", {{spell("target"), String("/d")}});
      set_row(volume.keys, volume.values);
      Set(call.keys, call.values, "volumes", List({std::move(volume)}));
      break;
    }
    case OptionContext::kVolumeEncrypted: {
      StaticValue volume = Call("Volume.encrypted", {{spell("source"), String("store")},
                                                     {spell("target"), String("/d")},
                                                     {spell("size_mb"), Int(1)}});
      set_row(volume.keys, volume.values);
      Set(call.keys, call.values, "volumes", List({std::move(volume)}));
      break;
    }
    case OptionContext::kVolumeObject: {
      StaticValue volume =
          Call("Volume.object", {{spell("source"), String("s3://bucket")},
                                 {spell("target"), String("/d")},
                                 {spell("endpoint"), String("https://s3")},
                                 {spell("credentials"), Call("SecretRef", {}, {String("k")})}});
      set_row(volume.keys, volume.values);
      Set(call.keys, call.values, "volumes", List({std::move(volume)}));
      break;
    }
    case OptionContext::kImageDebian: {
      StaticValue image = Call("Image.debian", {{spell("packages"), List({String("jq")})}});
      set_row(image.keys, image.values);
      Set(call.keys, call.values, "image", std::move(image));
      break;
    }
    case OptionContext::kNetwork: {
      StaticValue chain =
          Call(python ? "NetworkPolicy.deny_by_default" : "NetworkPolicy.denyByDefault");
      if (value) {
        if (value->kind != Kind::kList) {
          return WorkloadDecl{};  // a method takes arguments, not a value: no declaration
        }
        StaticValue method = Call(std::string(spelled), {}, value->items);
        method.receiver = std::make_shared<StaticValue>(std::move(chain));
        chain = std::move(method);
      }
      Set(call.keys, call.values, spell("network"), std::move(chain));
      break;
    }
  }
  return decl;
}

/// The IR of `decl` without locations, or nullopt when lowering reported anything.
std::optional<std::string> Lower(Language language, const WorkloadDecl& decl) {
  if (decl.call.sdk_name.empty()) {
    return std::nullopt;
  }
  ir::Module module;
  DiagnosticSink sink;
  LowerDeclarations(language, {decl}, "w.py", module, sink);
  if (!sink.diagnostics().empty() || module.proto.workloads_size() != 1) {
    return std::nullopt;
  }
  return ir::ToCanonicalJson(module, ir::JsonOptions{.with_locations = false});
}

/// Two values of one shape; `second` nullopt means "the option left out".
struct ValuePair {
  StaticValue first;
  std::optional<StaticValue> second;
};

/// The value shapes options take, each as two values that must lower differently.
std::vector<ValuePair> Shapes(const OptionInfo& row) {
  int64_t low = row.is_integer() ? row.min : 1;
  int64_t high = row.is_integer() ? row.max : 2;
  std::vector<ValuePair> shapes;
  shapes.push_back({String("alpha"), String("beta")});
  shapes.push_back({Int(low), Int(high)});
  shapes.push_back({List({String("alpha")}), List({String("beta")})});
  shapes.push_back({List({Int(low)}), List({Int(high)})});
  shapes.push_back({Dict({{"A", String("alpha")}}), Dict({{"A", String("beta")}})});
  shapes.push_back({Dict({{"A", Call("SecretRef", {}, {String("alpha")})}}),
                    Dict({{"A", Call("SecretRef", {}, {String("beta")})}})});
  shapes.push_back(
      {Call("SecretRef", {}, {String("alpha")}), Call("SecretRef", {}, {String("beta")})});
  shapes.push_back({List({Call("Volume.memory", {}, {String("/alpha")})}),
                    List({Call("Volume.memory", {}, {String("/beta")})})});
  for (std::string root : {"NetworkPolicy.deny_by_default", "NetworkPolicy.denyByDefault"}) {
    auto policy = [&](const char* host) {
      StaticValue allow = Call("allow_https", {}, {String(host)});
      if (root.ends_with("denyByDefault")) {
        allow.text = "allowHttps";
      }
      allow.receiver = std::make_shared<StaticValue>(Call(root));
      return allow;
    };
    shapes.push_back({policy("alpha.example"), policy("beta.example")});
  }
  // Set without a value (a method called without arguments) against left out.
  shapes.push_back({List({}), std::nullopt});
  return shapes;
}

TEST(OptionsLoweringTest, EveryBoundOptionReachesTheIr) {
  ASSERT_FALSE(ir::AllOptions().empty());
  for (const OptionInfo& row : ir::AllOptions()) {
    for (Language language : {Language::kPython, Language::kTypeScript}) {
      std::string name = std::string(ir::OptionContextName(row.context)) + "." +
                         std::string(language == Language::kPython ? row.python : row.typescript);
      bool lowered = false;
      for (const ValuePair& pair : Shapes(row)) {
        std::optional<std::string> first = Lower(language, Declaration(language, row, pair.first));
        std::optional<std::string> second =
            Lower(language, Declaration(language, row, pair.second));
        if (!first || !second) {
          continue;  // not this option's shape
        }
        lowered = true;
        EXPECT_NE(*first, *second)
            << name << " is bound, but the IR is the same whatever it is set to: its lowering "
            << "(frontend/common/declaration.cc) drops it\nIR: " << *first;
        break;
      }
      EXPECT_TRUE(lowered) << name
                           << ": no value shape of this test lowers without a diagnostic; add the "
                              "option's shape to Shapes()";
    }
  }
}

}  // namespace
}  // namespace mvm::frontend
