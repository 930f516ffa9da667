#include "backend-emit/plan/diff.h"

#include <gtest/gtest.h>

#include "backend-emit/plan/review_text.h"
#include "tests/backend-emit/plan_test_util.h"

namespace mvm::plan {
namespace {

using testing::TestOptions;
using testing::TestWorkload;

v1::ExecutionPlan Lower(const ir::v1::Workload& w) {
  auto plan = LowerToPlan(w, TestOptions(""));
  MVM_CHECK(plan.ok());
  return *plan;
}

std::vector<std::string> Lines(const PlanDiff& diff) {
  std::vector<std::string> out;
  for (const CapabilityChange& c : diff.changes) {
    out.push_back(c.area +
                  (c.kind == ChangeKind::kAdded     ? " +" + c.new_value
                   : c.kind == ChangeKind::kRemoved ? " -" + c.old_value
                                                    : " " + c.old_value + "=>" + c.new_value) +
                  (c.widens ? " W" : ""));
  }
  return out;
}

TEST(DiffTest, IdenticalPlansHaveNoChanges) {
  PlanDiff diff = DiffPlans(Lower(TestWorkload()), Lower(TestWorkload()));
  EXPECT_TRUE(diff.changes.empty());
  EXPECT_FALSE(diff.widened());
  EXPECT_FALSE(diff.changed());
  EXPECT_EQ(RenderDiffHuman(diff), "no changes\n");
  EXPECT_EQ(RenderDiffJson(diff), "{\"changed\":false,\"changes\":[],\"widened\":false}\n");
}

TEST(DiffTest, WideningAndNarrowing) {
  ir::v1::Workload old_w = TestWorkload();
  ir::v1::Workload new_w = TestWorkload();
  new_w.mutable_network()->mutable_rules(0)->set_host("api2.openai.com");
  new_w.mutable_secrets(0)->add_hosts("api2.openai.com");
  new_w.mutable_volumes(0)->set_mode("rw");
  new_w.mutable_volumes(1)->set_size_mb(32);  // smaller than the default 64
  new_w.mutable_resources()->set_cpu(1);
  new_w.mutable_resources()->set_memory_mb(1024);  // default 512 before
  new_w.set_isolation("container");
  EXPECT_EQ(Lines(DiffPlans(Lower(old_w), Lower(new_w))),
            (std::vector<std::string>{
                "egress -https api.openai.com",
                "egress +https api2.openai.com W",
                "secret-host +OPENAI_API_KEY -> api2.openai.com W",
                "mount local ./data -> /data (ro)=>local ./data -> /data (rw) W",
                "mount memory /scratch (64 MiB)=>memory /scratch (32 MiB)",
                "cpu 2=>1",
                "memory_mb 512=>1024 W",
                "isolation microvm=>container W",
            }));
}

TEST(DiffTest, SecretsByEnvironmentName) {
  ir::v1::Workload old_w = TestWorkload();
  ir::v1::Workload new_w = TestWorkload();
  new_w.mutable_secrets(0)->set_name("another-key");
  PlanDiff diff = DiffPlans(Lower(old_w), Lower(new_w));
  ASSERT_EQ(diff.changes.size(), 1u);
  EXPECT_EQ(diff.changes[0].area, "secret");
  EXPECT_TRUE(diff.changes[0].widens);  // a value the sandbox never had
  ir::v1::Workload no_secrets = TestWorkload();
  no_secrets.clear_secrets();
  PlanDiff removed = DiffPlans(Lower(old_w), Lower(no_secrets));
  EXPECT_EQ(
      Lines(removed),
      (std::vector<std::string>{"secret -OPENAI_API_KEY (openai-api-key) -> api.openai.com"}));
  EXPECT_FALSE(removed.widened());
}

TEST(DiffTest, ExpiryIsReportedButNeverWidens) {
  v1::ExecutionPlan a = Lower(TestWorkload());
  v1::ExecutionPlan b = a;
  b.set_expires_at("2030-01-01T00:00:00Z");
  PlanDiff diff = DiffPlans(a, b);
  ASSERT_EQ(diff.changes.size(), 1u);
  EXPECT_EQ(diff.changes[0].area, "expires_at");
  EXPECT_FALSE(diff.widened());
  EXPECT_FALSE(diff.changed());
  EXPECT_EQ(RenderDiffHuman(diff),
            "~ expires_at: 2025-01-02T00:00:00Z => 2030-01-01T00:00:00Z\n"
            "only the expiry changed\n");
}

TEST(DiffTest, WhatRunsIsAChangeThatDoesNotWiden) {
  ir::v1::Workload old_w = TestWorkload();
  (*old_w.mutable_env())["MODE"] = "safe";
  (*old_w.mutable_env())["DB_PASSWORD"] = "hunter2";
  ir::v1::Workload new_w = old_w;
  new_w.mutable_entrypoints(0)->set_command(1, "/app/other.py");
  ir::v1::Entrypoint& added = *new_w.add_entrypoints();
  added.set_name("wipe");
  added.add_command("rm");
  added.add_command("-rf");
  added.add_command("/data");
  added.set_timeout_seconds(5);
  ir::v1::Service& service = *new_w.add_services();
  service.set_name("api");
  service.add_command("serve");
  (*new_w.mutable_env())["MODE"] = "fast and loose";
  (*new_w.mutable_env())["DB_PASSWORD"] = "hunter3";
  ir::v1::File& file = *new_w.add_files();
  file.set_path("/app/x y.txt");
  file.set_sha256("sha256:ab");
  file.set_size(2);
  PlanDiff diff = DiffPlans(Lower(old_w), Lower(new_w));
  EXPECT_EQ(Lines(diff), (std::vector<std::string>{
                             "entrypoint main: python /app/main.py=>main: python /app/other.py",
                             "entrypoint +wipe: rm -rf /data (timeout 5 s)",
                             "service +api: serve",
                             "env DB_PASSWORD=(value hidden)=>DB_PASSWORD=(another value, hidden)",
                             "env MODE=safe=>MODE='fast and loose'",
                             "file +'/app/x y.txt' sha256:ab (2 bytes)",
                         }));
  EXPECT_TRUE(diff.changed());
  EXPECT_FALSE(diff.widened());
  EXPECT_EQ(RenderDiffHuman(diff).find("hunter"), std::string::npos);
  EXPECT_EQ(RenderDiffJson(diff).find("hunter"), std::string::npos);
}

/// A plan of an `Image.debian` workload, with `pin` recorded in its rootfs artifact as `mvmctl
/// build` records it (a compile leaves it empty).
v1::ExecutionPlan DebianPlan(std::vector<std::string> packages, const std::string& pin,
                             const std::string& suite = "bookworm") {
  ir::v1::Workload w = TestWorkload();
  ir::v1::Image& image = *w.mutable_image();
  image.Clear();
  image.set_kind("debian");
  image.set_ref(suite);
  for (std::string& p : packages) {
    image.add_packages(std::move(p));
  }
  v1::ExecutionPlan plan = Lower(w);
  for (v1::Artifact& a : *plan.mutable_artifacts()) {
    if (a.role() == "rootfs") {
      a.set_digest(pin);
    }
  }
  return plan;
}

TEST(DiffTest, DebianPackagesAndTheirPinAreChangesThatDoNotWiden) {
  const std::string pin_a = "sha256:" + std::string(64, 'a');
  const std::string pin_b = "sha256:" + std::string(64, 'b');
  v1::ExecutionPlan jq = DebianPlan({"jq"}, pin_a);

  PlanDiff same = DiffPlans(jq, DebianPlan({"jq"}, pin_a));
  EXPECT_FALSE(same.changed());

  // The same names resolved to other versions: only the pin moves, and that is a change.
  PlanDiff repinned = DiffPlans(jq, DebianPlan({"jq"}, pin_b));
  EXPECT_EQ(Lines(repinned), (std::vector<std::string>{
                                 "image debian:bookworm (package set " + pin_a +
                                     ")=>debian:bookworm (package set " + pin_b + ")",
                             }));
  EXPECT_TRUE(repinned.changed());
  EXPECT_FALSE(repinned.widened());

  PlanDiff added = DiffPlans(jq, DebianPlan({"jq", "curl"}, pin_b));
  EXPECT_EQ(Lines(added), (std::vector<std::string>{
                              "image debian:bookworm (package set " + pin_a +
                                  ")=>debian:bookworm (package set " + pin_b + ")",
                              "package +curl",
                          }));
  EXPECT_TRUE(added.changed());
  EXPECT_FALSE(added.widened());

  PlanDiff removed = DiffPlans(DebianPlan({"jq", "curl"}, ""), DebianPlan({"curl"}, ""));
  EXPECT_EQ(Lines(removed), (std::vector<std::string>{"package -jq"}));
  EXPECT_TRUE(removed.changed());

  // Another suite is another image.
  EXPECT_EQ(Lines(DiffPlans(jq, DebianPlan({"jq"}, pin_a, "trixie"))),
            (std::vector<std::string>{"image debian:bookworm (package set " + pin_a +
                                      ")=>debian:trixie (package set " + pin_a + ")"}));
}

TEST(ReviewTextTest, ShellWordsReadBackAndHideNothing) {
  EXPECT_EQ(ShellWord("/usr/bin/python3"), "/usr/bin/python3");
  EXPECT_EQ(ShellWord(""), "''");
  EXPECT_EQ(ShellWord("a b"), "'a b'");
  EXPECT_EQ(ShellWord("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellWord("$(reboot)"), "'$(reboot)'");
  // An escape sequence could erase the line a reviewer reads; a bidi override could reorder it.
  EXPECT_EQ(ShellWord("ok\x1b[2K\r"), "$'ok\\x1b[2K\\x0d'");
  EXPECT_EQ(ShellWord("a\u202eb'\\"), "$'a\\xe2\\x80\\xaeb\\'\\\\'");
}

TEST(ReviewTextTest, CredentialLikeNamesHideTheirValues) {
  EXPECT_EQ(EnvText("LOG_LEVEL", "debug"), "LOG_LEVEL=debug");
  EXPECT_EQ(EnvText("GITHUB_TOKEN", "ghp_x"), "GITHUB_TOKEN=(value hidden)");
  EXPECT_EQ(EnvText("db_password", "x"), "db_password=(value hidden)");
  EXPECT_TRUE(LooksLikeCredential("OPENAI_API_KEY"));
  EXPECT_TRUE(LooksLikeCredential("BASIC_AUTH"));
  EXPECT_FALSE(LooksLikeCredential("PYTHONPATH"));
}

}  // namespace
}  // namespace mvm::plan
