#ifndef MVM_CLI_ORG_POLICY_FILE_H_
#define MVM_CLI_ORG_POLICY_FILE_H_

#include <string>
#include <string_view>

#include "ir/support/error_or.h"
#include "passes/pass.h"

namespace mvm::cli {

/// Parses an organisation policy (`mvm-policy.json`):
///
///     {"allowed_registries": ["ghcr.io/acme"], "egress_allow": ["api.openai.com", "*.acme.dev"],
///      "max_cpu": 4, "max_memory_mb": 4096, "max_disk_mb": 8192, "max_timeout_seconds": 600,
///      "required_isolation": "microvm"}
///
/// Every field is optional. The Error names the offending field (`max_cpu`, `egress_allow[1]`) and
/// what it must be: malformed JSON, a duplicate or unknown field (with a did-you-mean), a wrong
/// type, a limit outside the option's own range, an invalid host or registry, or an isolation
/// other than `microvm` (a policy may only tighten). `path` is kept for diagnostics.
ErrorOr<passes::OrgPolicy> ParseOrgPolicy(std::string_view path, std::string_view text);

/// Reads and parses the policy file at `path`.
ErrorOr<passes::OrgPolicy> ReadOrgPolicy(const std::string& path);

}  // namespace mvm::cli

#endif  // MVM_CLI_ORG_POLICY_FILE_H_
