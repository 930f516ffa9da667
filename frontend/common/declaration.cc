#include "frontend/common/declaration.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <span>
#include <string_view>

#include "ir/function_entrypoint.h"
#include "ir/options.h"
#include "ir/support/suggest.h"

namespace mvm::frontend {
namespace {

using ir::OptionContext;
using Kind = StaticValue::Kind;

std::string Index(std::string_view base, size_t i) {
  return std::string(base) + "/" + std::to_string(i);
}

/// Options of one call, bound to their canonical names.
struct BoundArgs {
  std::vector<std::pair<std::string_view, const StaticValue*>> options;
  /// Options an unknown name was taken for ("did you mean"): their absence is that typo, already
  /// reported, not a second mistake.
  std::vector<std::string_view> suggested;

  bool Suggested(std::string_view canonical) const {
    return std::find(suggested.begin(), suggested.end(), canonical) != suggested.end();
  }

  const StaticValue* Get(std::string_view canonical) const {
    for (const auto& [name, value] : options) {
      if (name == canonical) {
        return value;
      }
    }
    return nullptr;
  }
};

/// Lowers the declarations of one file. Holds no state beyond one LowerDeclarations call.
class Lowerer {
 public:
  Lowerer(Language language, const std::string& file_name, DiagnosticSink& sink)
      : language_(language), file_name_(file_name), sink_(sink) {}

  void LowerWorkload(const WorkloadDecl& decl, ir::Module& out);

 private:
  std::string_view Spell(const ir::OptionInfo& o) const {
    return language_ == Language::kPython ? o.python : o.typescript;
  }
  std::string Spell(OptionContext context, std::string_view canonical) const {
    const ir::OptionInfo* o = ir::FindOption(context, canonical);
    return o ? std::string(Spell(*o)) : std::string(canonical);
  }

  /// Binds positional and keyword arguments of `callee` to options of `context`. Positional
  /// arguments take the names in `positional`, in order. Reports unknown, duplicate and surplus
  /// arguments.
  BoundArgs Bind(OptionContext context, std::string_view callee,
                 std::span<const std::string_view> positional, const std::vector<StaticValue>& args,
                 const std::vector<Named>& keys, const std::vector<StaticValue>& values);
  BoundArgs Bind(OptionContext context, std::string_view callee,
                 std::initializer_list<std::string_view> positional,
                 const std::vector<StaticValue>& args, const std::vector<Named>& keys,
                 const std::vector<StaticValue>& values) {
    return Bind(context, callee, std::span(positional.begin(), positional.size()), args, keys,
                values);
  }

  void TypeMismatch(const StaticValue& value, std::string_view option, std::string_view expected) {
    if (value.kind == Kind::kInvalid) {
      return;
    }
    sink_.Emit<DiagnosticKind::kTypeMismatch>(value.loc, option, expected, DescribeType(value));
  }

  std::optional<std::string> GetString(const StaticValue* value, std::string_view option,
                                       const std::string& pointer) {
    if (value == nullptr) {
      return std::nullopt;
    }
    if (value->kind != Kind::kString) {
      TypeMismatch(*value, option, "a string");
      return std::nullopt;
    }
    locs_->Set(pointer, value->loc);
    return value->text;
  }

  std::optional<int32_t> GetInt(const StaticValue* value, OptionContext context,
                                std::string_view canonical, const std::string& pointer);

  /// A list of strings (a command, hosts); nullopt after reporting.
  std::optional<std::vector<std::string>> GetStringList(const StaticValue* value,
                                                        std::string_view option,
                                                        const std::string& pointer, bool non_empty);

  /// A string -> string mapping (env, labels).
  void LowerStringMap(const StaticValue& value, std::string_view option, const std::string& pointer,
                      google::protobuf::Map<std::string, std::string>& out);

  void LowerImage(const StaticValue& value, ir::v1::Workload& w);
  /// `Image.debian(packages=[...], suite=...)`: kind `debian`, the suite as `ref`.
  void LowerDebianImage(const StaticValue& value, ir::v1::Workload& w);
  void LowerNetwork(const StaticValue& value, ir::v1::Workload& w);
  void LowerSecrets(const StaticValue& value, ir::v1::Workload& w);
  void LowerVolumes(const StaticValue& value, ir::v1::Workload& w);
  /// `credentials=SecretRef(name)` of `Volume.object`: the secret's name, or nullopt after
  /// reporting.
  std::optional<std::string> LowerCredentials(const StaticValue* value, const std::string& pointer);
  void LowerPorts(const StaticValue& value, ir::v1::Workload& w);
  void LowerMember(const MemberDecl& member, ir::v1::Workload& w);

  Language language_;
  const std::string& file_name_;
  DiagnosticSink& sink_;
  ir::LocTable* locs_ = nullptr;
};

BoundArgs Lowerer::Bind(OptionContext context, std::string_view callee,
                        std::span<const std::string_view> positional,
                        const std::vector<StaticValue>& args, const std::vector<Named>& keys,
                        const std::vector<StaticValue>& values) {
  BoundArgs bound;
  auto add = [&](std::string_view canonical, const StaticValue* value, const SourceLoc& loc) {
    if (bound.Get(canonical) != nullptr) {
      sink_.Emit<DiagnosticKind::kDuplicateOption>(loc, Spell(context, canonical));
      return;
    }
    bound.options.emplace_back(canonical, value);
  };

  size_t i = 0;
  for (std::string_view name : positional) {
    if (i >= args.size()) {
      break;
    }
    add(name, &args[i], args[i].loc);
    ++i;
  }
  if (i < args.size()) {
    Diagnostic& d = sink_.Emit<DiagnosticKind::kTypeMismatch>(
        args[i].loc, callee,
        positional.size() == 0 ? std::string("no positional arguments")
                               : "at most " + std::to_string(positional.size()) +
                                     " positional argument" + (positional.size() == 1 ? "" : "s"),
        std::to_string(args.size()));
    if (context == OptionContext::kSecretRef) {
      for (size_t extra = i; extra < args.size(); ++extra) {
        d.redactions.push_back(args[extra].loc);
      }
    }
  }

  std::vector<std::string_view> spellings;
  for (const ir::OptionInfo& o : ir::AllOptions()) {
    if (o.context == context) {
      spellings.push_back(Spell(o));
    }
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    const ir::OptionInfo* found = nullptr;
    for (const ir::OptionInfo& o : ir::AllOptions()) {
      if (o.context == context && Spell(o) == keys[k].name) {
        found = &o;
        break;
      }
    }
    if (found == nullptr) {
      Diagnostic& d = sink_.Emit<DiagnosticKind::kUnknownOption>(keys[k].loc, keys[k].name, callee);
      if (context == OptionContext::kSecretRef && !DidYouMean(keys[k].name, spellings)) {
        // `SecretRef("n", value="sk-...")`: whatever an unknown option of a secret holds may be the
        // secret itself (a typo of `hosts` holds hosts, and is shown).
        d.redactions.push_back(values[k].loc);
      }
      if (auto suggestion = DidYouMean(keys[k].name, spellings)) {
        d.hint = "did you mean `" + *suggestion + "`?";
        d.fix = FixIt{keys[k].loc, *suggestion, "rename to `" + *suggestion + "`"};
        for (const ir::OptionInfo& o : ir::AllOptions()) {
          if (o.context == context && Spell(o) == *suggestion) {
            bound.suggested.push_back(o.canonical);
          }
        }
      } else {
        std::string known;
        for (std::string_view s : spellings) {
          known += known.empty() ? "" : ", ";
          known += "`" + std::string(s) + "`";
        }
        d.hint = "known options: " + known;
      }
      continue;
    }
    add(found->canonical, &values[k], keys[k].loc);
  }
  return bound;
}

std::optional<int32_t> Lowerer::GetInt(const StaticValue* value, OptionContext context,
                                       std::string_view canonical, const std::string& pointer) {
  if (value == nullptr) {
    return std::nullopt;
  }
  std::string spelled = Spell(context, canonical);
  if (value->kind != Kind::kInt) {
    TypeMismatch(*value, spelled, "an integer");
    return std::nullopt;
  }
  if (value->int_value < std::numeric_limits<int32_t>::min() ||
      value->int_value > std::numeric_limits<int32_t>::max()) {
    // The IR holds int32 only; anything wider is out of every option's range, so say which range.
    const ir::OptionInfo* o = ir::FindOption(context, canonical);
    std::string range = o ? std::to_string(o->min) + ".." + std::to_string(o->max) : "int32";
    // A literal too large for int64 is shown as written, not as the INT64_MAX it saturated to.
    std::string shown = value->text.empty() ? std::to_string(value->int_value) : value->text;
    sink_.Emit<DiagnosticKind::kOutOfRange>(value->loc, spelled, shown, range);
    return std::nullopt;
  }
  locs_->Set(pointer, value->loc);
  return static_cast<int32_t>(value->int_value);
}

std::optional<std::vector<std::string>> Lowerer::GetStringList(const StaticValue* value,
                                                               std::string_view option,
                                                               const std::string& pointer,
                                                               bool non_empty) {
  if (value == nullptr) {
    return std::nullopt;
  }
  std::string_view expected = non_empty ? "a non-empty list of strings" : "a list of strings";
  if (value->kind != Kind::kList || (non_empty && value->items.empty())) {
    TypeMismatch(*value, option, expected);
    return std::nullopt;
  }
  locs_->Set(pointer, value->loc);
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < value->items.size(); ++i) {
    const StaticValue& item = value->items[i];
    if (item.kind != Kind::kString) {
      TypeMismatch(item, option, expected);
      ok = false;
      continue;
    }
    locs_->Set(Index(pointer, i), item.loc);
    out.push_back(item.text);
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

void Lowerer::LowerStringMap(const StaticValue& value, std::string_view option,
                             const std::string& pointer,
                             google::protobuf::Map<std::string, std::string>& out) {
  if (value.kind != Kind::kDict) {
    TypeMismatch(value, option, "a mapping of strings to strings");
    return;
  }
  locs_->Set(pointer, value.loc);
  for (size_t i = 0; i < value.keys.size(); ++i) {
    const StaticValue& v = value.values[i];
    if (v.kind != Kind::kString) {
      TypeMismatch(v, std::string(option) + "[\"" + value.keys[i].name + "\"]", "a string");
      continue;
    }
    std::string key_pointer = pointer + "/" + ir::EscapePointerToken(value.keys[i].name);
    if (out.contains(value.keys[i].name)) {
      sink_.Emit<DiagnosticKind::kDuplicateOption>(
          value.keys[i].loc, std::string(option) + "[\"" + value.keys[i].name + "\"]");
      continue;
    }
    // Checks of the name (env var syntax, clashes with secrets) point at the key.
    locs_->Set(key_pointer, value.keys[i].loc);
    out[value.keys[i].name] = v.text;
  }
}

void Lowerer::LowerImage(const StaticValue& value, ir::v1::Workload& w) {
  if (value.kind == Kind::kCall) {
    LowerDebianImage(value, w);
    return;
  }
  std::optional<std::string> text = GetString(&value, "image", "/image");
  if (!text) {
    return;
  }
  ir::v1::Image* image = w.mutable_image();
  size_t colon = text->find(':');
  if (colon == std::string::npos) {
    // No kind prefix: keep the text so the validate pass can say what is wrong with it.
    image->set_ref(*text);
    return;
  }
  image->set_kind(text->substr(0, colon));
  image->set_ref(text->substr(colon + 1));
  if (image->kind() == "oci") {
    size_t at = image->ref().find('@');
    if (at != std::string::npos) {
      image->set_digest(image->ref().substr(at + 1));
    }
  }
}

void Lowerer::LowerDebianImage(const StaticValue& value, ir::v1::Workload& w) {
  if (value.text != "Image.debian") {
    TypeMismatch(value, "image", "an image reference string or `Image.debian(...)`");
    return;
  }
  BoundArgs args = Bind(OptionContext::kImageDebian, "Image.debian", {"packages"}, value.items,
                        value.keys, value.values);
  locs_->Set("/image", value.loc);
  ir::v1::Image* image = w.mutable_image();
  image->set_kind("debian");
  // The suite is written into the IR even when defaulted, so a plan says which Debian it builds.
  std::optional<std::string> suite =
      GetString(args.Get("ref"), Spell(OptionContext::kImageDebian, "ref"), "/image/ref");
  image->set_ref(
      suite ? *suite
            : std::string(ir::FindOption(OptionContext::kImageDebian, "ref")->default_value));
  if (const StaticValue* packages = args.Get("packages")) {
    if (auto names = GetStringList(packages, "packages", "/image/packages", /*non_empty=*/false)) {
      for (std::string& name : *names) {
        image->add_packages(std::move(name));
      }
    }
  } else if (!args.Suggested("packages")) {
    sink_.Emit<DiagnosticKind::kMissingOption>(value.loc, "Image.debian", "packages");
  }
}

void Lowerer::LowerNetwork(const StaticValue& value, ir::v1::Workload& w) {
  if (value.kind == Kind::kNull) {
    return;  // Same as omitting it: no network at all.
  }
  std::string policy = language_ == Language::kPython ? "NetworkPolicy.deny_by_default()"
                                                      : "NetworkPolicy.denyByDefault()";
  // Unroll the chain from its root.
  std::vector<const StaticValue*> chain;
  for (const StaticValue* v = &value; v != nullptr; v = v->receiver.get()) {
    if (v->kind != Kind::kCall) {
      TypeMismatch(value, "network", "a `" + policy + "` chain");
      return;
    }
    chain.insert(chain.begin(), v);
  }
  std::string root = language_ == Language::kPython ? "NetworkPolicy.deny_by_default"
                                                    : "NetworkPolicy.denyByDefault";
  if (chain.front()->text != root) {
    TypeMismatch(*chain.front(), "network", "a `" + policy + "` chain");
    return;
  }
  ir::v1::NetworkPolicy* net = w.mutable_network();
  net->set_default_("deny");
  *net->mutable_loc() = ir::ToProto(value.loc);
  locs_->Set("/network", value.loc);
  for (size_t i = 1; i < chain.size(); ++i) {
    const StaticValue& step = *chain[i];
    const ir::OptionInfo* method = nullptr;
    std::vector<std::string_view> spellings;
    for (const ir::OptionInfo& o : ir::AllOptions()) {
      if (o.context == OptionContext::kNetwork) {
        spellings.push_back(Spell(o));
        if (Spell(o) == step.text) {
          method = &o;
        }
      }
    }
    if (method == nullptr) {
      Diagnostic& d = sink_.Emit<DiagnosticKind::kUnknownOption>(
          step.callee_loc.valid() ? step.callee_loc : step.loc, step.text, "NetworkPolicy");
      if (auto suggestion = DidYouMean(step.text, spellings)) {
        d.hint = "did you mean `" + *suggestion + "`?";
      }
      continue;
    }
    std::string spelled(Spell(*method));
    if (!step.keys.empty()) {
      sink_.Emit<DiagnosticKind::kUnknownOption>(step.keys[0].loc, step.keys[0].name, spelled);
    }
    if (method->canonical == "allow_dns") {
      if (!step.items.empty()) {
        sink_.Emit<DiagnosticKind::kTypeMismatch>(step.items[0].loc, spelled, "no arguments",
                                                  std::to_string(step.items.size()));
      }
      net->set_dns(true);
      continue;
    }
    if (step.items.empty()) {
      sink_.Emit<DiagnosticKind::kMissingOption>(
          step.callee_loc.valid() ? step.callee_loc : step.loc, spelled, "host");
      continue;
    }
    std::string protocol = method->canonical == "allow_https" ? "https" : "http";
    for (const StaticValue& host : step.items) {
      if (host.kind != Kind::kString) {
        TypeMismatch(host, spelled, "a host name string");
        continue;
      }
      int index = net->rules_size();
      ir::v1::NetworkRule* rule = net->add_rules();
      rule->set_protocol(protocol);
      rule->set_host(host.text);
      *rule->mutable_loc() = ir::ToProto(host.loc);
      locs_->Set(Index("/network/rules", index), host.loc);
    }
  }
}

void Lowerer::LowerSecrets(const StaticValue& value, ir::v1::Workload& w) {
  if (value.kind != Kind::kDict) {
    TypeMismatch(value, "secrets", "a mapping of environment names to `SecretRef(...)`");
    return;
  }
  locs_->Set("/secrets", value.loc);
  for (size_t i = 0; i < value.keys.size(); ++i) {
    const std::string& env = value.keys[i].name;
    const StaticValue& v = value.values[i];
    if (v.kind == Kind::kString) {
      // Never echo the value: the message names the variable, and printers mask the literal.
      Diagnostic& d = sink_.Emit<DiagnosticKind::kPlaintextSecret>(v.loc, env);
      d.redact = true;
      continue;
    }
    if (v.kind != Kind::kCall || v.text != "SecretRef") {
      if (v.kind != Kind::kInvalid) {
        // Not a reference, so it may be the secret in another shape (a list, a bytes literal):
        // name the variable, never show the value.
        Diagnostic& d = sink_.Emit<DiagnosticKind::kTypeMismatch>(
            v.loc, "secrets[\"" + env + "\"]", "`SecretRef(name, hosts=[...])`", DescribeType(v));
        d.redact = true;
      }
      continue;
    }
    BoundArgs args =
        Bind(OptionContext::kSecretRef, "SecretRef", {"name"}, v.items, v.keys, v.values);
    std::string base = Index("/secrets", static_cast<size_t>(w.secrets_size()));
    std::optional<std::string> name = GetString(args.Get("name"), "name", base + "/name");
    if (!args.Get("name") && !args.Suggested("name")) {
      sink_.Emit<DiagnosticKind::kMissingOption>(v.loc, "SecretRef", "name");
    }
    std::optional<std::vector<std::string>> hosts;
    if (const StaticValue* h = args.Get("hosts")) {
      hosts = GetStringList(h, "hosts", base + "/hosts", /*non_empty=*/false);
      if (!hosts) {
        continue;
      }
    }
    if (!name) {
      continue;
    }
    ir::v1::Secret* secret = w.add_secrets();
    secret->set_env(env);
    secret->set_name(*name);
    if (hosts) {
      for (std::string& host : *hosts) {
        secret->add_hosts(std::move(host));
      }
    }
    *secret->mutable_loc() = ir::ToProto(v.loc);
    locs_->Set(base, v.loc);
    locs_->Set(base + "/env", value.keys[i].loc);
  }
}

void Lowerer::LowerVolumes(const StaticValue& value, ir::v1::Workload& w) {
  constexpr std::string_view kExpected =
      "`Volume.local(...)`, `Volume.memory(...)`, `Volume.encrypted(...)` or `Volume.object(...)`";
  if (value.kind != Kind::kList) {
    TypeMismatch(value, "volumes", "a list of " + std::string(kExpected));
    return;
  }
  locs_->Set("/volumes", value.loc);
  for (const StaticValue& v : value.items) {
    static constexpr std::string_view kLocalPositional[] = {"source", "target", "mode"};
    static constexpr std::string_view kTwo[] = {"source", "target"};
    static constexpr std::string_view kTarget[] = {"target"};
    static constexpr std::string_view kEncryptedRequired[] = {"source", "target", "size_mb"};
    static constexpr std::string_view kObjectRequired[] = {"source", "target", "endpoint",
                                                           "credentials"};
    struct FormRow {
      std::string_view callee;
      std::string_view kind;
      OptionContext context;
      std::span<const std::string_view> positional;
      std::span<const std::string_view> required;
    };
    static constexpr FormRow kForms[] = {
        {"Volume.local", "local", OptionContext::kVolumeLocal, kLocalPositional, kTwo},
        {"Volume.memory", "memory", OptionContext::kVolumeMemory, kTarget, kTarget},
        {"Volume.encrypted", "encrypted", OptionContext::kVolumeEncrypted, kTwo,
         kEncryptedRequired},
        {"Volume.object", "object", OptionContext::kVolumeObject, kTwo, kObjectRequired},
    };
    const FormRow* form = nullptr;
    for (const FormRow& f : kForms) {
      if (v.kind == Kind::kCall && v.text == f.callee) {
        form = &f;
      }
    }
    if (form == nullptr) {
      TypeMismatch(v, "volumes", kExpected);
      continue;
    }
    std::string base = Index("/volumes", static_cast<size_t>(w.volumes_size()));
    BoundArgs args = Bind(form->context, form->callee, form->positional, v.items, v.keys, v.values);
    auto get_string = [&](std::string_view canonical) {
      return GetString(args.Get(canonical), Spell(form->context, canonical),
                       base + "/" + std::string(canonical));
    };
    ir::v1::Volume vol;
    vol.set_kind(std::string(form->kind));
    std::optional<std::string> source;
    if (form->context != OptionContext::kVolumeMemory) {
      source = get_string("source");
    }
    std::optional<std::string> target = get_string("target");
    std::optional<std::string> mode;
    if (ir::FindOption(form->context, "mode") != nullptr) {
      mode = get_string("mode");
    }
    std::optional<std::string> endpoint;
    std::optional<std::string> credentials;
    if (form->context == OptionContext::kVolumeObject) {
      endpoint = get_string("endpoint");
      credentials = LowerCredentials(args.Get("credentials"), base + "/credentials");
    }
    for (std::string_view required : form->required) {
      if (!args.Get(required) && !args.Suggested(required)) {
        sink_.Emit<DiagnosticKind::kMissingOption>(v.loc, form->callee,
                                                   Spell(form->context, required));
      }
    }
    std::optional<int32_t> size;
    if (ir::FindOption(form->context, "size_mb") != nullptr) {
      size = GetInt(args.Get("size_mb"), form->context, "size_mb", base + "/size_mb");
    }
    bool complete = target.has_value() &&
                    (form->context == OptionContext::kVolumeMemory || source.has_value()) &&
                    (form->context != OptionContext::kVolumeEncrypted || size.has_value()) &&
                    (form->context != OptionContext::kVolumeObject ||
                     (endpoint.has_value() && credentials.has_value()));
    if (!complete) {
      continue;
    }
    if (source) {
      vol.set_source(*source);
    }
    vol.set_target(*target);
    // Undeclared options stay absent: the IR holds what was declared, the plan the defaults.
    if (mode) {
      vol.set_mode(*mode);
    }
    if (size) {
      vol.set_size_mb(*size);
    }
    if (endpoint) {
      vol.set_endpoint(*endpoint);
    }
    if (credentials) {
      vol.set_credentials(*credentials);
    }
    *vol.mutable_loc() = ir::ToProto(v.loc);
    locs_->Set(base, v.loc);
    *w.add_volumes() = std::move(vol);
  }
}

std::optional<std::string> Lowerer::LowerCredentials(const StaticValue* value,
                                                     const std::string& pointer) {
  if (value == nullptr || value->kind == Kind::kInvalid) {
    return std::nullopt;
  }
  if (value->kind == Kind::kString) {
    // The access keys themselves, written into the source: never echo them.
    Diagnostic& d = sink_.Emit<DiagnosticKind::kPlaintextSecret>(value->loc, "credentials");
    d.redact = true;
    d.hint = std::string(
                 "store the access keys in the host secret store (`mvmctl secret set NAME`) "
                 "and name the secret: ") +
             (language_ == Language::kPython ? "`credentials=SecretRef(\"NAME\")`"
                                             : "`credentials: SecretRef(\"NAME\")`");
    return std::nullopt;
  }
  if (value->kind != Kind::kCall || value->text != "SecretRef") {
    Diagnostic& d = sink_.Emit<DiagnosticKind::kTypeMismatch>(
        value->loc, "credentials", "`SecretRef(name)`", DescribeType(*value));
    d.redact = true;
    return std::nullopt;
  }
  BoundArgs args = Bind(OptionContext::kSecretRef, "SecretRef", {"name"}, value->items, value->keys,
                        value->values);
  if (!args.Get("name") && !args.Suggested("name")) {
    sink_.Emit<DiagnosticKind::kMissingOption>(value->loc, "SecretRef", "name");
  }
  std::optional<std::string> name = GetString(args.Get("name"), "name", pointer);
  if (const StaticValue* hosts = args.Get("hosts")) {
    // The keys sign requests to the volume's endpoint and are never handed to the guest, so there
    // is no host list to give.
    Diagnostic& d = sink_.Emit<DiagnosticKind::kUnknownOption>(
        hosts->loc, Spell(OptionContext::kSecretRef, "hosts"), "credentials=SecretRef");
    d.hint =
        "an object volume's credentials only sign requests to its `endpoint`, so they name no "
        "hosts; leave out `hosts`";
    return std::nullopt;
  }
  return name;
}

void Lowerer::LowerPorts(const StaticValue& value, ir::v1::Workload& w) {
  if (value.kind != Kind::kList) {
    TypeMismatch(value, "ports", "a list of integers");
    return;
  }
  locs_->Set("/ports", value.loc);
  for (const StaticValue& p : value.items) {
    auto port = GetInt(&p, OptionContext::kWorkload, "ports", Index("/ports", w.ports_size()));
    if (port) {
      w.add_ports(*port);
    }
  }
}

void Lowerer::LowerMember(const MemberDecl& member, ir::v1::Workload& w) {
  const DecoratorCall& call = member.call;
  bool service = call.sdk_name == "service";
  OptionContext context = service ? OptionContext::kService : OptionContext::kEntrypoint;
  std::string callee = "@" + call.sdk_name;
  BoundArgs args = Bind(context, callee, {"name"}, call.args, call.keys, call.values);
  std::string base =
      service ? Index("/services", w.services_size()) : Index("/entrypoints", w.entrypoints_size());
  locs_->Set(base, call.loc);

  std::string name = member.method_name;
  if (auto n = GetString(args.Get("name"), "name", base + "/name")) {
    name = *n;
  }
  auto command = GetStringList(args.Get("command"), "command", base + "/command", true);
  if (!args.Get("command") && !args.Suggested("command")) {
    sink_.Emit<DiagnosticKind::kMissingOption>(call.loc, callee, "command");
  }
  if (service) {
    auto port = GetInt(args.Get("port"), context, "port", base + "/port");
    auto restart = GetString(args.Get("restart"), "restart", base + "/restart");
    auto max_restarts =
        GetInt(args.Get("max_restarts"), context, "max_restarts", base + "/max_restarts");
    if (!command) {
      return;
    }
    ir::v1::Service* s = w.add_services();
    s->set_name(name);
    for (auto& arg : *command) {
      s->add_command(arg);
    }
    if (port) {
      s->set_port(*port);
    }
    if (restart) {
      s->set_restart(*restart);
    }
    if (max_restarts) {
      s->set_max_restarts(*max_restarts);
    }
    *s->mutable_loc() = ir::ToProto(call.loc);
    return;
  }
  auto timeout =
      GetInt(args.Get("timeout_seconds"), context, "timeout_seconds", base + "/timeout_seconds");
  if (!command) {
    return;
  }
  ir::v1::Entrypoint* e = w.add_entrypoints();
  e->set_name(name);
  for (auto& arg : *command) {
    e->add_command(arg);
  }
  if (timeout) {
    e->set_timeout_seconds(*timeout);
  }
  *e->mutable_loc() = ir::ToProto(call.loc);
}

void Lowerer::LowerWorkload(const WorkloadDecl& decl, ir::Module& out) {
  ir::v1::Workload w;
  ir::LocTable locs;
  locs_ = &locs;
  size_t errors_before = sink_.error_count();
  const DecoratorCall& call = decl.call;
  *w.mutable_source() = ir::ToProto(call.loc);

  BoundArgs args =
      Bind(OptionContext::kWorkload, "@workload", {"id"}, call.args, call.keys, call.values);
  bool ok = true;
  if (auto id = GetString(args.Get("id"), "id", "/id")) {
    w.set_id(*id);
  } else {
    ok = false;
    if (!args.Get("id") && !args.Suggested("id")) {
      sink_.Emit<DiagnosticKind::kMissingOption>(call.loc, "@workload", "id");
    }
  }
  if (const StaticValue* image = args.Get("image")) {
    LowerImage(*image, w);
  } else if (!args.Suggested("image")) {
    sink_.Emit<DiagnosticKind::kMissingOption>(call.loc, "@workload", "image");
  }
  ir::v1::Resources resources;
  if (auto v = GetInt(args.Get("cpu"), OptionContext::kWorkload, "cpu", "/resources/cpu")) {
    resources.set_cpu(*v);
  }
  if (auto v = GetInt(args.Get("memory_mb"), OptionContext::kWorkload, "memory_mb",
                      "/resources/memory_mb")) {
    resources.set_memory_mb(*v);
  }
  if (auto v =
          GetInt(args.Get("disk_mb"), OptionContext::kWorkload, "disk_mb", "/resources/disk_mb")) {
    resources.set_disk_mb(*v);
  }
  if (resources.has_cpu() || resources.has_memory_mb() || resources.has_disk_mb()) {
    *w.mutable_resources() = resources;
  }
  if (auto v = GetInt(args.Get("timeout_seconds"), OptionContext::kWorkload, "timeout_seconds",
                      "/timeout_seconds")) {
    w.set_timeout_seconds(*v);
  }
  if (auto v = GetString(args.Get("isolation"), "isolation", "/isolation")) {
    w.set_isolation(*v);
  }
  if (const StaticValue* v = args.Get("network")) {
    LowerNetwork(*v, w);
  }
  if (const StaticValue* v = args.Get("secrets")) {
    LowerSecrets(*v, w);
  }
  if (const StaticValue* v = args.Get("volumes")) {
    LowerVolumes(*v, w);
  }
  if (const StaticValue* v = args.Get("env")) {
    LowerStringMap(*v, "env", "/env", *w.mutable_env());
  }
  if (const StaticValue* v = args.Get("ports")) {
    LowerPorts(*v, w);
  }
  if (const StaticValue* v = args.Get("labels")) {
    LowerStringMap(*v, "labels", "/labels", *w.mutable_labels());
  }
  if (const StaticValue* v = args.Get("file_set")) {
    if (auto patterns = GetStringList(v, "files", "/file_set/patterns", false)) {
      ir::v1::FileSet* files = w.mutable_file_set();
      for (std::string& p : *patterns) {
        files->add_patterns(std::move(p));
      }
      *files->mutable_loc() = ir::ToProto(v->loc);
      locs_->Set("/file_set", v->loc);
    }
  }

  if (decl.function_form) {
    ir::v1::Entrypoint* e = w.add_entrypoints();
    e->set_name("main");
    for (std::string& arg : ir::FunctionEntrypointCommand(file_name_, decl.target_name)) {
      e->add_command(std::move(arg));
    }
    *e->mutable_loc() = ir::ToProto(call.loc);
  }
  for (const MemberDecl& member : decl.members) {
    LowerMember(member, w);
  }
  locs_ = nullptr;
  if (decl.incomplete || sink_.error_count() != errors_before) {
    locs.MarkIncomplete();
  }
  if (!ok) {
    return;  // Without an id there is nothing later stages could refer to.
  }
  *out.proto.add_workloads() = std::move(w);
  out.locs.push_back(std::move(locs));
}

}  // namespace

std::string DescribeType(const StaticValue& value) {
  switch (value.kind) {
    case Kind::kInvalid:
      return "an invalid value";
    case Kind::kNull:
      return "a null value";
    case Kind::kBool:
      return "a boolean";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a float";
    case Kind::kString:
      return "a string";
    case Kind::kList:
      return value.items.empty() ? "an empty list" : "a list";
    case Kind::kDict:
      return "a mapping";
    case Kind::kCall:
      return "`" + value.text + "(...)`";
    case Kind::kOther:
      return value.text;
  }
  return "a value";
}

bool HasWorkload(const std::vector<DecoratorCall>& calls) {
  return std::any_of(calls.begin(), calls.end(),
                     [](const DecoratorCall& call) { return call.sdk_name == "workload"; });
}

void AddMemberDecorators(std::vector<DecoratorCall> calls, const std::string& method,
                         std::string_view workload_message, std::vector<MemberDecl>& members,
                         DiagnosticSink& sink) {
  for (DecoratorCall& call : calls) {
    if (call.reported) {
      continue;
    }
    if (call.sdk_name == "entrypoint" || call.sdk_name == "service") {
      members.push_back(MemberDecl{std::move(call), method});
    } else if (call.sdk_name == "workload") {
      sink.Emit<DiagnosticKind::kMisplacedDeclaration>(call.loc, workload_message);
    }
  }
}

void AddWorkloadDecorators(std::vector<DecoratorCall> calls, const std::string& target_name,
                           bool function_form, const std::vector<MemberDecl>& members,
                           size_t errors_before, std::vector<WorkloadDecl>& out,
                           DiagnosticSink& sink) {
  for (DecoratorCall& call : calls) {
    if (call.reported) {
      continue;
    }
    if (call.sdk_name == "workload") {
      WorkloadDecl decl;
      decl.call = std::move(call);
      decl.function_form = function_form;
      decl.target_name = target_name;
      decl.members = members;
      // Errors while reading it (a non-static command...) dropped parts whose absence later
      // checks must not report again.
      decl.incomplete = sink.error_count() != errors_before;
      out.push_back(std::move(decl));
    } else if (call.sdk_name == "entrypoint" || call.sdk_name == "service") {
      sink.Emit<DiagnosticKind::kMisplacedDeclaration>(
          call.loc, "`@" + call.sdk_name + "` must decorate a method of a `@workload` class");
    }
  }
}

void LowerDeclarations(Language language, const std::vector<WorkloadDecl>& decls,
                       const std::string& file_name, ir::Module& out, DiagnosticSink& sink) {
  Lowerer lowerer(language, file_name, sink);
  for (const WorkloadDecl& decl : decls) {
    lowerer.LowerWorkload(decl, out);
  }
}

}  // namespace mvm::frontend
