// Volume operations reach the hash-chained audit log (runtime/audit), aggregated: the records say
// what happened (every kind of operation, counts, bytes, failures), the chain verifies, and a
// busy volume writes a number of records bounded by its attached time, not by its operations.

#include "runtime/volumes/volume_audit.h"

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/audit/audit.h"
#include "runtime/volumes/volume.h"
#include "tests/support/temp_dir.h"

namespace mvm::runtime::volumes {
namespace {

namespace fs = std::filesystem;
using mvm::testing::TempDir;

/// The log's records, parsed.
std::vector<nlohmann::json> Records(const fs::path& log) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

/// A local volume over `dir`, audited into `log` with a clock the test moves.
struct Audited {
  Audited(const fs::path& dir, const fs::path& log_path, std::chrono::milliseconds flush_every)
      : log(audit::Log::Open(log_path, nullptr)) {
    VolumeAudit::Options options;
    options.flush_every = flush_every;
    options.now = [this] { return now; };
    audit = std::make_shared<VolumeAudit>(
        [this](std::string_view event, const nlohmann::json& fields) {
          ASSERT_TRUE(log);
          ASSERT_TRUE(log->Append(event, fields)) << event;
        },
        options);
    VolumeSpec spec;
    spec.backend = "local";
    spec.source = dir.string();
    AttachContext context;
    context.sandbox = "busy";
    context.state_dir = dir.parent_path();
    context.audit = audit;
    auto attached = Attach(spec, context);
    EXPECT_TRUE(attached) << (attached ? "" : attached.error().message);
    if (attached) {
      volume = std::move(*attached);
    }
  }
  ErrorOr<audit::Log> log;
  std::chrono::steady_clock::time_point now{};
  std::shared_ptr<VolumeAudit> audit;
  std::unique_ptr<Volume> volume;
};

TEST(VolumeAudit, EveryKindOfOperationIsRecordedAndTheChainVerifies) {
  TempDir root("mvm-volume-audit");
  fs::create_directories(root.path() / "data");
  const fs::path log = root.path() / "audit.jsonl";
  {
    Audited a(root.path() / "data", log, std::chrono::seconds(10));
    ASSERT_NE(a.volume, nullptr);
    ASSERT_TRUE(a.volume->WriteFile("a.txt", "hello"));
    ASSERT_TRUE(a.volume->ReadAll("a.txt"));
    EXPECT_FALSE(a.volume->ReadAll("missing.txt"));
    ASSERT_TRUE(a.volume->Rename("a.txt", "b.txt"));
    ASSERT_TRUE(a.volume->List(""));
    ASSERT_TRUE(a.volume->Stat("b.txt"));
    ASSERT_TRUE(a.volume->Health());
    ASSERT_TRUE(a.volume->Snapshot("before-delete"));
    ASSERT_TRUE(a.volume->Remove("b.txt", false));
    ASSERT_TRUE(a.volume->Detach());
  }
  std::vector<nlohmann::json> records = Records(log);
  std::vector<std::string> events;
  for (const nlohmann::json& r : records) {
    events.push_back(r.at("event"));
  }
  // The counters before the snapshot go out before it, so the chain keeps the order of events.
  EXPECT_EQ(events, (std::vector<std::string>{"volume.attach", "volume.ops", "volume.snapshot",
                                              "volume.ops", "volume.detach"}));
  const std::string name = "local:" + (root.path() / "data").string();
  for (const nlohmann::json& r : records) {
    EXPECT_EQ(r.at("sandbox"), "busy");
    EXPECT_EQ(r.at("volume"), name);
  }
  const nlohmann::json& before = records.at(1).at("ops");
  EXPECT_EQ(before.at("write"), (nlohmann::json{{"count", 1}, {"failed", 0}, {"bytes", 5}}));
  EXPECT_EQ(before.at("read"), (nlohmann::json{{"count", 2}, {"failed", 1}, {"bytes", 5}}));
  for (const char* op : {"rename", "list", "stat", "health"}) {
    EXPECT_EQ(before.at(op).at("count"), 1) << op;
  }
  EXPECT_EQ(records.at(2).at("label"), "before-delete");
  EXPECT_EQ(records.at(3).at("ops").at("delete").at("count"), 1);
  EXPECT_TRUE(audit::Verify(log, {}).ok) << audit::Verify(log, {}).reason;
  // No record holds a file's name or content.
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("a.txt"), std::string::npos);
  EXPECT_EQ(text.find("hello"), std::string::npos);
}

TEST(VolumeAudit, ABusyVolumeWritesRecordsBoundedByTimeNotByOperations) {
  TempDir root("mvm-volume-audit");
  fs::create_directories(root.path() / "data");
  const fs::path log = root.path() / "audit.jsonl";
  constexpr int kOps = 1000;
  {
    Audited a(root.path() / "data", log, std::chrono::seconds(1));
    ASSERT_NE(a.volume, nullptr);
    // 1000 writes and reads, 10 ms of the test's clock apart: 10 s of a busy workload.
    for (int i = 0; i < kOps; ++i) {
      ASSERT_TRUE(a.volume->WriteFile("f", "0123456789"));
      ASSERT_TRUE(a.volume->ReadAll("f"));
      a.now += std::chrono::milliseconds(10);
    }
    ASSERT_TRUE(a.volume->Detach());
  }
  std::vector<nlohmann::json> records = Records(log);
  // attach + one aggregate a second (10) + the rest at detach + detach.
  EXPECT_LE(records.size(), 2u + 10u + 1u);
  EXPECT_GE(records.size(), 2u + 10u);
  uint64_t writes = 0, reads = 0, written = 0, read = 0;
  for (const nlohmann::json& r : records) {
    if (r.at("event") == "volume.ops") {
      writes += r.at("ops").at("write").at("count").get<uint64_t>();
      reads += r.at("ops").at("read").at("count").get<uint64_t>();
      written += r.at("ops").at("write").at("bytes").get<uint64_t>();
      read += r.at("ops").at("read").at("bytes").get<uint64_t>();
      EXPECT_LE(r.at("span_ms").get<int64_t>(), 1000) << r.dump();
    }
  }
  // Nothing is lost in the aggregation.
  EXPECT_EQ(writes, uint64_t{kOps});
  EXPECT_EQ(reads, uint64_t{kOps});
  EXPECT_EQ(written, uint64_t{kOps} * 10);
  EXPECT_EQ(read, uint64_t{kOps} * 10);
  EXPECT_TRUE(audit::Verify(log, {}).ok) << audit::Verify(log, {}).reason;
}

TEST(VolumeAudit, AWriterThatNeverCommitsCountsAsAFailedWrite) {
  TempDir root("mvm-volume-audit");
  fs::create_directories(root.path() / "data");
  const fs::path log = root.path() / "audit.jsonl";
  {
    Audited a(root.path() / "data", log, std::chrono::seconds(10));
    ASSERT_NE(a.volume, nullptr);
    {
      auto writer = a.volume->OpenWriter("abandoned");
      ASSERT_TRUE(writer);
      ASSERT_TRUE((*writer)->Write("partial"));
    }
    ASSERT_TRUE(a.volume->Detach());
  }
  std::vector<nlohmann::json> records = Records(log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records.at(1).at("ops").at("write"),
            (nlohmann::json{{"count", 1}, {"failed", 1}, {"bytes", 7}}));
}

// A count the watch may have merged (mount_watch.h) says so in every record until the detach, and
// only for that operation.
TEST(VolumeAudit, ACountMarkedALowerBoundSaysSoInEveryRecordUntilTheDetach) {
  std::vector<nlohmann::json> ops;
  VolumeAudit audit([&](std::string_view event, const nlohmann::json& fields) {
    if (event == "volume.ops") {
      ops.push_back(fields.at("ops"));
    }
  });
  audit.Record("sb", "local:/d", VolumeOp::kAttach, 0, true);
  audit.CountsAreLowerBounds("sb", "local:/d", VolumeOp::kRead);
  audit.Record("sb", "local:/d", VolumeOp::kRead, 0, true);
  audit.Record("sb", "local:/d", VolumeOp::kCreate, 0, true);
  audit.Flush();
  audit.Record("sb", "local:/d", VolumeOp::kRead, 0, true);
  audit.Record("sb", "local:/d", VolumeOp::kDetach, 0, true);
  audit.Record("sb", "local:/d", VolumeOp::kAttach, 0, true);
  audit.Record("sb", "local:/d", VolumeOp::kRead, 0, true);
  audit.Flush();
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].at("read").at("at_least"), true);
  EXPECT_FALSE(ops[0].at("create").contains("at_least"));
  EXPECT_EQ(ops[1].at("read").at("at_least"), true) << "kept across flushes";
  EXPECT_FALSE(ops[2].at("read").contains("at_least")) << "a new attach starts exact";
}

}  // namespace
}  // namespace mvm::runtime::volumes

namespace mvm::runtime::volumes {
namespace {

// Counts another counter reported (a microVM's guest agent) go into the same aggregated records,
// each of them saying whose word it is, and a forged count saturates rather than wraps.
TEST(VolumeAuditReported, CountsReportedAtOnceAreAddedAndSayWhoReportedThem) {
  std::vector<std::pair<std::string, nlohmann::json>> records;
  VolumeAudit::Options options;
  options.reported_by = "guest-agent";
  VolumeAudit audit(
      [&](std::string_view event, const nlohmann::json& fields) {
        records.emplace_back(std::string(event), fields);
      },
      options);
  audit.Record("vm", "memory:/scratch", VolumeOp::kAttach, 0, true, "counted in the guest");
  audit.RecordCounts("vm", "memory:/scratch", VolumeOp::kCreate, 4, 0, 0);
  audit.RecordCounts("vm", "memory:/scratch", VolumeOp::kCreate, 2, 1, 0);
  audit.RecordCounts("vm", "memory:/scratch", VolumeOp::kWrite, UINT64_MAX, 0, UINT64_MAX);
  audit.RecordCounts("vm", "memory:/scratch", VolumeOp::kWrite, 5, 0, 7);
  audit.Record("vm", "memory:/scratch", VolumeOp::kDetach, 0, true);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].first, "volume.attach");
  EXPECT_EQ(records[1].first, "volume.ops");
  EXPECT_EQ(records[2].first, "volume.detach");
  for (const auto& [event, fields] : records) {
    EXPECT_EQ(fields.value("reported_by", ""), "guest-agent") << event;
  }
  const nlohmann::json& ops = records[1].second["ops"];
  EXPECT_EQ(ops["create"]["count"], 6u);
  EXPECT_EQ(ops["create"]["failed"], 1u);
  EXPECT_EQ(ops["write"]["count"], UINT64_MAX);
  EXPECT_EQ(ops["write"]["bytes"], UINT64_MAX);
}

TEST(VolumeAuditReported, TheHostsOwnRecordsNameNoReporter) {
  std::vector<nlohmann::json> records;
  VolumeAudit audit(
      [&](std::string_view, const nlohmann::json& fields) { records.push_back(fields); });
  audit.Record("c", "memory:/m", VolumeOp::kCreate, 0, true);
  audit.Flush();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].contains("reported_by"));
}

}  // namespace
}  // namespace mvm::runtime::volumes
