// `xtask check-doc-claims`: keeps the documentation from claiming more than the claim ledger
// allows.
//
// The ledger is docs/claims.md: one machine marker `<!-- claim:<id> status:<status> -->` above each
// claim's table row, whose visible Status cell must say the same. The gated phrases of every claim
// live in docs/claims-phrases.txt. Every other page (every Markdown file, and examples/**) may use
// a gated phrase only when its claim is Shipped, or under an `<!-- allow(doc-claim:<id>): <reason>
// -->` comment on the same line or within two lines above.

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "xtask/doc_text.h"
#include "xtask/tasks.h"

namespace mvm::xtask {
namespace fs = std::filesystem;

namespace {

/// The seven claims of the ledger (docs/claims.md), in ledger order.
constexpr std::array<std::string_view, 7> kClaimIds = {
    "claims-hygiene", "oci-ingest", "network-policy",      "secret-non-leakage",
    "sdk-lifecycle",  "cold-start", "filesystem-backends",
};

/// The statuses a marker may carry; only Shipped lets a page use a claim's gated phrases.
constexpr std::array<std::string_view, 4> kStatuses = {"Shipped", "Preview", "Planned",
                                                       "Not-claimed"};

constexpr std::string_view kLedgerPath = "docs/claims.md";
constexpr std::string_view kPhrasesPath = "docs/claims-phrases.txt";

/// An allow comment covers a phrase on its own line and on the next two.
constexpr int kAllowReach = 2;

bool IsKnownClaim(std::string_view id) {
  return std::find(kClaimIds.begin(), kClaimIds.end(), id) != kClaimIds.end();
}

bool IsKnownStatus(std::string_view status) {
  return std::find(kStatuses.begin(), kStatuses.end(), status) != kStatuses.end();
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

/// One problem, printed as `file:line: message` (`file: message` when line is 0).
struct Finding {
  std::string file;
  int line = 0;
  std::string message;
};

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// Lines without their terminators (`\n` or `\r\n`).
std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }
    lines.emplace_back(line);
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return lines;
}

/// True for a line that opens or closes a fenced code block.
bool IsFence(std::string_view line) {
  line = Trim(line);
  return line.starts_with("```") || line.starts_with("~~~");
}

// ---------------------------------------------------------------------------------------------------
// The ledger.

/// The cells of a Markdown table row (`| a | b |`), or nullopt when the line is not one.
std::optional<std::vector<std::string>> TableCells(std::string_view line) {
  line = Trim(line);
  if (!line.starts_with('|')) {
    return std::nullopt;
  }
  line.remove_prefix(1);
  if (line.ends_with('|') && !line.ends_with("\\|")) {
    line.remove_suffix(1);
  }
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (line[i] == '|') {
      cells.emplace_back(Trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  cells.emplace_back(Trim(cell));
  return cells;
}

bool IsDelimiterRow(const std::vector<std::string>& cells) {
  return std::all_of(cells.begin(), cells.end(), [](const std::string& c) {
    return !c.empty() && c.find('-') != std::string::npos &&
           c.find_first_not_of(":- ") == std::string::npos;
  });
}

/// A cell's words without Markdown marks, lowercase, spaces as `-`: "**Not claimed**" ->
/// "not-claimed".
std::string CellWord(std::string_view cell) {
  std::string out;
  for (char c : Trim(cell)) {
    if (c == '*' || c == '`' || c == '_') {
      continue;
    }
    out += std::isspace(static_cast<unsigned char>(c))
               ? '-'
               : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return std::string(Trim(out));
}

struct LedgerEntry {
  std::string status;  ///< as the marker says; empty when the marker's status is unknown
  int line = 0;
};

using Ledger = std::map<std::string, LedgerEntry, std::less<>>;

/// Checks the row under the marker on `marker_index` (0-based): its table's Status column must say
/// `status` and its claim column (when the table has one) must name `id`.
void CheckVisibleRow(const std::vector<std::string>& lines, size_t marker_index,
                     const std::optional<std::vector<std::string>>& header_above,
                     std::string_view id, std::string_view status, std::vector<Finding>& findings) {
  const int marker_line = static_cast<int>(marker_index) + 1;
  const std::string file(kLedgerPath);
  size_t i = marker_index + 1;
  while (i < lines.size() && Trim(lines[i]).empty()) {
    ++i;
  }
  auto row = i < lines.size() ? TableCells(lines[i]) : std::nullopt;
  if (!row) {
    findings.push_back({file, marker_line,
                        "marker for claim " + std::string(id) + " is not followed by a table row"});
    return;
  }
  std::optional<std::vector<std::string>> header = header_above;
  if (i + 1 < lines.size()) {
    if (auto next = TableCells(lines[i + 1]); next && IsDelimiterRow(*next)) {
      header = row;  // the marker sits above a table of its own: its row follows the delimiter
      row = i + 2 < lines.size() ? TableCells(lines[i + 2]) : std::nullopt;
      if (!row) {
        findings.push_back(
            {file, marker_line,
             "the table under the marker for claim " + std::string(id) + " has no row"});
        return;
      }
    }
  }
  if (!header) {
    findings.push_back({file, marker_line,
                        "the row under the marker for claim " + std::string(id) +
                            " belongs to no table with a header"});
    return;
  }
  std::optional<size_t> status_column;
  std::optional<size_t> claim_column;
  for (size_t c = 0; c < header->size(); ++c) {
    std::string word = CellWord((*header)[c]);
    if (word == "status" && !status_column) {
      status_column = c;
    } else if (word.starts_with("claim") && !claim_column) {
      claim_column = c;
    }
  }
  if (!status_column) {
    findings.push_back(
        {file, marker_line,
         "the table under the marker for claim " + std::string(id) + " has no Status column"});
    return;
  }
  if (claim_column) {
    std::string named = claim_column < row->size() ? CellWord((*row)[*claim_column]) : "";
    if (named != id) {
      findings.push_back({file, marker_line,
                          "marker for claim " + std::string(id) + " sits above the row of `" +
                              (claim_column < row->size() ? (*row)[*claim_column] : "") + "`"});
    }
  }
  std::string visible = status_column < row->size() ? (*row)[*status_column] : "";
  if (!status.empty() && CellWord(visible) != Lower(status)) {
    findings.push_back({file, marker_line,
                        "marker says status " + std::string(status) + " for claim " +
                            std::string(id) + " but the visible Status cell says \"" + visible +
                            "\""});
  }
}

/// Reads the markers of docs/claims.md into `ledger` and reports every problem with them.
void ReadLedger(const fs::path& root, Ledger& ledger, std::vector<Finding>& findings) {
  const std::string file(kLedgerPath);
  std::optional<std::string> text = ReadFile(root / kLedgerPath);
  if (!text) {
    findings.push_back({file, 0, "cannot read the claim ledger"});
    return;
  }
  static const std::regex kMarker(R"(^\s*<!--\s*claim:(\S*)\s+status:(\S*)\s*-->\s*$)");
  std::vector<std::string> lines = SplitLines(*text);
  std::optional<std::vector<std::string>> header;  // of the table the scan is in, if any
  bool in_fence = false;  // a fenced code block may show a marker without being one
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line_number = static_cast<int>(i) + 1;
    const std::string& line = lines[i];
    if (IsFence(line)) {
      in_fence = !in_fence;
      header.reset();
      continue;
    }
    if (in_fence) {
      continue;
    }
    if (auto cells = TableCells(line)) {
      if (i + 1 < lines.size()) {
        if (auto next = TableCells(lines[i + 1]); next && IsDelimiterRow(*next)) {
          header = cells;
        }
      }
      continue;
    }
    if (Trim(line).empty() || !Trim(line).starts_with("<!--")) {
      header.reset();  // a blank line or text ends a table; comments between its rows do not
    }
    // Only a comment opening its line is a marker; prose may quote the marker's form in backquotes.
    if (!Trim(line).starts_with("<!--") || line.find("claim:") == std::string::npos ||
        line.find("allow(doc-claim:") != std::string::npos) {
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, kMarker)) {
      findings.push_back(
          {file, line_number,
           "malformed claim marker; write `<!-- claim:<id> status:<status> -->` on a "
           "line of its own"});
      continue;
    }
    std::string id = m[1];
    std::string status = m[2];
    if (!IsKnownClaim(id)) {
      findings.push_back({file, line_number, "marker names unknown claim `" + id + "`"});
      continue;
    }
    if (!IsKnownStatus(status)) {
      findings.push_back({file, line_number,
                          "unknown status `" + status + "` for claim " + id +
                              " (use Shipped, Preview, Planned or Not-claimed)"});
      status.clear();
    }
    if (auto it = ledger.find(id); it != ledger.end()) {
      findings.push_back({file, line_number,
                          "duplicate marker for claim " + id + " (first at line " +
                              std::to_string(it->second.line) + ")"});
      continue;
    }
    ledger[id] = LedgerEntry{status, line_number};
    CheckVisibleRow(lines, i, header, id, status, findings);
  }
  for (std::string_view id : kClaimIds) {
    if (!ledger.contains(id)) {
      findings.push_back({file, 0, "missing ledger row for claim " + std::string(id)});
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Gated phrases.

struct Phrase {
  std::string claim;
  int line = 0;         ///< in the phrases file
  std::string literal;  ///< lowercase, whitespace collapsed; empty for a regex
  std::optional<std::regex> regex;
};

std::vector<Phrase> ReadPhrases(const fs::path& root, std::vector<Finding>& findings) {
  const std::string file(kPhrasesPath);
  std::vector<Phrase> phrases;
  std::optional<std::string> text = ReadFile(root / kPhrasesPath);
  if (!text) {
    findings.push_back({file, 0, "cannot read the gated phrases"});
    return phrases;
  }
  std::vector<std::string> lines = SplitLines(*text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line_number = static_cast<int>(i) + 1;
    std::string_view line = Trim(lines[i]);
    if (line.empty() || line.starts_with('#')) {
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      findings.push_back({file, line_number, "expected `<claim-id>: <phrase>`"});
      continue;
    }
    Phrase phrase;
    phrase.claim = std::string(Trim(line.substr(0, colon)));
    phrase.line = line_number;
    std::string_view pattern = Trim(line.substr(colon + 1));
    if (!IsKnownClaim(phrase.claim)) {
      findings.push_back({file, line_number, "unknown claim `" + phrase.claim + "`"});
      continue;
    }
    if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/') {
      try {
        phrase.regex.emplace(std::string(pattern.substr(1, pattern.size() - 2)),
                             std::regex::ECMAScript | std::regex::icase);
      } catch (const std::regex_error& e) {
        findings.push_back(
            {file, line_number, "invalid regular expression: " + std::string(e.what())});
        continue;
      }
    } else {
      // Normalised as the pages are.
      phrase.literal = Lower(Flatten(pattern).text);
      if (phrase.literal.empty()) {
        findings.push_back({file, line_number, "empty phrase"});
        continue;
      }
    }
    phrases.push_back(std::move(phrase));
  }
  return phrases;
}

struct Match {
  size_t begin;
  size_t end;
};

std::vector<Match> FindMatches(const Phrase& phrase, const FlatText& flat,
                               const std::string& lower) {
  std::vector<Match> matches;
  if (phrase.regex) {
    for (auto it = std::sregex_iterator(flat.text.begin(), flat.text.end(), *phrase.regex);
         it != std::sregex_iterator(); ++it) {
      if (it->length() > 0) {
        size_t begin = static_cast<size_t>(it->position());
        matches.push_back({begin, begin + static_cast<size_t>(it->length())});
      }
    }
    return matches;
  }
  const std::string& needle = phrase.literal;
  for (size_t at = lower.find(needle); at != std::string::npos; at = lower.find(needle, at + 1)) {
    size_t end = at + needle.size();
    // A literal matches whole words at its ends: "boots in" is not in "reboots into".
    bool starts_word = at == 0 || !IsWordChar(needle.front()) || !IsWordChar(lower[at - 1]);
    bool ends_word = end == lower.size() || !IsWordChar(needle.back()) || !IsWordChar(lower[end]);
    if (starts_word && ends_word) {
      matches.push_back({at, end});
    }
  }
  return matches;
}

/// The byte ranges of `line` that Markdown shows as code (inline code spans), where an allow
/// comment is text being quoted, not a comment.
std::vector<std::pair<size_t, size_t>> CodeSpans(std::string_view line) {
  auto run_end = [&](size_t from) {
    size_t end = line.find_first_not_of('`', from);
    return end == std::string_view::npos ? line.size() : end;
  };
  std::vector<std::pair<size_t, size_t>> spans;
  size_t open = 0;
  while ((open = line.find('`', open)) != std::string_view::npos) {
    const size_t width = run_end(open) - open;
    // A span closes at the next run of exactly as many backquotes; an unclosed run is literal text.
    size_t close = run_end(open);
    while ((close = line.find('`', close)) != std::string_view::npos &&
           run_end(close) - close != width) {
      close = run_end(close);
    }
    if (close == std::string_view::npos) {
      open = run_end(open);
      continue;
    }
    spans.emplace_back(open, close + width);
    open = close + width;
  }
  return spans;
}

bool InSpans(const std::vector<std::pair<size_t, size_t>>& spans, size_t at) {
  return std::any_of(spans.begin(), spans.end(),
                     [&](const auto& span) { return at >= span.first && at < span.second; });
}

/// Reads the allow comments of one page: line -> claims allowed there. Malformed ones are findings.
/// In Markdown, a comment inside a code span or a fenced code block is shown, not hidden, so it is
/// a quotation of the form and neither allows nor is checked. A comment on the line right above a
/// fenced code block covers the whole block: a runnable snippet cannot carry a comment of its own
/// two lines above each gated line, and splitting it would stop it being one program.
std::map<int, std::set<std::string>> ReadAllows(const std::string& file,
                                                const std::vector<std::string>& lines,
                                                bool markdown, std::vector<Finding>& findings,
                                                int& count) {
  static const std::regex kAllow(R"(<!--\s*allow\(doc-claim:([^)]*)\)(.*?)-->)");
  constexpr std::string_view kMention = "allow(doc-claim:";
  std::map<int, std::set<std::string>> allows;
  bool in_fence = false;
  std::set<std::string> fence_allows;  // what the comment above the open fence allows
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line_number = static_cast<int>(i) + 1;
    const std::string& line = lines[i];
    if (markdown) {
      if (IsFence(line)) {
        in_fence = !in_fence;
        auto above = allows.find(line_number - 1);
        fence_allows = in_fence && above != allows.end() ? above->second : std::set<std::string>();
        continue;
      }
      if (in_fence) {
        if (!fence_allows.empty()) {
          allows[line_number].insert(fence_allows.begin(), fence_allows.end());
        }
        continue;
      }
    }
    const auto code = markdown ? CodeSpans(line) : std::vector<std::pair<size_t, size_t>>();
    size_t mentions = 0;
    for (size_t at = line.find(kMention); at != std::string::npos;
         at = line.find(kMention, at + 1)) {
      mentions += InSpans(code, at) ? 0 : 1;
    }
    if (mentions == 0) {
      continue;
    }
    size_t parsed = 0;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), kAllow);
         it != std::sregex_iterator(); ++it) {
      if (InSpans(code, static_cast<size_t>(it->position()))) {
        continue;
      }
      ++parsed;
      std::string id(Trim((*it)[1].str()));
      const std::string rest_text = (*it)[2].str();
      std::string_view rest = Trim(rest_text);
      std::string_view reason = rest.starts_with(':') ? Trim(rest.substr(1)) : std::string_view();
      if (!IsKnownClaim(id)) {
        findings.push_back({file, line_number, "allow comment names unknown claim `" + id + "`"});
      } else if (!rest.starts_with(':') || reason.empty()) {
        findings.push_back({file, line_number,
                            "allow comment for claim " + id +
                                " has no reason; write `<!-- allow(doc-claim:" + id +
                                "): <reason> -->`"});
      } else {
        allows[line_number].insert(id);
        ++count;
      }
    }
    if (parsed < mentions) {
      findings.push_back(
          {file, line_number,
           "malformed allow comment; write `<!-- allow(doc-claim:<id>): <reason> -->` "
           "on one line"});
    }
  }
  return allows;
}

bool Allowed(const std::map<int, std::set<std::string>>& allows, const std::string& claim,
             int first_line, int last_line) {
  for (int line = first_line - kAllowReach; line <= last_line; ++line) {
    auto it = allows.find(line);
    if (it != allows.end() && it->second.contains(claim)) {
      return true;
    }
  }
  return false;
}

/// Directories of the tree that hold no page of mvm's: build trees, fetched sources, and the lit
/// tests' inputs (pages planted to fail this lint, which the tests scan as roots of their own).
bool SkippedDirectory(const fs::path& relative) {
  const std::string first = relative.begin()->string();
  const std::string name = relative.filename().string();
  return first.starts_with("build") || first == "third_party" || first == "lit-tests" ||
         first == "mvm-out" || name == ".git" || name == "node_modules" || name == ".cache";
}

/// The pages the lint reads, relative to `root`, sorted: every Markdown file of the tree (the
/// README, docs/, the SDKs', the editors', bench/'s) but the ledger, and everything under
/// examples/.
std::vector<std::string> PagesToScan(const fs::path& root) {
  std::vector<std::string> pages;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(root);
    if (it->is_directory(ec)) {
      if (SkippedDirectory(relative)) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!it->is_regular_file(ec)) {
      continue;
    }
    const std::string name = relative.generic_string();
    const bool example = name.starts_with("examples/");
    if ((it->path().extension() != ".md" && !example) || name == kLedgerPath ||
        name == kPhrasesPath) {
      continue;
    }
    pages.push_back(name);
  }
  std::sort(pages.begin(), pages.end());
  return pages;
}

void ScanPage(const fs::path& root, const std::string& page, const Ledger& ledger,
              const std::vector<Phrase>& phrases, std::vector<Finding>& findings,
              int& allow_count) {
  std::optional<std::string> text = ReadFile(root / page);
  if (!text) {
    findings.push_back({page, 0, "cannot read"});
    return;
  }
  if (text->find('\0') != std::string::npos) {
    return;  // binary files (images in examples/) make no claims in words
  }
  std::vector<std::string> lines = SplitLines(*text);
  const bool markdown = page.ends_with(".md");
  std::map<int, std::set<std::string>> allows =
      ReadAllows(page, lines, markdown, findings, allow_count);
  FlatText flat = Flatten(*text);
  std::string lower = Lower(flat.text);
  std::set<std::pair<size_t, std::string>> reported;  // (offset, claim): one finding per place
  std::vector<Finding> found;
  for (const Phrase& phrase : phrases) {
    auto entry = ledger.find(phrase.claim);
    std::string status = entry == ledger.end() ? "" : entry->second.status;
    if (status == "Shipped") {
      continue;
    }
    for (const Match& m : FindMatches(phrase, flat, lower)) {
      int first = flat.line_of[m.begin];
      int last = flat.line_of[m.end - 1];
      if (Allowed(allows, phrase.claim, first, last) ||
          !reported.insert({m.begin, phrase.claim}).second) {
        continue;
      }
      found.push_back({page, first,
                       "gated phrase \"" + flat.text.substr(m.begin, m.end - m.begin) +
                           "\" for claim " + phrase.claim + " (status " +
                           (status.empty() ? std::string("unknown") : status) + ")"});
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Finding& a, const Finding& b) { return a.line < b.line; });
  findings.insert(findings.end(), found.begin(), found.end());
}

}  // namespace

int RunCheckDocClaims(const std::vector<std::string>& args) {
  std::optional<TaskArgs> parsed = ParseTaskArgs("check-doc-claims", args, /*takes_check=*/false);
  if (!parsed) {
    return 2;
  }
  const fs::path root = parsed->root;
  std::vector<Finding> findings;
  Ledger ledger;
  ReadLedger(root, ledger, findings);
  std::vector<Phrase> phrases = ReadPhrases(root, findings);
  std::vector<std::string> pages = PagesToScan(root);
  int allow_count = 0;
  for (const std::string& page : pages) {
    ScanPage(root, page, ledger, phrases, findings, allow_count);
  }
  if (!findings.empty()) {
    for (const Finding& f : findings) {
      if (f.line > 0) {
        std::fprintf(stderr, "%s:%d: %s\n", f.file.c_str(), f.line, f.message.c_str());
      } else {
        std::fprintf(stderr, "%s: %s\n", f.file.c_str(), f.message.c_str());
      }
    }
    std::fprintf(stderr,
                 "xtask check-doc-claims: %zu finding%s; a page may claim only what docs/claims.md "
                 "marks Shipped\n",
                 findings.size(), findings.size() == 1 ? "" : "s");
    return 1;
  }
  std::string counts;
  for (std::string_view status : kStatuses) {
    int n = static_cast<int>(std::count_if(ledger.begin(), ledger.end(), [&](const auto& entry) {
      return entry.second.status == status;
    }));
    if (n > 0) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(status);
    }
  }
  std::printf(
      "xtask check-doc-claims: ok: %zu claims (%s), %zu gated phrases, %zu pages, %d allow "
      "comment%s\n",
      ledger.size(), counts.c_str(), phrases.size(), pages.size(), allow_count,
      allow_count == 1 ? "" : "s");
  return 0;
}

}  // namespace mvm::xtask
