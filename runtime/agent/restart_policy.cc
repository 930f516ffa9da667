#include "runtime/agent/restart_policy.h"

#include <algorithm>

namespace mvm::runtime::agent {

std::optional<RestartMode> ParseRestartMode(std::string_view text) {
  if (text == "never") {
    return RestartMode::kNever;
  }
  if (text == "on-failure") {
    return RestartMode::kOnFailure;
  }
  if (text == "always") {
    return RestartMode::kAlways;
  }
  return std::nullopt;
}

std::string_view RestartModeName(RestartMode mode) {
  switch (mode) {
    case RestartMode::kNever:
      return "never";
    case RestartMode::kOnFailure:
      return "on-failure";
    case RestartMode::kAlways:
      return "always";
  }
  return "on-failure";
}

std::optional<std::chrono::milliseconds> NextRestart(const RestartPolicy& policy, uint32_t restarts,
                                                     bool failed) {
  if (policy.mode == RestartMode::kNever || (policy.mode == RestartMode::kOnFailure && !failed) ||
      restarts >= policy.max_restarts) {
    return std::nullopt;
  }
  // Doubling past 2^20 overflows nothing only because the shift is capped first.
  const auto doubled = policy.backoff * (int64_t{1} << std::min<uint32_t>(restarts, 20));
  return std::min(doubled, std::max(policy.max_backoff, policy.backoff));
}

}  // namespace mvm::runtime::agent
