#ifndef MVM_TESTS_BACKEND_EMIT_PLAN_TEST_UTIL_H_
#define MVM_TESTS_BACKEND_EMIT_PLAN_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "backend-emit/plan/envelope.h"
#include "backend-emit/plan/keys.h"
#include "backend-emit/plan/lower.h"
#include "backend-emit/plan/payload.h"
#include "backend-emit/plan/trust_store.h"
#include "ir/workload.pb.h"
#include "tests/support/keys.h"
#include "tests/support/workloads.h"

namespace mvm::plan::testing {

/// 2025-01-01T00:00:00Z and 2025-01-02T00:00:00Z: the window of TestPlan.
inline constexpr int64_t kNotBefore = 1735689600;
inline constexpr int64_t kExpiresAt = 1735776000;

using mvm::testing::TestKey;

inline TrustedKey Trusted(const SecretKey& key) {
  return {key.KeyId(), key.public_key(), "test.pub"};
}

/// A checked workload with a bit of everything.
inline ir::v1::Workload TestWorkload() {
  ir::v1::Workload w;
  ::mvm::testing::SetAgentToolHead(w);
  w.mutable_image()->set_kind("nix");
  w.mutable_image()->set_ref("./flake#agent-runtime");
  w.mutable_resources()->set_cpu(2);
  w.set_timeout_seconds(30);
  ir::v1::NetworkPolicy& n = *w.mutable_network();
  n.set_default_("deny");
  n.set_dns(true);
  n.mutable_loc()->set_file("app.py");
  n.mutable_loc()->set_line(5);
  n.mutable_loc()->set_column(13);
  ir::v1::NetworkRule& r = *n.add_rules();
  r.set_protocol("https");
  r.set_host("api.openai.com");
  ir::v1::Secret& s = *w.add_secrets();
  s.set_env("OPENAI_API_KEY");
  s.set_name("openai-api-key");
  s.add_hosts("api.openai.com");
  ir::v1::Volume& v = *w.add_volumes();
  v.set_kind("local");
  v.set_source("./data");
  v.set_target("/data");
  ir::v1::Volume& m = *w.add_volumes();
  m.set_kind("memory");
  m.set_target("/scratch");
  ir::v1::Entrypoint& e = *w.add_entrypoints();
  e.set_name("main");
  e.add_command("python");
  e.add_command("/app/main.py");
  return w;
}

inline PlanOptions TestOptions(const std::string& key_id, uint32_t epoch = 7) {
  PlanOptions o;
  o.compiler_version = "0.1.0";
  o.profile = "production";
  o.key_id = key_id;
  o.not_before = kNotBefore;
  o.expires_at = kExpiresAt;
  o.epoch = epoch;
  return o;
}

/// The canonical payload of TestWorkload's plan signed by `key` (key_id set), as plan file bytes.
inline std::string SignedPlanFile(const SecretKey& key, uint32_t epoch = 7) {
  auto plan = LowerToPlan(TestWorkload(), TestOptions(key.KeyId(), epoch));
  MVM_CHECK(plan.ok());
  return SerializeEnvelope(MakeEnvelope(PlanToCanonicalJson(*plan), &key));
}

}  // namespace mvm::plan::testing

#endif  // MVM_TESTS_BACKEND_EMIT_PLAN_TEST_UTIL_H_
