// Every command's `--help` is its own manual: what it does, each flag it accepts and its exit
// statuses. The texts live in one table (cli/commands.cc); this checks the table, so a flag added
// without its help, or a command without its exit statuses, fails here.

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace mvm::cli {
namespace {

// True when `text` mentions `flag` as a whole word: `--format` but not inside `--format-x`.
bool Mentions(std::string_view text, const std::string& flag) {
  for (size_t at = text.find(flag); at != std::string_view::npos; at = text.find(flag, at + 1)) {
    size_t end = at + flag.size();
    bool starts = at == 0 || text[at - 1] != '-';
    bool ends = end == text.size() ||
                !(std::isalnum(static_cast<unsigned char>(text[end])) != 0 || text[end] == '-');
    if (starts && ends) {
      return true;
    }
  }
  return false;
}

// A line of prose after the usage lines: a reader learns what the command does, not only its
// synopsis.
bool HasDescription(std::string_view usage) {
  size_t blank = usage.find("\n\n");
  if (blank == std::string_view::npos) {
    return false;
  }
  std::string_view rest = usage.substr(blank + 2);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (line.size() >= 40 && !line.starts_with("options") && !line.starts_with("exit status") &&
        line.front() != ' ') {
      return true;
    }
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  return false;
}

TEST(HelpTest, EveryCommandDescribesItselfItsFlagsAndItsExitStatus) {
  for (const Command& c : AllCommands()) {
    SCOPED_TRACE(std::string(c.name));
    EXPECT_TRUE(c.usage.starts_with("usage: mvmctl " + std::string(c.name) + " ")) << c.usage;
    EXPECT_TRUE(HasDescription(c.usage)) << c.usage;
    EXPECT_NE(c.usage.find("\nexit status: "), std::string_view::npos) << c.usage;
    EXPECT_TRUE(c.usage.ends_with("\n"));
    for (const FlagSpec& flag : c.flags.value_or(std::vector<FlagSpec>{})) {
      std::string spelt = (flag.name.size() == 1 ? "-" : "--") + std::string(flag.name);
      EXPECT_TRUE(Mentions(c.usage, spelt))
          << "`mvmctl " << c.name << " --help` never mentions `" << spelt << "`";
    }
  }
}

}  // namespace
}  // namespace mvm::cli
