#ifndef MVM_IR_SUPPORT_SUGGEST_H_
#define MVM_IR_SUPPORT_SUGGEST_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mvm {

/// The candidate closest to `word` by optimal-string-alignment distance (Levenshtein plus adjacent
/// transpositions), when close enough to be a plausible typo. Both sides are compared after folding
/// ASCII case and dropping `_` and `-`, so `memoryMb` finds `memory_mb` (distance 0). The distance
/// must be at most max(1, n/3), n the code-point length of the normalised `word`. Ties go to the
/// earlier candidate; failing that, the one candidate that starts with `word` (4+ code points), so
/// a shortened name still finds its option. Returns the candidate's own spelling; nullopt when
/// nothing is close enough, when `word` is empty after normalising, or when `word` is itself one of
/// the candidates.
std::optional<std::string> DidYouMean(std::string_view word,
                                      std::span<const std::string_view> candidates);

}  // namespace mvm

#endif  // MVM_IR_SUPPORT_SUGGEST_H_
