#include "backend-emit/plan/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "backend-emit/plan/base64.h"
#include "ir/digest.h"
#include "tests/support/temp_dir.h"

namespace mvm::plan {
namespace {

namespace fs = std::filesystem;

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xF]);
  }
  return out;
}

std::string Hex(const PublicKey& key) {
  return Hex(std::string_view(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size()));
}

struct Rfc8032Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1 to TEST 3 (Ed25519).
constexpr Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

SecretKey FromHexSeed(std::string_view hex) {
  std::string raw = Unhex(hex);
  std::array<unsigned char, kSeedBytes> seed{};
  std::copy(raw.begin(), raw.end(), seed.begin());
  return SecretKey::FromSeed(seed);
}

TEST(KeysTest, Rfc8032Vectors) {
  for (const Rfc8032Vector& v : kVectors) {
    SecretKey key = FromHexSeed(v.secret);
    EXPECT_EQ(Hex(key.public_key()), v.public_key);
    std::string message = Unhex(v.message);
    std::string sig = key.Sign(message);
    EXPECT_EQ(Hex(sig), v.signature);
    EXPECT_TRUE(VerifySignature(key.public_key(), message, sig));
    // One flipped bit in the message or the signature, and it no longer verifies.
    std::string other = message + "x";
    EXPECT_FALSE(VerifySignature(key.public_key(), other, sig));
    sig[10] = static_cast<char>(sig[10] ^ 1);
    EXPECT_FALSE(VerifySignature(key.public_key(), message, sig));
  }
}

TEST(KeysTest, SignatureOfTheWrongLengthNeverVerifies) {
  SecretKey key = FromHexSeed(kVectors[0].secret);
  std::string sig = key.Sign("m");
  EXPECT_FALSE(VerifySignature(key.public_key(), "m", sig.substr(0, 63)));
  EXPECT_FALSE(VerifySignature(key.public_key(), "m", sig + "x"));
  EXPECT_FALSE(VerifySignature(key.public_key(), "m", ""));
}

TEST(KeysTest, KeyIdIsTheFirst16HexOfSha256OfThePublicKey) {
  SecretKey key = FromHexSeed(kVectors[0].secret);
  PublicKey pk = key.public_key();
  std::string raw(reinterpret_cast<const char*>(pk.bytes.data()), pk.bytes.size());
  EXPECT_EQ(key.KeyId(), ir::Sha256Hex(raw).substr(0, 16));
  EXPECT_EQ(key.KeyId().size(), 16u);
}

TEST(KeysTest, SecretBytesMustHoldTheMatchingPublicHalf) {
  SecretKey a = FromHexSeed(kVectors[0].secret);
  SecretKey b = FromHexSeed(kVectors[1].secret);
  std::string a_bytes = *Base64Decode(a.ToFileText().substr(0, 88));
  std::string b_bytes = *Base64Decode(b.ToFileText().substr(0, 88));
  EXPECT_TRUE(SecretKey::FromBytes(a_bytes).ok());
  // a's seed with b's public key: a spliced key would sign under a key id it does not own.
  std::string spliced = a_bytes.substr(0, 32) + b_bytes.substr(32);
  auto key = SecretKey::FromBytes(spliced);
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.error().message.find("does not match its seed"), std::string::npos);
  EXPECT_FALSE(SecretKey::FromBytes(a_bytes.substr(0, 63)).ok());
}

class KeyFilesTest : public ::testing::Test {
 protected:
  static unsigned Mode(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(stat(p.c_str(), &st), 0);
    return st.st_mode & 07777;
  }

  mvm::testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path() / "keys";  // made by the code under test
};

TEST_F(KeyFilesTest, SaveAndLoadRoundTrip) {
  SecretKey key = SecretKey::Generate();
  // Whatever the umask, the secret file is 0600.
  mode_t old_umask = umask(0);
  auto saved = SaveKeyPair(key, dir_, "ci");
  umask(old_umask);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  EXPECT_EQ(saved->secret_path, dir_ / "ci.key");
  EXPECT_EQ(Mode(saved->secret_path), 0600u);
  EXPECT_EQ(Mode(saved->public_path), 0644u);
  EXPECT_EQ(Mode(dir_), 0700u);

  auto loaded = LoadSecretKey(saved->secret_path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->KeyId(), key.KeyId());
  auto pub = LoadPublicKey(saved->public_path);
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(*pub, key.public_key());

  // One line each: base64 of 64 and 32 bytes.
  std::ifstream secret(saved->secret_path);
  std::string line;
  std::getline(secret, line);
  EXPECT_EQ(line.size(), 88u);
  EXPECT_EQ(Base64Decode(line)->size(), 64u);
}

TEST_F(KeyFilesTest, NeverOverwrites) {
  SecretKey key = SecretKey::Generate();
  ASSERT_TRUE(SaveKeyPair(key, dir_, "mvm").ok());
  auto again = SaveKeyPair(SecretKey::Generate(), dir_, "mvm");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(LoadSecretKey(dir_ / "mvm.key")->KeyId(), key.KeyId());
  // A half pair is refused too, and the other half is not written.
  fs::remove(dir_ / "mvm.key");
  EXPECT_FALSE(SaveKeyPair(SecretKey::Generate(), dir_, "mvm").ok());
  EXPECT_FALSE(fs::exists(dir_ / "mvm.key"));
}

TEST_F(KeyFilesTest, RefusesSecretKeysOthersCanAccess) {
  ASSERT_TRUE(SaveKeyPair(SecretKey::Generate(), dir_, "mvm").ok());
  fs::path key = dir_ / "mvm.key";
  for (unsigned mode : {0640u, 0604u, 0644u, 0620u, 0602u, 0610u, 0700u | 0001u}) {
    ASSERT_EQ(chmod(key.c_str(), mode), 0);
    auto loaded = LoadSecretKey(key);
    ASSERT_FALSE(loaded.ok()) << std::oct << mode;
    char shown[8];
    std::snprintf(shown, sizeof shown, "%04o", mode);
    EXPECT_NE(loaded.error().message.find("its mode is " + std::string(shown)), std::string::npos)
        << loaded.error().message;
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
  }
  ASSERT_EQ(chmod(key.c_str(), 0640), 0);
  EXPECT_NE(LoadSecretKey(key).error().message.find("group or others can read it"),
            std::string::npos);
  ASSERT_EQ(chmod(key.c_str(), 0620), 0);
  EXPECT_NE(LoadSecretKey(key).error().message.find("group or others can write or execute it"),
            std::string::npos);
  ASSERT_EQ(chmod(key.c_str(), 0400), 0);
  EXPECT_TRUE(LoadSecretKey(key).ok());
}

TEST_F(KeyFilesTest, RefusesMalformedKeyFiles) {
  fs::create_directories(dir_);
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    chmod(p.c_str(), mode);
    return p;
  };
  SecretKey key = SecretKey::Generate();
  std::string good = key.ToFileText();
  EXPECT_TRUE(LoadSecretKey(write("ok.key", good, 0600)).ok());
  EXPECT_TRUE(LoadSecretKey(write("nonl.key", good.substr(0, 88), 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("crlf.key", good.substr(0, 88) + "\r\n", 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("two.key", good + "\n", 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("space.key", " " + good, 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("pub.key", key.public_key().ToFileText(), 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("empty.key", "", 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(write("big.key", std::string(5000, 'A'), 0600)).ok());
  EXPECT_FALSE(LoadSecretKey(dir_ / "missing.key").ok());
  EXPECT_FALSE(LoadSecretKey(dir_).ok());  // a directory

  EXPECT_TRUE(LoadPublicKey(write("ok.pub", key.public_key().ToFileText(), 0644)).ok());
  auto wrong = LoadPublicKey(write("secret.pub", good, 0644));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("is not an mvm public key"), std::string::npos);
  // Slack bits: 32 bytes leave 2 unused bits in the last base64 character; setting one spells the
  // same bytes differently, which is refused.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text = key.public_key().ToFileText();
  size_t value = kAlphabet.find(text[42]);
  ASSERT_EQ(value & 3u, 0u);
  text[42] = kAlphabet[value | 1u];
  EXPECT_FALSE(LoadPublicKey(write("slack.pub", text, 0644)).ok());
}

TEST(KeysTest, MovedFromKeysAreWiped) {
  SecretKey a = SecretKey::Generate();
  std::string id = a.KeyId();
  SecretKey b = std::move(a);
  EXPECT_EQ(b.KeyId(), id);
  // NOLINTNEXTLINE(bugprone-use-after-move): checking the wipe is the point.
  EXPECT_EQ(a.ToFileText(), std::string(86, 'A') + "==\n");
}

}  // namespace
}  // namespace mvm::plan
