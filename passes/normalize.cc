// The normalize pass: puts what the IR treats as sets into one canonical order and spelling, so
// that equivalent declarations hash and sign to the same bytes (docs/architecture/ir.md,
// "Normalisation").
//
// Reordering invalidates the module's JSON-pointer location table, which is left as it is
// (ir/module.h: locations are only valid before normalize), so this pass runs last.

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "passes/host.h"
#include "passes/pass.h"

namespace mvm::passes {
namespace {

template <typename T>
void Replace(google::protobuf::RepeatedPtrField<T>& field, std::vector<T> items) {
  field.Clear();
  for (T& item : items) {
    *field.Add() = std::move(item);
  }
}

void NormalizeNetwork(ir::v1::NetworkPolicy& network) {
  std::vector<ir::v1::NetworkRule> rules(network.rules().begin(), network.rules().end());
  for (ir::v1::NetworkRule& rule : rules) {
    rule.set_host(LowercaseHost(rule.host()));
  }
  auto key = [](const ir::v1::NetworkRule& r) { return std::tie(r.host(), r.protocol()); };
  // Stable, so the first declaration of a duplicated rule keeps its place and its location.
  std::stable_sort(rules.begin(), rules.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
  rules.erase(std::unique(rules.begin(), rules.end(),
                          [&](const auto& a, const auto& b) { return key(a) == key(b); }),
              rules.end());
  Replace(*network.mutable_rules(), std::move(rules));
}

void NormalizeSecrets(ir::v1::Workload& w) {
  std::vector<ir::v1::Secret> secrets(w.secrets().begin(), w.secrets().end());
  for (ir::v1::Secret& secret : secrets) {
    std::vector<std::string> hosts;
    hosts.reserve(secret.hosts_size());
    for (const std::string& host : secret.hosts()) {
      hosts.push_back(LowercaseHost(host));
    }
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    secret.mutable_hosts()->Clear();
    for (std::string& host : hosts) {
      secret.add_hosts(std::move(host));
    }
  }
  std::stable_sort(secrets.begin(), secrets.end(),
                   [](const auto& a, const auto& b) { return a.env() < b.env(); });
  Replace(*w.mutable_secrets(), std::move(secrets));
}

}  // namespace

void RunNormalize(ir::Module& module, PassContext& /*context*/) {
  for (ir::v1::Workload& w : *module.proto.mutable_workloads()) {
    if (w.has_network()) {
      NormalizeNetwork(*w.mutable_network());
    }
    NormalizeSecrets(w);
  }
}

}  // namespace mvm::passes
