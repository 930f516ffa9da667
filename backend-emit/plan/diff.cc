#include "backend-emit/plan/diff.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

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
      // An oci ref already spells its digest; for built images it is the recorded output.
      if (a.kind() != "oci" && !a.digest().empty()) {
        text += " (built " + a.digest() + ")";
      }
      return text;
    }
  }
  return "(none)";
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
                    (om.mode() != "rw" && nm.mode() == "rw") || nm.size_mb() > om.size_mb();
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

PlanDiff DiffPlans(const v1::ExecutionPlan& a, const v1::ExecutionPlan& b) {
  PlanDiff diff;
  Differ d(diff);
  d.Changed("workload", a.workload().id(), b.workload().id(), false);
  d.Changed("image", ImageText(a), ImageText(b), false);
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
    out += "no capability changes\n";
  } else if (diff.widened()) {
    out += "the new plan widens capabilities\n";
  } else {
    out += "the new plan does not widen capabilities\n";
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
  return ir::CanonicalJson({{"changes", std::move(changes)}, {"widened", diff.widened()}}) + "\n";
}

}  // namespace mvm::plan
