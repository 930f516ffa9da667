// The pool's wire and files, shared by the pool process (pool.cc) and its clients (pool_client.cc)
// (and the JSON-line wire also by the egress helper's settings, egress_helper.cc):
// one JSON object per line on `<state>/pools/<name>.sock`, an fd passed along where a claim needs
// one, and the pool's record `<state>/pools/<name>.json`.
#ifndef MVM_RUNTIME_LAUNCHER_POOL_WIRE_H_
#define MVM_RUNTIME_LAUNCHER_POOL_WIRE_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "runtime/launcher/pool.h"
#include "runtime/launcher/state.h"

namespace mvm::runtime::internal {

/// `<state>/pools/<name><ext>`.
std::filesystem::path PoolFile(const StateDir& state, std::string_view name, std::string_view ext);

/// Writes `data`; `pass_fd`, when given, goes along with its first byte (SCM_RIGHTS).
ErrorOr<Ok> WriteAll(int fd, std::string_view data, int pass_fd = -1);

/// Reads one line of JSON (at most 1 MiB, within 5 s). With `received_fd`, the first fd passed
/// along (SCM_RIGHTS) is stored there (the caller closes it, also on an error); any other passed
/// fd is closed.
ErrorOr<nlohmann::json> ReadJsonLine(int fd, int* received_fd = nullptr);

/// One request to pool `pool` and its answer.
ErrorOr<nlohmann::json> Request(const StateDir& state, std::string_view pool,
                                const nlohmann::json& request, int pass_fd = -1);

nlohmann::json ToJson(const PoolRecord& r);
ErrorOr<PoolRecord> ReadPoolRecord(const std::filesystem::path& path);

}  // namespace mvm::runtime::internal

#endif  // MVM_RUNTIME_LAUNCHER_POOL_WIRE_H_
