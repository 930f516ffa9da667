// The validate pass on `debian` images, as IR read from JSON can hold them (the frontends' own
// lowering is golden-tested in lit-tests/passes/fail_debian_image.py).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/debian_packages.h"
#include "passes/pass.h"
#include "tests/passes/pass_test_util.h"

namespace mvm::passes {
namespace {

using testing::AddWorkload;
using testing::At;
using testing::Kinds;
using testing::RunPass;

using Strings = std::vector<std::string>;

std::vector<Diagnostic> Validate(ir::Module& m) { return RunPass(&RunValidate, m); }

ir::v1::Workload* DebianWorkload(ir::Module& m, std::vector<std::string> packages) {
  ir::v1::Workload* w = AddWorkload(m, "tools");
  w->mutable_image()->set_kind("debian");
  w->mutable_image()->set_ref("bookworm");
  for (std::string& p : packages) {
    w->mutable_image()->add_packages(std::move(p));
  }
  return w;
}

TEST(DebianImageValidateTest, ValidNamesAndTheBoundAreClean) {
  ir::Module m;
  std::vector<std::string> names = {"jq", "python3-yaml", "g++", "libc6.1", "0ad"};
  for (int i = static_cast<int>(names.size()); i < ir::kMaxDebianPackages; ++i) {
    names.push_back("pkg" + std::to_string(i));
  }
  DebianWorkload(m, names);
  EXPECT_EQ(Kinds(Validate(m)), Strings{});
}

TEST(DebianImageValidateTest, EachBadNamePointsAtItself) {
  ir::Module m;
  DebianWorkload(m,
                 {"jq", "Jq", "j", "-o", "jq=1.6", "jq/bookworm", "jq:amd64", "?essential", "jq"});
  m.locs[0].Set("/image/packages/1", At(4, 10));
  m.locs[0].Set("/image/packages/8", At(4, 60));
  std::vector<Diagnostic> diags = Validate(m);
  EXPECT_EQ(Kinds(diags),
            (Strings{"invalid-package-name", "invalid-package-name", "invalid-package-name",
                     "invalid-package-name", "invalid-package-name", "invalid-package-name",
                     "invalid-package-name", "duplicate-package"}));
  EXPECT_EQ(diags[0].loc, At(4, 10));
  EXPECT_EQ(diags.back().loc, At(4, 60));
  EXPECT_EQ(diags.back().message, "package `jq` is listed more than once");
}

TEST(DebianImageValidateTest, OneMoreThanTheBoundIsRefused) {
  ir::Module m;
  std::vector<std::string> names;
  for (int i = 0; i <= ir::kMaxDebianPackages; ++i) {
    names.push_back("pkg" + std::to_string(i));
  }
  DebianWorkload(m, names);
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"too-many-packages"});
  EXPECT_EQ(diags[0].message, "`Image.debian` lists 65 packages, more than 64");
}

TEST(DebianImageValidateTest, OnlyBookwormIsASuite) {
  ir::Module m;
  DebianWorkload(m, {"jq"})->mutable_image()->set_ref("bookwrom");
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), Strings{"invalid-value"});
  EXPECT_EQ(diags[0].hint, "did you mean `bookworm`?");
}

TEST(DebianImageValidateTest, PackagesBelongToDebianImagesAndDigestsToPlans) {
  ir::Module m;
  ir::v1::Workload* w = AddWorkload(m, "template");
  w->mutable_image()->add_packages("jq");
  DebianWorkload(m, {"jq"})->mutable_image()->set_digest("sha256:" + std::string(64, 'a'));
  std::vector<Diagnostic> diags = Validate(m);
  ASSERT_EQ(Kinds(diags), (Strings{"invalid-image-ref", "invalid-image-ref"}));
  EXPECT_NE(diags[0].message.find("only `Image.debian` images list packages"), std::string::npos);
  EXPECT_NE(diags[1].message.find("recorded in the plan"), std::string::npos);
}

}  // namespace
}  // namespace mvm::passes
