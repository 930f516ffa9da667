#include "backend-emit/plan/review_text.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace mvm::plan {
namespace {

bool IsBare(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("_@%+=:,./-").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsPrintableAscii(unsigned char c) { return c >= 0x20 && c < 0x7f; }

}  // namespace

std::string ShellWord(std::string_view word) {
  if (!word.empty() && std::all_of(word.begin(), word.end(),
                                   [](char c) { return IsBare(static_cast<unsigned char>(c)); })) {
    return std::string(word);
  }
  bool printable = std::all_of(word.begin(), word.end(), [](char c) {
    return IsPrintableAscii(static_cast<unsigned char>(c));
  });
  if (printable) {
    std::string out = "'";
    for (char c : word) {
      out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "$'";
  for (char ch : word) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += ch;
    } else if (IsPrintableAscii(c)) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out + "'";
}

std::string CommandText(const google::protobuf::RepeatedPtrField<std::string>& command) {
  if (command.empty()) {
    return "(none)";
  }
  std::string out;
  for (const std::string& word : command) {
    out += (out.empty() ? "" : " ") + ShellWord(word);
  }
  return out;
}

std::string EntrypointText(const ir::v1::Entrypoint& entrypoint) {
  std::string out = entrypoint.name() + ": " + CommandText(entrypoint.command());
  if (entrypoint.has_timeout_seconds()) {
    out += " (timeout " + std::to_string(entrypoint.timeout_seconds()) + " s)";
  }
  return out;
}

std::string ServiceText(const ir::v1::Service& service) {
  std::string out = service.name() + ": " + CommandText(service.command());
  if (service.has_port()) {
    out += " (port " + std::to_string(service.port()) + ")";
  }
  return out;
}

std::string FileText(const ir::v1::File& file) {
  return ShellWord(file.path()) + " " + file.sha256() + " (" + std::to_string(file.size()) +
         " bytes" + (file.executable() ? ", executable)" : ")");
}

bool LooksLikeCredential(std::string_view env_name) {
  std::string upper(env_name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static constexpr std::array<std::string_view, 10> kHints = {
      "TOKEN",   "SECRET", "PASSWORD", "PASSWD",     "PASSPHRASE",
      "API_KEY", "APIKEY", "PRIVATE",  "CREDENTIAL", "AUTH"};
  return std::any_of(kHints.begin(), kHints.end(),
                     [&](std::string_view hint) { return upper.find(hint) != std::string::npos; });
}

std::string EnvText(std::string_view name, std::string_view value) {
  std::string out = ShellWord(name) + "=";
  return out + (LooksLikeCredential(name) ? "(value hidden)" : ShellWord(value));
}

}  // namespace mvm::plan
