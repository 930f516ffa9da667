#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/support/os/utc_time.h"
#include "runtime/backends/backend.h"
#include "runtime/launcher/internal.h"
#include "runtime/launcher/launcher.h"
#include "runtime/launcher/state.h"
#include "runtime/secrets/secrets.h"
#include "runtime/volumes/volume_audit.h"

namespace mvm::runtime {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

/// A plan the launcher's policy check accepts on every backend: a built template image, no
/// network, no secrets, no read-write volume.
plan::v1::ExecutionPlan RunnablePlan() {
  plan::v1::ExecutionPlan plan;
  plan.mutable_workload()->set_id("tool");
  plan.set_profile("dev");
  plan::v1::Artifact* rootfs = plan.add_artifacts();
  rootfs->set_role("rootfs");
  rootfs->set_kind("template");
  rootfs->set_ref("busybox");
  plan.mutable_network()->set_default_("deny");
  return plan;
}

/// CheckPolicy's refusal of `plan` on `backend`: "reason: message", or "" when it is admitted.
std::string Refusal(const plan::v1::ExecutionPlan& plan, std::string_view backend) {
  LauncherOptions options;
  options.backend = std::string(backend);
  auto refusal = internal::CheckPolicy(options, plan);
  return refusal ? refusal->reason + ": " + refusal->message : "";
}

/// A plan naming secret `example-api-key` for api.example.com, which an https rule allows.
plan::v1::ExecutionPlan SecretPlan(std::string_view profile) {
  plan::v1::ExecutionPlan plan = RunnablePlan();
  plan.set_profile(std::string(profile));
  plan::v1::EgressRule* rule = plan.mutable_network()->add_rules();
  rule->set_protocol("https");
  rule->set_host("*.example.com");
  plan::v1::SecretGrant* secret = plan.add_secrets();
  secret->set_env("API_KEY");
  secret->set_name("example-api-key");
  secret->add_hosts("api.example.com");
  return plan;
}

class CheckSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mvm-check-secrets-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    options_.state.root = dir_;
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// CheckSecrets of `plan` signed by `key_id`: "reason: message", or "" with `released` filled.
  std::string Check(const plan::v1::ExecutionPlan& plan, std::string key_id = "k1") {
    plan::VerifiedPlan verified;
    verified.plan = plan;
    verified.key_id = std::move(key_id);
    released_.clear();
    auto refusal = internal::CheckSecrets(options_, verified, released_);
    return refusal ? refusal->reason + ": " + refusal->message : "";
  }
  secrets::Store Store() { return std::move(*secrets::Store::Open(options_.state.Secrets())); }

  fs::path dir_;
  LauncherOptions options_;
  std::vector<SecretRelease> released_;
};

TEST_F(CheckSecretsTest, AMissingSecretIsRefusedWithTheCommandThatStoresIt) {
  EXPECT_THAT(
      Check(SecretPlan("dev")),
      HasSubstr("missing: workload `tool` may not have secret `example-api-key` (API_KEY)"));
  EXPECT_THAT(Check(SecretPlan("dev")), HasSubstr("mvmctl secret set example-api-key"));
}

TEST_F(CheckSecretsTest, ADevPlanGetsAStoredSecretWithoutAGrant) {
  ASSERT_TRUE(Store().Set("example-api-key", "sk-test-value"));
  EXPECT_EQ(Check(SecretPlan("dev")), "");
  ASSERT_EQ(released_.size(), 1u);
  EXPECT_EQ(released_[0].env, "API_KEY");
  EXPECT_EQ(released_[0].name, "example-api-key");
  EXPECT_EQ(released_[0].hosts, std::vector<std::string>{"api.example.com"});
  EXPECT_EQ(released_[0].basis, "dev-profile");
}

TEST_F(CheckSecretsTest, AProductionPlanNeedsAGrantForItsWorkloadAndSigner) {
  ASSERT_TRUE(Store().Set("example-api-key", "sk-test-value"));
  const plan::v1::ExecutionPlan plan = SecretPlan("production");
  EXPECT_THAT(Check(plan), HasSubstr("not-granted: workload `tool` may not have secret"));
  EXPECT_THAT(Check(plan), HasSubstr("mvmctl secret grant example-api-key --workload tool "
                                     "--signer k1"));
  // A grant to another workload, or for another signer, is no grant.
  ASSERT_TRUE(Store().AddGrant("example-api-key", {"other", ""}));
  ASSERT_TRUE(Store().AddGrant("example-api-key", {"tool", "k2"}));
  EXPECT_THAT(Check(plan), HasSubstr("not-granted"));
  EXPECT_EQ(Check(plan, "k2"), "");
  EXPECT_EQ(released_.at(0).basis, "grant");
  ASSERT_TRUE(Store().AddGrant("example-api-key", {"tool", ""}));
  EXPECT_EQ(Check(plan, "k1"), "");
}

TEST_F(CheckSecretsTest, EveryHostMustBeAnHttpsRuleOfThePlan) {
  ASSERT_TRUE(Store().Set("example-api-key", "sk-test-value"));
  plan::v1::ExecutionPlan plan = SecretPlan("dev");
  plan.mutable_secrets(0)->add_hosts("evil.test");
  EXPECT_THAT(Check(plan), HasSubstr("host-not-allowed: workload `tool` may not have secret "
                                     "`example-api-key` (API_KEY): its host `evil.test` is not "
                                     "allowed by an https rule of the plan"));
  // A wildcard secret host needs a wildcard rule at or above it; an http rule is not enough.
  plan = SecretPlan("dev");
  plan.mutable_secrets(0)->set_hosts(0, "*.api.example.com");
  EXPECT_EQ(Check(plan), "");
  plan.mutable_network()->mutable_rules(0)->set_host("x.api.example.com");
  EXPECT_THAT(Check(plan), HasSubstr("host-not-allowed"));
  plan = SecretPlan("dev");
  plan.mutable_network()->mutable_rules(0)->set_protocol("http");
  EXPECT_THAT(Check(plan), HasSubstr("host-not-allowed"));
  plan = SecretPlan("dev");
  plan.mutable_secrets(0)->clear_hosts();
  EXPECT_THAT(Check(plan), HasSubstr("no-hosts"));
  plan = SecretPlan("dev");
  plan.mutable_secrets(0)->set_name("../key");
  EXPECT_THAT(Check(plan), HasSubstr("bad-name"));
}

TEST(TokenRedactor, RedactsTokensSplitAnywhereAndOnlyTokens) {
  const std::string token = secrets::MintToken();
  const std::string text = "key=" + token + " mvm mvmtok- done " + token;
  const std::string want = "key=mvmtok-\u2026 mvm mvmtok-\u2026 done mvmtok-\u2026";
  {
    TokenRedactor r;
    std::string out = r.Feed(text);
    out += r.Finish();
    EXPECT_EQ(out, want);
  }
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    TokenRedactor r;
    std::string out = r.Feed(text.substr(0, cut));
    EXPECT_EQ(out.find(token.substr(7, 4)), std::string::npos) << cut;
    out += r.Feed(text.substr(cut));
    out += r.Finish();
    EXPECT_EQ(out, want) << cut;
  }
  TokenRedactor r;
  EXPECT_EQ(r.Feed("plain mvm"), "plain ");  // `mvm` may begin a token
  EXPECT_EQ(r.Feed("ctl"), "mvmctl");
}

TEST(CheckPolicy, AnOciImageRunsOnlyWhenPinnedToADigest) {
  plan::v1::ExecutionPlan plan = RunnablePlan();
  plan.mutable_artifacts(0)->set_kind("oci");
  plan.mutable_artifacts(0)->set_ref("docker.io/library/python:3.12-slim");
  for (const backends::Backend* backend : backends::All()) {
    EXPECT_THAT(Refusal(plan, backend->name()),
                HasSubstr("not-pinned: image `oci:docker.io/library/python:3.12-slim` is not "
                          "pinned to a digest"))
        << backend->name();
  }
  plan.mutable_artifacts(0)->set_digest("sha256:" + std::string(64, 'a'));
  for (const backends::Backend* backend : backends::All()) {
    EXPECT_EQ(Refusal(plan, backend->name()), "") << backend->name();
  }
}

// Egress runs where the backend enforces it (its egress proxy) and is refused elsewhere, and so do
// secrets, which only the proxy hands on (whether a secret may be released is CheckSecrets'). Every
// backend of this build enforces it now (container and qemu-microvm both answer
// StartRequest::egress), so the refusal branch runs only for a backend added without it; the
// refusal's text is what admit.cc says then.
TEST(CheckPolicy, NetworkRulesRunOnlyWhereTheBackendEnforcesThemAndAnUnbuiltNixImageIsNamed) {
  plan::v1::ExecutionPlan plan = RunnablePlan();
  plan::v1::EgressRule* rule = plan.mutable_network()->add_rules();
  rule->set_protocol("https");
  rule->set_host("api.example.com");
  for (const backends::Backend* backend : backends::All()) {
    if (backend->capabilities().egress) {
      EXPECT_EQ(Refusal(plan, backend->name()), "") << backend->name();
    } else {
      EXPECT_THAT(Refusal(plan, backend->name()),
                  HasSubstr("egress-unsupported: workload `tool` may reach https api.example.com"))
          << backend->name();
    }
  }
  EXPECT_EQ(Refusal(plan, "container"), "");
  EXPECT_EQ(Refusal(plan, "qemu-microvm"), "");
  plan.add_secrets()->set_name("example-api-key");
  for (const backends::Backend* backend : backends::All()) {
    EXPECT_EQ(Refusal(plan, backend->name()).starts_with("secrets-unsupported: "),
              !backend->capabilities().egress)
        << backend->name();
  }
  plan::v1::ExecutionPlan nix = RunnablePlan();
  nix.mutable_artifacts(0)->set_kind("nix");
  nix.mutable_artifacts(0)->set_ref("./flake#rootfs");
  EXPECT_THAT(Refusal(nix, "container"), HasSubstr("not-built: image `nix:./flake#rootfs`"));
}

// Encrypted and object volumes are FUSE mounts on the host: they run where the backend can share
// one (the capability, never the backend's name, decides), and elsewhere the plan is refused,
// naming the volume, rather than run the workload without it.
TEST(CheckPolicy, EncryptedAndObjectVolumesAreRefusedWhereTheBackendCannotMountThem) {
  plan::v1::ExecutionPlan plan = RunnablePlan();
  plan::v1::Mount* memory = plan.add_mounts();
  memory->set_kind("memory");
  memory->set_target("/scratch");
  memory->set_mode("rw");
  memory->set_size_mb(16);
  for (const backends::Backend* backend : backends::All()) {
    EXPECT_EQ(Refusal(plan, backend->name()), "") << backend->name();
  }
  plan::v1::Mount encrypted = *memory;
  encrypted.set_kind("encrypted");
  encrypted.set_source("notes");
  encrypted.set_target("/notes");
  plan::v1::Mount object;
  object.set_kind("object");
  object.set_source("s3://datasets/run-1");
  object.set_target("/datasets");
  object.set_mode("ro");
  object.set_endpoint("https://s3.example.com");
  object.set_credentials("datasets-keys");
  size_t mounting = 0;
  for (const backends::Backend* backend : backends::All()) {
    const bool mounts = backend->capabilities().fuse_volume_owner.has_value();
    mounting += mounts ? 1 : 0;
    for (const auto& [mount, declared] :
         {std::pair{encrypted, std::string("`Volume.encrypted(\"notes\")` at `/notes`")},
          std::pair{object,
                    std::string("`Volume.object(\"s3://datasets/run-1\")` at `/datasets`")}}) {
      plan::v1::ExecutionPlan with = plan;
      *with.add_mounts() = mount;
      const std::string refusal = Refusal(with, backend->name());
      if (mounts) {
        EXPECT_EQ(refusal, "") << backend->name() << " " << mount.kind();
        continue;
      }
      EXPECT_THAT(refusal, HasSubstr("volume-not-mounted: workload `tool` declares " + declared +
                                     ", and the " + std::string(backend->name()) +
                                     " backend does not mount " + mount.kind() + " volumes here"));
      EXPECT_THAT(refusal, HasSubstr("--backend container"));
      EXPECT_THAT(refusal, HasSubstr("remove the volume"));
    }
  }
  // The container backend always; the qemu-microvm backend as root, where virtiofsd is confined.
  EXPECT_EQ(mounting, ::geteuid() == 0 ? 2u : 1u);
}

// A guest's agent answers VolumeOps with whatever the guest's root makes it say. What the host
// records of it: the targets it named and nothing else, the five counted operations, the agent's
// text cut to printable ASCII (no terminal escapes into `mvmctl audit`), and counts only after the
// first answer, which holds what came before the workload (a restored snapshot's past).
TEST(RecordGuestAnswer, AHostileAnswerReachesTheAuditOnlyAsTheHostAskedForIt) {
  std::vector<std::pair<std::string, nlohmann::json>> records;
  volumes::VolumeAudit::Options options;
  options.reported_by = "guest-agent";
  volumes::VolumeAudit audit(
      [&](std::string_view event, const nlohmann::json& fields) {
        records.emplace_back(std::string(event), fields);
      },
      options);
  const std::vector<internal::GuestVolume> asked = {{"memory:/scratch", "/scratch"}};
  agent::GuestVolumeOps named;
  named.target = "/scratch";
  named.watched = true;
  named.detail = "fanotify \x1b]0;owned\x07" + std::string(1000, 'x');
  named.ops = {{"create", 3, 0, 0, false}, {"chmod", 9, 0, 0, false}};
  agent::GuestVolumeOps foreign;
  foreign.target = "/etc";
  foreign.watched = true;
  foreign.ops = {{"delete", 7, 0, 0, false}};

  internal::RecordGuestAnswer(audit, "vm", asked, {named, foreign}, /*first=*/true);
  internal::RecordGuestAnswer(audit, "vm", asked, {named, foreign}, /*first=*/false);
  audit.Flush();

  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, "volume.attach");
  const std::string detail = records[0].second.value("detail", "");
  EXPECT_THAT(detail, HasSubstr("counted by the guest agent (fanotify ?]0;owned?"));
  EXPECT_LE(detail.size(),
            200u + std::string("mounted in the guest; counted by the guest agent ()").size());
  EXPECT_EQ(detail.find('\x1b'), std::string::npos);
  EXPECT_EQ(records[1].first, "volume.ops");
  EXPECT_EQ(records[1].second.value("volume", ""), "memory:/scratch");
  const nlohmann::json& ops = records[1].second["ops"];
  EXPECT_EQ(ops.size(), 1u) << ops.dump();
  EXPECT_EQ(ops["create"]["count"], 3u) << "only the second answer's counts";
  for (const auto& [event, fields] : records) {
    EXPECT_NE(fields.value("volume", ""), "/etc") << "a target the host did not name";
  }
}

TEST(DescribeExec, PassesTheCommandsOwnStatus) {
  agent::ExecResult r;
  r.exit_code = 3;
  ExecOutcome out = DescribeExec(r, false, 256, 30);
  EXPECT_EQ(out.exit_status, 3);
  EXPECT_EQ(out.message, "");
}

TEST(DescribeExec, TimeoutIs124WithTheLimitNamed) {
  agent::ExecResult r;
  r.timed_out = true;
  r.signal = SIGKILL;
  ExecOutcome out = DescribeExec(r, false, 256, 30);
  EXPECT_EQ(out.exit_status, kExitTimeout);
  EXPECT_THAT(out.message, HasSubstr("timed out after 30 s (timeout_seconds)"));
  // `mvmctl exec --timeout` set the limit, so that is what the message names.
  EXPECT_THAT(DescribeExec(r, false, 256, 30, "--timeout").message,
              HasSubstr("timed out after 30 s (--timeout)"));
}

TEST(DescribeExec, OomKillIs137WithTheMemoryLimit) {
  agent::ExecResult r;
  r.signal = SIGKILL;
  ExecOutcome out = DescribeExec(r, true, 256, 30);
  EXPECT_EQ(out.exit_status, 137);
  EXPECT_EQ(out.message, "killed: memory limit 256 MiB reached");
  // A SIGKILL that was not the OOM killer says so.
  EXPECT_EQ(DescribeExec(r, false, 256, 30).message, "killed by signal 9 (SIGKILL)");
}

TEST(DescribeExec, ControlCOnATerminalIs130WithoutAMessage) {
  agent::ExecResult r;
  r.signal = SIGINT;
  ExecOutcome quiet = DescribeExec(r, false, 256, 30, "--timeout", /*on_terminal=*/true);
  EXPECT_EQ(quiet.exit_status, 130);
  EXPECT_EQ(quiet.message, "");
  ExecOutcome piped = DescribeExec(r, false, 256, 30, "--timeout", /*on_terminal=*/false);
  EXPECT_EQ(piped.exit_status, 130);
  EXPECT_EQ(piped.message, "killed by signal 2 (SIGINT)");
  r.signal = SIGTERM;
  EXPECT_EQ(DescribeExec(r, false, 256, 30, "--timeout", true).message,
            "killed by signal 15 (SIGTERM)");
}

TEST(DescribeExec, CouldNotStartKeeps126And127AndTheReason) {
  agent::ExecResult r;
  r.exit_code = 127;
  r.error = "`nope`: command not found in PATH";
  ExecOutcome out = DescribeExec(r, false, 256, 30);
  EXPECT_EQ(out.exit_status, kExitNotFound);
  EXPECT_EQ(out.message, r.error);
}

TEST(DescribeExec, TruncationIsNeverSilent) {
  agent::ExecResult r;
  r.stdout_bytes = 100;
  r.stdout_dropped = 40;
  r.stderr_bytes = 10;
  ExecOutcome out = DescribeExec(r, false, 256, 30);
  EXPECT_EQ(out.exit_status, 0);
  EXPECT_EQ(out.message, "stdout truncated: 40 of 100 bytes dropped (output limit)");
}

TEST(State, SandboxNamesFollowTheWorkloadIdGrammar) {
  EXPECT_TRUE(IsSandboxName("hello-1a2b3c"));
  EXPECT_FALSE(IsSandboxName(""));
  EXPECT_FALSE(IsSandboxName("-x"));
  EXPECT_FALSE(IsSandboxName("Upper"));
  EXPECT_FALSE(IsSandboxName("../etc"));
  EXPECT_FALSE(IsSandboxName(std::string(64, 'a')));
}

TEST(State, RecordsRoundTripAndRefuseForeignNames) {
  fs::path dir = fs::temp_directory_path() / ("mvm-state-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  StateDir state{dir};
  SandboxRecord r;
  r.name = "box-1";
  r.workload_id = "box";
  r.payload_digest = "sha256:00";
  r.backend = "container";
  r.pid = ::getpid();
  r.pid_start_time = ProcessStartTime(::getpid());
  r.created_at = os::NowUtcText(os::UtcForm::kRfc3339);
  r.memory_mb = 64;
  ASSERT_TRUE(WriteRecord(state, r).ok());
  auto back = ReadRecord(state, "box-1");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->workload_id, "box");
  EXPECT_TRUE(IsRunning(*back));
  back->pid_start_time += 1;  // the same pid, another process: not ours
  EXPECT_FALSE(IsRunning(*back));
  EXPECT_FALSE(ReadRecord(state, "../box-1").ok());
  auto missing = ReadRecord(state, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("no sandbox named `nope`"));
  fs::remove_all(dir);
}

TEST(State, StateDirFollowsXdg) {
  EXPECT_EQ(ResolveStateDir("/x/y").root, fs::path("/x/y"));
  ::setenv("XDG_STATE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(ResolveStateDir("").root, fs::path("/tmp/xdg/mvm"));
  ::setenv("XDG_STATE_HOME", "relative", 1);
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(ResolveStateDir("").root, fs::path("/home/u/.local/state/mvm"));
  ::unsetenv("XDG_STATE_HOME");
}

}  // namespace
}  // namespace mvm::runtime
