#include <gtest/gtest.h>

#include <algorithm>
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

constexpr size_t kLines = 20;

bool IsCheckpoint(const std::string& line) { return Json::parse(line)["event"] == "checkpoint"; }

// The record with its hash recomputed, as someone editing the log without the key would leave it.
std::string Rehashed(Json record) {
  record["hash"] = RecordHash(record);
  return ir::CanonicalJson(record);
}

// `line` with its `sig` (a checkpoint's or the head's) changed in one bit.
Json FlipSignatureBit(Json json) {
  std::string sig = *plan::Base64Decode(json["sig"].get<std::string>());
  sig[10] ^= 1;
  json["sig"] = plan::Base64Encode(sig);
  return json;
}

class VerifyTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    // 17 events; checkpoints after every 6 (lines 7 and 14) and on Close (line 20).
    auto log = Log::Open(log_, &key_, TickingClock(/*checkpoint_every=*/6));
    ASSERT_TRUE(log.ok()) << log.error().message;
    for (int i = 0; i < 17; ++i) {
      ASSERT_TRUE(log->Append("exec", {{"workload", "w"}, {"i", i}}).ok());
    }
    ASSERT_TRUE(log->Close().ok());
    lines_ = ReadLines(log_);
    ASSERT_EQ(lines_.size(), kLines);
    head_ = ReadFile(HeadPath(log_));
  }

  // Verifies `lines` (with the original head) under the launcher key.
  VerifyReport VerifyLines(const std::vector<std::string>& lines) {
    WriteLines(log_, lines);
    WriteFile(HeadPath(log_), head_);
    return Verify(log_, trusted_);
  }

  plan::SecretKey key_ = TestKey(1);
  plan::SecretKey attacker_ = TestKey(2);
  plan::PublicKey trusted_[1] = {key_.public_key()};
  std::vector<std::string> lines_;
  std::string head_;
};

void ExpectBroken(const VerifyReport& report, uint64_t line, std::string_view reason,
                  const std::string& what) {
  EXPECT_FALSE(report.ok) << what;
  EXPECT_FALSE(report.unreadable) << what;
  EXPECT_EQ(report.first_bad_line, line) << what << ": " << report.reason;
  EXPECT_NE(report.reason.find(reason), std::string::npos) << what << ": " << report.reason;
}

TEST_F(VerifyTest, AnIntactChainVerifies) {
  VerifyReport report = Verify(log_, trusted_);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, kLines);
  EXPECT_EQ(report.checkpoints, 3u);
  EXPECT_EQ(report.key_ids, std::vector<std::string>{key_.KeyId()});
  EXPECT_EQ(report.first_bad_line, 0u);
  // With no trusted key the checkpoints verify under the key they name, which is reported.
  VerifyReport any_key = Verify(log_, {});
  EXPECT_TRUE(any_key.ok) << any_key.reason;
  EXPECT_EQ(any_key.key_ids, std::vector<std::string>{key_.KeyId()});
}

TEST_F(VerifyTest, EditingAnyRecordIsCaughtAtThatRecord) {
  for (size_t k = 1; k <= kLines; ++k) {
    // A changed value, written back in canonical form.
    std::vector<std::string> lines = lines_;
    Json record = Json::parse(lines[k - 1]);
    record["time"] = *FormatRecordTime(*ParseRecordTime(record["time"].get<std::string>()) + 1);
    lines[k - 1] = ir::CanonicalJson(record);
    ExpectBroken(VerifyLines(lines), k, "record " + std::to_string(k) + ": its hash does not match",
                 "edited time of record " + std::to_string(k));

    // One changed byte.
    lines = lines_;
    size_t pos = lines[k - 1].find("\"prev\":\"sha256:") + 20;
    lines[k - 1][pos] = lines[k - 1][pos] == 'a' ? 'b' : 'a';
    ExpectBroken(VerifyLines(lines), k, "its hash does not match its contents",
                 "edited prev of record " + std::to_string(k));
  }
}

TEST_F(VerifyTest, EditingAndRehashingIsCaughtByTheNextRecordOrTheCheckpointSignature) {
  for (size_t k = 1; k <= kLines; ++k) {
    std::vector<std::string> lines = lines_;
    Json record = Json::parse(lines[k - 1]);
    record["time"] = *FormatRecordTime(*ParseRecordTime(record["time"].get<std::string>()) + 1);
    lines[k - 1] = Rehashed(record);
    std::string what = "edited and rehashed record " + std::to_string(k);
    if (IsCheckpoint(lines_[k - 1])) {
      ExpectBroken(VerifyLines(lines), k, "the checkpoint's signature does not verify", what);
    } else {
      ExpectBroken(VerifyLines(lines), k + 1,
                   "record " + std::to_string(k + 1) + ": prev does not match the hash of record " +
                       std::to_string(k) + " (a record was deleted, inserted or reordered)",
                   what);
    }
  }
}

TEST_F(VerifyTest, DeletingAnyRecordIsCaughtWhereItWas) {
  for (size_t k = 1; k <= kLines; ++k) {
    std::vector<std::string> lines = lines_;
    lines.erase(lines.begin() + static_cast<ptrdiff_t>(k - 1));
    std::string what = "deleted record " + std::to_string(k);
    if (k < kLines) {
      ExpectBroken(VerifyLines(lines), k,
                   "record " + std::to_string(k + 1) + " found where record " + std::to_string(k) +
                       " belongs (record " + std::to_string(k) + " was deleted",
                   what);
    } else {
      // The last record: only the head can tell.
      ExpectBroken(VerifyLines(lines), k, "records were removed from the end of the log", what);
    }
  }
}

TEST_F(VerifyTest, SwappingAnyRecordWithItsNeighbourIsCaught) {
  for (size_t k = 1; k <= kLines; ++k) {
    size_t neighbour = k < kLines ? k + 1 : k - 1;
    std::vector<std::string> lines = lines_;
    std::swap(lines[k - 1], lines[neighbour - 1]);
    size_t first = std::min(k, neighbour);
    ExpectBroken(VerifyLines(lines), first,
                 "record " + std::to_string(first + 1) + " found where record " +
                     std::to_string(first) + " belongs",
                 "swapped records " + std::to_string(k) + " and " + std::to_string(neighbour));
  }
}

TEST_F(VerifyTest, DuplicatingAnyRecordIsCaughtAtTheCopy) {
  for (size_t k = 1; k <= kLines; ++k) {
    std::vector<std::string> lines = lines_;
    lines.insert(lines.begin() + static_cast<ptrdiff_t>(k), lines[k - 1]);
    ExpectBroken(VerifyLines(lines), k + 1,
                 "record " + std::to_string(k) + " found where record " + std::to_string(k + 1) +
                     " belongs (a record was duplicated, inserted or reordered)",
                 "duplicated record " + std::to_string(k));
  }
}

TEST_F(VerifyTest, TruncatingTheTailIsCaughtByTheHead) {
  for (size_t keep : {0, 1, 7, 14, 19}) {
    std::vector<std::string> lines(lines_.begin(), lines_.begin() + static_cast<ptrdiff_t>(keep));
    std::string what = "kept " + std::to_string(keep) + " records";
    ExpectBroken(VerifyLines(lines), keep + 1,
                 "but its signed head file names record 20 as the last: records were removed from "
                 "the end of the log",
                 what);
    // The head is checked whether or not a key is trusted.
    ExpectBroken(Verify(log_, {}), keep + 1, "records were removed from the end", what);
  }
}

TEST_F(VerifyTest, RecordsAppendedBehindTheHeadAreCaught) {
  // Someone appends a well-formed, chained record without the key to re-sign the head.
  std::vector<std::string> lines = lines_;
  Json last = Json::parse(lines.back());
  Json extra = {{"seq", kLines + 1},
                {"time", last["time"]},
                {"event", "exec"},
                {"prev", last["hash"]},
                {"workload", "forged"}};
  lines.push_back(Rehashed(extra));
  ExpectBroken(VerifyLines(lines), kLines + 1, "are not covered by it", "appended record");
}

TEST_F(VerifyTest, ADeletedHeadIsCaught) {
  fs::remove(HeadPath(log_));
  ExpectBroken(Verify(log_, trusted_), 0, "there is no head file", "trusted key");
  ExpectBroken(Verify(log_, {}), 0, "is missing, but the log has checkpoints", "no trusted key");
  // Cutting records off the end and deleting the head does not help either.
  std::vector<std::string> lines(lines_.begin(), lines_.begin() + 10);
  WriteLines(log_, lines);
  ExpectBroken(Verify(log_, trusted_), 0, "there is no head file", "truncated, trusted key");
  ExpectBroken(Verify(log_, {}), 0, "is missing, but the log has checkpoints",
               "truncated, no trusted key");
}

TEST_F(VerifyTest, AChainRebuiltWithoutTheKeyFailsAtTheNextCheckpoint) {
  // Delete record 3, then renumber and re-link everything after it, as a forger without the key
  // would: the chain is consistent again, but the checkpoint at line 7 (now 6) signed the old one.
  std::vector<std::string> lines = lines_;
  lines.erase(lines.begin() + 2);
  std::string prev = Json::parse(lines[1])["hash"];
  for (size_t i = 2; i < lines.size(); ++i) {
    Json record = Json::parse(lines[i]);
    record["seq"] = i + 1;
    record["prev"] = prev;
    lines[i] = Rehashed(record);
    prev = Json::parse(lines[i])["hash"];
  }
  ExpectBroken(VerifyLines(lines), 6, "record 6: the checkpoint's signature does not verify",
               "rebuilt chain");
}

TEST_F(VerifyTest, AForgedCheckpointSignatureIsCaught) {
  std::vector<std::string> lines = lines_;
  lines[6] = Rehashed(FlipSignatureBit(Json::parse(lines[6])));
  ExpectBroken(VerifyLines(lines), 7,
               "record 7: the checkpoint's signature does not verify under key " + key_.KeyId() +
                   " (the checkpoint was forged or edited)",
               "flipped signature bit");
  // Same without a trusted key: the signature is still checked against the key it names.
  WriteLines(log_, lines);
  ExpectBroken(Verify(log_, {}), 7, "signature does not verify", "flipped bit, no trusted key");
}

TEST_F(VerifyTest, CheckpointsByAnUntrustedKeyAreCaught) {
  plan::PublicKey other[] = {attacker_.public_key()};
  ExpectBroken(Verify(log_, other), 7,
               "record 7: the checkpoint is signed by key " + key_.KeyId() +
                   ", which is not trusted (trusted: " + attacker_.KeyId() + ")",
               "untrusted checkpoint key");
}

TEST_F(VerifyTest, AHeadByAnUntrustedKeyOrWithABadSignatureIsCaught) {
  // A log written by another key, no checkpoint yet: only its head is signed.
  fs::path other_log = dir_ / "other.jsonl";
  ASSERT_TRUE(Log::Open(other_log, &attacker_).ok());
  ExpectBroken(Verify(other_log, trusted_), 0,
               "is signed by key " + attacker_.KeyId() +
                   ", which is not trusted (trusted: " + key_.KeyId() + ")",
               "untrusted head");
  VerifyReport any = Verify(other_log, {});
  EXPECT_TRUE(any.ok) << any.reason;
  EXPECT_EQ(any.key_ids, std::vector<std::string>{attacker_.KeyId()});

  WriteFile(HeadPath(log_), ir::CanonicalJson(FlipSignatureBit(Json::parse(head_))) + "\n");
  ExpectBroken(Verify(log_, trusted_), 0, "the signature of the head file", "flipped head bit");
  WriteFile(HeadPath(log_), "{}\n");
  ExpectBroken(Verify(log_, trusted_), 0, "is malformed", "malformed head");
}

TEST_F(VerifyTest, ReplacingTheLastRecordIsCaughtByTheHead) {
  // A different but well-formed last record with the same seq and prev.
  std::vector<std::string> lines = lines_;
  lines.pop_back();
  Json last = Json::parse(lines.back());
  lines.push_back(Rehashed({{"seq", kLines},
                            {"time", last["time"]},
                            {"event", "exec"},
                            {"prev", last["hash"]},
                            {"workload", "forged"}}));
  ExpectBroken(VerifyLines(lines), kLines,
               "record 20: its hash differs from the one the signed head file names",
               "replaced last record");
}

TEST_F(VerifyTest, TheFirstRecordMustChainToTheGenesis) {
  std::vector<std::string> lines = lines_;
  Json first = Json::parse(lines[0]);
  first["prev"] = "sha256:" + std::string(64, '1');
  lines[0] = Rehashed(first);
  ExpectBroken(VerifyLines(lines), 1, "record 1: prev does not match the hash of the genesis",
               "bad genesis");
}

TEST_F(VerifyTest, MalformedLinesAreNamed) {
  struct Case {
    size_t line;  // 1-based line replaced by `text`
    std::string text;
    std::string reason;
  };
  std::string spaced = lines_[2];
  spaced.insert(1, " ");
  std::vector<Case> cases = {
      {3, "hello", "the line is not a JSON object"},
      {3, "", "the line is not a JSON object"},
      {3, "[1,2]", "the line is not a JSON object"},
      {3, "{}", "the record lacks `seq`"},
      {3, spaced, "record 3: the line is not in canonical (RFC 8785) form"},
      {3, std::string(kMaxRecordBytes + 10, 'x'), "longer than 65536 bytes"},
      {3, std::string(40, '[') + std::string(40, ']'), "more than 32 levels deep"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> lines = lines_;
    lines[c.line - 1] = c.text;
    ExpectBroken(VerifyLines(lines), c.line, c.reason, c.reason);
  }
  // A last line without its newline.
  std::string text;
  for (const std::string& line : lines_) {
    text += line + "\n";
  }
  text.pop_back();
  WriteFile(log_, text);
  ExpectBroken(Verify(log_, trusted_), kLines, "the last line is cut short", "no newline");
}

TEST_F(VerifyTest, AMissingLogIsUnreadableNotBroken) {
  VerifyReport missing = Verify(dir_ / "nothing.jsonl", trusted_);
  EXPECT_FALSE(missing.ok);
  EXPECT_TRUE(missing.unreadable);
  EXPECT_NE(missing.reason.find("there is no audit log at"), std::string::npos) << missing.reason;
  VerifyReport directory = Verify(dir_, trusted_);
  EXPECT_FALSE(directory.ok);
  EXPECT_TRUE(directory.unreadable);
  EXPECT_NE(directory.reason.find("is not a regular file"), std::string::npos);
}

using KeylessVerifyTest = AuditTest;

TEST_F(KeylessVerifyTest, ALogWithoutKeyVerifiesOnlyWhenNoKeyIsTrusted) {
  {
    auto log = Log::Open(log_, nullptr, TickingClock());
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(log->Append("exec", {{"i", i}}).ok());
    }
  }
  VerifyReport report = Verify(log_, {});
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 5u);
  EXPECT_EQ(report.checkpoints, 0u);
  EXPECT_TRUE(report.key_ids.empty());

  plan::SecretKey key = TestKey(1);
  plan::PublicKey trusted[] = {key.public_key()};
  ExpectBroken(Verify(log_, trusted), 0, "there is no head file", "keyless log, trusted key");

  // The documented limit of a keyless log: its end is not anchored, so a cut goes unnoticed.
  std::vector<std::string> lines = ReadLines(log_);
  lines.pop_back();
  WriteLines(log_, lines);
  EXPECT_TRUE(Verify(log_, {}).ok);
}

TEST_F(KeylessVerifyTest, AnEmptySignedLogVerifies) {
  plan::SecretKey key = TestKey(1);
  ASSERT_TRUE(Log::Open(log_, &key).ok());
  plan::PublicKey trusted[] = {key.public_key()};
  VerifyReport report = Verify(log_, trusted);
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.records, 0u);
  EXPECT_EQ(report.key_ids, std::vector<std::string>{key.KeyId()});
}

TEST_F(KeylessVerifyTest, TimeMayStepBackFiveMinutesButNoMore) {
  constexpr int64_t kStart = 1700000000000;
  std::vector<int64_t> times = {kStart, kStart - kMaxClockStepBackMs,
                                kStart - 2 * kMaxClockStepBackMs - 1};
  auto next = std::make_shared<size_t>(0);
  LogOptions options;
  options.now_unix_ms = [times, next] { return times.at((*next)++); };
  {
    auto log = Log::Open(log_, nullptr, options);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(log->Append("exec", Json::object()).ok());
    ASSERT_TRUE(log->Append("exec", Json::object()).ok());
    EXPECT_TRUE(Verify(log_, {}).ok);  // exactly the tolerance
    ASSERT_TRUE(log->Append("exec", Json::object()).ok());
  }
  ExpectBroken(Verify(log_, {}), 3,
               "record 3: its time 2023-11-14T22:03:19.999Z is more than 5 minutes before the "
               "time 2023-11-14T22:08:20.000Z of record 2",
               "clock set back");
}

}  // namespace
}  // namespace mvm::runtime::audit
