// The SigV4 signer against AWS's published examples, and against an independent implementation
// (Python's hmac and hashlib, below) on the same inputs, so a wrong expected value cannot hide.

#include "runtime/volumes/s3/sigv4.h"

#include <string>

#include "gtest/gtest.h"
#include "ir/support/os/process.h"
#include "tests/support/prerequisite.h"

namespace mvm::runtime::volumes::s3 {
namespace {

constexpr char kSuiteSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
// The S3 developer guide's examples use another example key.
constexpr char kS3GuideSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

SigningInput SuiteGet(std::vector<std::pair<std::string, std::string>> query) {
  SigningInput in;
  in.method = "GET";
  in.path = "/";
  in.query = std::move(query);
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  in.payload_sha256 = Sha256Hex("");
  in.amz_date = "20150830T123600Z";
  in.region = "us-east-1";
  in.service = "service";
  in.access_key_id = "AKIDEXAMPLE";
  return in;
}

SigningInput S3GuideGetObject() {
  SigningInput in;
  in.method = "GET";
  in.path = "/test.txt";
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", Sha256Hex("")},
                {"x-amz-date", "20130524T000000Z"}};
  in.payload_sha256 = Sha256Hex("");
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  return in;
}

SigningInput S3GuideListObjects() {
  SigningInput in;
  in.method = "GET";
  in.path = "/";
  in.query = {{"max-keys", "2"}, {"prefix", "J"}};
  in.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                {"x-amz-content-sha256", Sha256Hex("")},
                {"x-amz-date", "20130524T000000Z"}};
  in.payload_sha256 = Sha256Hex("");
  in.amz_date = "20130524T000000Z";
  in.region = "us-east-1";
  in.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  return in;
}

TEST(SigV4Test, AwsSuiteGetVanillaQueryOrderKeyCase) {
  Signature s = Sign(SuiteGet({{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteSecret);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Test, AwsSuiteGetVanilla) {
  EXPECT_EQ(Sign(SuiteGet({}), kSuiteSecret).signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, S3GuideGetObjectAndListObjects) {
  EXPECT_EQ(Sign(S3GuideGetObject(), kS3GuideSecret).signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(Sign(S3GuideListObjects(), kS3GuideSecret).signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, UriEncodingFollowsRfc3986) {
  EXPECT_EQ(UriEncode("a b/c~d-_.é+", true), "a%20b/c~d-_.%C3%A9%2B");
  EXPECT_EQ(UriEncode("a/b=c&", false), "a%2Fb%3Dc%26");
}

// SigV4 written again from the AWS documentation, in Python, sharing nothing with sigv4.cc.
constexpr char kPythonSigner[] = R"PY(
import hashlib, hmac, sys, urllib.parse
def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
secret, method, path, query, headers, payload, date, region, service = sys.argv[1:10]
q = sorted((urllib.parse.quote(k, safe='-_.~'), urllib.parse.quote(v, safe='-_.~'))
           for k, v in (p.split('=', 1) for p in query.split('&') if p))
hs = sorted((k.lower(), ' '.join(v.split())) for k, v in (x.split(':', 1) for x in headers.split('\n')))
creq = '\n'.join([method, urllib.parse.quote(path, safe='/-_.~'), '&'.join(k + '=' + v for k, v in q),
                  ''.join(k + ':' + v + '\n' for k, v in hs), ';'.join(k for k, _ in hs), payload])
scope = date[:8] + '/' + region + '/' + service + '/aws4_request'
sts = '\n'.join(['AWS4-HMAC-SHA256', date, scope, hashlib.sha256(creq.encode()).hexdigest()])
key = h(h(h(h(('AWS4' + secret).encode(), date[:8]), region), service), 'aws4_request')
print(hmac.new(key, sts.encode(), hashlib.sha256).hexdigest())
)PY";

std::string PythonSignature(const SigningInput& in, const std::string& secret) {
  std::string query;
  for (const auto& [k, v] : in.query) {
    query += (query.empty() ? "" : "&") + k + "=" + v;
  }
  std::string headers;
  for (const auto& [k, v] : in.headers) {
    headers += (headers.empty() ? "" : "\n") + k + ":" + v;
  }
  os::RunOptions run;
  run.spawn.argv = {"python3", "-c",    kPythonSigner,     secret,      in.method, in.path,
                    query,     headers, in.payload_sha256, in.amz_date, in.region, in.service};
  auto result = os::RunProcess(run);
  if (!result || !result->success()) {
    return "python3 failed: " + (result ? result->Tail(5) : result.error().message);
  }
  return result->out.substr(0, result->out.find('\n'));
}

TEST(SigV4Test, AgreesWithAnIndependentImplementation) {
  if (!os::FindProgram("python3")) {
    MVM_MISSING_PREREQUISITE() << "python3 is not installed";
  }
  EXPECT_EQ(PythonSignature(SuiteGet({{"Param2", "value2"}, {"Param1", "value1"}}), kSuiteSecret),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(PythonSignature(S3GuideGetObject(), kS3GuideSecret),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(PythonSignature(S3GuideListObjects(), kS3GuideSecret),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  // What the client sends: a key with spaces, unicode and reserved characters, a multipart query.
  SigningInput put;
  put.method = "PUT";
  put.path = "/bucket/dir/na me+é&(1).txt";
  put.query = {{"partNumber", "3"}, {"uploadId", "a/b+c=="}};
  put.headers = {{"host", "127.0.0.1:4568"},
                 {"x-amz-date", "20261207T010203Z"},
                 {"x-amz-content-sha256", Sha256Hex("body")}};
  put.payload_sha256 = Sha256Hex("body");
  put.amz_date = "20261207T010203Z";
  put.region = "eu-west-3";
  put.access_key_id = "AKID";
  EXPECT_EQ(Sign(put, "s3cr3t/+key").signature, PythonSignature(put, "s3cr3t/+key"));
}

}  // namespace
}  // namespace mvm::runtime::volumes::s3
