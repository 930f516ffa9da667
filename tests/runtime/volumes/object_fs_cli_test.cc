// `mvmctl fs s3://…`: an object volume's files through the real mvmctl, against s3rver on
// 127.0.0.1, with the credentials as one secret (`ACCESS_KEY_ID:SECRET_ACCESS_KEY`) of the host
// store, and every operation in the audit log.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/runtime/volumes/s3rver.h"
#include "tests/support/mvmctl.h"
#include "tests/support/prerequisite.h"
#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using mvm::testing::Describe;
using mvm::testing::Result;
using ::testing::HasSubstr;
using ::testing::Not;

class ObjectFsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(mvm::testing::S3rver::Program())) {
      MVM_MISSING_PREREQUISITE() << "s3rver is not installed; run scripts/bootstrap.sh";
    }
    fs::create_directories(state_.path() / "s3rver");
    auto started = mvm::testing::S3rver::Start(state_.path() / "s3rver", "cli-bucket");
    ASSERT_TRUE(started) << started.error().message;
    s3_.emplace(std::move(*started));
    Result set = Mvmctl({"secret", "set", "s3-creds"}, "S3RVER:S3RVER");
    ASSERT_EQ(set.status, 0) << Describe(set);
  }

  Result Mvmctl(std::vector<std::string> args, const std::string& in = "") {
    return mvm::testing::Mvmctl(std::move(args), in, state_.path() / "state");
  }
  Result Fs(const std::string& verb, const std::string& path, const std::string& in = "",
            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"fs",
                                     "s3://cli-bucket/run-1",
                                     verb,
                                     path,
                                     "--endpoint",
                                     s3_->endpoint(),
                                     "--credentials",
                                     "s3-creds"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Mvmctl(args, in);
  }

  mvm::testing::TempDir state_{"mvm-object-fs"};
  std::optional<mvm::testing::S3rver> s3_;
};

TEST_F(ObjectFsCli, WritesReadsListsAndRemovesObjectsAndAuditsThem) {
  std::string blob;
  for (int i = 0; blob.size() < (3u << 20); ++i) {
    blob += "line " + std::to_string(i) + "\n";
  }
  Result write = Fs("write", "dir/blob.txt", blob);
  ASSERT_EQ(write.status, 0) << Describe(write);
  Result read = Fs("read", "dir/blob.txt");
  ASSERT_EQ(read.status, 0) << Describe(read).substr(0, 2000);
  EXPECT_TRUE(read.out == blob) << "read " << read.out.size() << " bytes of " << blob.size();

  Result root = Fs("ls", "/", "", {"--format", "json"});
  ASSERT_EQ(root.status, 0) << Describe(root);
  EXPECT_EQ(root.out, "{\"entries\":[{\"name\":\"dir\",\"size\":0,\"type\":\"dir\"}]}\n");
  Result dir = Fs("ls", "dir");
  ASSERT_EQ(dir.status, 0) << Describe(dir);
  EXPECT_THAT(dir.out, HasSubstr(std::to_string(blob.size()) + " blob.txt\n"));

  Result rm = Fs("rm", "dir/blob.txt");
  ASSERT_EQ(rm.status, 0) << Describe(rm);
  Result gone = Fs("read", "dir/blob.txt");
  EXPECT_NE(gone.status, 0) << Describe(gone);
  EXPECT_THAT(gone.err, HasSubstr("dir/blob.txt"));

  // Each command is one attachment: attach, its operations aggregated, detach; the chain holds.
  std::ifstream in(state_.path() / "state" / "audit.jsonl");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t attaches = 0;
  for (size_t at = 0; (at = log.find("\"event\":\"volume.attach\"", at)) != std::string::npos;
       ++at) {
    ++attaches;
  }
  EXPECT_EQ(attaches, 6u) << log;
  EXPECT_THAT(log, HasSubstr("\"volume\":\"object:s3://cli-bucket/run-1\""));
  EXPECT_THAT(log, HasSubstr("\"write\":{\"bytes\":" + std::to_string(blob.size()) +
                             ",\"count\":1,\"failed\":0}"));
  EXPECT_THAT(log, Not(HasSubstr("S3RVER")));
  Result verify = Mvmctl({"audit", "verify"});
  EXPECT_EQ(verify.status, 0) << Describe(verify);
}

TEST_F(ObjectFsCli, CredentialsAreOneSecretOfTwoPartsAndAreNeverPrinted) {
  Result set = Mvmctl({"secret", "set", "bad-creds"}, "only-one-part");
  ASSERT_EQ(set.status, 0) << Describe(set);
  Result bad = Mvmctl({"fs", "s3://cli-bucket/run-1", "ls", "/", "--endpoint", s3_->endpoint(),
                       "--credentials", "bad-creds"});
  EXPECT_EQ(bad.status, 2) << Describe(bad);
  EXPECT_THAT(bad.err, HasSubstr("secret `bad-creds` must hold `ACCESS_KEY_ID:SECRET_ACCESS_KEY`"));
  EXPECT_THAT(bad.err, Not(HasSubstr("only-one-part")));
  Result missing = Mvmctl({"fs", "s3://cli-bucket/run-1", "ls", "/"});
  EXPECT_EQ(missing.status, 2) << Describe(missing);
  EXPECT_THAT(missing.err, HasSubstr("`--endpoint URL`"));
  Result sandbox_flag = Mvmctl({"fs", "some-sandbox", "ls", "/", "--endpoint", "http://x"});
  EXPECT_EQ(sandbox_flag.status, 2) << Describe(sandbox_flag);
  EXPECT_THAT(sandbox_flag.err, HasSubstr("is for object volumes"));
}

}  // namespace
