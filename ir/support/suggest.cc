#include "ir/support/suggest.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mvm {
namespace {

/// Code points of `s` after folding ASCII case and dropping `_` and `-`, so `memoryMb`, `memory_mb`
/// and `memory-mb` all compare equal: a user mixing naming conventions has made no typo worth
/// counting.
std::vector<uint32_t> Normalize(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    // Decode UTF-8 leniently: an edit of one accented letter should cost one, not two; malformed
    // bytes just become their own units.
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    if (i + len > s.size()) {
      len = 1;
    }
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    i += len;
    if (cp == '_' || cp == '-') {
      continue;
    }
    if (cp >= 'A' && cp <= 'Z') {
      cp = cp - 'A' + 'a';
    }
    out.push_back(cp);
  }
  return out;
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions (`mmeory` is one
/// edit from `memory`), each substring edited at most once. Gives up early, returning `limit + 1`,
/// once the distance must exceed `limit`.
size_t OsaDistance(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, size_t limit) {
  size_t n = a.size();
  size_t m = b.size();
  if ((n > m ? n - m : m - n) > limit) {
    return limit + 1;
  }
  // Three rolling rows: the transposition step looks two rows back.
  std::vector<size_t> before(m + 1), previous(m + 1), current(m + 1);
  for (size_t j = 0; j <= m; ++j) {
    previous[j] = j;
  }
  for (size_t i = 1; i <= n; ++i) {
    current[0] = i;
    size_t row_min = current[0];
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t best = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        best = std::min(best, before[j - 2] + 1);
      }
      current[j] = best;
      row_min = std::min(row_min, best);
    }
    if (row_min > limit) {
      return limit + 1;
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[m];
}

}  // namespace

std::optional<std::string> DidYouMean(std::string_view word,
                                      std::span<const std::string_view> candidates) {
  // A word that is itself valid was not a typo; suggesting a neighbour would only confuse.
  if (std::find(candidates.begin(), candidates.end(), word) != candidates.end()) {
    return std::nullopt;
  }
  std::vector<uint32_t> needle = Normalize(word);
  if (needle.empty()) {
    return std::nullopt;
  }
  size_t threshold = std::max<size_t>(1, needle.size() / 3);
  std::optional<std::string_view> best;
  size_t best_distance = threshold + 1;
  for (std::string_view candidate : candidates) {
    std::vector<uint32_t> normalized = Normalize(candidate);
    if (normalized.empty()) {
      continue;
    }
    // Searching only below the best so far keeps ties with the earlier candidate.
    size_t distance = OsaDistance(needle, normalized, best_distance - 1);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
      if (distance == 0) {
        break;
      }
    }
  }
  if (!best) {
    // A shortened name (`timeout` for `timeout_seconds`, `mem` is too short to guess from) is a
    // plausible slip too, when exactly one candidate starts with it.
    if (needle.size() >= 4) {
      for (std::string_view candidate : candidates) {
        std::vector<uint32_t> normalized = Normalize(candidate);
        if (normalized.size() > needle.size() &&
            std::equal(needle.begin(), needle.end(), normalized.begin())) {
          if (best) {
            return std::nullopt;
          }
          best = candidate;
        }
      }
    }
    if (!best) {
      return std::nullopt;
    }
  }
  return std::string(*best);
}

}  // namespace mvm
