// The org-policy pass: an organisation's own limits (`--policy mvm-policy.json`) on top of the
// profile. It only ever reports, so a policy tightens what the profile allows and cannot loosen
// it. Limits on values the declaration leaves out apply to the defaults that lowering to a plan
// will fill in (ir/options.def), since those are what the sandbox gets.

#include <charconv>
#include <string>
#include <string_view>

#include "ir/options.h"
#include "ir/support/check.h"
#include "passes/host.h"
#include "passes/image_ref.h"
#include "passes/pass.h"

namespace mvm::passes {
namespace {

using ir::v1::Workload;

std::string Quoted(std::string_view s) { return "`" + std::string(s) + "`"; }

std::string QuotedList(const std::vector<std::string>& items) {
  if (items.empty()) {
    return "[] (none)";
  }
  std::string out = "[";
  for (const std::string& item : items) {
    out += (out.size() > 1 ? ", " : "") + Quoted(item);
  }
  return out + "]";
}

const ir::OptionInfo& Option(std::string_view name) {
  const ir::OptionInfo* info = ir::FindOption(ir::OptionContext::kWorkload, name);
  MVM_CHECK(info != nullptr);
  return *info;
}

int32_t DefaultOf(const ir::OptionInfo& info) {
  int32_t value = 0;
  std::string_view text = info.default_value;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  MVM_CHECK(ec == std::errc() && end == text.data() + text.size());
  return value;
}

// `repo` is `registry/path` of an image; `entry` a registry with an optional path prefix. Matching
// is by whole path components, so `ghcr.io/acme` does not admit `ghcr.io/acme-evil/x`.
bool RegistryEntryAllows(std::string_view entry, std::string_view repo) {
  return repo == entry || (repo.starts_with(entry) && repo[entry.size()] == '/');
}

// `docker.io/library/python` for `python`, as Docker itself resolves the short forms.
std::string ImageRepository(const ImageRef& ref) {
  std::string domain = LowercaseHost(ref.domain);
  if (domain.empty() || domain == "index.docker.io") {
    domain = "docker.io";
  }
  std::string path = ref.path;
  if (domain == "docker.io" && path.find('/') == std::string::npos) {
    path = "library/" + path;
  }
  return domain + "/" + path;
}

class OrgPolicyChecker {
 public:
  OrgPolicyChecker(const ir::Module& module, int index, const OrgPolicy& policy,
                   DiagnosticSink& sink)
      : module_(module),
        index_(index),
        w_(module.proto.workloads(index)),
        policy_(policy),
        sink_(sink) {}

  void Run() {
    CheckRegistry();
    CheckEgress();
    const ir::v1::Resources& r = w_.resources();
    CheckLimit("cpu", r.has_cpu(), r.cpu(), "/resources/cpu", "max_cpu", policy_.max_cpu);
    CheckLimit("memory_mb", r.has_memory_mb(), r.memory_mb(), "/resources/memory_mb",
               "max_memory_mb", policy_.max_memory_mb);
    CheckLimit("disk_mb", r.has_disk_mb(), r.disk_mb(), "/resources/disk_mb", "max_disk_mb",
               policy_.max_disk_mb);
    CheckLimit("timeout_seconds", w_.has_timeout_seconds(), w_.timeout_seconds(),
               "/timeout_seconds", "max_timeout_seconds", policy_.max_timeout_seconds);
    CheckIsolation();
  }

 private:
  void Report(SourceLoc loc, std::string what, std::string_view field, std::string limit) {
    sink_.Emit<DiagnosticKind::kPolicyViolation>(std::move(loc), std::move(what), policy_.path,
                                                 field, std::move(limit));
  }

  void CheckRegistry() {
    if (!policy_.allowed_registries || !w_.has_image() || w_.image().kind() != "oci") {
      return;
    }
    ImageRefResult parsed = ParseImageRef("oci", w_.image().ref());
    if (!parsed.ok()) {
      return;  // validate's invalid-image-ref already
    }
    std::string repo = ImageRepository(parsed.ref);
    for (const std::string& entry : *policy_.allowed_registries) {
      if (RegistryEntryAllows(entry, repo)) {
        return;
      }
    }
    Report(module_.Loc(index_, "/image"),
           "image `oci:" + w_.image().ref() + "` comes from `" + repo + "`", "allowed_registries",
           QuotedList(*policy_.allowed_registries));
  }

  void CheckEgress() {
    if (!policy_.egress_allow || !w_.has_network()) {
      return;
    }
    for (int i = 0; i < w_.network().rules_size(); ++i) {
      const ir::v1::NetworkRule& rule = w_.network().rules(i);
      if (!HostError(rule.host()).empty()) {
        continue;  // validate's invalid-host already
      }
      bool allowed = false;
      for (const std::string& entry : *policy_.egress_allow) {
        allowed = allowed || HostAllows(entry, rule.host());
      }
      if (!allowed) {
        Report(module_.Loc(index_, "/network/rules/" + std::to_string(i)),
               rule.protocol() + " egress to `" + rule.host() + "`", "egress_allow",
               QuotedList(*policy_.egress_allow));
      }
    }
  }

  void CheckLimit(std::string_view option, bool declared, int32_t value, std::string_view pointer,
                  std::string_view field, const std::optional<int32_t>& limit) {
    if (!limit) {
      return;
    }
    const ir::OptionInfo& info = Option(option);
    if (!declared) {
      int32_t fallback = DefaultOf(info);
      if (fallback > *limit) {
        Diagnostic& d = sink_.Emit<DiagnosticKind::kPolicyViolation>(
            ir::FromProto(w_.source()),
            "`" + std::string(option) + "` is not declared and defaults to " +
                std::to_string(fallback),
            policy_.path, field, std::to_string(*limit));
        d.hint = "declare `" + std::string(info.python) + "=` with a value up to " +
                 std::to_string(*limit);
      }
      return;
    }
    // A value outside the option's own range is validate's out-of-range already.
    if (value < info.min || value > info.max || value <= *limit) {
      return;
    }
    Report(module_.Loc(index_, pointer),
           "`" + std::string(option) + "` is " + std::to_string(value), field,
           std::to_string(*limit));
  }

  void CheckIsolation() {
    if (policy_.required_isolation.empty()) {
      return;
    }
    std::string isolation =
        w_.isolation().empty() ? std::string(Option("isolation").default_value) : w_.isolation();
    if (isolation != policy_.required_isolation &&
        (isolation == "microvm" || isolation == "container")) {
      Report(module_.Loc(index_, "/isolation"), "`isolation` is `" + isolation + "`",
             "required_isolation", Quoted(policy_.required_isolation));
    }
  }

  const ir::Module& module_;
  int index_;
  const Workload& w_;
  const OrgPolicy& policy_;
  DiagnosticSink& sink_;
};

}  // namespace

void RunOrgPolicy(ir::Module& module, PassContext& context) {
  if (!context.options.org_policy) {
    return;
  }
  for (int i = 0; i < module.proto.workloads_size(); ++i) {
    OrgPolicyChecker(module, i, *context.options.org_policy, context.sink).Run();
  }
}

}  // namespace mvm::passes
