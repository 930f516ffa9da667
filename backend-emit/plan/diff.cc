#include "backend-emit/plan/diff.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "backend-emit/plan/review_text.h"
#include "ir/canonical_json.h"

namespace mvm::plan {
namespace {

class Differ {
 public:
  explicit Differ(PlanDiff& diff) : diff_(diff) {}

  void Changed(std::string_view area, std::string old_value, std::string new_value, bool widens) {
    if (old_value == new_value) {
      return;
    }
    diff_.changes.push_back({std::string(area), ChangeKind::kChanged, std::move(old_value),
                             std::move(new_value), widens});
  }

  // Set-like areas: removals narrow, additions widen unless `added_widens` is false.
  void Sets(std::string_view area, const std::set<std::string>& old_set,
            const std::set<std::string>& new_set, bool added_widens = true) {
    std::set<std::string> all = old_set;
    all.insert(new_set.begin(), new_set.end());
    for (const std::string& v : all) {
      bool in_old = old_set.contains(v);
      bool in_new = new_set.contains(v);
      if (in_old && !in_new) {
        diff_.changes.push_back({std::string(area), ChangeKind::kRemoved, v, "", false});
      } else if (!in_old && in_new) {
        diff_.changes.push_back({std::string(area), ChangeKind::kAdded, "", v, added_widens});
      }
    }
  }

  // Keyed areas (entrypoints by name, files by path): each key's text is compared.
  void Keyed(std::string_view area, const std::map<std::string, std::string>& old_map,
             const std::map<std::string, std::string>& new_map) {
    std::set<std::string> keys;
    for (const auto& [k, v] : old_map) {
      keys.insert(k);
    }
    for (const auto& [k, v] : new_map) {
      keys.insert(k);
    }
    for (const std::string& k : keys) {
      auto o = old_map.find(k);
      auto n = new_map.find(k);
      if (n == new_map.end()) {
        diff_.changes.push_back({std::string(area), ChangeKind::kRemoved, o->second, "", false});
      } else if (o == old_map.end()) {
        diff_.changes.push_back({std::string(area), ChangeKind::kAdded, "", n->second, false});
      } else {
        Changed(area, o->second, n->second, false);
      }
    }
  }

  void Number(std::string_view area, int32_t old_value, int32_t new_value) {
    Changed(area, std::to_string(old_value), std::to_string(new_value), new_value > old_value);
  }

 private:
  PlanDiff& diff_;
};

std::string ImageText(const v1::ExecutionPlan& plan) {
  for (const v1::Artifact& a : plan.artifacts()) {
    if (a.role() == "rootfs") {
      std::string text = a.kind() + ":" + a.ref();
      // An oci ref already spells its digest; for built images it is the recorded output; a
      // debian image is pinned by the digest of its resolved package set, so a new pin means
      // other package versions even when the names stay.
      if (a.kind() == "debian") {
        text += a.digest().empty() ? " (package set not resolved)"
                                   : " (package set " + a.digest() + ")";
      } else if (a.kind() != "oci" && !a.digest().empty()) {
        text += " (built " + a.digest() + ")";
      }
      return text;
    }
  }
  return "(none)";
}

std::set<std::string> Packages(const v1::ExecutionPlan& plan) {
  const ir::v1::Image& image = plan.workload().image();
  if (image.kind() != "debian") {
    return {};
  }
  return {image.packages().begin(), image.packages().end()};
}

std::set<std::string> Egress(const v1::ExecutionPlan& plan) {
  std::set<std::string> out;
  for (const v1::EgressRule& r : plan.network().rules()) {
    out.insert(r.protocol() + " " + r.host());
  }
  return out;
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    out += out.empty() ? s : ", " + s;
  }
  return out;
}

std::string SecretText(const v1::SecretGrant& s) {
  return s.env() + " (" + s.name() + ") -> " + (s.hosts().empty() ? "no host" : Join(s.hosts()));
}

std::string MountText(const v1::Mount& m) {
  if (m.kind() == "local") {
    return "local " + m.source() + " -> " + m.target() + " (" + m.mode() + ")";
  }
  if (m.kind() == "encrypted") {
    return "encrypted " + m.source() + " -> " + m.target() + " (" + std::to_string(m.size_mb()) +
           " MiB)";
  }
  if (m.kind() == "object") {
    return "object " + m.source() + " -> " + m.target() + " (" + m.mode() + ", " + m.endpoint() +
           ", credentials " + m.credentials() + ")";
  }
  return m.kind() + " " + m.target() + " (" + std::to_string(m.size_mb()) + " MiB)";
}

void DiffSecrets(const v1::ExecutionPlan& a, const v1::ExecutionPlan& b, PlanDiff& diff) {
  std::map<std::string, const v1::SecretGrant*> old_by_env;
  std::map<std::string, const v1::SecretGrant*> new_by_env;
  for (const v1::SecretGrant& s : a.secrets()) {
    old_by_env[s.env()] = &s;
  }
  for (const v1::SecretGrant& s : b.secrets()) {
    new_by_env[s.env()] = &s;
  }
  std::set<std::string> envs;
  for (const auto& [env, s] : old_by_env) {
    envs.insert(env);
  }
  for (const auto& [env, s] : new_by_env) {
    envs.insert(env);
  }
  std::vector<CapabilityChange> host_changes;
  for (const std::string& env : envs) {
    auto o = old_by_env.find(env);
    auto n = new_by_env.find(env);
    if (n == new_by_env.end()) {
      diff.changes.push_back({"secret", ChangeKind::kRemoved, SecretText(*o->second), "", false});
      continue;
    }
    if (o == old_by_env.end()) {
      diff.changes.push_back({"secret", ChangeKind::kAdded, "", SecretText(*n->second), true});
      continue;
    }
    // The same variable backed by another stored secret hands the sandbox a value it never had.
    if (o->second->name() != n->second->name()) {
      diff.changes.push_back(
          {"secret", ChangeKind::kChanged, SecretText(*o->second), SecretText(*n->second), true});
    }
    std::set<std::string> old_hosts(o->second->hosts().begin(), o->second->hosts().end());
    std::set<std::string> new_hosts(n->second->hosts().begin(), n->second->hosts().end());
    PlanDiff hosts;
    Differ(hosts).Sets("secret-host", old_hosts, new_hosts);
    for (CapabilityChange& c : hosts.changes) {
      (c.kind == ChangeKind::kAdded ? c.new_value : c.old_value).insert(0, env + " -> ");
      host_changes.push_back(std::move(c));
    }
  }
  diff.changes.insert(diff.changes.end(), host_changes.begin(), host_changes.end());
}

void DiffMounts(const v1::ExecutionPlan& a, const v1::ExecutionPlan& b, PlanDiff& diff) {
  std::map<std::string, const v1::Mount*> old_by_target;
  std::map<std::string, const v1::Mount*> new_by_target;
  for (const v1::Mount& m : a.mounts()) {
    old_by_target[m.target()] = &m;
  }
  for (const v1::Mount& m : b.mounts()) {
    new_by_target[m.target()] = &m;
  }
  std::set<std::string> targets;
  for (const auto& [t, m] : old_by_target) {
    targets.insert(t);
  }
  for (const auto& [t, m] : new_by_target) {
    targets.insert(t);
  }
  for (const std::string& target : targets) {
    auto o = old_by_target.find(target);
    auto n = new_by_target.find(target);
    if (n == new_by_target.end()) {
      diff.changes.push_back({"mount", ChangeKind::kRemoved, MountText(*o->second), "", false});
    } else if (o == old_by_target.end()) {
      diff.changes.push_back({"mount", ChangeKind::kAdded, "", MountText(*n->second), true});
    } else {
      const v1::Mount& om = *o->second;
      const v1::Mount& nm = *n->second;
      bool widens = om.kind() != nm.kind() || om.source() != nm.source() ||
                    (om.mode() != "rw" && nm.mode() == "rw") || nm.size_mb() > om.size_mb() ||
                    om.endpoint() != nm.endpoint() || om.credentials() != nm.credentials();
      Differ(diff).Changed("mount", MountText(om), MountText(nm), widens);
    }
  }
}

std::set<std::string> Ports(const v1::ExecutionPlan& plan) {
  std::set<std::string> out;
  for (int32_t p : plan.workload().ports()) {
    out.insert(std::to_string(p));
  }
  for (const auto& s : plan.workload().services()) {
    if (s.has_port()) {
      out.insert(std::to_string(s.port()));
    }
  }
  return out;
}

std::map<std::string, std::string> Entrypoints(const v1::ExecutionPlan& plan) {
  std::map<std::string, std::string> out;
  for (const ir::v1::Entrypoint& e : plan.workload().entrypoints()) {
    out[e.name()] = EntrypointText(e);
  }
  return out;
}

std::map<std::string, std::string> Services(const v1::ExecutionPlan& plan) {
  std::map<std::string, std::string> out;
  for (const ir::v1::Service& s : plan.workload().services()) {
    out[s.name()] = ServiceText(s);
  }
  return out;
}

std::map<std::string, std::string> Files(const v1::ExecutionPlan& plan) {
  std::map<std::string, std::string> out;
  for (const ir::v1::File& f : plan.workload().files()) {
    out[f.path()] = FileText(f);
  }
  return out;
}

void DiffEnv(const v1::ExecutionPlan& a, const v1::ExecutionPlan& b, PlanDiff& diff) {
  // Sorted, for stable output (a proto map has no order).
  std::map<std::string, std::string> old_env(a.workload().env().begin(), a.workload().env().end());
  std::map<std::string, std::string> new_env(b.workload().env().begin(), b.workload().env().end());
  std::map<std::string, std::string> old_text;
  std::map<std::string, std::string> new_text;
  for (const auto& [k, v] : old_env) {
    old_text[k] = EnvText(k, v);
  }
  for (const auto& [k, v] : new_env) {
    auto o = old_env.find(k);
    // A hidden value spells the same either way, so its change is said in words.
    new_text[k] = o != old_env.end() && o->second != v && LooksLikeCredential(k)
                      ? ShellWord(k) + "=(another value, hidden)"
                      : EnvText(k, v);
  }
  Differ(diff).Keyed("env", old_text, new_text);
}

std::string_view KindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kRemoved:
      return "removed";
    case ChangeKind::kChanged:
      return "changed";
  }
  return "";
}

}  // namespace

bool PlanDiff::widened() const {
  return std::any_of(changes.begin(), changes.end(),
                     [](const CapabilityChange& c) { return c.widens; });
}

bool PlanDiff::changed() const {
  return std::any_of(changes.begin(), changes.end(),
                     [](const CapabilityChange& c) { return c.area != "expires_at"; });
}

PlanDiff DiffPlans(const v1::ExecutionPlan& a, const v1::ExecutionPlan& b) {
  PlanDiff diff;
  Differ d(diff);
  d.Changed("workload", a.workload().id(), b.workload().id(), false);
  d.Changed("image", ImageText(a), ImageText(b), false);
  // Software in the image, like the image itself: something else runs, with the same rights.
  d.Sets("package", Packages(a), Packages(b), /*added_widens=*/false);
  d.Keyed("entrypoint", Entrypoints(a), Entrypoints(b));
  d.Keyed("service", Services(a), Services(b));
  DiffEnv(a, b, diff);
  d.Keyed("file", Files(a), Files(b));
  d.Sets("egress", Egress(a), Egress(b));
  d.Changed("dns", a.network().dns() ? "on" : "off", b.network().dns() ? "on" : "off",
            b.network().dns());
  DiffSecrets(a, b, diff);
  DiffMounts(a, b, diff);
  d.Sets("port", Ports(a), Ports(b));
  d.Number("cpu", a.lifecycle().cpu(), b.lifecycle().cpu());
  d.Number("memory_mb", a.lifecycle().memory_mb(), b.lifecycle().memory_mb());
  d.Number("disk_mb", a.lifecycle().disk_mb(), b.lifecycle().disk_mb());
  d.Number("timeout_seconds", a.lifecycle().timeout_seconds(), b.lifecycle().timeout_seconds());
  d.Changed("isolation", a.lifecycle().isolation(), b.lifecycle().isolation(),
            b.lifecycle().isolation() == "container");
  d.Changed("profile", a.profile(), b.profile(), b.profile() == "dev");
  d.Changed("expires_at", a.expires_at(), b.expires_at(), false);
  return diff;
}

std::string RenderDiffHuman(const PlanDiff& diff) {
  std::string out;
  for (const CapabilityChange& c : diff.changes) {
    switch (c.kind) {
      case ChangeKind::kAdded:
        out += "+ " + c.area + " " + c.new_value;
        break;
      case ChangeKind::kRemoved:
        out += "- " + c.area + " " + c.old_value;
        break;
      case ChangeKind::kChanged:
        out += "~ " + c.area + ": " + c.old_value + " => " + c.new_value;
        break;
    }
    out += c.widens ? "  [widens]\n" : "\n";
  }
  if (diff.changes.empty()) {
    out += "no changes\n";
  } else if (diff.widened()) {
    out += "the new plan widens capabilities\n";
  } else if (diff.changed()) {
    out += "the new plan differs, without widening capabilities\n";
  } else {
    out += "only the expiry changed\n";
  }
  return out;
}

std::string RenderDiffJson(const PlanDiff& diff) {
  nlohmann::json changes = nlohmann::json::array();
  for (const CapabilityChange& c : diff.changes) {
    nlohmann::json change = {
        {"area", c.area}, {"change", std::string(KindName(c.kind))}, {"widens", c.widens}};
    if (c.kind != ChangeKind::kAdded) {
      change["old"] = c.old_value;
    }
    if (c.kind != ChangeKind::kRemoved) {
      change["new"] = c.new_value;
    }
    changes.push_back(std::move(change));
  }
  return ir::CanonicalJson({{"changed", diff.changed()},
                            {"changes", std::move(changes)},
                            {"widened", diff.widened()}}) +
         "\n";
}

}  // namespace mvm::plan
