#include "cli/compilation.h"

#include <gtest/gtest.h>

#include <string>

#include "ir/json.h"
#include "ir/support/diagnostic_render.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace mvm::cli {
namespace {

using testing::TempDir;
using testing::WriteFile;

/// The printed diagnostics and the IR of compiling `dir` on `threads` threads.
std::string CompileOn(const std::string& dir, unsigned threads) {
  CompileRequest request;
  request.paths = {dir};
  request.threads = threads;
  auto compilation = Compile(request);
  EXPECT_TRUE(compilation.ok());
  if (!compilation.ok()) {
    return "";
  }
  EXPECT_EQ(compilation->files_read, 300u);
  return RenderJson(compilation->diagnostics) + ir::ToCanonicalJson(compilation->module);
}

// Files are parsed on several threads, but what a compilation reports may not depend on how many:
// the same diagnostics in the same order, the same duplicate-id verdicts (the first file in path
// order keeps the id), the same IR.
TEST(CompileTest, OutputDoesNotDependOnTheNumberOfThreads) {
  TempDir dir;
  for (int i = 0; i < 300; ++i) {
    std::string name = "f" + std::to_string(1000 + i);
    std::string id = i % 7 == 0 ? "shared" : "w" + std::to_string(i);
    std::string cpu = i % 5 == 0 ? "0" : "1";
    WriteFile(dir.path() / (name + ".py"),
              "from mvm import workload\n\n@workload(\"" + id +
                  "\", image=\"template:busybox\", cpu=" + cpu + ")\ndef " + name + "(): ...\n" +
                  (i % 11 == 0 ? "interface X<in T> {}\n" : ""));  // a grammar-limitation warning
  }
  std::string one = CompileOn(dir.path().string(), 1);
  EXPECT_NE(one.find("duplicate-workload-id"), std::string::npos);
  EXPECT_NE(one.find("out-of-range"), std::string::npos);
  for (unsigned threads : {2u, 3u, 8u}) {
    EXPECT_EQ(CompileOn(dir.path().string(), threads), one) << threads << " threads";
  }
}

}  // namespace
}  // namespace mvm::cli
