#include "ir/support/diagnostic_render.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

namespace mvm {
namespace {

using Json = nlohmann::ordered_json;

/// Tab stops of the shown source line. Python is indented in fours, so a tab-indented line lines up
/// with its space-indented neighbours.
constexpr uint32_t kTabStop = 4;

/// Lines longer than this many columns are shown as a window of this width around the caret,
/// starting this many columns before it.
constexpr uint32_t kMaxShownColumns = 160;
constexpr uint32_t kContextColumns = 60;

/// What a redacted range shows instead of its text: a string literal, like the masked secret was.
constexpr std::string_view kMask = "\"****\"";

constexpr std::string_view kReset = "\x1b[0m";
constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[1;31m";
constexpr std::string_view kMagenta = "\x1b[1;35m";
constexpr std::string_view kCyan = "\x1b[1;36m";
constexpr std::string_view kGreen = "\x1b[1;32m";

void AppendPainted(std::string& out, std::string_view text, std::string_view style, bool color) {
  if (color) {
    out += style;
  }
  out += text;
  if (color) {
    out += kReset;
  }
}

std::string_view SeverityStyle(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return kRed;
    case Severity::kWarning:
      return kMagenta;
    case Severity::kNote:
      return kCyan;
  }
  return kRed;
}

/// A half-open range of 1-based code-point columns on one line.
struct ColumnRange {
  uint32_t begin = 1;
  uint32_t end = 1;
};

/// Byte length of the code point starting at `at`; stray continuation bytes join the code point
/// before them, as in SourceFile::Offset, so columns mean the same here as where they were
/// computed.
size_t CodePointLength(std::string_view text, size_t at) {
  size_t next = at + 1;
  while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) {
    ++next;
  }
  return next - at;
}

/// A source line as printed: tabs expanded, masked ranges replaced by kMask, and the display offset
/// of every column boundary so carets can be placed under the printed text.
class ShownLine {
 public:
  ShownLine(std::string_view line, std::vector<ColumnRange> masks) : masks_(std::move(masks)) {
    uint32_t width = 0;
    uint32_t column = 1;
    size_t at = 0;
    for (;;) {
      boundaries_.push_back(width);
      if (at >= line.size()) {
        break;
      }
      size_t length = CodePointLength(line, at);
      const ColumnRange* mask = MaskAt(column);
      if (mask != nullptr && column == mask->begin) {
        text_ += kMask;
        width += static_cast<uint32_t>(kMask.size());
      }
      if (mask != nullptr) {
        // Dropped: this is the text the redaction hides.
      } else if (line[at] == '\t') {
        uint32_t spaces = kTabStop - width % kTabStop;
        text_.append(spaces, ' ');
        width += spaces;
      } else {
        text_.append(line.substr(at, length));
        ++width;
      }
      at += length;
      ++column;
    }
  }

  const std::string& text() const { return text_; }
  /// One past the last column of the line.
  uint32_t end_column() const { return static_cast<uint32_t>(boundaries_.size()); }

  /// The caret line for `range`: `^` under its first printed column, `~` under the rest.
  std::string Caret(ColumnRange range) const {
    uint32_t begin = DisplayOffset(range.begin);
    // A boundary inside a mask belongs to the start of the replacement for a range's begin and to
    // its end for a range's end, so a range overlapping the mask underlines the whole replacement.
    if (const ColumnRange* mask = MaskAt(range.begin);
        mask != nullptr && range.begin > mask->begin) {
      begin = DisplayOffset(mask->begin);
    }
    uint32_t end = DisplayOffset(range.end);
    std::string caret(begin, ' ');
    caret += '^';
    if (end > begin + 1) {
      caret.append(end - begin - 1, '~');
    }
    return caret;
  }

 private:
  const ColumnRange* MaskAt(uint32_t column) const {
    for (const ColumnRange& m : masks_) {
      if (column >= m.begin && column < m.end) {
        return &m;
      }
    }
    return nullptr;
  }

  uint32_t DisplayOffset(uint32_t column) const {
    column = std::clamp<uint32_t>(column, 1, end_column());
    return boundaries_[column - 1];
  }

  std::vector<ColumnRange> masks_;
  std::string text_;
  std::vector<uint32_t> boundaries_;  ///< boundaries_[c - 1]: display offset before column c
};

/// The part of `loc` that lies on line `line` (whose last column is `end_column - 1`); a range
/// going on past the line runs to its end. Empty when `loc` does not touch the line.
ColumnRange RangeOnLine(const SourceLoc& loc, uint32_t line, uint32_t end_column) {
  // An end before the start (or none at all) is treated as an empty range at the start.
  uint32_t last_line = loc.end_line >= loc.line ? loc.end_line : loc.line;
  uint32_t last_column = loc.end_line >= loc.line ? loc.end_column : loc.column;
  if (line < loc.line || line > last_line) {
    return {end_column, end_column};
  }
  ColumnRange range;
  range.begin = line == loc.line ? std::max<uint32_t>(loc.column, 1) : 1;
  range.end = line == last_line ? last_column : end_column;
  range.begin = std::min(range.begin, end_column);
  range.end = std::clamp(range.end, range.begin, end_column);
  return range;
}

/// Appends `file:line:col: severity: message` (or `mvmctl: severity: message` without a location)
/// and `suffix`, then a newline.
void AppendHeader(std::string& out, const SourceLoc& loc, Severity severity,
                  std::string_view message, std::string_view suffix, bool color) {
  std::string where;
  if (loc.valid()) {
    where = loc.file + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ":";
  } else {
    where = "mvmctl:";
  }
  AppendPainted(out, where, kBold, color);
  out += ' ';
  AppendPainted(out, std::string(SeverityName(severity)) + ":", SeverityStyle(severity), color);
  out += ' ';
  out += message;
  out += suffix;
  out += '\n';
}

/// Appends the source line of `loc` and its caret line, when the text is available. The text of
/// every range in `redacted` is masked wherever it touches the printed line, whichever diagnostic
/// the line is printed for: a secret must not reappear under a neighbouring error.
void AppendSnippet(std::string& out, const SourceLoc& loc, std::span<const SourceLoc> redacted,
                   const SourceLookup& lookup, bool color) {
  if (!loc.valid() || !lookup) {
    return;
  }
  const SourceFile* file = lookup(loc.file);
  if (file == nullptr || loc.line > file->line_count()) {
    return;
  }
  std::string_view line = file->Line(loc.line);
  uint32_t end_column = CodePointCount(line) + 1;
  ColumnRange caret = RangeOnLine(loc, loc.line, end_column);

  // A long line (minified code, one-line IR JSON) is shown as a window around the caret, so k
  // diagnostics on it print O(k) bytes rather than k copies of the line.
  uint32_t first = 1;
  uint32_t last = end_column;
  if (end_column - 1 > kMaxShownColumns) {
    first = caret.begin > kContextColumns ? caret.begin - kContextColumns : 1;
    last = std::min(end_column, first + kMaxShownColumns);
  }
  auto to_window = [&](ColumnRange r) {
    r.begin = std::clamp(r.begin, first, last) - first + 1;
    r.end = std::clamp(r.end, first, last) - first + 1;
    return r;
  };
  size_t begin_byte = 0;
  size_t end_byte = line.size();
  for (size_t at = 0, column = 1; at <= line.size();
       at += at < line.size() ? CodePointLength(line, at) : 1, ++column) {
    if (column == first) {
      begin_byte = at;
    }
    if (column == last) {
      end_byte = at;
      break;
    }
  }
  std::string_view window = line.substr(begin_byte, end_byte - begin_byte);

  std::vector<ColumnRange> masks;
  for (const SourceLoc& r : redacted) {
    if (r.valid() && r.file == loc.file) {
      ColumnRange hidden = to_window(RangeOnLine(r, loc.line, end_column));
      if (hidden.end > hidden.begin) {
        masks.push_back(hidden);
      }
    }
  }
  ShownLine shown(window, std::move(masks));
  std::string_view ellipsis = "…";
  if (first > 1) {
    out += ellipsis;
  }
  out += shown.text();
  if (last < end_column) {
    out += ellipsis;
  }
  out += '\n';
  std::string caret_line = shown.Caret(to_window(caret));
  if (first > 1) {
    caret_line.insert(0, 1, ' ');  // under the leading ellipsis, one column wide
  }
  AppendPainted(out, caret_line, kGreen, color);
  out += '\n';
}

std::string Summary(size_t errors, size_t warnings) {
  auto count = [](size_t n, std::string_view noun) {
    return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
  };
  std::string out;
  if (errors != 0) {
    out = count(errors, "error");
  }
  if (warnings != 0) {
    out += out.empty() ? "" : " and ";
    out += count(warnings, "warning");
  }
  return out.empty() ? out : out + " generated.\n";
}

/// One entry of the `--format=json` array.
Json JsonEntry(const SourceLoc& loc, Severity severity, DiagnosticKind kind,
               std::string_view message, std::string_view hint) {
  // Without a location every position field is zero, so consumers need no special case for absence.
  SourceLoc where = loc.valid() ? loc : SourceLoc{};
  Json entry;
  entry["file"] = where.file;
  entry["line"] = where.line;
  entry["column"] = where.column;
  entry["end_line"] = where.end_line;
  entry["end_column"] = where.end_column;
  entry["severity"] = SeverityName(severity);
  entry["code"] = KindCode(kind);
  entry["kind"] = KindInfo(kind).name;
  entry["message"] = message;
  if (!hint.empty()) {
    entry["hint"] = hint;
  }
  return entry;
}

/// Serialises without throwing: paths and messages may carry bytes that are not UTF-8, and those
/// become U+FFFD rather than an exception escaping a printer.
std::string Dump(const Json& json, int indent) {
  return json.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n";
}

/// The base id relative artifact URIs are resolved against (SARIF 3.14.14).
constexpr std::string_view kSourceRoot = "SRCROOT";

Json SarifPhysicalLocation(const SourceLoc& loc) {
  Json region;
  region["startLine"] = loc.line;
  region["startColumn"] = std::max<uint32_t>(loc.column, 1);
  // SARIF needs ends at or after the start; a location without a usable end leaves it to the
  // viewer.
  if (loc.end_line > loc.line || (loc.end_line == loc.line && loc.end_column >= loc.column)) {
    region["endLine"] = loc.end_line;
    region["endColumn"] = std::max<uint32_t>(loc.end_column, 1);
  }
  Json physical;
  physical["artifactLocation"]["uri"] = FileUri(loc.file);
  if (!loc.file.starts_with('/')) {
    physical["artifactLocation"]["uriBaseId"] = kSourceRoot;
  }
  physical["region"] = std::move(region);
  return physical;
}

}  // namespace

std::string RenderHuman(std::span<const Diagnostic> diagnostics, const SourceLookup& lookup,
                        HumanRenderOptions options) {
  std::string out;
  size_t errors = 0;
  size_t warnings = 0;
  std::vector<SourceLoc> redacted;
  for (const Diagnostic& d : diagnostics) {
    if (d.redact) {
      redacted.push_back(d.loc);
    }
    redacted.insert(redacted.end(), d.redactions.begin(), d.redactions.end());
  }
  for (const Diagnostic& d : diagnostics) {
    errors += d.severity == Severity::kError;
    warnings += d.severity == Severity::kWarning;
    std::string suffix = " [" + std::string(KindInfo(d.kind).name) + "]";
    AppendHeader(out, d.loc, d.severity, d.message, suffix, options.color);
    AppendSnippet(out, d.loc, redacted, lookup, options.color);
    if (!d.hint.empty()) {
      out += "  hint: ";
      out += d.hint;
      out += '\n';
    }
    for (const DiagnosticNote& note : d.notes) {
      AppendHeader(out, note.loc, Severity::kNote, note.message, "", options.color);
      AppendSnippet(out, note.loc, redacted, lookup, options.color);
    }
  }
  out += Summary(errors, warnings);
  return out;
}

std::string RenderJson(std::span<const Diagnostic> diagnostics) {
  Json list = Json::array();
  for (const Diagnostic& d : diagnostics) {
    list.push_back(JsonEntry(d.loc, d.severity, d.kind, d.message, d.hint));
    for (const DiagnosticNote& note : d.notes) {
      list.push_back(JsonEntry(note.loc, Severity::kNote, d.kind, note.message, ""));
    }
  }
  Json root;
  root["diagnostics"] = std::move(list);
  return Dump(root, -1);
}

std::string FileUri(std::string_view path, bool directory) {
  // A URI path keeps unreserved characters, sub-delims, `@` and `/` (RFC 3986 3.3); `:` only in an
  // absolute URI, since in a relative reference's first segment it would read as a scheme.
  static constexpr std::string_view kKept = "-._~!$&'()*+,;=@/";
  bool absolute = path.starts_with('/');
  std::string out = absolute ? "file://" : "";
  for (char ch : path) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                kKept.find(ch) != std::string_view::npos || (absolute && ch == ':');
    if (keep) {
      out += ch;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  if (directory && !out.ends_with('/')) {
    out += '/';
  }
  return out;
}

std::string RenderSarif(std::span<const Diagnostic> diagnostics, const SarifOptions& options) {
  Json rules = Json::array();
  for (const DiagnosticKindInfo& info : AllDiagnosticKinds()) {
    Json rule;
    rule["id"] = KindCode(info.kind);
    rule["name"] = info.name;
    rule["shortDescription"]["text"] = info.name;
    rule["fullDescription"]["text"] = info.description;
    if (!info.hint.empty()) {
      // Default hints may name message arguments ({1}); a rule describes every instance, so each
      // placeholder reads as an ellipsis.
      const DiagArg unknown[10] = {"…", "…", "…", "…", "…", "…", "…", "…", "…", "…"};
      rule["help"]["text"] = FormatDiagnostic(info.hint, unknown);
    }
    rule["defaultConfiguration"]["level"] = SeverityName(info.severity);
    rules.push_back(std::move(rule));
  }

  Json results = Json::array();
  for (const Diagnostic& d : diagnostics) {
    Json result;
    result["ruleId"] = KindCode(d.kind);
    result["ruleIndex"] = static_cast<size_t>(d.kind);
    result["level"] = SeverityName(d.severity);
    result["message"]["text"] = d.hint.empty() ? d.message : d.message + " (hint: " + d.hint + ")";
    // SARIF has no "unknown location": a result without one simply has no locations.
    if (d.loc.valid()) {
      Json location;
      location["physicalLocation"] = SarifPhysicalLocation(d.loc);
      result["locations"] = Json::array({std::move(location)});
    }
    if (!d.notes.empty()) {
      Json related = Json::array();
      for (size_t i = 0; i < d.notes.size(); ++i) {
        Json location;
        location["id"] = i;
        if (d.notes[i].loc.valid()) {
          location["physicalLocation"] = SarifPhysicalLocation(d.notes[i].loc);
        }
        location["message"]["text"] = d.notes[i].message;
        related.push_back(std::move(location));
      }
      result["relatedLocations"] = std::move(related);
    }
    results.push_back(std::move(result));
  }

  Json run;
  run["tool"]["driver"]["name"] = "mvmctl";
  run["tool"]["driver"]["version"] = options.tool_version;
  run["tool"]["driver"]["informationUri"] = "https://mvm.dev/docs/diagnostics";
  run["tool"]["driver"]["rules"] = std::move(rules);
  if (!options.base_directory.empty()) {
    run["originalUriBaseIds"][std::string(kSourceRoot)]["uri"] =
        FileUri(options.base_directory, /*directory=*/true);
  }
  Json invocation;
  invocation["executionSuccessful"] = options.failure.empty();
  if (!options.failure.empty()) {
    invocation["exitCode"] = options.exit_code;
    Json notification;
    notification["level"] = "error";
    notification["message"]["text"] = options.failure;
    invocation["toolExecutionNotifications"] = Json::array({std::move(notification)});
  }
  run["invocations"] = Json::array({std::move(invocation)});
  // Our columns count code points; SARIF's default is UTF-16 code units.
  run["columnKind"] = "unicodeCodePoints";
  run["results"] = std::move(results);

  Json log;
  log["$schema"] = "https://json.schemastore.org/sarif-2.1.0.json";
  log["version"] = "2.1.0";
  log["runs"] = Json::array({std::move(run)});
  return Dump(log, 2);
}

}  // namespace mvm
