// The secret store on real files: what is on disk, what decrypts, and what is refused.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "runtime/secrets/secrets.h"

namespace mvm::runtime::secrets {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kValue = "sk-test-4f9c2e7a1b-do-not-leak";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void WriteAll(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class StoreTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / ("mvm-secrets-" + std::to_string(::getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = root_ / "secrets";
  }
  void TearDown() override { fs::remove_all(root_); }

  Store OpenOrDie() {
    auto store = Store::Open(dir_);
    EXPECT_TRUE(store.ok()) << store.error().message;
    return std::move(*store);
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(StoreTest, SetThenGetRoundTripsTheValue) {
  Store store = OpenOrDie();
  bool replaced = true;
  ASSERT_TRUE(store.Set("openai-api-key", kValue, &replaced).ok());
  EXPECT_FALSE(replaced);
  auto value = store.Get("openai-api-key");
  ASSERT_TRUE(value.ok()) << value.error().message;
  EXPECT_EQ(value->view(), kValue);
  // A second Open reads the same key and so the same value.
  auto again = Store::Open(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Get("openai-api-key")->view(), kValue);
  auto info = store.Info("openai-api-key");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "openai-api-key");
  EXPECT_EQ(info->created.size(), std::string_view("2026-01-01T00:00:00Z").size());
  EXPECT_TRUE(info->created.ends_with("Z"));
}

TEST_F(StoreTest, ReplacingKeepsGrantsAndCreationTime) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("k", "first-value").ok());
  ASSERT_TRUE(store.AddGrant("k", {"agent-tool", "0123456789abcdef"}).ok());
  // Backdate it, so a kept creation time cannot be mistaken for a fresh one.
  std::string file = ReadAll(dir_ / "k.json");
  auto at = file.find("\"created\": \"");
  ASSERT_NE(at, std::string::npos) << file;
  file.replace(at + 12, 20, "2001-02-03T04:05:06Z");
  WriteAll(dir_ / "k.json", file);
  bool replaced = false;
  ASSERT_TRUE(store.Set("k", "second-value", &replaced).ok());
  EXPECT_TRUE(replaced);
  EXPECT_EQ(store.Get("k")->view(), "second-value");
  auto info = store.Info("k");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->created, "2001-02-03T04:05:06Z");
  ASSERT_EQ(info->grants.size(), 1u);
  EXPECT_EQ(info->grants[0], (Grant{"agent-tool", "0123456789abcdef"}));
}

TEST_F(StoreTest, NoFileUnderTheStoreHoldsTheValue) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("a", kValue).ok());
  ASSERT_TRUE(store.Set("b", kValue).ok());
  ASSERT_TRUE(store.AddGrant("a", {"w", ""}).ok());
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root_)) {
    if (entry.is_regular_file()) {
      ++files;
      EXPECT_EQ(ReadAll(entry.path()).find(kValue), std::string::npos) << entry.path();
    }
  }
  EXPECT_EQ(files, 3);  // key, a.json, b.json
}

TEST_F(StoreTest, TheDirectoryIsPrivateAndSoIsEveryFile) {
  mode_t old_umask = ::umask(0);  // whatever the umask, the modes are exact
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("k", kValue).ok());
  ASSERT_TRUE(store.AddGrant("k", {"w", ""}).ok());
  ::umask(old_umask);
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(dir_ / "key"), 0600u);
  EXPECT_EQ(fs::file_size(dir_ / "key"), 32u);
  EXPECT_EQ(ModeOf(dir_ / "k.json"), 0600u);
}

TEST_F(StoreTest, AWiderDirectoryIsMadePrivate) {
  fs::create_directories(dir_);
  fs::permissions(dir_, fs::perms::all);
  OpenOrDie();
  EXPECT_EQ(ModeOf(dir_), 0700u);
}

TEST_F(StoreTest, ATamperedCiphertextDoesNotDecryptAndTheErrorHoldsNoValue) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("k", kValue).ok());
  std::string file = ReadAll(dir_ / "k.json");
  auto at = file.find("\"ciphertext\": \"");
  ASSERT_NE(at, std::string::npos);
  char& c = file[at + 16];
  c = c == 'A' ? 'B' : 'A';
  WriteAll(dir_ / "k.json", file);
  auto value = store.Get("k");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("secret `k`"), std::string::npos) << value.error().message;
  EXPECT_NE(value.error().message.find("does not decrypt"), std::string::npos);
  EXPECT_NE(value.error().message.find((dir_ / "k.json").string()), std::string::npos);
  EXPECT_EQ(value.error().message.find(kValue), std::string::npos);
}

TEST_F(StoreTest, AFileRenamedToAnotherSecretDoesNotDecrypt) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("github-token", kValue).ok());
  ASSERT_TRUE(store.Set("openai-api-key", "other-value").ok());
  // The attacker also fixes the name inside the file; the name bound in the AEAD still differs.
  std::string file = ReadAll(dir_ / "github-token.json");
  auto at = file.find("\"github-token\"");
  ASSERT_NE(at, std::string::npos);
  file.replace(at, 14, "\"openai-api-key\"");
  WriteAll(dir_ / "openai-api-key.json", file);
  auto value = store.Get("openai-api-key");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("does not decrypt"), std::string::npos)
      << value.error().message;
  EXPECT_EQ(value.error().message.find(kValue), std::string::npos);
  // A file renamed without its inner name fixed is refused before decrypting.
  fs::copy_file(dir_ / "github-token.json", dir_ / "copy.json");
  auto copy = store.Get("copy");
  ASSERT_FALSE(copy.ok());
  EXPECT_NE(copy.error().message.find("names itself `github-token`"), std::string::npos)
      << copy.error().message;
}

TEST_F(StoreTest, AnotherStoresKeyDoesNotDecrypt) {
  ASSERT_TRUE(OpenOrDie().Set("k", kValue).ok());
  auto other = Store::Open(root_ / "other");
  ASSERT_TRUE(other.ok()) << other.error().message;
  fs::copy_file(dir_ / "k.json", root_ / "other" / "k.json");
  auto value = other->Get("k");
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("does not decrypt"), std::string::npos);
  EXPECT_EQ(value.error().message.find(kValue), std::string::npos);
}

TEST_F(StoreTest, AMissingKeyIsNotReplacedWhileSecretsNeedIt) {
  ASSERT_TRUE(OpenOrDie().Set("k", kValue).ok());
  fs::remove(dir_ / "key");
  auto store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("`" + (dir_ / "key").string() + "` is missing"),
            std::string::npos)
      << store.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "key"));
  // With the secrets gone too, a fresh key is made.
  fs::remove(dir_ / "k.json");
  OpenOrDie();
  EXPECT_TRUE(fs::exists(dir_ / "key"));
}

TEST_F(StoreTest, AKeyOthersCanReadIsRefusedWithTheFix) {
  OpenOrDie();
  fs::permissions(dir_ / "key", fs::perms::owner_read | fs::perms::owner_write |
                                    fs::perms::group_read | fs::perms::others_read);
  auto store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("mode 0644"), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("chmod 600 " + (dir_ / "key").string()), std::string::npos)
      << store.error().message;
}

TEST_F(StoreTest, AKeyOfTheWrongSizeIsRefused) {
  fs::create_directories(dir_);
  WriteAll(dir_ / "key", "short");
  fs::permissions(dir_ / "key", fs::perms::owner_read | fs::perms::owner_write);
  auto store = Store::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find((dir_ / "key").string()), std::string::npos);
  EXPECT_NE(store.error().message.find("32 bytes"), std::string::npos) << store.error().message;
}

TEST_F(StoreTest, TwoProcessesOpeningAtOnceShareOneKey) {
  // Each child opens the store and stores its own secret; both must decrypt under the one key
  // left behind. Repeated, since a race shows only sometimes.
  for (int round = 0; round < 20; ++round) {
    fs::remove_all(dir_);
    pid_t children[2];
    for (int i = 0; i < 2; ++i) {
      children[i] = ::fork();
      ASSERT_GE(children[i], 0);
      if (children[i] == 0) {
        auto store = Store::Open(dir_);
        if (!store.ok()) {
          std::fprintf(stderr, "child %d: open: %s\n", i, store.error().message.c_str());
          ::_exit(1);
        }
        auto set = store->Set("s" + std::to_string(i), "value-" + std::to_string(i));
        if (!set.ok()) {
          std::fprintf(stderr, "child %d: set: %s\n", i, set.error().message.c_str());
          ::_exit(1);
        }
        ::_exit(0);
      }
    }
    for (pid_t child : children) {
      int status = 0;
      ASSERT_EQ(::waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
    Store store = OpenOrDie();
    ASSERT_TRUE(store.Get("s0").ok())
        << "round " << round << ": " << store.Get("s0").error().message;
    ASSERT_TRUE(store.Get("s1").ok())
        << "round " << round << ": " << store.Get("s1").error().message;
    std::set<std::string> left;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      left.insert(entry.path().filename().string());
    }
    EXPECT_EQ(left, (std::set<std::string>{"key", "s0.json", "s1.json"}));
  }
}

TEST_F(StoreTest, GrantsAreAddedOnceAndRemovedOnce) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("k", kValue).ok());
  ASSERT_TRUE(store.AddGrant("k", {"web", ""}).ok());
  ASSERT_TRUE(store.AddGrant("k", {"agent-tool", "0123456789abcdef"}).ok());
  auto twice = store.AddGrant("k", {"web", ""});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().kind, ErrorKind::kUsage);
  EXPECT_NE(twice.error().message.find("already granted to `web`"), std::string::npos)
      << twice.error().message;
  // A grant with a signer is another grant than the one without.
  ASSERT_TRUE(store.AddGrant("k", {"web", "0123456789abcdef"}).ok());
  auto info = store.Info("k");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->grants,
            (std::vector<Grant>{
                {"agent-tool", "0123456789abcdef"}, {"web", ""}, {"web", "0123456789abcdef"}}));
  ASSERT_TRUE(store.RemoveGrant("k", {"web", ""}).ok());
  auto missing = store.RemoveGrant("k", {"web", ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(
      missing.error().message.find("has no grant `web` (it has `agent-tool@0123456789abcdef`, "
                                   "`web@0123456789abcdef`)"),
      std::string::npos)
      << missing.error().message;
  EXPECT_EQ(store.Info("k")->grants.size(), 2u);
  // The value is untouched by grant changes.
  EXPECT_EQ(store.Get("k")->view(), kValue);
  auto unknown = store.AddGrant("nope", {"web", ""});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "no secret named `nope`");
  EXPECT_FALSE(store.AddGrant("k", {"", ""}).ok());
  EXPECT_FALSE(store.AddGrant("k", {"a,b", ""}).ok());
}

TEST_F(StoreTest, ListIsSortedSkipsWhatIsNotASecretAndReportsABrokenOne) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("zeta", "v").ok());
  ASSERT_TRUE(store.Set("alpha", "v").ok());
  ASSERT_TRUE(store.Set("Mid", "v").ok());
  WriteAll(dir_ / "notes.txt", "not a secret");
  WriteAll(dir_ / ".alpha.json.tmp-0123456789abcdef", "half");
  auto all = store.List();
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::vector<std::string> names;
  for (const SecretInfo& s : *all) {
    names.push_back(s.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Mid", "alpha", "zeta"}));
  WriteAll(dir_ / "broken.json", "{");
  auto broken = store.List();
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find((dir_ / "broken.json").string()), std::string::npos)
      << broken.error().message;
}

TEST_F(StoreTest, RemoveDeletesAndAnUnknownNameIsNoSuchSecret) {
  Store store = OpenOrDie();
  ASSERT_TRUE(store.Set("k", kValue).ok());
  ASSERT_TRUE(store.Remove("k").ok());
  EXPECT_FALSE(fs::exists(dir_ / "k.json"));
  for (auto error : {store.Remove("k").error(), store.Get("k").error(), store.Info("k").error()}) {
    EXPECT_EQ(error.message, "no secret named `k`");
  }
}

TEST_F(StoreTest, SetRefusesBadNamesAndValuesWithoutWritingAnything) {
  Store store = OpenOrDie();
  auto bad_name = store.Set("../escape", kValue);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().kind, ErrorKind::kUsage);
  auto bad_value = store.Set("k", "line\nbreak");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_EQ(bad_value.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(bad_value.error().message.find("line"), std::string::npos) << bad_value.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "k.json"));
  EXPECT_FALSE(fs::exists(root_ / "escape.json"));
}

TEST(NameProblemTest, AcceptsPortableNamesAndRefusesTheRest) {
  EXPECT_FALSE(NameProblem("openai-api-key"));
  EXPECT_FALSE(NameProblem("A.b_c-1"));
  EXPECT_FALSE(NameProblem(std::string(128, 'a')));
  EXPECT_TRUE(NameProblem(""));
  EXPECT_TRUE(NameProblem(std::string(129, 'a')));
  EXPECT_TRUE(NameProblem("-leading"));
  EXPECT_TRUE(NameProblem(".hidden"));
  EXPECT_TRUE(NameProblem("a/b"));
  EXPECT_TRUE(NameProblem("a b"));
  EXPECT_TRUE(NameProblem("tab\there"));
  EXPECT_TRUE(NameProblem(std::string("nul\0byte", 8)));
}

TEST(ValueProblemTest, RefusesEmptyTooLongAndControlCharactersByPositionOnly) {
  EXPECT_FALSE(ValueProblem("sk-abc ~!"));
  EXPECT_FALSE(ValueProblem(std::string(kMaxValueBytes, 'x')));
  EXPECT_TRUE(ValueProblem(""));
  EXPECT_TRUE(ValueProblem(std::string(kMaxValueBytes + 1, 'x')));
  for (std::string_view bad :
       {std::string_view("secret\r"), std::string_view("secret\n"), std::string_view("secret\0", 7),
        std::string_view("secret\x7f"), std::string_view("secret\xc3\xa9")}) {
    auto problem = ValueProblem(bad);
    ASSERT_TRUE(problem) << bad.size();
    EXPECT_NE(problem->find("byte 7"), std::string::npos) << *problem;
    EXPECT_EQ(problem->find("secret"), std::string::npos) << *problem;
  }
}

TEST(MintTokenTest, IsThePrefixAnd32CharactersOfBase32AndFreshEachTime) {
  std::string a = MintToken();
  std::string b = MintToken();
  EXPECT_NE(a, b);
  for (const std::string& token : {a, b}) {
    ASSERT_EQ(token.size(), 39u) << token;
    EXPECT_TRUE(token.starts_with(kTokenPrefix)) << token;
    for (char c : token.substr(kTokenPrefix.size())) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << token;
    }
  }
}

TEST(SecretBytesTest, MovesLeaveTheSourceEmpty) {
  auto a = SecretBytes::Copy("value");
  ASSERT_TRUE(a.ok());
  SecretBytes b = std::move(*a);
  EXPECT_EQ(b.view(), "value");
  EXPECT_TRUE(a->empty());  // NOLINT(bugprone-use-after-move): what a move leaves is the point
  SecretBytes c;
  c = std::move(b);
  EXPECT_EQ(c.view(), "value");
  EXPECT_TRUE(b.empty());   // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.size(), 0u);  // NOLINT(bugprone-use-after-move)
  auto zeroed = SecretBytes::Allocate(4);
  ASSERT_TRUE(zeroed.ok());
  EXPECT_EQ(zeroed->view(), std::string_view("\0\0\0\0", 4));
}

}  // namespace
}  // namespace mvm::runtime::secrets
