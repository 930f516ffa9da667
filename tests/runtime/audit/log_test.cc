#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "backend-emit/plan/base64.h"
#include "ir/canonical_json.h"
#include "runtime/audit/audit.h"
#include "runtime/audit/record.h"
#include "tests/runtime/audit/audit_test_util.h"

namespace mvm::runtime::audit {
namespace {

using Json = nlohmann::json;

mode_t Mode(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

Head ReadHead(const fs::path& log) {
  std::optional<Head> head = Head::Parse(ReadFile(HeadPath(log)));
  EXPECT_TRUE(head.has_value()) << ReadFile(HeadPath(log));
  return head.value_or(Head{});
}

using LogTest = AuditTest;

TEST_F(LogTest, RecordsAreCanonicalJsonLinesChainedBySha256) {
  auto log = Log::Open(log_, nullptr, TickingClock());
  ASSERT_TRUE(log.ok()) << log.error().message;
  auto first = log->Append("launch", {{"workload", "w"}});
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = log->Append("exec", {{"argv", {"echo", "hi"}}, {"exit", 0}});
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_TRUE(log->Close().ok());

  // Computed independently (Python's hashlib over the canonical line without "hash").
  const std::string first_hash = "64ddcb56ae7e985beb39265ea405152f4c1aaf8538afb3a7c02c7b5d8de4faf9";
  std::vector<std::string> lines = ReadLines(log_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "{\"event\":\"launch\",\"hash\":\"sha256:" + first_hash +
                "\",\"prev\":\"sha256:"
                "0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":1,"
                "\"time\":\"1970-01-01T00:16:40.000Z\",\"workload\":\"w\"}");
  EXPECT_EQ(*first, "1-" + first_hash.substr(0, 12));

  Json rec = Json::parse(lines[1]);
  EXPECT_EQ(rec["seq"], 2);
  EXPECT_EQ(rec["prev"], "sha256:" + first_hash);
  EXPECT_EQ(rec["time"], "1970-01-01T00:16:40.001Z");
  EXPECT_EQ(rec["argv"], Json({"echo", "hi"}));
  EXPECT_EQ(ir::CanonicalJson(rec), lines[1]);
  EXPECT_EQ(*second, "2-" + rec["hash"].get<std::string>().substr(7, 12));
  // Without a key there are neither checkpoints nor a head.
  EXPECT_FALSE(fs::exists(HeadPath(log_)));
}

TEST_F(LogTest, WallClockTimesAreRfc3339UtcWithMilliseconds) {
  auto log = Log::Open(log_, nullptr);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE(log->Append("admit", Json::object()).ok());
  std::string time = Json::parse(ReadLines(log_).at(0))["time"];
  EXPECT_TRUE(ParseRecordTime(time).has_value()) << time;
  int64_t ms = *ParseRecordTime(time);
  int64_t now_ms = static_cast<int64_t>(::time(nullptr)) * 1000;
  // Generous bounds: the point is "the wall clock in UTC", not precision.
  EXPECT_LT(std::llabs(now_ms - ms), 3600 * 1000) << time;
}

TEST_F(LogTest, CreatesTheLog0600AndMissingParents0700WhateverTheUmask) {
  fs::path nested = dir_ / "a" / "b" / "audit.jsonl";
  mode_t old = umask(0777);
  auto log = Log::Open(nested, nullptr);
  umask(old);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ(Mode(nested), 0600u);
  EXPECT_EQ(Mode(dir_ / "a"), 0700u);
  EXPECT_EQ(Mode(dir_ / "a" / "b"), 0700u);
}

TEST_F(LogTest, RefusesBadEventsAndFieldsAndWritesNothing) {
  auto log = Log::Open(log_, nullptr);
  ASSERT_TRUE(log.ok());
  struct Case {
    std::string event;
    Json fields;
    std::string message;
  };
  Json deep = Json::array();
  for (int i = 0; i < kMaxNesting; ++i) {
    deep = Json::array({deep});
  }
  std::vector<Case> cases = {
      {"", Json::object(), "invalid audit event name ``"},
      {"Launch", Json::object(), "invalid audit event name `Launch`"},
      {"1launch", Json::object(), "invalid audit event name"},
      {"launch now", Json::object(), "invalid audit event name"},
      {"checkpoint", Json::object(), "not `checkpoint`"},
      {std::string(65, 'a'), Json::object(), "invalid audit event name"},
      {"launch", Json::array(), "must be a JSON object, not array"},
      {"launch", Json("x"), "must be a JSON object, not string"},
      {"launch", {{"seq", 1}}, "audit field `seq` is reserved"},
      {"launch", {{"time", "now"}}, "audit field `time` is reserved"},
      {"launch", {{"event", "x"}}, "audit field `event` is reserved"},
      {"launch", {{"prev", "x"}}, "audit field `prev` is reserved"},
      {"launch", {{"hash", "x"}}, "audit field `hash` is reserved"},
      {"launch", {{"x", std::nan("")}}, "NaN or infinite"},
      {"launch", {{"x", {1, std::numeric_limits<double>::infinity()}}}, "NaN or infinite"},
      {"launch", {{"x", std::string("\xff\xfe")}}, "valid UTF-8"},
      {"launch", {{std::string("k\xc3"), 1}}, "valid UTF-8"},
      {"launch", {{"x", deep}}, "nested more than 32 levels"},
      {"launch", {{"x", std::string(kMaxRecordBytes, 'a')}}, "more than the 65536"},
  };
  for (const Case& c : cases) {
    auto id = log->Append(c.event, c.fields);
    ASSERT_FALSE(id.ok()) << c.event << " " << c.message;
    EXPECT_NE(id.error().message.find(c.message), std::string::npos) << id.error().message;
  }
  EXPECT_EQ(ReadFile(log_), "");
  // Nesting up to the limit, and unusual but valid values, are fine and verify.
  Json ok_deep = Json::array();
  for (int i = 0; i < kMaxNesting - 2; ++i) {
    ok_deep = Json::array({ok_deep});
  }
  auto fine = log->Append("launch.step-2_b", {{"deep", ok_deep},
                                              {"unicode", "h\xc3\xa9llo \xf0\x9f\x98\x80"},
                                              {"float", 1.5},
                                              {"negative", -3},
                                              {"big", 1e21},
                                              {"ctrl", "a\tb\x01"},
                                              {"null", nullptr}});
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  VerifyReport report = Verify(log_, {});
  EXPECT_TRUE(report.ok) << report.reason;
}

TEST_F(LogTest, CheckpointsEveryNRecordsOnCloseAndWhenAsked) {
  plan::SecretKey key = TestKey(1);
  {
    auto log = Log::Open(log_, &key, TickingClock(/*checkpoint_every=*/3));
    ASSERT_TRUE(log.ok()) << log.error().message;
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(log->Append("exec", {{"i", i}}).ok());
    }
    auto explicit_checkpoint = log->Checkpoint();
    ASSERT_TRUE(explicit_checkpoint.ok()) << explicit_checkpoint.error().message;
    EXPECT_EQ(explicit_checkpoint->substr(0, 3), "10-");
    ASSERT_TRUE(log->Append("exec", {{"i", 7}}).ok());
    // The destructor checkpoints the one record since the last checkpoint.
  }
  std::vector<std::string> events;
  for (const std::string& line : ReadLines(log_)) {
    events.push_back(Json::parse(line)["event"]);
  }
  EXPECT_EQ(events,
            (std::vector<std::string>{"exec", "exec", "exec", "checkpoint", "exec", "exec", "exec",
                                      "checkpoint", "exec", "checkpoint", "exec", "checkpoint"}));
  Json checkpoint = Json::parse(ReadLines(log_).at(3));
  EXPECT_EQ(checkpoint["key_id"], key.KeyId());
  EXPECT_EQ(checkpoint.size(), 8u);

  // Closing with nothing new adds no checkpoint; Close is idempotent.
  {
    auto log = Log::Open(log_, &key);
    ASSERT_TRUE(log.ok()) << log.error().message;
    ASSERT_TRUE(log->Close().ok());
    ASSERT_TRUE(log->Close().ok());
    EXPECT_FALSE(log->Append("exec", Json::object()).ok());
  }
  EXPECT_EQ(ReadLines(log_).size(), 12u);
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 12u);
  EXPECT_EQ(report.checkpoints, 4u);
  EXPECT_EQ(report.key_ids, std::vector<std::string>{key.KeyId()});
}

TEST_F(LogTest, AppendAllWritesOneStepsRecordsInOrderUnderOneHead) {
  plan::SecretKey key = TestKey(1);
  auto log = Log::Open(log_, &key, TickingClock(/*checkpoint_every=*/3));
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE(log->Append("exec", {{"i", 0}}).ok());

  // One bad record refuses the whole step: nothing is written.
  std::vector<Log::Event> bad = {{"verify", {{"i", 1}}}, {"admit", {{"seq", 2}}}};
  auto refused = log->AppendAll(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(ReadLines(log_).size(), 1u);

  // The second record of the step is the third since the checkpoint: the automatic checkpoint
  // lands after it, inside the step.
  std::vector<Log::Event> step = {
      {"verify", {{"i", 1}}}, {"admit", {{"i", 2}}}, {"x", Json::object()}};
  auto ids = log->AppendAll(step);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ(ids->at(0).substr(0, 2), "2-");
  EXPECT_EQ(ids->at(1).substr(0, 2), "3-");
  EXPECT_EQ(ids->at(2).substr(0, 2), "5-");

  std::vector<Log::Event> last = {{"destroy", {{"sandbox", "s"}}}};
  auto sealed = log->AppendAll(last, Log::Seal::kWithCheckpoint);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  std::vector<std::string> events;
  for (const std::string& line : ReadLines(log_)) {
    events.push_back(Json::parse(line)["event"]);
  }
  EXPECT_EQ(events, (std::vector<std::string>{"exec", "verify", "admit", "checkpoint", "x",
                                              "destroy", "checkpoint"}));
  Head head = ReadHead(log_);
  EXPECT_EQ(head.seq, 7u);
  EXPECT_EQ(head.hash, Json::parse(ReadLines(log_).back())["hash"]);
  // Sealed: closing adds nothing.
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReadLines(log_).size(), 7u);
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checkpoints, 2u);

  auto unkeyed = Log::Open(dir_ / "other.jsonl", nullptr);
  ASSERT_TRUE(unkeyed.ok());
  EXPECT_FALSE(unkeyed->AppendAll(last, Log::Seal::kWithCheckpoint).ok());
}

TEST_F(LogTest, CheckpointNeedsAKey) {
  auto log = Log::Open(log_, nullptr);
  ASSERT_TRUE(log.ok());
  auto checkpoint = log->Checkpoint();
  ASSERT_FALSE(checkpoint.ok());
  EXPECT_NE(checkpoint.error().message.find("without a checkpoint key"), std::string::npos);
}

TEST_F(LogTest, TheHeadFollowsEveryAppend) {
  plan::SecretKey key = TestKey(1);
  auto log = Log::Open(log_, &key, TickingClock(/*checkpoint_every=*/0));
  ASSERT_TRUE(log.ok()) << log.error().message;
  // A new log is signed from the start: an empty log's head names record 0.
  EXPECT_EQ(ReadHead(log_).seq, 0u);
  EXPECT_EQ(ReadHead(log_).hash, kGenesisHash);
  EXPECT_EQ(Mode(HeadPath(log_)), 0600u);
  for (uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(log->Append("exec", {{"i", i}}).ok());
    Head head = ReadHead(log_);
    Json last = Json::parse(ReadLines(log_).back());
    EXPECT_EQ(head.seq, i);
    EXPECT_EQ(head.hash, last["hash"]);
    EXPECT_EQ(head.public_key, key.public_key());
    EXPECT_TRUE(plan::VerifySignature(key.public_key(), head.Message(), head.signature));
  }
  EXPECT_FALSE(fs::exists(fs::path(HeadPath(log_).string() + ".tmp")));
}

TEST_F(LogTest, ReopeningACrashTruncatedLogIsAClearError) {
  plan::SecretKey key = TestKey(1);
  {
    auto log = Log::Open(log_, &key);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Append("launch", {{"workload", "w"}}).ok());
    ASSERT_TRUE(log->Append("exec", {{"workload", "w"}}).ok());
  }
  // What a crash in the middle of write() leaves: the start of a record, no newline.
  std::string text = ReadFile(log_);
  std::string partial = ReadLines(log_).at(1).substr(0, 40);
  WriteFile(log_, text + partial);

  auto reopened = Log::Open(log_, &key);
  ASSERT_FALSE(reopened.ok());
  const std::string& message = reopened.error().message;
  EXPECT_NE(message.find("ends in a cut-short record"), std::string::npos) << message;
  EXPECT_NE(message.find("`mvmctl audit verify " + log_.string() + "`"), std::string::npos)
      << message;
  // Verify names the line.
  VerifyReport report = Verify(log_, {});
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_line, 4u);
  EXPECT_NE(report.reason.find("cut short"), std::string::npos) << report.reason;
}

/// The wait status of a forked writer appending records to `log` as fast as it can, sent `signal`
/// 2 to 10 ms after it starts: long enough to be appending, short enough to land mid-run. -1 when
/// no writer could be started.
int KillAWriterMidAppend(const fs::path& log, const plan::SecretKey& key, int signal) {
  const pid_t writer = ::fork();
  if (writer < 0) {
    return -1;
  }
  if (writer == 0) {
    auto opened = Log::Open(log, &key, TickingClock(/*checkpoint_every=*/4));
    if (!opened.ok()) {
      ::_exit(3);
    }
    for (int i = 0; i < 100000; ++i) {
      (void)opened->Append("exec", {{"i", i}});
    }
    ::_exit(0);
  }
  ::usleep(static_cast<useconds_t>(2000 + std::rand() % 8000));
  int status = -1;
  if (::kill(writer, signal) != 0 || ::waitpid(writer, &status, 0) != writer) {
    return -1;
  }
  return status;
}

// Ctrl-C or a `kill` (SIGINT, SIGTERM) of a process in the middle of an append: the records and
// the head still agree, so the next writer opens the log. Before, a signal between a step's
// records and its head left the head behind, and every later `run` refused the log.
TEST_F(LogTest, ATerminationSignalMidAppendLeavesTheLogAndItsHeadInAgreement) {
  plan::SecretKey key = TestKey(1);
  ASSERT_TRUE(Log::Open(log_, &key).ok());
  std::srand(static_cast<unsigned>(::getpid()));
  for (int round = 0; round < 40; ++round) {
    const int status = KillAWriterMidAppend(log_, key, round % 2 == 0 ? SIGTERM : SIGINT);
    ASSERT_GE(status, 0) << "round " << round << ": no writer";
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the writer did not end by the "
                                     << "signal (status " << status << ")";
    auto reopened = Log::Open(log_, &key);
    ASSERT_TRUE(reopened.ok()) << "round " << round << ": " << reopened.error().message;
  }
  plan::PublicKey trusted[] = {key.public_key()};
  EXPECT_TRUE(Verify(log_, trusted).ok);
}

// kill -9 (or a crash) of a writer between a step's records and its head: the next writer finds
// whole records chained from the signed end, signs over them and says so in the log
// (`audit-head-recovered`), instead of refusing the log until someone moves it aside. Records that
// do not chain from the signed end are still refused.
TEST_F(LogTest, AHeadLeftBehindByAKilledWriterIsSignedOverOnlyWhenTheRecordsChain) {
  plan::SecretKey key = TestKey(1);
  ASSERT_TRUE(Log::Open(log_, &key).ok());
  std::srand(static_cast<unsigned>(::getpid()) + 1);
  for (int round = 0; round < 40; ++round) {
    ASSERT_GE(KillAWriterMidAppend(log_, key, SIGKILL), 0) << "round " << round << ": no writer";
    // The writers' clock: a recovery record stamped by another would break the time order.
    auto reopened = Log::Open(log_, &key, TickingClock(/*checkpoint_every=*/4));
    ASSERT_TRUE(reopened.ok()) << "round " << round << ": " << reopened.error().message;
  }
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason << " (line " << report.first_bad_line << ")";
  size_t recovered = 0;
  for (const std::string& line : ReadLines(log_)) {
    recovered += Json::parse(line)["event"] == "audit-head-recovered";
  }
  EXPECT_GT(recovered, 0u) << "no kill landed between records and their head in 40 rounds";

  // A record added after the signed end that does not chain from it: refused as before.
  std::vector<std::string> lines = ReadLines(log_);
  Json last = Json::parse(lines.back());
  Json forged = {{"seq", last["seq"].get<uint64_t>() + 1},
                 {"time", last["time"]},
                 {"event", "exec"},
                 {"prev", std::string(64, '0')}};
  forged["hash"] = RecordHash(forged);
  lines.push_back(ir::CanonicalJson(forged));
  WriteLines(log_, lines);
  auto refused = Log::Open(log_, &key);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("names record"), std::string::npos)
      << refused.error().message;
}

// A power loss keeps every record a step synced but may take back the head writes since the last
// synced one: the head is overwritten in place and synced only when it enters a new block of 16
// records. Rebuilt after every step (the log as written, the last synced head), the log must open,
// signing over the lag, and verify. Were the head never synced between, the lag would pass the 32
// records a writer signs over and the log would be refused.
TEST_F(LogTest, APowerLossThatTakesBackUnsyncedHeadsLeavesALogTheNextWriterSignsOver) {
  plan::SecretKey key = TestKey(1);
  std::string durable_head;
  size_t head_syncs = 0;
  LogOptions options = TickingClock(/*checkpoint_every=*/0);
  options.head_made_durable = [&](std::string_view text) {
    durable_head = std::string(text);
    ++head_syncs;
  };
  auto log = Log::Open(log_, &key, options);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_EQ(head_syncs, 1u) << "a new log's head is not synced";
  const fs::path lost = dir_ / "after-power-loss.jsonl";
  plan::PublicKey trusted[] = {key.public_key()};
  constexpr int kSteps = 60;
  for (int step = 1; step <= kSteps; ++step) {
    // One to five records, as the steps of a run have.
    std::vector<Log::Event> events(static_cast<size_t>(step % 5 + 1),
                                   Log::Event{"exec", {{"step", step}}});
    ASSERT_TRUE(log->AppendAll(events).ok());
    WriteFile(lost, ReadFile(log_));
    WriteFile(HeadPath(lost), durable_head);
    auto reopened = Log::Open(lost, &key, TickingClock(/*checkpoint_every=*/0));
    ASSERT_TRUE(reopened.ok()) << "step " << step << ": " << reopened.error().message;
    ASSERT_TRUE(reopened->Close().ok());
    VerifyReport report = Verify(lost, trusted);
    ASSERT_TRUE(report.ok) << "step " << step << ": " << report.reason;
  }
  // The point of it: most steps cost the log's sync alone.
  EXPECT_LT(head_syncs, static_cast<size_t>(kSteps) / 2);
  EXPECT_GT(head_syncs, 1u);
}

TEST_F(LogTest, AnOpenLogRefusesToChainOntoATailBrokenByAnotherWriter) {
  auto log = Log::Open(log_, nullptr);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE(log->Append("launch", Json::object()).ok());
  std::string text = ReadFile(log_);
  WriteFile(log_, text + "{\"event\":\"ex");
  auto id = log->Append("exec", Json::object());
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message.find("cut-short"), std::string::npos) << id.error().message;
  EXPECT_EQ(ReadFile(log_), text + "{\"event\":\"ex");
}

TEST_F(LogTest, ReopeningALogWhoseLastRecordWasEditedIsAnError) {
  {
    auto log = Log::Open(log_, nullptr);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Append("launch", {{"workload", "w"}}).ok());
  }
  std::string text = ReadFile(log_);
  text.replace(text.find("\"w\""), 3, "\"v\"");
  WriteFile(log_, text);
  auto reopened = Log::Open(log_, nullptr);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find("last record of the audit log"), std::string::npos)
      << reopened.error().message;
  EXPECT_NE(reopened.error().message.find("mvmctl audit verify"), std::string::npos);
}

TEST_F(LogTest, OpenChecksTheHead) {
  plan::SecretKey key = TestKey(1);
  plan::SecretKey other = TestKey(2);
  {
    auto log = Log::Open(log_, &key);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Append("launch", Json::object()).ok());
  }
  std::string head = ReadFile(HeadPath(log_));

  // Another key: one log is kept by one key.
  auto wrong_key = Log::Open(log_, &other);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_NE(wrong_key.error().message.find("signed by key " + key.KeyId() +
                                           ", not by this log's "
                                           "checkpoint key " +
                                           other.KeyId()),
            std::string::npos)
      << wrong_key.error().message;

  // No key, but the log has a signed head.
  auto keyless = Log::Open(log_, nullptr);
  ASSERT_FALSE(keyless.ok());
  EXPECT_NE(keyless.error().message.find("open it with its checkpoint key"), std::string::npos);

  // The head deleted: records may have been cut from the end.
  fs::remove(HeadPath(log_));
  auto headless = Log::Open(log_, &key);
  ASSERT_FALSE(headless.ok());
  EXPECT_NE(headless.error().message.find("has records but no head file"), std::string::npos)
      << headless.error().message;

  // A head that names an earlier record: the last record was removed.
  WriteFile(HeadPath(log_), head);
  std::vector<std::string> lines = ReadLines(log_);
  lines.pop_back();
  WriteLines(log_, lines);
  auto truncated = Log::Open(log_, &key);
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("names record 2 as the last, but the log ends with "
                                           "record 1"),
            std::string::npos)
      << truncated.error().message;

  // A head with a broken signature (on a new, empty log).
  ASSERT_TRUE(fs::remove(log_));
  ASSERT_TRUE(fs::remove(HeadPath(log_)));
  {
    auto log = Log::Open(log_, &key);
    ASSERT_TRUE(log.ok()) << log.error().message;
  }
  Json forged = Json::parse(ReadFile(HeadPath(log_)));
  std::string sig = *plan::Base64Decode(forged["sig"].get<std::string>());
  sig[5] ^= 1;
  forged["sig"] = plan::Base64Encode(sig);
  WriteFile(HeadPath(log_), ir::CanonicalJson(forged) + "\n");
  auto bad_signature = Log::Open(log_, &key);
  ASSERT_FALSE(bad_signature.ok());
  EXPECT_NE(bad_signature.error().message.find("does not verify"), std::string::npos)
      << bad_signature.error().message;
}

TEST_F(LogTest, RefusesASymlinkAtTheLogPath) {
  fs::path target = dir_ / "elsewhere";
  WriteFile(target, "");
  fs::create_symlink(target, log_);
  auto log = Log::Open(log_, nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().message.find("cannot open the audit log"), std::string::npos);
}

TEST_F(LogTest, MovedLogsKeepAppending) {
  plan::SecretKey key = TestKey(1);
  auto opened = Log::Open(log_, &key);
  ASSERT_TRUE(opened.ok());
  Log log = std::move(*opened);
  ASSERT_TRUE(log.Append("launch", Json::object()).ok());
  Log other = std::move(log);
  ASSERT_TRUE(other.Append("exec", Json::object()).ok());
  log = std::move(other);
  ASSERT_TRUE(log.Close().ok());
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 3u);
}

TEST_F(LogTest, ALauncherThatDiedWithoutClosingLeavesAVerifiableLog) {
  plan::SecretKey key = TestKey(1);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = Log::Open(log_, &key);
    bool ok = log.ok() && log->Append("launch", Json::object()).ok() &&
              log->Append("exec", Json::object()).ok();
    _exit(ok ? 0 : 1);  // no destructor, no Close: no final checkpoint
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 2u);
  EXPECT_EQ(report.checkpoints, 0u);
  // The next launcher carries on.
  auto log = Log::Open(log_, &key);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE(log->Append("launch", Json::object()).ok());
}

TEST_F(LogTest, ConcurrentAppendsFromFourProcessesLoseNothing) {
  constexpr int kProcesses = 4;
  constexpr int kRecordsEach = 200;
  plan::SecretKey key = TestKey(1);
  // Created before the writers start, so that they race on appends, not on creation.
  ASSERT_TRUE(Log::Open(log_, &key).ok());
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Each process opens its own Log: the flock belongs to the open file.
      auto log = Log::Open(log_, &key);
      if (!log.ok()) {
        _exit(2);
      }
      for (int i = 0; i < kRecordsEach; ++i) {
        if (!log->Append("exec", {{"process", p}, {"i", i}}).ok()) {
          _exit(3);
        }
      }
      _exit(log->Close().ok() ? 0 : 4);
    }
    children.push_back(pid);
  }
  // Verifying while they append sees a consistent log and head every time (the shared lock).
  plan::PublicKey trusted[] = {key.public_key()};
  int verified_during = 0;
  for (int round = 0; round < 20; ++round) {
    VerifyReport during = Verify(log_, trusted);
    EXPECT_TRUE(during.ok) << during.reason;
    verified_during += during.ok ? 1 : 0;
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  EXPECT_EQ(verified_during, 20);

  VerifyReport report = Verify(log_, trusted);
  ASSERT_TRUE(report.ok) << report.reason;
  // 200 records per process and a checkpoint at 64, 128, 192 and on Close.
  EXPECT_EQ(report.checkpoints, 16u);
  EXPECT_EQ(report.records, 816u);
  std::set<std::pair<int, int>> seen;
  for (const std::string& line : ReadLines(log_)) {
    Json record = Json::parse(line);
    if (record["event"] == "exec") {
      std::pair<int, int> id(record["process"].get<int>(), record["i"].get<int>());
      EXPECT_TRUE(seen.insert(id).second) << line;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kProcesses * kRecordsEach));
}

}  // namespace
}  // namespace mvm::runtime::audit
