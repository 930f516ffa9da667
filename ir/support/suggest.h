#ifndef MVM_IR_SUPPORT_SUGGEST_H_
#define MVM_IR_SUPPORT_SUGGEST_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mvm {

/// The candidate closest to `word` by Damerau-Levenshtein distance (case-insensitive, `_`/`-` and
/// camelCase boundaries compared loosely), when close enough to be a plausible typo: distance at most
/// max(1, len/3). Ties go to the earlier candidate.
std::optional<std::string> DidYouMean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_SUGGEST_H_
