#include "backend-emit/plan/describe.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "backend-emit/plan/payload.h"
#include "backend-emit/plan/review_text.h"
#include "ir/canonical_json.h"
#include "ir/support/check.h"

namespace mvm::plan {
namespace {

// Appends `label` padded to one column, then the lines of `values` aligned under each other.
void Field(std::string& out, std::string_view label, const std::vector<std::string>& values) {
  constexpr size_t kColumn = 13;
  std::string pad(kColumn, ' ');
  std::string head = std::string(label) + ":";
  head.resize(std::max(kColumn, head.size() + 1), ' ');
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i == 0 ? head : pad) + values[i] + "\n";
  }
}

std::string ArtifactText(const v1::Artifact& a) {
  if (a.kind() == "oci") {
    return "oci " + a.ref() + (a.digest().empty() ? " (not pinned)" : "");
  }
  std::string text = a.kind() + " " + a.ref();
  if (a.kind() == "debian") {
    return "debian suite " + a.ref() +
           (a.digest().empty() ? " (package set: not resolved yet; `mvmctl build` pins it)"
                               : " (package set pinned at " + a.digest() + ")");
  }
  text += a.digest().empty() ? " (output digest: not built yet)" : " (built " + a.digest() + ")";
  return text;
}

}  // namespace

std::string DescribePlanHuman(const DecodedPlan& decoded) {
  const v1::ExecutionPlan& p = decoded.plan;
  std::string out;
  Field(out, "workload", {p.workload().id() + " (profile " + p.profile() + ")"});
  Field(out, "ir digest", {p.ir_digest()});
  std::vector<std::string> images;
  for (const v1::Artifact& a : p.artifacts()) {
    images.push_back(ArtifactText(a));
  }
  Field(out, "image", images);
  const ir::v1::Workload& w = p.workload();
  if (w.image().kind() == "debian") {
    std::string packages;
    for (const std::string& name : w.image().packages()) {
      packages += (packages.empty() ? "" : " ") + name;
    }
    Field(out, "packages", {packages.empty() ? "none beyond minbase" : packages});
  }
  std::vector<std::string> entrypoints;
  for (const ir::v1::Entrypoint& e : w.entrypoints()) {
    entrypoints.push_back(EntrypointText(e));
  }
  if (entrypoints.empty()) {
    // `mvmctl run` then runs what the image says, as a container engine would.
    bool oci = std::any_of(p.artifacts().begin(), p.artifacts().end(),
                           [](const v1::Artifact& a) { return a.kind() == "oci"; });
    entrypoints.push_back(oci ? "none; `mvmctl run` runs the image's own Entrypoint and Cmd"
                              : "none");
  }
  Field(out, "entrypoints", entrypoints);
  std::vector<std::string> services;
  for (const ir::v1::Service& s : w.services()) {
    services.push_back(ServiceText(s));
  }
  Field(out, "services", services.empty() ? std::vector<std::string>{"none"} : services);
  // Sorted, for stable output (a proto map has no order).
  std::map<std::string, std::string> env_sorted(w.env().begin(), w.env().end());
  std::vector<std::string> env;
  for (const auto& [name, value] : env_sorted) {
    env.push_back(EnvText(name, value));
  }
  Field(out, "env", env.empty() ? std::vector<std::string>{"none"} : env);
  std::vector<std::string> files;
  for (const ir::v1::File& f : w.files()) {
    files.push_back(FileText(f));
  }
  Field(out, "files", files.empty() ? std::vector<std::string>{"none"} : files);
  const v1::Lifecycle& l = p.lifecycle();
  Field(out, "resources",
        {"cpu " + std::to_string(l.cpu()) + ", memory " + std::to_string(l.memory_mb()) +
         " MiB, disk " + std::to_string(l.disk_mb()) + " MiB"});
  Field(out, "timeout", {std::to_string(l.timeout_seconds()) + " s"});
  Field(out, "isolation", {l.isolation()});
  std::vector<std::string> egress;
  egress.push_back(std::string("deny by default; dns ") +
                   (p.network().dns() ? "allowed" : "denied"));
  for (const v1::EgressRule& r : p.network().rules()) {
    egress.push_back(r.protocol() + " " + r.host());
  }
  Field(out, "egress", egress);
  std::vector<std::string> secrets;
  for (const v1::SecretGrant& s : p.secrets()) {
    std::string hosts;
    for (const std::string& h : s.hosts()) {
      hosts += hosts.empty() ? h : ", " + h;
    }
    secrets.push_back(s.env() + " (" + s.name() + ") -> " + (hosts.empty() ? "no host" : hosts));
  }
  Field(out, "secrets", secrets.empty() ? std::vector<std::string>{"none"} : secrets);
  std::vector<std::string> mounts;
  for (const v1::Mount& m : p.mounts()) {
    if (m.kind() == "local") {
      mounts.push_back("local " + m.source() + " -> " + m.target() + " (" + m.mode() + ")");
    } else if (m.kind() == "encrypted") {
      mounts.push_back("encrypted " + m.source() + " -> " + m.target() + " (" +
                       std::to_string(m.size_mb()) + " MiB, gocryptfs)");
    } else if (m.kind() == "object") {
      mounts.push_back("object " + m.source() + " -> " + m.target() + " (" + m.mode() + ", " +
                       m.endpoint() + ", credentials " + m.credentials() + ", s3fs)");
    } else {
      mounts.push_back(m.kind() + " " + m.target() + " (" + std::to_string(m.size_mb()) + " MiB)");
    }
  }
  Field(out, "mounts", mounts.empty() ? std::vector<std::string>{"none"} : mounts);
  std::string ports;
  for (int32_t port : p.workload().ports()) {
    ports += (ports.empty() ? "" : ", ") + std::to_string(port);
  }
  for (const ir::v1::Service& s : w.services()) {
    if (s.has_port()) {
      ports +=
          (ports.empty() ? "" : ", ") + std::to_string(s.port()) + " (service " + s.name() + ")";
    }
  }
  Field(out, "ports", {ports.empty() ? "none" : ports});
  Field(out, "valid", {"from " + p.not_before() + " until " + p.expires_at()});
  Field(out, "epoch", {std::to_string(p.epoch())});
  if (decoded.envelope.signatures.empty()) {
    Field(out, "signature", {"none (unsigned; every verifier refuses it)"});
  } else {
    std::vector<std::string> sigs;
    for (const EnvelopeSignature& s : decoded.envelope.signatures) {
      sigs.push_back((s.keyid.empty() ? std::string("a key it does not name") : "key " + s.keyid) +
                     " (not checked here; use `mvmctl plan verify`)");
    }
    Field(out, "signature", sigs);
  }
  Field(out, "compiler", {"mvmctl " + p.compiler_version()});
  return out;
}

std::string DescribePlanJson(const DecodedPlan& decoded) {
  nlohmann::json signatures = nlohmann::json::array();
  for (const EnvelopeSignature& s : decoded.envelope.signatures) {
    signatures.push_back({{"keyid", s.keyid}});
  }
  // DecodePlanFile has parsed the payload already, so it is JSON.
  nlohmann::json payload = nlohmann::json::parse(decoded.envelope.payload, /*cb=*/nullptr,
                                                 /*allow_exceptions=*/false);
  MVM_CHECK(!payload.is_discarded());
  nlohmann::json out = {
      {"payload_digest", PayloadDigest(decoded.envelope.payload)},
      {"plan", std::move(payload)},
      {"signatures", std::move(signatures)},
      {"signature_checked", false},
  };
  return ir::CanonicalJson(out) + "\n";
}

}  // namespace mvm::plan
