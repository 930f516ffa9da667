#include "ir/function_entrypoint.h"

#include <gtest/gtest.h>

namespace mvm::ir {
namespace {

v1::Entrypoint WithCommand(const std::vector<std::string>& command) {
  v1::Entrypoint e;
  e.set_name("main");
  for (const std::string& arg : command) {
    e.add_command(arg);
  }
  return e;
}

TEST(FunctionEntrypointTest, RunsTheFunctionOfTheDeclaringFileUnderApp) {
  EXPECT_EQ(FunctionEntrypointCommand("t.py", "tiny"),
            (std::vector<std::string>{"python3", "-m", "mvm.run", "/app/t.py", "tiny"}));
}

TEST(FunctionEntrypointTest, DeclaringFileOfReadsTheCommandBack) {
  EXPECT_EQ(DeclaringFileOf(WithCommand(FunctionEntrypointCommand("t.py", "tiny"))), "/app/t.py");
}

TEST(FunctionEntrypointTest, OtherCommandsHaveNoDeclaringFile) {
  EXPECT_EQ(DeclaringFileOf(WithCommand({"python", "/app/main.py"})), std::nullopt);
  EXPECT_EQ(DeclaringFileOf(WithCommand({"python3", "-m", "mvm.run", "/app/t.py"})), std::nullopt);
  EXPECT_EQ(DeclaringFileOf(WithCommand({"python3", "-m", "other", "/app/t.py", "f"})),
            std::nullopt);
}

}  // namespace
}  // namespace mvm::ir
