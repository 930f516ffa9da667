// Lowering checked IR to an ExecutionPlan. The IR holds what was declared; the plan holds what the
// launcher enforces, so every default is applied here, from the same table (ir/options.def) that
// the frontends and the docs read.

#include "backend-emit/plan/lower.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <charconv>

#include "backend-emit/plan/time.h"
#include "ir/digest.h"
#include "ir/json.h"
#include "ir/module.h"
#include "ir/options.h"
#include "ir/support/check.h"

namespace mvm::plan {
namespace {

namespace pb = google::protobuf;
using ir::OptionContext;

// The integer default of an option in ir/options.def. The table is ours, so a missing or
// non-numeric default is a bug.
int32_t IntDefault(OptionContext context, std::string_view option) {
  const ir::OptionInfo* info = ir::FindOption(context, option);
  MVM_CHECK(info != nullptr);
  int32_t value = 0;
  std::string_view text = info->default_value;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  MVM_CHECK(ec == std::errc() && end == text.data() + text.size());
  return value;
}

std::string StringDefault(OptionContext context, std::string_view option) {
  const ir::OptionInfo* info = ir::FindOption(context, option);
  MVM_CHECK(info != nullptr && !info->default_value.empty());
  return std::string(info->default_value);
}

v1::Artifact RootfsArtifact(const ir::v1::Image& image) {
  v1::Artifact a;
  a.set_role("rootfs");
  a.set_kind(image.kind());
  a.set_ref(image.ref());
  if (image.kind() == "oci") {
    a.set_digest(image.digest());
  } else if (image.kind() == "nix") {
    // validate guarantees `<flakeref>#<attr>`; the attribute is everything after the first `#`, as
    // in a URL fragment.
    std::string_view ref = image.ref();
    size_t hash = ref.find('#');
    a.set_flake_ref(std::string(ref.substr(0, hash)));
    if (hash != std::string_view::npos) {
      a.set_attr(std::string(ref.substr(hash + 1)));
    }
  }
  // nix and template: the output digest is unknown until `mvmctl build` has built it.
  return a;
}

v1::Lifecycle LowerLifecycle(const ir::v1::Workload& w) {
  v1::Lifecycle l;
  const ir::v1::Resources& r = w.resources();
  l.set_cpu(r.has_cpu() ? r.cpu() : IntDefault(OptionContext::kWorkload, "cpu"));
  l.set_memory_mb(r.has_memory_mb() ? r.memory_mb()
                                    : IntDefault(OptionContext::kWorkload, "memory_mb"));
  l.set_disk_mb(r.has_disk_mb() ? r.disk_mb() : IntDefault(OptionContext::kWorkload, "disk_mb"));
  l.set_timeout_seconds(w.has_timeout_seconds()
                            ? w.timeout_seconds()
                            : IntDefault(OptionContext::kWorkload, "timeout_seconds"));
  l.set_isolation(w.isolation().empty() ? StringDefault(OptionContext::kWorkload, "isolation")
                                        : w.isolation());
  return l;
}

v1::Mount LowerMount(const ir::v1::Volume& v) {
  v1::Mount m;
  m.set_kind(v.kind());
  m.set_target(v.target());
  if (v.kind() == "local") {
    m.set_source(v.source());
    m.set_mode(v.mode().empty() ? StringDefault(OptionContext::kVolumeLocal, "mode") : v.mode());
  } else if (v.kind() == "encrypted") {
    // The store's name, never its key: the runtime takes the key from the host secret store.
    m.set_source(v.source());
    m.set_mode("rw");
    m.set_size_mb(v.size_mb());
  } else if (v.kind() == "object") {
    m.set_source(v.source());
    m.set_mode(v.mode().empty() ? StringDefault(OptionContext::kVolumeObject, "mode") : v.mode());
    m.set_endpoint(v.endpoint());
    // A SecretRef's name, as for `secrets`: the access keys stay in the host store.
    m.set_credentials(v.credentials());
  } else {
    // A tmpfs is always writable: it holds nothing of the host's.
    m.set_mode("rw");
    m.set_size_mb(v.has_size_mb() ? v.size_mb()
                                  : IntDefault(OptionContext::kVolumeMemory, "size_mb"));
  }
  return m;
}

}  // namespace

ErrorOr<v1::ExecutionPlan> LowerToPlan(const ir::v1::Workload& checked,
                                       const PlanOptions& options) {
  auto not_before = FormatTimestamp(options.not_before);
  if (!not_before) {
    return not_before.error();
  }
  auto expires_at = FormatTimestamp(options.expires_at);
  if (!expires_at) {
    return expires_at.error();
  }
  if (options.expires_at <= options.not_before) {
    return Error{"the plan would expire (" + *expires_at + ") before it becomes valid (" +
                 *not_before + ")"};
  }

  v1::ExecutionPlan plan;
  plan.set_schema(std::string(kPlanSchema));
  *plan.mutable_workload() = checked;
  ir::ClearSourceLocs(*plan.mutable_workload());
  const ir::v1::Workload& w = plan.workload();
  {
    ir::Module single;
    *single.proto.add_workloads() = w;
    single.locs.emplace_back();
    plan.set_ir_digest(ir::ModuleDigest(single));
  }
  *plan.add_artifacts() = RootfsArtifact(w.image());

  v1::Network& network = *plan.mutable_network();
  network.set_default_("deny");
  if (w.has_network()) {
    network.set_dns(w.network().dns());
    for (const ir::v1::NetworkRule& rule : w.network().rules()) {
      v1::EgressRule& r = *network.add_rules();
      r.set_protocol(rule.protocol());
      r.set_host(rule.host());
    }
  }
  for (const ir::v1::Secret& s : w.secrets()) {
    v1::SecretGrant& g = *plan.add_secrets();
    g.set_env(s.env());
    g.set_name(s.name());
    *g.mutable_hosts() = s.hosts();
  }
  for (const ir::v1::Volume& v : w.volumes()) {
    *plan.add_mounts() = LowerMount(v);
  }
  *plan.mutable_lifecycle() = LowerLifecycle(w);
  plan.set_not_before(*not_before);
  plan.set_expires_at(*expires_at);
  plan.set_epoch(options.epoch);
  plan.set_compiler_version(options.compiler_version);
  plan.set_key_id(options.key_id);
  plan.set_profile(options.profile);
  return plan;
}

}  // namespace mvm::plan
