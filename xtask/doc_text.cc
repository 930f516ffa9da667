#include "xtask/doc_text.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace mvm::xtask {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

namespace {

/// What the UTF-8 sequence at `at` stands for: the ASCII text it reads as ("" for invisible
/// characters, " " for spaces), with its length; nullopt for any other character.
std::optional<std::pair<std::string_view, size_t>> NormalisedCharacter(std::string_view s,
                                                                       size_t at) {
  struct Mapping {
    std::string_view utf8;
    std::string_view ascii;
  };
  static constexpr Mapping kMappings[] = {
      {"\xC2\xA0", " "},      {"\xC2\xAD", ""},       {"\xE2\x80\x80", " "}, {"\xE2\x80\x81", " "},
      {"\xE2\x80\x82", " "},  {"\xE2\x80\x83", " "},  {"\xE2\x80\x84", " "}, {"\xE2\x80\x85", " "},
      {"\xE2\x80\x86", " "},  {"\xE2\x80\x87", " "},  {"\xE2\x80\x88", " "}, {"\xE2\x80\x89", " "},
      {"\xE2\x80\x8A", " "},  {"\xE2\x80\x8B", ""},   {"\xE2\x80\x8C", ""},  {"\xE2\x80\x8D", ""},
      {"\xE2\x80\x90", "-"},  {"\xE2\x80\x91", "-"},  {"\xE2\x80\x92", "-"}, {"\xE2\x80\x93", "-"},
      {"\xE2\x80\x94", "-"},  {"\xE2\x80\x98", "'"},  {"\xE2\x80\x99", "'"}, {"\xE2\x80\x9B", "'"},
      {"\xE2\x80\x9C", "\""}, {"\xE2\x80\x9D", "\""}, {"\xE2\x80\xAF", " "}, {"\xE2\x81\x9F", " "},
      {"\xE2\x81\xA0", ""},   {"\xE3\x80\x80", " "},  {"\xEF\xBB\xBF", ""},
  };
  for (const Mapping& m : kMappings) {
    if (s.substr(at, m.utf8.size()) == m.utf8) {
      return std::make_pair(m.ascii, m.utf8.size());
    }
  }
  return std::nullopt;
}

/// The HTML entity at `at` (`&nbsp;`, `&#8217;`, …) as the ASCII it reads as, with its length.
std::optional<std::pair<std::string_view, size_t>> NormalisedEntity(std::string_view s, size_t at) {
  struct Entity {
    std::string_view name;
    std::string_view ascii;
  };
  static constexpr Entity kEntities[] = {
      {"&nbsp;", " "},   {"&#160;", " "},  {"&#xa0;", " "}, {"&ensp;", " "},  {"&emsp;", " "},
      {"&thinsp;", " "}, {"&zwsp;", ""},   {"&#8203;", ""}, {"&shy;", ""},    {"&rsquo;", "'"},
      {"&lsquo;", "'"},  {"&#8217;", "'"}, {"&#39;", "'"},  {"&apos;", "'"},  {"&ldquo;", "\""},
      {"&rdquo;", "\""}, {"&quot;", "\""}, {"&amp;", "&"},  {"&ndash;", "-"}, {"&mdash;", "-"},
      {"&hyphen;", "-"}, {"&#8209;", "-"},
  };
  for (const Entity& e : kEntities) {
    if (s.size() - at >= e.name.size() &&
        Lower(s.substr(at, e.name.size())) == std::string(e.name)) {
      return std::make_pair(e.ascii, e.name.size());
    }
  }
  return std::nullopt;
}

/// The end of the HTML tag at `at` (`<em>`, `</span>`, `<a href="…">`), or npos when none starts
/// there.
size_t HtmlTagEnd(std::string_view s, size_t at) {
  size_t name = at + 1;
  if (name < s.size() && s[name] == '/') {
    ++name;
  }
  if (name >= s.size() || !std::isalpha(static_cast<unsigned char>(s[name]))) {
    return std::string_view::npos;
  }
  size_t end = s.find('>', name);
  return end == std::string_view::npos ? end : end + 1;
}

}  // namespace

FlatText Flatten(std::string_view source) {
  FlatText flat;
  int line = 1;
  bool pending_space = false;
  auto lines_in = [&](size_t from, size_t to) {
    return static_cast<int>(std::count(source.begin() + static_cast<long>(from),
                                       source.begin() + static_cast<long>(to), '\n'));
  };
  auto emit = [&](std::string_view text) {
    for (char c : text) {
      if (c == ' ') {
        pending_space = true;
        continue;
      }
      if (pending_space && !flat.text.empty()) {
        flat.text += ' ';
        flat.line_of.push_back(line);
      }
      pending_space = false;
      flat.text += c;
      flat.line_of.push_back(line);
    }
  };
  for (size_t i = 0; i < source.size(); ++i) {
    const char c = source[i];
    if (source.substr(i, 4) == "<!--") {
      size_t end = source.find("-->", i + 4);
      end = end == std::string_view::npos ? source.size() : end + 3;
      line += lines_in(i, end);
      i = end - 1;
      pending_space = true;
      continue;
    }
    if (c == '<') {
      if (size_t end = HtmlTagEnd(source, i); end != std::string_view::npos) {
        line += lines_in(i, end);
        i = end - 1;
        continue;
      }
    }
    // A link reads as its text: the destination of `[text](url)` and the label of `[text][ref]`
    // are not shown.
    if (c == ']' && i + 1 < source.size() && (source[i + 1] == '(' || source[i + 1] == '[')) {
      const char close = source[i + 1] == '(' ? ')' : ']';
      size_t end = source.find(close, i + 2);
      if (end != std::string_view::npos &&
          source.substr(i + 2, end - i - 2).find('\n') == std::string_view::npos) {
        i = end;
        continue;
      }
    }
    if (c == '&') {
      if (auto entity = NormalisedEntity(source, i)) {
        emit(entity->first);
        i += entity->second - 1;
        continue;
      }
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      if (auto mapped = NormalisedCharacter(source, i)) {
        emit(mapped->first);
        i += mapped->second - 1;
        continue;
      }
    }
    if (c == '\n') {
      ++line;
      pending_space = true;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = true;
      continue;
    }
    if (c == '*' || c == '`' || c == '_' || c == '~' || c == '[' || c == ']' || c == '\\') {
      continue;
    }
    emit(std::string_view(&source[i], 1));
  }
  return flat;
}

}  // namespace mvm::xtask
