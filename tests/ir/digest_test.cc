#include "ir/digest.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/support/workloads.h"

namespace mvm::ir {
namespace {

Module OneWorkload() {
  Module m;
  v1::Workload& w = *m.proto.add_workloads();
  mvm::testing::SetAgentToolHead(w);
  w.mutable_resources()->set_cpu(2);
  v1::Volume& volume = *w.add_volumes();
  volume.set_kind("local");
  volume.set_source("./data");
  volume.set_target("/data");
  volume.mutable_loc()->set_file("app.py");
  volume.mutable_loc()->set_line(5);
  volume.mutable_loc()->set_column(9);
  m.locs.resize(1);
  return m;
}

TEST(DigestTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, Sha256IsSafeFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&results, i] { results[i] = Sha256Hex("abc"); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const std::string& r : results) {
    EXPECT_EQ(r, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}

TEST(DigestTest, HashesCanonicalJsonWithoutLocations) {
  // sha256 of {"schema_version":"mvm.ir/v1"}, computed with Python's hashlib.
  EXPECT_EQ(ModuleDigest(Module()),
            "sha256:788c71e826270447024d16b974b8e8a9f0a8e3c5a72f3bf96b0e17f6e3e617ea");
}

TEST(DigestTest, MovingDeclarationsKeepsTheDigest) {
  Module a = OneWorkload();
  Module b = OneWorkload();
  b.proto.mutable_workloads(0)->mutable_source()->set_line(30);
  b.proto.mutable_workloads(0)->mutable_source()->set_file("moved.py");
  b.proto.mutable_workloads(0)->mutable_volumes(0)->mutable_loc()->set_line(31);
  EXPECT_EQ(ModuleDigest(a), ModuleDigest(b));
  EXPECT_EQ(ModuleDigest(a).rfind("sha256:", 0), 0u);
  EXPECT_EQ(ModuleDigest(a).size(), 7u + 64u);
}

TEST(DigestTest, ChangingTheWorkloadChangesTheDigest) {
  Module a = OneWorkload();
  Module cpu = OneWorkload();
  cpu.proto.mutable_workloads(0)->mutable_resources()->set_cpu(4);
  EXPECT_NE(ModuleDigest(a), ModuleDigest(cpu));
  // Volume.source is a host path, not a location: it is part of the digest.
  Module path = OneWorkload();
  path.proto.mutable_workloads(0)->mutable_volumes(0)->set_source("./other");
  EXPECT_NE(ModuleDigest(a), ModuleDigest(path));
}

}  // namespace
}  // namespace mvm::ir
