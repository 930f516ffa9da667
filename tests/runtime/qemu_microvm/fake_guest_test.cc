// The host side of the qemu-microvm backend against guests that lie, stay silent or break the
// port's protocol (tests/runtime/qemu_microvm/fake_qemu.cc, put on PATH as qemu-system-x86_64 and
// started by the real supervisor, confined as qemu is). No VM boots, so these take seconds.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/audit_records.h"
#include "tests/support/mvmctl.h"
#include "tests/support/processes.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using ::testing::Contains;
using ::testing::HasSubstr;

using Clock = std::chrono::steady_clock;

const fs::path kFixture =
    fs::path(MVM_SOURCE_DIR) / "tests" / "fixtures" / "runtime" / "hostile.py";

// The microVM tests' state directory: the guest kernel and images are built once for both.
fs::path State() { return fs::path(MVM_BINARY_DIR) / "qemu-microvm-test-state"; }

Result Mvmctl(std::vector<std::string> args) {
  return mvm::testing::Mvmctl(std::move(args), "", State());
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The audit records of `event` about sandbox `name`, oldest first.
std::vector<nlohmann::json> AuditRecords(const std::string& event, const std::string& name) {
  return mvm::testing::AuditRecords(State(), name, event);
}

/// Whether a process whose command line names sandbox `name` (the fake qemu's `mvm.name=`) lives.
bool FakeQemuAlive(const std::string& name) {
  return mvm::testing::ProcessRuns("qemu-system-x86_64", "mvm.name=" + name + " ");
}

class FakeGuest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path bin = fs::path(MVM_BINARY_DIR) / "fake-guest-bin";
    fs::create_directories(bin);
    fs::path qemu = bin / "qemu-system-x86_64";
    std::error_code ec;
    fs::remove(qemu, ec);
    fs::create_symlink(MVM_FAKE_QEMU_PATH, qemu);
    const char* path = std::getenv("PATH");
    ::setenv("PATH", (bin.string() + ":" + (path != nullptr ? path : "/usr/bin:/bin")).c_str(), 1);
    ::setenv("MVM_QEMU_ACCEL", "tcg", 1);
    // The template trees are shared; see microvm_e2e_test.cc.
    mvm::testing::UseSharedRootfsCache(State());
  }

  void TearDown() override {
    if (!name_.empty()) {
      (void)Mvmctl({"destroy", name_});
    }
  }

  /// `up --detach` of a busybox idle workload named `<prefix>-<pid>` on the fake guest.
  void Up(const std::string& prefix) {
    name_ = prefix + "-" + std::to_string(::getpid());
    (void)Mvmctl({"destroy", name_});
    Result up = Mvmctl({"up", kFixture.string(), "--backend", "qemu-microvm", "--workload", "idle",
                        "--name", name_, "--detach"});
    ASSERT_EQ(up.status, 0) << Describe(up);
  }

  std::string name_;
};

// The guest's answers are the guest's: the host cannot know the real exit status of a command in
// a guest whose root took over the agent, so the audit record says which fields are the agent's
// report and carries what the host measured itself.
TEST_F(FakeGuest, AForgedExitStatusIsAuditedAsTheAgentsReportBesideTheHostsMeasurements) {
  Up("fake-forge");
  Result exec = Mvmctl({"exec", name_, "--", "sh", "-c", "exit 3"});
  EXPECT_EQ(exec.status, 0) << Describe(exec);  // the lie, passed on as the guest told it
  EXPECT_EQ(exec.out, "forged\n");
  auto records = AuditRecords("exec-exit", name_);
  ASSERT_FALSE(records.empty());
  const nlohmann::json& exit = records.back();
  EXPECT_EQ(exit.value("exit_status", -1), 0);
  EXPECT_EQ(exit.value("duration_ms", -1), 1);
  ASSERT_TRUE(exit.contains("agent_reported")) << exit.dump();
  for (const char* field : {"exit_status", "timed_out", "duration_ms", "oom_killed",
                            "stdout_dropped", "stderr_dropped"}) {
    EXPECT_THAT(exit["agent_reported"], Contains(field)) << exit.dump();
  }
  // The fake takes 400 ms and claims 1: the host's own clock says otherwise.
  EXPECT_GE(exit.value("host_wall_ms", 0), 400) << exit.dump();
  EXPECT_EQ(exit.value("host_killed", true), false);
}

// A guest that accepts every connection and answers Hello, then nothing: no command waits on it
// without a bound, and `stop` ends the VM whatever it does.
TEST_F(FakeGuest, ASilentGuestHoldsNoCommandAndStopEndsIt) {
  Up("fake-silent");
  auto start = Clock::now();
  Result fs_ls, logs, exec;
  std::thread a([&] { fs_ls = Mvmctl({"fs", name_, "ls", "/"}); });
  std::thread b([&] { logs = Mvmctl({"logs", name_}); });
  std::thread c([&] { exec = Mvmctl({"exec", name_, "--timeout", "1", "--", "true"}); });
  a.join();
  b.join();
  c.join();
  const double waited = SecondsSince(start);
  EXPECT_NE(fs_ls.status, 0) << Describe(fs_ls);
  EXPECT_NE(logs.status, 0) << Describe(logs);
  EXPECT_NE(exec.status, 0) << Describe(exec);
  EXPECT_THAT(fs_ls.err, HasSubstr("stopped answering")) << Describe(fs_ls);
  // The reply limit (10 s) for fs and logs; the exec timeout plus its 10 s grace for exec.
  EXPECT_LT(waited, 20.0);
  start = Clock::now();
  Result stop = Mvmctl({"stop", name_});
  EXPECT_EQ(stop.status, 0) << Describe(stop);
  EXPECT_LT(SecondsSince(start), 10.0) << "stop waited on a silent guest";
  EXPECT_FALSE(FakeQemuAlive(name_));
}

// Bytes on the port that are not the mux protocol end the VM, and the audit log says why.
TEST_F(FakeGuest, AGuestThatBreaksThePortProtocolIsKilledAndTheReasonAudited) {
  // The audit log outlives a run and pids come round again, so an earlier sandbox of this name
  // may have left its record.
  const size_t earlier = AuditRecords("vm-exit", "fake-break-" + std::to_string(::getpid())).size();
  Up("fake-break");
  Result exec = Mvmctl({"exec", name_, "--", "true"});
  EXPECT_NE(exec.status, 0) << Describe(exec);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (FakeQemuAlive(name_) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(FakeQemuAlive(name_));
  deadline = Clock::now() + std::chrono::seconds(5);
  while (AuditRecords("vm-exit", name_).size() == earlier && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto records = AuditRecords("vm-exit", name_);
  ASSERT_EQ(records.size(), earlier + 1);
  EXPECT_THAT(records.back().value("port", ""), HasSubstr("broke the agent port's protocol"))
      << records.back().dump();
  EXPECT_THAT(records.back().value("qemu", ""), HasSubstr("signal 9")) << records.back().dump();
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

}  // namespace
