#ifndef MVM_RUNTIME_AGENT_RESTART_POLICY_H_
#define MVM_RUNTIME_AGENT_RESTART_POLICY_H_

// When the agent starts a service again after its command ended: a pure function of the service's
// policy, how often it was restarted already and how it ended, so that the event loop and its
// tests share one rule.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mvm::runtime::agent {

enum class RestartMode { kNever, kOnFailure, kAlways };

/// The restart policy's spelling in declarations and on the command line: "never", "on-failure",
/// "always"; std::nullopt for anything else.
std::optional<RestartMode> ParseRestartMode(std::string_view text);
std::string_view RestartModeName(RestartMode mode);

/// The most restarts one service may ask for (ServiceStart.max_restarts).
inline constexpr uint32_t kMaxRestartsLimit = 1000;
/// What a service gets when its declaration names no bound.
inline constexpr uint32_t kDefaultMaxRestarts = 10;

struct RestartPolicy {
  RestartMode mode = RestartMode::kOnFailure;
  uint32_t max_restarts = kDefaultMaxRestarts;
  /// The first backoff; each restart doubles it, up to `max_backoff`.
  std::chrono::milliseconds backoff{250};
  std::chrono::milliseconds max_backoff{8000};
};

/// How long to wait before starting the service again, or std::nullopt when it stays ended:
/// `failed` is a nonzero exit, a signal or a command that could not start; `restarts` is how
/// many times it was started again already.
std::optional<std::chrono::milliseconds> NextRestart(const RestartPolicy& policy, uint32_t restarts,
                                                     bool failed);

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_RESTART_POLICY_H_
