#include "ir/file_pattern.h"

namespace mvm::ir {

namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

/// The end of the class starting at `open` (the index of its `]`), or npos when it is not closed.
size_t ClassEnd(std::string_view p, size_t open) {
  size_t i = open + 1;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
    ++i;
  }
  if (i < p.size() && p[i] == ']') {
    ++i;  // a leading `]` is a member
  }
  for (; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size()) {
      ++i;
    } else if (p[i] == ']') {
      return i;
    }
  }
  return std::string_view::npos;
}

bool ClassHas(std::string_view p, size_t open, size_t close, char c) {
  size_t i = open + 1;
  bool negate = i < close && (p[i] == '!' || p[i] == '^');
  if (negate) {
    ++i;
  }
  bool found = false;
  bool first = true;
  for (; i < close; ++i, first = false) {
    char lo = p[i];
    if (lo == '\\' && i + 1 < close) {
      lo = p[++i];
    } else if (lo == ']' && !first) {
      break;
    }
    char hi = lo;
    if (i + 2 < close && p[i + 1] == '-') {
      hi = p[i + 2];
      if (hi == '\\' && i + 3 < close) {
        hi = p[i + 3];
        ++i;
      }
      i += 2;
    }
    found = found || (lo <= c && c <= hi);
  }
  return found != negate;
}

/// fnmatch within one segment: `*`, `?`, `[...]`, `\` escapes; never matches across a `/`.
bool Glob(std::string_view p, std::string_view s) {
  size_t pi = 0;
  size_t si = 0;
  size_t star = std::string_view::npos;
  size_t star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      if (p[pi] == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (p[pi] == '[') {
        size_t close = ClassEnd(p, pi);
        if (close != std::string_view::npos) {
          if (ClassHas(p, pi, close, s[si])) {
            pi = close + 1;
            ++si;
            continue;
          }
        } else if (s[si] == '[') {
          ++pi;
          ++si;
          continue;
        }
      } else {
        char want = p[pi];
        size_t step = 1;
        if (want == '\\' && pi + 1 < p.size()) {
          want = p[pi + 1];
          step = 2;
        }
        if (want == s[si]) {
          pi += step;
          ++si;
          continue;
        }
      }
    }
    if (star == std::string_view::npos) {
      return false;
    }
    pi = star + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

bool MatchSegments(const std::vector<std::string>& p, size_t pi,
                   const std::vector<std::string_view>& s, size_t si) {
  if (pi == p.size()) {
    return si == s.size();
  }
  if (p[pi] == "**") {
    if (pi + 1 == p.size()) {
      return si < s.size();  // `x/**` is what is inside x, not x itself
    }
    for (size_t k = si; k <= s.size(); ++k) {
      if (MatchSegments(p, pi + 1, s, k)) {
        return true;
      }
    }
    return false;
  }
  return si < s.size() && Glob(p[pi], s[si]) && MatchSegments(p, pi + 1, s, si + 1);
}

}  // namespace

ErrorOr<FilePattern> FilePattern::Parse(std::string_view text) {
  FilePattern out;
  out.text_ = std::string(text);
  std::string_view body = text;
  if (body.starts_with('!')) {
    out.negated_ = true;
    body.remove_prefix(1);
  }
  while (body.ends_with('/')) {
    out.dir_only_ = true;
    body.remove_suffix(1);
  }
  if (body.empty()) {
    return Error{"it names no path; write a path or a glob such as `src/**` or `*.py`"};
  }
  const bool anchored = body.find('/') != std::string_view::npos;
  if (body.starts_with('/')) {
    body.remove_prefix(1);
  }
  for (std::string_view segment : Split(body)) {
    if (segment.empty()) {
      return Error{"it has an empty path segment (`//`)"};
    }
    if (segment == "." || segment == "..") {
      return Error{"it has a `" + std::string(segment) +
                   "` segment; patterns are relative to the project directory and cannot leave it"};
    }
    for (size_t i = 0; i < segment.size(); ++i) {
      if (segment[i] == '\\') {
        ++i;
      } else if (segment[i] == '[' && ClassEnd(segment, i) == std::string_view::npos) {
        return Error{"its `[` opens a character class that no `]` closes; write `\\[` for a `[`"};
      }
    }
    out.segments_.emplace_back(segment);
  }
  if (!anchored) {
    out.segments_.insert(out.segments_.begin(), "**");
  }
  return out;
}

bool FilePattern::Matches(std::string_view path, bool is_dir) const {
  if (dir_only_ && !is_dir) {
    return false;
  }
  return MatchSegments(segments_, 0, Split(path), 0);
}

std::vector<FilePattern> ParseGitignore(std::string_view text) {
  std::vector<FilePattern> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line.starts_with('#')) {
      continue;
    }
    // Trailing spaces go unless the last one is escaped.
    while (line.ends_with(' ') && !(line.size() >= 2 && line[line.size() - 2] == '\\')) {
      line.remove_suffix(1);
    }
    // A leading `\#` or `\!` stays escaped: Glob reads it as the character itself.
    if (auto pattern = FilePattern::Parse(line)) {
      out.push_back(std::move(*pattern));
    }
  }
  return out;
}

std::optional<bool> LastMatch(const std::vector<FilePattern>& patterns, std::string_view path,
                              bool is_dir) {
  for (auto it = patterns.rbegin(); it != patterns.rend(); ++it) {
    if (it->Matches(path, is_dir)) {
      return !it->negated();
    }
  }
  return std::nullopt;
}

bool Selects(const std::vector<FilePattern>& patterns, std::string_view file) {
  for (auto it = patterns.rbegin(); it != patterns.rend(); ++it) {
    if (it->Matches(file, false)) {
      return !it->negated();
    }
    for (size_t slash = file.find('/'); slash != std::string_view::npos;
         slash = file.find('/', slash + 1)) {
      if (it->Matches(file.substr(0, slash), true)) {
        return !it->negated();
      }
    }
  }
  return false;
}

}  // namespace mvm::ir
