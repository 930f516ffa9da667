#include "ir/support/error_kind.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "ir/support/error_or.h"

namespace mvm {
namespace {

/// The exit codes docs/cli.md's exit status section documents: the `| \`N\` |` rows of its tables
/// (`128+N` is a signal's, never a kind's).
std::set<int> DocumentedExitCodes() {
  std::ifstream in(std::string(MVM_SOURCE_DIR) + "/docs/cli.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string page = text.str();
  size_t begin = page.find("\n### Exit status\n");
  size_t end = page.find("\n### ", begin + 1);
  EXPECT_NE(begin, std::string::npos) << "docs/cli.md has no `### Exit status` section";
  std::string section = page.substr(begin, end - begin);
  std::set<int> codes;
  std::regex row(R"(\n\| `(\d+)` \|)");
  for (auto it = std::sregex_iterator(section.begin(), section.end(), row);
       it != std::sregex_iterator(); ++it) {
    codes.insert(std::stoi((*it)[1]));
  }
  return codes;
}

TEST(ErrorKindTest, EveryKindHasAUniqueKebabCaseId) {
  std::set<std::string_view> ids;
  std::regex kebab("[a-z][a-z0-9]*(-[a-z0-9]+)*");
  for (const ErrorKindInfo& k : AllErrorKinds()) {
    EXPECT_TRUE(ids.insert(k.id).second) << "duplicate error kind id `" << k.id << "`";
    EXPECT_TRUE(std::regex_match(std::string(k.id), kebab)) << "`" << k.id << "`";
  }
}

TEST(ErrorKindTest, EveryExitCodeIsOneDocsCliDocuments) {
  std::set<int> documented = DocumentedExitCodes();
  // Guards the parse above: the section lists the compiler codes and the container ones.
  ASSERT_TRUE(documented.contains(3) && documented.contains(125)) << documented.size();
  for (const ErrorKindInfo& k : AllErrorKinds()) {
    EXPECT_TRUE(documented.contains(k.exit_code))
        << "error kind `" << k.id << "` exits " << k.exit_code
        << ", which docs/cli.md's exit status section does not document";
    EXPECT_NE(k.exit_code, 0) << k.id;
  }
}

TEST(ErrorKindTest, EveryKindHasAOneLineHintAndADocsAnchor) {
  for (const ErrorKindInfo& k : AllErrorKinds()) {
    EXPECT_FALSE(k.hint.empty()) << k.id;
    EXPECT_EQ(k.hint.find('\n'), std::string_view::npos) << k.id;
    EXPECT_FALSE(k.hint.ends_with(".")) << k.id;
    EXPECT_TRUE(
        std::regex_match(std::string(k.docs), std::regex(R"([a-z0-9/_-]+\.md#[a-z0-9_-]+)")))
        << k.id << ": `" << k.docs << "`";
  }
}

TEST(ErrorKindTest, InfoOfAKindIsItsRegistryEntry) {
  for (const ErrorKindInfo& k : AllErrorKinds()) {
    EXPECT_EQ(ErrorKindInfoOf(k.kind).id, k.id);
  }
  EXPECT_EQ(ErrorKindInfoOf(ErrorKind::kEnvironment).id, "environment");
  EXPECT_EQ(ErrorKindInfoOf(ErrorKind::kUsage).exit_code, 2);
}

TEST(ErrorTest, AnErrorThatNamesNoKindIsAnEnvironmentFailure) {
  Error e{"cannot read `x`"};
  EXPECT_EQ(e.kind, ErrorKind::kEnvironment);
  ErrorOr<int> failed = Error{"no"};
  EXPECT_EQ(failed.error().kind, ErrorKind::kEnvironment);
}

TEST(ErrorTest, KindHelpers) {
  Error pool = MakeError(ErrorKind::kNoSuchPool, "no pool named `p`");
  EXPECT_EQ(pool.kind, ErrorKind::kNoSuchPool);
  EXPECT_EQ(pool.message, "no pool named `p`");
  // A caller's default does not hide a precise kind from below; WithKind does, on purpose.
  EXPECT_EQ(WithDefaultKind(pool, ErrorKind::kRuntimeFailed).kind, ErrorKind::kNoSuchPool);
  EXPECT_EQ(WithDefaultKind(Error{"x"}, ErrorKind::kRuntimeFailed).kind, ErrorKind::kRuntimeFailed);
  Error usage = WithKind(pool, ErrorKind::kUsage);
  EXPECT_EQ(usage.kind, ErrorKind::kUsage);
  EXPECT_EQ(usage.message, pool.message);
}

}  // namespace
}  // namespace mvm
