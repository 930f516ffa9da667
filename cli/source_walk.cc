#include "cli/source_walk.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "frontend/frontend.h"

namespace mvm::cli {
namespace fs = std::filesystem;

namespace {

bool ClassMatch(std::string_view pattern, size_t& p, char c) {
  // pattern[p] == '['; on return p is past the closing ']'.
  size_t i = p + 1;
  bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) {
    ++i;
  }
  bool matched = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    matched |= c >= lo && c <= hi;
    ++i;
  }
  p = i < pattern.size() ? i + 1 : i;
  return matched != negate;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  if (pattern.starts_with("**/")) {
    // Zero or more leading directories.
    std::string_view rest = pattern.substr(3);
    for (size_t i = 0; i <= text.size(); ++i) {
      if ((i == 0 || text[i - 1] == '/') && GlobMatch(rest, text.substr(i))) {
        return true;
      }
    }
    return false;
  }
  size_t p = 0;
  size_t t = 0;
  while (p < pattern.size()) {
    char c = pattern[p];
    if (c == '*') {
      bool double_star = p + 1 < pattern.size() && pattern[p + 1] == '*';
      std::string_view rest = pattern.substr(p + (double_star ? 2 : 1));
      if (double_star && rest.starts_with("/")) {
        // `a/**/b` matches `a/b` too.
        if (GlobMatch(rest.substr(1), text.substr(t))) {
          return true;
        }
      }
      for (size_t i = t; i <= text.size(); ++i) {
        if (GlobMatch(rest, text.substr(i))) {
          return true;
        }
        if (i < text.size() && text[i] == '/' && !double_star) {
          return false;
        }
      }
      return false;
    }
    if (t >= text.size()) {
      return false;
    }
    if (c == '?') {
      if (text[t] == '/') {
        return false;
      }
      ++p;
    } else if (c == '[') {
      if (text[t] == '/' || !ClassMatch(pattern, p, text[t])) {
        return false;
      }
    } else {
      if (c == '\\' && p + 1 < pattern.size()) {
        c = pattern[++p];
      }
      if (c != text[t]) {
        return false;
      }
      ++p;
    }
    ++t;
  }
  return t == text.size();
}

std::vector<IgnoreRule> ParseGitignore(std::string_view text, std::string_view base) {
  std::vector<IgnoreRule> rules;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    // Trailing spaces are ignored unless escaped.
    while (!line.empty() && line.back() == ' ' &&
           !(line.size() > 1 && line[line.size() - 2] == '\\')) {
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    IgnoreRule rule;
    rule.base = std::string(base);
    std::string_view p = line;
    if (p[0] == '!') {
      rule.negate = true;
      p.remove_prefix(1);
    } else if (p.starts_with("\\!") || p.starts_with("\\#")) {
      p.remove_prefix(1);
    }
    if (p.ends_with("/")) {
      rule.dir_only = true;
      p.remove_suffix(1);
    }
    rule.anchored = p.find('/') != std::string_view::npos;
    if (p.starts_with("/")) {
      p.remove_prefix(1);
    }
    if (p.empty()) {
      continue;
    }
    rule.pattern = std::string(p);
    rules.push_back(std::move(rule));
  }
  return rules;
}

bool IsIgnored(const std::vector<IgnoreRule>& rules, std::string_view path, bool is_dir) {
  bool ignored = false;
  for (const IgnoreRule& rule : rules) {
    if (rule.dir_only && !is_dir) {
      continue;
    }
    std::string_view rel = path;
    if (!rule.base.empty()) {
      if (!path.starts_with(rule.base) || path.size() <= rule.base.size() ||
          path[rule.base.size()] != '/') {
        continue;
      }
      rel = path.substr(rule.base.size() + 1);
    }
    bool match;
    if (rule.anchored) {
      match = GlobMatch(rule.pattern, rel);
    } else {
      size_t slash = rel.rfind('/');
      match =
          GlobMatch(rule.pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
    }
    if (match) {
      ignored = !rule.negate;
    }
  }
  return ignored;
}

ErrorOr<std::vector<std::string>> WalkSourceDirectory(const std::string& dir) {
  std::error_code ec;
  std::vector<IgnoreRule> rules;
  // Ancestors' .gitignore files apply too, up to the work tree root. Their patterns are re-based
  // onto the walk root conservatively: only unanchored ones (e.g. `build/`, `*.gen.py`) are kept,
  // since an anchored ancestor pattern cannot match below a directory it does not name.
  fs::path absolute = fs::absolute(dir, ec);
  for (fs::path p = absolute.parent_path(); !ec && !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / ".gitignore", ec)) {
      for (IgnoreRule& r : ParseGitignore(ReadText(p / ".gitignore"), "")) {
        if (!r.anchored) {
          rules.push_back(std::move(r));
        }
      }
    }
    if (fs::exists(p / ".git", ec) || p == p.root_path()) {
      break;
    }
  }

  std::vector<std::string> found;
  // Depth-first with an explicit stack; each directory's own .gitignore is read before its entries.
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = std::move(stack.back());
    stack.pop_back();
    fs::path here = rel.empty() ? fs::path(dir) : fs::path(dir) / rel;
    if (fs::exists(here / ".gitignore", ec)) {
      for (IgnoreRule& r : ParseGitignore(ReadText(here / ".gitignore"), rel)) {
        rules.push_back(std::move(r));
      }
    }
    fs::directory_iterator it(here, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      return Error{"cannot read directory `" + here.string() + "`: " + ec.message()};
    }
    for (const fs::directory_entry& entry : it) {
      std::string name = entry.path().filename().string();
      std::string child = rel.empty() ? name : rel + "/" + name;
      bool is_dir = entry.is_directory(ec) && !entry.is_symlink(ec);
      if (is_dir && (name.starts_with(".") || name == "node_modules" || name == "__pycache__")) {
        continue;
      }
      if (IsIgnored(rules, child, is_dir)) {
        continue;
      }
      if (is_dir) {
        stack.push_back(child);
      } else if (frontend::IsSupportedSource(name)) {
        found.push_back((fs::path(dir) / child).string());
      }
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace mvm::cli
