// The entrypoint a function-form workload (`@workload` on a function) gets. Its command is the
// contract between the frontends, which write it, and the runtime, which must copy the declaring
// file into the sandbox for it: both read its shape from here.
#ifndef MVM_IR_FUNCTION_ENTRYPOINT_H_
#define MVM_IR_FUNCTION_ENTRYPOINT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/workload.pb.h"

namespace mvm::ir {

/// Where the declaring file of a function-form workload is inside the sandbox: `/app/<file_name>`.
std::string DeclaringFilePath(std::string_view file_name);

/// `python3 -m mvm.run /app/<file_name> <function>`: runs `function` of the declaring file.
std::vector<std::string> FunctionEntrypointCommand(std::string_view file_name,
                                                   std::string_view function);

/// The sandbox path of the file `entrypoint` runs a function from (the declaring file, for a plan
/// the frontends wrote), or nullopt when it is not a function-form entrypoint.
std::optional<std::string> DeclaringFileOf(const v1::Entrypoint& entrypoint);

}  // namespace mvm::ir

#endif  // MVM_IR_FUNCTION_ENTRYPOINT_H_
