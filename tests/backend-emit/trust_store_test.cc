#include "backend-emit/plan/trust_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/backend-emit/plan_test_util.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::plan {
namespace {

namespace fs = std::filesystem;

class TrustStoreTest : public ::testing::Test {
 protected:
  fs::path WritePub(const std::string& name, const SecretKey& key) {
    fs::path p = dir_ / name;
    mvm::testing::WriteFile(p, key.public_key().ToFileText());
    return p;
  }

  mvm::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
};

TEST_F(TrustStoreTest, TrustListUntrust) {
  fs::path store = dir_ / "store";
  EXPECT_TRUE(LoadTrustDir(store)->empty());  // missing: empty, not an error
  SecretKey a = testing::TestKey(0);
  SecretKey b = testing::TestKey(1);
  auto ta = TrustKey(store, WritePub("a.pub", a));
  ASSERT_TRUE(ta.ok()) << ta.error().message;
  EXPECT_EQ(ta->path, store / (a.KeyId() + ".pub"));
  ASSERT_TRUE(TrustKey(store, WritePub("b.pub", b)).ok());
  ASSERT_TRUE(TrustKey(store, dir_ / "a.pub").ok());  // again: fine
  auto keys = LoadTrustDir(store);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_LT((*keys)[0].key_id, (*keys)[1].key_id);
  EXPECT_EQ(fs::status(store).permissions() & fs::perms::all, fs::perms::owner_all);

  ASSERT_TRUE(UntrustKey(store, a.KeyId()).ok());
  keys = LoadTrustDir(store);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].key_id, b.KeyId());
  auto again = UntrustKey(store, a.KeyId());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("is not in the trust store"), std::string::npos);
}

TEST_F(TrustStoreTest, KeyIdsComeFromTheKeyNotTheFileName) {
  SecretKey a = testing::TestKey(0);
  SecretKey b = testing::TestKey(1);
  // b's key stored under a's id: the store trusts b, and untrusting a's id does not remove it.
  WritePub(a.KeyId() + ".pub", b);
  auto keys = LoadTrustDir(dir_);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].key_id, b.KeyId());
  EXPECT_FALSE(UntrustKey(dir_, a.KeyId()).ok());
  EXPECT_TRUE(UntrustKey(dir_, b.KeyId()).ok());
}

TEST_F(TrustStoreTest, KeyFilesLoadInOrderWithTheirFiles) {
  SecretKey a = testing::TestKey(0);
  SecretKey b = testing::TestKey(1);
  fs::path pb = WritePub("b.pub", b);
  fs::path pa = WritePub("a.pub", a);
  auto keys = LoadKeyFiles({pb, pa});
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_id, b.KeyId());
  EXPECT_EQ((*keys)[0].path, pb);
  EXPECT_EQ((*keys)[1].key, a.public_key());
  auto missing = LoadKeyFiles({pa, dir_ / "none.pub"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("none.pub"), std::string::npos) << missing.error().message;
}

TEST_F(TrustStoreTest, MalformedKeyFilesAreErrors) {
  std::ofstream(dir_ / "bad.pub") << "not a key\n";
  std::ofstream(dir_ / "notes.txt") << "ignored: not a .pub file\n";
  auto keys = LoadTrustDir(dir_);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().message.find("bad.pub"), std::string::npos);
}

TEST_F(TrustStoreTest, DefaultDirFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_CONFIG_HOME");
  const char* old_home = std::getenv("HOME");
  std::string saved_xdg = old_xdg ? old_xdg : "";
  std::string saved_home = old_home ? old_home : "";
  setenv("XDG_CONFIG_HOME", "/xdg", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(*DefaultTrustDir(), fs::path("/xdg/mvm/trust"));
  setenv("XDG_CONFIG_HOME", "relative", 1);  // the XDG spec says to ignore relative paths
  EXPECT_EQ(*DefaultTrustDir(), fs::path("/home/u/.config/mvm/trust"));
  unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(*DefaultTrustDir(), fs::path("/home/u/.config/mvm/trust"));
  unsetenv("HOME");
  EXPECT_FALSE(DefaultTrustDir().ok());
  if (old_xdg) {
    setenv("XDG_CONFIG_HOME", saved_xdg.c_str(), 1);
  }
  if (old_home) {
    setenv("HOME", saved_home.c_str(), 1);
  }
}

TEST(KeyIdTest, Shape) {
  EXPECT_TRUE(IsKeyId("0123456789abcdef"));
  EXPECT_FALSE(IsKeyId("0123456789ABCDEF"));
  EXPECT_FALSE(IsKeyId("0123456789abcde"));
  EXPECT_FALSE(IsKeyId("../../etc/passwd"));
}

}  // namespace
}  // namespace mvm::plan
