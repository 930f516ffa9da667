#include "ir/function_entrypoint.h"

namespace mvm::ir {

namespace {

constexpr std::string_view kRunner[] = {"python3", "-m", "mvm.run"};
constexpr std::string_view kAppDir = "/app/";

}  // namespace

std::string DeclaringFilePath(std::string_view file_name) {
  return std::string(kAppDir) + std::string(file_name);
}

std::vector<std::string> FunctionEntrypointCommand(std::string_view file_name,
                                                   std::string_view function) {
  std::vector<std::string> command(std::begin(kRunner), std::end(kRunner));
  command.push_back(DeclaringFilePath(file_name));
  command.emplace_back(function);
  return command;
}

std::optional<std::string> DeclaringFileOf(const v1::Entrypoint& entrypoint) {
  const auto& command = entrypoint.command();
  if (command.size() != std::size(kRunner) + 2) {
    return std::nullopt;
  }
  for (size_t i = 0; i < std::size(kRunner); ++i) {
    if (command[static_cast<int>(i)] != kRunner[i]) {
      return std::nullopt;
    }
  }
  return command[static_cast<int>(std::size(kRunner))];
}

}  // namespace mvm::ir
