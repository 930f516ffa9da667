// The sandbox's CA and the certificates the interceptor mints from it, checked with OpenSSL's own
// verifier. The interception itself is tested through the proxy (proxy_intercept_test.cc).

#include "runtime/egress/intercept.h"

#include <openssl/x509v3.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/runtime/egress/tls_test_util.h"

namespace {

namespace eg = mvm::runtime::egress;

using mvm::testing::CertFromPem;
using mvm::testing::CommonName;
using mvm::testing::KeyFromPem;
using mvm::testing::PkeyPtr;
using mvm::testing::X509Ptr;

TEST(SandboxCaTest, IsAFreshP256CaThatSignsCertificatesOnlyForNinetyDays) {
  auto made = eg::MakeSandboxCa("box-1");
  ASSERT_TRUE(made.ok()) << made.error().message;
  X509Ptr cert = CertFromPem(made->cert_pem);
  PkeyPtr key = KeyFromPem(made->key_pem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof group, nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(CommonName(X509_get_subject_name(cert.get())), "mvm egress CA for box-1");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_get_pathlen(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  const int bc = X509_get_ext_by_NID(cert.get(), NID_basic_constraints, -1);
  ASSERT_GE(bc, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), bc)), 1);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(cert.get())), 1);
  EXPECT_EQ(days, 0);
  EXPECT_NEAR(seconds, -3600, 60);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_NEAR(days * 86400 + seconds, 90 * 86400, 60) << days << "d " << seconds << "s";
  // Self-signed: it verifies as its own trust anchor.
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
  // Every CA is its own: another has another key and serial.
  auto again = eg::MakeSandboxCa("box-1");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->key_pem, made->key_pem);
  X509Ptr other = CertFromPem(again->cert_pem);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()), X509_get0_serialNumber(other.get())), 0);
  // A key that is not the certificate's is refused.
  EXPECT_FALSE(eg::Interceptor::Create({again->key_pem, made->cert_pem}).ok());
}

TEST(SandboxCaTest, ALeafVerifiesAgainstTheCaForItsOwnNameOnly) {
  auto ca = eg::MakeSandboxCa("box");
  ASSERT_TRUE(ca.ok());
  auto interceptor = eg::Interceptor::Create(*ca);
  ASSERT_TRUE(interceptor.ok()) << interceptor.error().message;
  auto pem = (*interceptor)->LeafPem("api.test");
  ASSERT_TRUE(pem.ok());
  EXPECT_EQ(*(*interceptor)->LeafPem("api.test"), *pem);  // cached
  X509Ptr leaf = CertFromPem(*pem);
  X509Ptr root = CertFromPem(ca->cert_pem);
  EXPECT_NE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER, 0u);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                                  X509_get0_subject_key_id(root.get())),
            0);
  EXPECT_GE(ASN1_TIME_compare(X509_get0_notBefore(leaf.get()), X509_get0_notBefore(root.get())), 0);
  EXPECT_LE(ASN1_TIME_compare(X509_get0_notAfter(leaf.get()), X509_get0_notAfter(root.get())), 0);
  auto verify = [&](const char* host) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root.get());
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
    X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
    const int error = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return error;
  };
  EXPECT_EQ(verify("api.test"), X509_V_OK);
  EXPECT_EQ(verify("other.test"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(verify("x.api.test"), X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(SandboxCaTest, TheLeafCacheIsBoundedAndMintsAgainWhatItDropped) {
  auto ca = eg::MakeSandboxCa("box");
  ASSERT_TRUE(ca.ok());
  auto interceptor = eg::Interceptor::Create(*ca);
  ASSERT_TRUE(interceptor.ok());
  const std::string first = *(*interceptor)->LeafPem("h0.test");
  EXPECT_EQ(*(*interceptor)->LeafPem("h0.test"), first);
  for (size_t i = 1; i <= eg::Interceptor::kMaxLeaves; ++i) {
    ASSERT_TRUE((*interceptor)->LeafPem("h" + std::to_string(i) + ".test").ok());
  }
  // The oldest was dropped: a new key and serial for the same name.
  EXPECT_NE(*(*interceptor)->LeafPem("h0.test"), first);
}

}  // namespace
